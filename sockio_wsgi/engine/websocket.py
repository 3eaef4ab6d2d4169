"""WebSocket connections: our wsproto framing on a raw socket, or gevent-websocket's.

This is the only module that touches a WebSocket library. Both kinds of connection offer
the same three calls (``receive``, ``send_frames``, ``close``) so the engine does not care
which server accepted the upgrade.
"""

from __future__ import annotations

import _socket
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

from sockio_wsgi.protocol.wsframes import encode_data_frame, frame_head, unmask
from sockio_wsgi.runtime import Semaphore

log = logging.getLogger("sockio_wsgi.engine.websocket")

RAW_SOCKET_KEY = "sockio.raw_socket"
UPGRADED_KEY = "sockio.upgraded"
GEVENT_WEBSOCKET_KEY = "wsgi.websocket"

CLOSE_NORMAL = 1000
CLOSE_GOING_AWAY = 1001
CLOSE_PROTOCOL_ERROR = 1002
CLOSE_INVALID_PAYLOAD = 1007
CLOSE_MESSAGE_TOO_BIG = 1009
CLOSE_INTERNAL_ERROR = 1011

_RECV_SIZE = 65536


class WebSocket(Protocol):
    def receive(self) -> str | bytes | None:
        """Return the next whole message, or None once the connection is closed."""

    def send_frames(self, frames: list[str | bytes]) -> None:
        """Write messages in order as one unit; raise ``OSError`` if the peer is gone."""

    def try_send(self, frames: list[str | bytes]) -> bool:
        """Write without waiting if possible; False means queue ``frames`` for the writer."""

    @property
    def has_pending(self) -> bool:
        """True when :meth:`try_send` left bytes for the writer to finish."""

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
    """A server WebSocket over a gevent socket.

    Whole data frames, nearly all the traffic, are split, unmasked and built by
    :mod:`sockio_wsgi.protocol.wsframes` (wsproto costs about 9 us per small frame); every
    other frame (control, fragmented, compressed or malformed) goes whole to wsproto, which
    stays the authority on the rest of RFC 6455 and does the handshake and closing.
    """

    def __init__(
        self, sock: socket.socket, conn: WSConnection, max_message_size: int, compressed: bool
    ) -> None:
        self._sock = sock
        raw = getattr(sock, "_sock", None)  # gevent's non-blocking socket underneath
        if getattr(sock, "_sslobj", None) is not None:
            raw = None  # TLS: bytes must go through the SSL layer, never the raw socket
        self._raw: Any = raw if isinstance(raw, _socket.socket) else None
        self._conn = conn
        self._max = max_message_size
        self._compressed = compressed
        self._write_lock = Semaphore()
        self._pending = b""  # bytes the kernel did not take during a try_send
        self._ready: deque[str | bytes] = deque()
        self._buffer = bytearray()
        self._chunk = bytearray(_RECV_SIZE)
        self._parts: list[Any] = []
        self._size = 0
        self._in_fragment = False  # wsproto holds the first frames of a message
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
        offered = compression and any(
            "permessage-deflate" in str(extension) for extension in request.extensions
        )
        extensions: list[Extension] = [PerMessageDeflate()] if offered else []
        sock.sendall(conn.send(AcceptConnection(extensions=extensions)))
        environ[UPGRADED_KEY] = True
        return cls(sock, conn, max_message_size, offered)

    # -- receiving -------------------------------------------------------------------

    def receive(self) -> str | bytes | None:
        chunk = self._chunk
        while not self._ready:
            if self._closed:
                return None
            try:
                count = self._sock.recv_into(chunk)
            except OSError:
                count = 0
            if not count:
                self._closed = True
                return None
            self._buffer += memoryview(chunk)[:count]
            self._split_frames()
        return self._ready.popleft()

    def _split_frames(self) -> None:
        """Decode every complete frame in the buffer, in order."""
        buf = self._buffer
        pos = 0
        while not self._closed:
            head = frame_head(buf, pos)
            if head is None:
                break
            if isinstance(head, int):  # header complete, payload still coming
                if head > self._max:
                    self._too_big()
                break
            if head.plain and not self._in_fragment:
                if head.length > self._max:
                    self._too_big()
                    break
                payload = unmask(buf, head)
                if head.text:
                    try:
                        self._ready.append(payload.decode("utf-8"))
                    except UnicodeDecodeError:
                        log.info("WebSocket text frame is not UTF-8, closing")
                        self.close(CLOSE_INVALID_PAYLOAD, "invalid UTF-8")
                        break
                else:
                    self._ready.append(payload)
            else:
                self._conn.receive_data(bytes(buf[pos : head.end]))
                self._process_events()
            pos = head.end
        del buf[:pos]

    def _too_big(self) -> None:
        log.info("WebSocket message over %d bytes, closing", self._max)
        self.close(CLOSE_MESSAGE_TOO_BIG, "message too big")

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
        self._in_fragment = not event.message_finished
        if self._size > self._max:
            self._too_big()
            return
        if event.message_finished:
            parts, self._parts, self._size = self._parts, [], 0
            if isinstance(event, TextMessage):
                self._ready.append(parts[0] if len(parts) == 1 else "".join(parts))
            elif isinstance(event, BytesMessage):
                self._ready.append(bytes(parts[0]) if len(parts) == 1 else b"".join(parts))

    # -- sending ---------------------------------------------------------------------

    def _encode(self, frames: list[str | bytes]) -> bytes:
        if self._compressed:  # permessage-deflate is wsproto's job
            send = self._conn.send
            return b"".join(
                [send(TextMessage(f) if isinstance(f, str) else BytesMessage(f)) for f in frames]
            )
        if len(frames) == 1:
            return encode_data_frame(frames[0])
        return b"".join([encode_data_frame(frame) for frame in frames])

    def _check_open(self) -> None:
        if self._closed or self._conn.state is not ConnectionState.OPEN:
            raise ConnectionResetError("WebSocket is closed")

    def send_frames(self, frames: list[str | bytes]) -> None:
        with self._write_lock:
            self._check_open()
            data = self._encode(frames)
            if self._pending:
                data, self._pending = self._pending + data, b""
            self._sock.sendall(data)

    def try_send(self, frames: list[str | bytes]) -> bool:
        """Write without waiting when no other write is in progress.

        Returns False when the caller must queue ``frames`` for the writer instead. Bytes
        the kernel does not take at once are kept and go out first on the writer's next
        :meth:`send_frames`, so a slow client never blocks the greenlet that emits.
        """
        raw = self._raw
        if raw is None or self._pending or self._write_lock.locked():
            return False
        self._check_open()
        data = self._encode(frames)
        try:
            sent = raw.send(data)
        except BlockingIOError:
            sent = 0
        if sent < len(data):
            self._pending = data[sent:]
        return True

    @property
    def has_pending(self) -> bool:
        return bool(self._pending)

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

    def try_send(self, frames: list[str | bytes]) -> bool:
        return False  # gevent-websocket only writes blocking: always through the writer

    has_pending = False

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
