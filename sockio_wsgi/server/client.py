"""One Engine.IO connection seen by Socket.IO: decodes packets, routes them to sockets.

A connection may carry several namespaces; each joined namespace is a
:class:`~sockio_wsgi.server.socket.Socket`. The connection ends if it joins none within
``connect_timeout``.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from sockio_wsgi import runtime
from sockio_wsgi.engine.socket import EngineSocket
from sockio_wsgi.protocol.errors import ProtocolError
from sockio_wsgi.protocol.session import CloseReason
from sockio_wsgi.protocol.sio import SioPacket, SioType

if TYPE_CHECKING:
    from sockio_wsgi.server.server import Server
    from sockio_wsgi.server.socket import Socket

log = logging.getLogger("sockio_wsgi.server")


class Client:
    """The Socket.IO side of one Engine.IO session."""

    def __init__(self, server: Server, esock: EngineSocket) -> None:
        self.server = server
        self.esock = esock
        self.environ: dict[str, Any] = esock.environ
        self.decoder = server.parser.decoder()
        self.sockets: dict[str, Socket] = {}
        self._close_reason: str | None = None  # overrides the Engine.IO reason
        # a loop timer, not a sleeping greenlet: the hub calls it, it spawns the check
        self._connect_timer: Any = runtime.call_later(
            server.connect_timeout, runtime.run_soon, self._connect_timeout
        )

    @property
    def sid(self) -> str:
        """The Engine.IO session id (not a socket id)."""
        return self.esock.sid

    @property
    def active(self) -> bool:
        """False once the Engine.IO session has ended."""
        return not self.esock.closed

    def on_message(self, data: str | bytes) -> None:
        try:
            packet = self.decoder.feed(data)
        except ProtocolError as exc:
            log.info("session %s sent an invalid Socket.IO packet: %s", self.sid, exc)
            self.decoder.reset()
            self.esock.close(CloseReason.PARSE_ERROR)
            return
        if packet is not None:
            self._route(packet)

    def _route(self, packet: SioPacket) -> None:
        if packet.type is SioType.CONNECT:
            if packet.namespace in self.sockets:
                log.info("session %s: duplicate CONNECT to %s; closing", self.sid, packet.namespace)
                self.force_close()
                return
            self.server.connect(self, packet.namespace, packet.data)
            return
        if packet.type in (SioType.CONNECT_ERROR,):
            log.info("session %s sent a %s packet; closing", self.sid, packet.type.name)
            self.esock.close(CloseReason.PARSE_ERROR)
            return
        socket = self.sockets.get(packet.namespace)
        if socket is None:
            # socket.io's client.ts: an invalid state, the connection is closed
            log.info(
                "session %s: packet for unjoined namespace %s; closing", self.sid, packet.namespace
            )
            self.force_close()
            return
        socket.on_packet(packet)

    def force_close(self) -> None:
        """Close the connection; its sockets disconnect with "forced server close"."""
        self._close_reason = "forced server close"
        self.esock.close(CloseReason.FORCED_CLOSE)

    def add(self, socket: Socket) -> None:
        """A socket is joining (its connect handler is about to run)."""
        self.sockets[socket.nsp] = socket

    def joined(self) -> None:
        """A socket got its CONNECT reply: the connection no longer times out."""
        runtime.cancel(self._connect_timer)
        self._connect_timer = None

    def forget(self, socket: Socket) -> None:
        if self.sockets.get(socket.nsp) is socket:
            del self.sockets[socket.nsp]

    def _connect_timeout(self) -> None:
        if not self.sockets and not self.esock.closed:
            log.info("session %s joined no namespace in time; closing", self.sid)
            self.esock.close(CloseReason.FORCED_CLOSE)

    def close(self) -> None:
        """End the whole connection from the server side (``socket.disconnect(True)``).

        As in socket.io, each socket is disconnected first ("server namespace
        disconnect", with a DISCONNECT packet so the client knows not to reconnect);
        the Engine.IO close still delivers those packets.
        """
        for socket in list(self.sockets.values()):
            socket.disconnect()
        self.esock.close(CloseReason.FORCED_CLOSE)

    def on_close(self, reason: str) -> None:
        """The Engine.IO session ended: every socket on it disconnects."""
        runtime.cancel(self._connect_timer)
        self.decoder.reset()
        reason = self._close_reason or reason
        for socket in list(self.sockets.values()):
            socket.on_close(reason)
