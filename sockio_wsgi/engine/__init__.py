"""Engine.IO over WSGI and gevent: sessions, HTTP long-polling and WebSocket."""
