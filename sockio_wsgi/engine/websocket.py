"""WebSocket connections: our wsproto framing on a raw socket, or gevent-websocket's.

This is the only module that touches a WebSocket library. Both kinds of connection offer
the same three calls (``receive``, ``send_frames``, ``close``) so the engine does not care
which server accepted the upgrade.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import struct
from collections import deque
from typing import Any, Protocol

from wsproto import ConnectionType, WSConnection
from wsproto.connection import ConnectionState
from wsproto.events import (
    AcceptConnection,
    BytesMessage,
    CloseConnection,
    Message,
    Ping,
    Request,
    TextMessage,
)
from wsproto.extensions import Extension, PerMessageDeflate
from wsproto.utilities import ProtocolError as WsprotoError

from sockio_wsgi.runtime import Semaphore

log = logging.getLogger("sockio_wsgi.engine.websocket")

RAW_SOCKET_KEY = "sockio.raw_socket"
UPGRADED_KEY = "sockio.upgraded"
GEVENT_WEBSOCKET_KEY = "wsgi.websocket"

CLOSE_NORMAL = 1000
CLOSE_GOING_AWAY = 1001
CLOSE_PROTOCOL_ERROR = 1002
CLOSE_MESSAGE_TOO_BIG = 1009
CLOSE_INTERNAL_ERROR = 1011

_RECV_SIZE = 65536


class WebSocket(Protocol):
    def receive(self) -> str | bytes | None:
        """Return the next whole message, or None once the connection is closed."""

    def send_frames(self, frames: list[str | bytes]) -> None:
        """Write messages in order as one unit; raise ``OSError`` if the peer is gone."""

    def close(self, code: int = CLOSE_NORMAL, reason: str = "") -> None:
        """Send a close frame (once) and release the connection."""


class UpgradeRefused(Exception):
    """The request is not a valid WebSocket upgrade; answer it with HTTP 400."""


def can_upgrade(environ: dict[str, Any]) -> bool:
    """True when this server can take over the socket (ours or gevent-websocket's)."""
    return GEVENT_WEBSOCKET_KEY in environ or RAW_SOCKET_KEY in environ


def accept(
    environ: dict[str, Any], *, max_message_size: int, compression: bool = False
) -> WebSocket:
    """Complete the upgrade of this request and return the connection.

    Raises :class:`UpgradeRefused` when the handshake headers are invalid.
    """
    existing = environ.get(GEVENT_WEBSOCKET_KEY)
    if existing is not None:
        return GeventWebSocketConnection(existing, max_message_size)
    sock = environ[RAW_SOCKET_KEY]
    return WsprotoWebSocket.accept(environ, sock, max_message_size, compression)


def _request_bytes(environ: dict[str, Any]) -> bytes:
    """Rebuild the request head pywsgi already parsed, for wsproto's handshake."""
    lines = ["GET / HTTP/1.1"]
    for key, value in environ.items():
        if key.startswith("HTTP_"):
            lines.append(f"{key[5:].replace('_', '-')}: {value}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


class WsprotoWebSocket:
    """A server WebSocket framed by wsproto over a gevent socket."""

    def __init__(self, sock: socket.socket, conn: WSConnection, max_message_size: int) -> None:
        self._sock = sock
        self._conn = conn
        self._max = max_message_size
        self._write_lock = Semaphore()
        self._ready: deque[str | bytes] = deque()
        self._parts: list[Any] = []
        self._size = 0
        self._closed = False

    @classmethod
    def accept(
        cls, environ: dict[str, Any], sock: socket.socket, max_message_size: int, compression: bool
    ) -> WsprotoWebSocket:
        conn = WSConnection(ConnectionType.SERVER)
        try:
            conn.receive_data(_request_bytes(environ))
            request = next((e for e in conn.events() if isinstance(e, Request)), None)
        except WsprotoError as exc:
            raise UpgradeRefused(str(exc)) from exc
        if request is None:
            raise UpgradeRefused("incomplete upgrade request")
        extensions: list[Extension] = [PerMessageDeflate()] if compression else []
        sock.sendall(conn.send(AcceptConnection(extensions=extensions)))
        environ[UPGRADED_KEY] = True
        return cls(sock, conn, max_message_size)

    def receive(self) -> str | bytes | None:
        while not self._ready:
            if self._closed:
                return None
            try:
                data = self._sock.recv(_RECV_SIZE)
            except OSError:
                data = b""
            if not data:
                self._closed = True
                return None
            self._conn.receive_data(data)
            self._process_events()
        return self._ready.popleft()

    def _process_events(self) -> None:
        for event in self._conn.events():
            if isinstance(event, Message):
                self._collect(event)
            elif isinstance(event, Ping):
                self._write(self._conn.send(event.response()))
            elif isinstance(event, CloseConnection):
                if self._conn.state is ConnectionState.REMOTE_CLOSING:
                    self._write(self._conn.send(event.response()))
                    self._release()
                else:
                    log.info("invalid WebSocket frame: %s", event.reason)
                    self.close(event.code, "")
                return
            if self._closed:
                return

    def _collect(self, event: Message[Any]) -> None:
        self._parts.append(event.data)
        self._size += len(event.data)
        if self._size > self._max:
            log.info("WebSocket message over %d bytes, closing", self._max)
            self.close(CLOSE_MESSAGE_TOO_BIG, "message too big")
            return
        if event.message_finished:
            parts, self._parts, self._size = self._parts, [], 0
            if isinstance(event, TextMessage):
                self._ready.append(parts[0] if len(parts) == 1 else "".join(parts))
            elif isinstance(event, BytesMessage):
                self._ready.append(bytes(parts[0]) if len(parts) == 1 else b"".join(parts))

    def send_frames(self, frames: list[str | bytes]) -> None:
        with self._write_lock:
            if self._closed or self._conn.state is not ConnectionState.OPEN:
                raise ConnectionResetError("WebSocket is closed")
            send = self._conn.send
            data = b"".join(
                [
                    send(TextMessage(data=frame) if isinstance(frame, str) else BytesMessage(frame))
                    for frame in frames
                ]
            )
            self._sock.sendall(data)

    def _write(self, data: bytes) -> None:
        with self._write_lock:
            try:
                self._sock.sendall(data)
            except OSError:
                self._closed = True

    def close(self, code: int = CLOSE_NORMAL, reason: str = "") -> None:
        if self._closed:
            return
        if self._conn.state in (ConnectionState.OPEN, ConnectionState.REMOTE_CLOSING):
            self._write(self._conn.send(CloseConnection(code=code, reason=reason)))
        self._release()

    def _release(self) -> None:
        self._closed = True
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_RDWR)


class GeventWebSocketConnection:
    """Adapts gevent-websocket's ``environ["wsgi.websocket"]`` to our interface."""

    def __init__(self, ws: Any, max_message_size: int) -> None:
        self._ws = ws
        self._max = max_message_size
        self._write_lock = Semaphore()

    def receive(self) -> str | bytes | None:
        try:
            message = self._ws.receive()
        except Exception as exc:  # gevent-websocket raises its own error types
            log.info("gevent-websocket receive failed: %s", exc)
            return None
        if message is None:
            return None
        if len(message) > self._max:
            self.close(CLOSE_MESSAGE_TOO_BIG, "message too big")
            return None
        return message if isinstance(message, str) else bytes(message)

    def send_frames(self, frames: list[str | bytes]) -> None:
        with self._write_lock:
            try:
                for frame in frames:
                    self._ws.send(frame, binary=isinstance(frame, bytes))
            except Exception as exc:
                raise ConnectionResetError(str(exc)) from exc

    def close(self, code: int = CLOSE_NORMAL, reason: str = "") -> None:
        """Send a close frame carrying ``code``.

        gevent-websocket's own ``close()`` drops the code and writes ``str(reason)`` as
        the payload (an invalid close frame), so the frame is written here and the
        connection only marked closed, which also stops its handler sending another.
        """
        ws = self._ws
        with self._write_lock:
            if getattr(ws, "closed", True):
                return
            payload = struct.pack("!H", code) + reason.encode("utf-8")[:123]
            try:
                ws.send_frame(payload, ws.OPCODE_CLOSE)
            except Exception as exc:  # the peer is gone; nothing more to say
                log.debug("gevent-websocket close frame not sent: %s", exc)
            finally:
                ws.closed = True
