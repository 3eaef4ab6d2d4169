"""Our WebSocket connection: wsproto for the handshake rules, control frames, fragments,
compression and closing, and the fast path of :mod:`sockio_wsgi.protocol.wsframes` for the
whole data frames that are nearly all the traffic. The only module of the server that
imports wsproto.

permessage-deflate (RFC 7692), when negotiated: messages of ``compression_threshold`` bytes
or more (and sent with ``compress=True``) are compressed by wsproto; smaller ones, and those
sent with ``compress=False``, go out as plain frames (RSV1 clear) built by the fast path. That
is legal in a deflate session and leaves wsproto's compressor untouched: the LZ77 context
that sender and receiver share is made of compressed messages only, and wsproto never sees
the plain ones. Incoming compressed messages are inflated by wsproto with a bounded
decompressor (:class:`BoundedDeflate`), so a decompression bomb stops at
``max_message_size`` and gets close code 1009.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import zlib
from typing import Any

from wsproto import ConnectionType
from wsproto.connection import Connection, ConnectionState
from wsproto.events import (
    BytesMessage,
    CloseConnection,
    Message,
    Ping,
    TextMessage,
)
from wsproto.extensions import Extension, PerMessageDeflate
from wsproto.frame_protocol import CloseReason, FrameDecoder, FrameProtocol
from wsproto.utilities import generate_accept_token

from sockio_wsgi.engine.ordered_writes import OrderedWrites
from sockio_wsgi.engine.websocket import (
    CLOSE_INVALID_PAYLOAD,
    CLOSE_MESSAGE_TOO_BIG,
    CLOSE_NORMAL,
    CLOSE_PROTOCOL_ERROR,
    DEFAULT_COMPRESSION_THRESHOLD,
    SOCKET_KEEPABLE_KEY,
    SOCKET_KEPT_KEY,
    UPGRADED_KEY,
    CompressFlags,
    ReadableListener,
    UpgradeRefused,
)
from sockio_wsgi.protocol.wsframes import (
    FIN_TEXT,
    FrameHead,
    encode_data_frame,
    frame_head,
    sole_frame,
    unmask,
)
from sockio_wsgi.runtime import (
    call_when_readable,
    scratch_buffer,
    stop_waiting,
    wait_readable,
)

log = logging.getLogger("sockio_wsgi.engine.websocket")

_RECV_SIZE = 65536
# the first bytes of the frames of an uncompressed fragmented message, when no RSV bit is set
_FIRST_FRAGMENT = (0x01, 0x02)  # text or binary, FIN clear
_CONTINUATION = 0x00
_LAST_CONTINUATION = 0x80


class BoundedDeflate(PerMessageDeflate):
    """wsproto's permessage-deflate with a bounded inflater.

    wsproto inflates each frame in one unbounded ``decompress`` call, so a 1 MB frame of
    compressed zeros could become a gigabyte before any size check. Here no message
    inflates past ``max_message_size`` bytes (wsproto then closes with 1009), and
    invalid deflate data closes with 1007 as in wsproto.
    """

    def __init__(self, max_message_size: int) -> None:
        super().__init__()
        self._limit = max_message_size
        self._inflated = 0  # bytes inflated so far for the current message

    def _inflate(self, data: bytes) -> bytes | CloseReason:
        decompressor = self._decompressor
        assert decompressor is not None
        room = self._limit - self._inflated
        try:
            out = decompressor.decompress(data, room + 1)
        except zlib.error:
            return CloseReason.INVALID_FRAME_PAYLOAD_DATA
        self._inflated += len(out)
        if self._inflated > self._limit:
            return CloseReason.MESSAGE_TOO_BIG
        return out

    def frame_inbound_payload_data(
        self, proto: FrameDecoder | FrameProtocol, data: bytes
    ) -> bytes | CloseReason:
        if not self._inbound_compressed or not self._inbound_is_compressible:
            return data
        return self._inflate(bytes(data))

    def frame_inbound_complete(
        self, proto: FrameDecoder | FrameProtocol, fin: bool
    ) -> bytes | CloseReason | None:
        if not fin:
            return None
        if not self._inbound_is_compressible:  # a control frame: as wsproto does
            self._inbound_compressed = None
            return None
        if not self._inbound_compressed:
            self._inbound_compressed = None
            self._inflated = 0
            return None
        tail = self._inflate(b"\x00\x00\xff\xff")
        self._inflated = 0
        self._inbound_compressed = None
        if isinstance(tail, CloseReason):
            return tail
        if self.client_no_context_takeover:  # we are the server: the client's setting
            self._decompressor = None
        return tail


def _tokens(value: str) -> set[str]:
    return {token.strip().lower() for token in value.split(",")}


def _handshake(
    environ: dict[str, Any], deflate: BoundedDeflate | None
) -> tuple[bytes, list[Extension]]:
    """Check the upgrade request pywsgi already parsed (RFC 6455 section 4.2.1) and build
    the 101 response; ``deflate`` is accepted when the client offers permessage-deflate.

    Done from the environ rather than by re-parsing the request through wsproto's h11
    handshake, which cost a third of the time of setting up a connection.
    """
    if environ.get("REQUEST_METHOD") != "GET":
        raise UpgradeRefused("WebSocket upgrade needs GET")
    if "websocket" not in _tokens(environ.get("HTTP_UPGRADE", "")):
        raise UpgradeRefused("missing 'Upgrade: websocket'")
    if "upgrade" not in _tokens(environ.get("HTTP_CONNECTION", "")):
        raise UpgradeRefused("missing 'Connection: Upgrade'")
    if environ.get("HTTP_SEC_WEBSOCKET_VERSION", "").strip() != "13":
        raise UpgradeRefused("unsupported Sec-WebSocket-Version")
    key = environ.get("HTTP_SEC_WEBSOCKET_KEY", "").strip()
    if not key:
        raise UpgradeRefused("missing Sec-WebSocket-Key")
    lines = [
        "HTTP/1.1 101 Switching Protocols",
        "Upgrade: websocket",
        "Connection: Upgrade",
        "Sec-WebSocket-Accept: " + generate_accept_token(key.encode("latin-1")).decode(),
    ]
    accepted: list[Extension] = []
    offers = environ.get("HTTP_SEC_WEBSOCKET_EXTENSIONS", "")
    if deflate is not None and offers:
        for offer in offers.split(","):
            if offer.split(";", 1)[0].strip() != deflate.name:
                continue
            params = deflate.accept(offer.strip())
            if params is None or params is False:
                continue
            extra = f"; {params}" if isinstance(params, str) and params else ""
            lines.append(f"Sec-WebSocket-Extensions: {deflate.name}{extra}")
            accepted.append(deflate)
            break
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"), accepted


class WsprotoWebSocket(OrderedWrites):
    """A server WebSocket over a gevent socket.

    Whole data frames, nearly all the traffic, are split, unmasked and built by
    :mod:`sockio_wsgi.protocol.wsframes` (wsproto costs about 9 us per small frame); every
    other frame (control, fragmented, compressed or malformed) goes whole to wsproto, which
    stays the authority on the rest of RFC 6455 and does the handshake and closing.
    """

    _conn: Connection | None

    def __init__(
        self,
        sock: socket.socket,
        conn: Connection | None,
        max_message_size: int,
        compressed: bool,
        compression_threshold: int = DEFAULT_COMPRESSION_THRESHOLD,
    ) -> None:
        super().__init__(sock)
        # wsproto, made on first need (a control, fragmented or compressed frame, the
        # close): most connections only ever see the plain frames of the fast path
        self._conn = conn
        self._max = max_message_size
        self._compressed = compressed
        self._threshold = compression_threshold
        self.deflate: Extension | None = None  # the negotiated permessage-deflate
        # messages read but not yet received, and the parts of a fragmented one: made on
        # first need (most reads hold one whole frame, taken without either)
        self._ready: list[str | bytes] | None = None
        self._buffer = bytearray()  # a partial frame (or frames) left from earlier reads
        # the receive buffer shared by this hub's connections (runtime.scratch_buffer)
        self._chunk = scratch_buffer(_RECV_SIZE)
        self._parts: list[Any] | None = None
        self._size = 0
        self._in_fragment = False  # the first frames of a message are held (here or by wsproto)
        self._assembling: bytearray | None = None  # an uncompressed fragmented message
        self._assembling_text = False
        self._released = False
        self._kept = False  # the server left the socket to us: we close it at the end
        self._wake: Any = None  # the readiness watcher of a hibernated connection
        self._listener: ReadableListener | None = None  # whom to tell when it fires
        self.waiting = False
        self._active = False

    @classmethod
    def accept(
        cls,
        environ: dict[str, Any],
        sock: socket.socket,
        max_message_size: int,
        compression: bool,
        compression_threshold: int = DEFAULT_COMPRESSION_THRESHOLD,
    ) -> WsprotoWebSocket:
        offer = BoundedDeflate(max_message_size) if compression else None
        response, extensions = _handshake(environ, offer)
        conn = Connection(ConnectionType.SERVER, extensions=extensions) if extensions else None
        environ[UPGRADED_KEY] = True
        negotiated = bool(extensions) and extensions[0].enabled()
        ws = cls(sock, conn, max_message_size, negotiated, compression_threshold)
        # the 101 goes out with the first frames (the Engine.IO OPEN), in one write, or
        # before the first read, whichever comes first
        ws._pending = response
        if negotiated:
            ws.deflate = extensions[0]
        if environ.get(SOCKET_KEEPABLE_KEY) and ws._raw is not None:
            ws._kept = True
            environ[SOCKET_KEPT_KEY] = True
        return ws

    @property
    def kept(self) -> bool:
        return self._kept

    @property
    def buffered(self) -> bool:
        return bool(self._ready)

    def active_since_last_check(self) -> bool:
        active, self._active = self._active, False
        return active

    def when_readable(self, listener: ReadableListener) -> None:
        if self._released:
            return
        stop_waiting(self._wake)
        self._listener = listener
        self._wake = call_when_readable(self._sock, self._readable)

    def _readable(self) -> None:
        # The watcher is the socket's own: once it has fired, a reader may wait on it,
        # and _release must then leave it alone (closing the socket wakes that reader).
        stop_waiting(self._wake)
        self._wake = None
        listener, self._listener = self._listener, None
        if listener is not None:
            listener.on_readable()

    # -- receiving -------------------------------------------------------------------

    def receive(self, wait: bool = True) -> str | bytes | None:
        ready = self._ready
        if ready:
            return ready.pop(0)
        if self._pending and not self._writing():
            self._write(b"")  # the peer may be waiting for it (the 101, say) to say more
        chunk = self._chunk
        raw = self._raw  # None with TLS, which may hold decrypted bytes: let it read first
        while True:
            if self._closed:
                return None
            try:
                if raw is not None:
                    if wait:
                        self.waiting = True
                        try:
                            wait_readable(self._sock)
                        finally:
                            self.waiting = False
                    count = raw.recv_into(chunk)  # readable now: no gevent wrapper needed
                else:
                    count = self._sock.recv_into(chunk)
            except BlockingIOError:
                if not wait:
                    raise
                continue  # a spurious wake-up: wait again
            except OSError:
                count = 0
            if not count:
                self._closed = True
                return None
            self._active = True
            if not self._buffer and not self._in_fragment:
                payload = sole_frame(chunk, count, self._max)
                if payload is not None:
                    if chunk[0] != FIN_TEXT:
                        return payload
                    try:
                        return payload.decode("utf-8")
                    except UnicodeDecodeError:
                        pass  # the full path below closes the connection for it
            self._buffer += memoryview(chunk)[:count]
            self._split_frames()
            ready = self._ready
            if ready:
                return ready.pop(0)

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
                        self._add_ready(payload.decode("utf-8"))
                    except UnicodeDecodeError:
                        log.info("WebSocket text frame is not UTF-8, closing")
                        self.close(CLOSE_INVALID_PAYLOAD, "invalid UTF-8")
                        break
                else:
                    self._add_ready(payload)
            elif not self._assemble(buf, pos, head):
                self._wsproto().receive_data(bytes(buf[pos : head.end]))
                self._process_events()
            pos = head.end
        del buf[:pos]

    def _assemble(self, buf: bytearray, pos: int, head: FrameHead) -> bool:
        """Take a frame of an uncompressed fragmented message here: wsproto costs several
        times as much per frame and keeps every fragment as an object, so a message of
        one-byte fragments would cost far more CPU and memory than its size. False when the
        frame is not one (a control frame, a compressed message): wsproto takes it."""
        b0 = buf[pos]
        masked = buf[pos + 1] & 0x80
        parts = self._assembling
        if parts is None:
            if b0 not in _FIRST_FRAGMENT or not masked or self._in_fragment:
                return False
            parts = self._assembling = bytearray()
            self._assembling_text = b0 == _FIRST_FRAGMENT[0]
            self._in_fragment = True
        elif b0 & 0x08:  # a control frame between two fragments
            return False
        elif (b0 != _CONTINUATION and b0 != _LAST_CONTINUATION) or not masked:
            log.info("WebSocket frame inside a fragmented message is no continuation, closing")
            self.close(CLOSE_PROTOCOL_ERROR, "expected a continuation frame")
            return True
        if len(parts) + head.length > self._max:
            self._too_big()
            return True
        parts += unmask(buf, head)
        if b0 == _LAST_CONTINUATION:
            self._assembling, self._in_fragment = None, False
            if not self._assembling_text:
                self._add_ready(bytes(parts))
                return True
            try:
                self._add_ready(parts.decode("utf-8"))
            except UnicodeDecodeError:
                log.info("WebSocket text message is not UTF-8, closing")
                self.close(CLOSE_INVALID_PAYLOAD, "invalid UTF-8")
        return True

    def _wsproto(self) -> Connection:
        conn = self._conn
        if conn is None:
            conn = self._conn = Connection(ConnectionType.SERVER)
        return conn

    def _too_big(self) -> None:
        log.info("WebSocket message over %d bytes, closing", self._max)
        self.close(CLOSE_MESSAGE_TOO_BIG, "message too big")

    def _process_events(self) -> None:
        conn = self._wsproto()
        for event in conn.events():
            if isinstance(event, Message):
                self._collect(event)
            elif isinstance(event, Ping):
                self._write(conn.send(event.response()))
            elif isinstance(event, CloseConnection):
                if conn.state is ConnectionState.REMOTE_CLOSING:
                    self._write(conn.send(event.response()))
                    self._release()
                else:
                    log.info("invalid WebSocket frame: %s", event.reason)
                    self.close(event.code, "")
                return
            if self._closed:
                return

    def _add_ready(self, message: str | bytes) -> None:
        if self._ready is None:
            self._ready = [message]
        else:
            self._ready.append(message)

    def _collect(self, event: Message[Any]) -> None:
        if self._parts is None:
            self._parts = []
        self._parts.append(event.data)
        self._size += len(event.data)
        self._in_fragment = not event.message_finished
        if self._size > self._max:
            self._too_big()
            return
        if event.message_finished:
            parts, self._parts, self._size = self._parts, None, 0
            if isinstance(event, TextMessage):
                self._add_ready(parts[0] if len(parts) == 1 else "".join(parts))
            elif isinstance(event, BytesMessage):
                self._add_ready(bytes(parts[0]) if len(parts) == 1 else b"".join(parts))

    # -- sending ---------------------------------------------------------------------

    @property
    def compresses(self) -> bool:
        return self._compressed

    def _encode(self, frames: list[str | bytes], compress: CompressFlags = True) -> bytes:
        if self._compressed:
            return self._encode_deflate(frames, compress)
        if len(frames) == 1:
            return encode_data_frame(frames[0])
        return b"".join([encode_data_frame(frame) for frame in frames])

    def _encode_deflate(self, frames: list[str | bytes], compress: CompressFlags) -> bytes:
        """Frames of a deflate session: large ones compressed by wsproto, the rest plain.

        Must run in wire order (the compressor's context follows the messages it wrote):
        callers encode and write under the write lock, or without yielding in between."""
        threshold = self._threshold
        send = self._wsproto().send
        out = []
        for index, frame in enumerate(frames):
            flag = compress if isinstance(compress, bool) else compress[index]
            if flag and _byte_length_reaches(frame, threshold):
                message = TextMessage(frame) if isinstance(frame, str) else BytesMessage(frame)
                out.append(send(message))
            else:
                out.append(encode_data_frame(frame))
        return b"".join(out)

    def _check_open(self) -> None:
        conn = self._conn
        if self._closed or (conn is not None and conn.state is not ConnectionState.OPEN):
            raise ConnectionResetError("WebSocket is closed")

    def close(self, code: int = CLOSE_NORMAL, reason: str = "") -> None:
        if not self._closed and self._wsproto().state in (
            ConnectionState.OPEN,
            ConnectionState.REMOTE_CLOSING,
        ):
            self._write(self._wsproto().send(CloseConnection(code=code, reason=reason)))
        self._release()

    def abort(self) -> None:
        self._release()

    def _release(self) -> None:
        """End the connection once: FIN to the peer, then the socket is closed (by us
        when kept, else by the server when its handler returns)."""
        self._closed = True
        if self._released:
            return
        self._released = True
        stop_waiting(self._wake)
        self._wake = None
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_RDWR)
        if self._kept:
            self._sock.close()


def _byte_length_reaches(frame: str | bytes, threshold: int) -> bool:
    """True when ``frame`` is at least ``threshold`` bytes long (UTF-8 for text), encoding
    text only when its character count cannot decide."""
    length = len(frame)
    if length >= threshold:
        return True
    if isinstance(frame, bytes) or length * 4 < threshold:
        return False
    return len(frame.encode("utf-8")) >= threshold
