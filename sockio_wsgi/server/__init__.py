"""Socket.IO semantics: server, namespaces, sockets, rooms and broadcasts."""
