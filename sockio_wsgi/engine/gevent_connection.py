"""gevent-websocket's ``environ["wsgi.websocket"]`` behind our :class:`WebSocket` interface,
for apps run under gevent-websocket's ``WebSocketHandler``."""

from __future__ import annotations

import contextlib
import logging
import socket
import struct
from typing import Any

from sockio_wsgi.engine.websocket import (
    CLOSE_MESSAGE_TOO_BIG,
    CLOSE_NORMAL,
    BacklogListener,
    CompressFlags,
    ReadableListener,
)
from sockio_wsgi.runtime import Semaphore

log = logging.getLogger("sockio_wsgi.engine.websocket")


class GeventWebSocketConnection:
    """Adapts gevent-websocket's ``environ["wsgi.websocket"]`` to our interface."""

    def __init__(self, ws: Any, max_message_size: int) -> None:
        self._ws = ws
        self._max = max_message_size
        self._write_lock = Semaphore()

    def receive(self, wait: bool = True) -> str | bytes | None:
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

    def try_send(self, frames: list[str | bytes], compress: bool = True) -> bool:
        return False  # gevent-websocket only writes blocking: always through the writer

    def try_send_encoded(self, data: bytes, owner: BacklogListener) -> bool:
        return False

    has_pending = False
    compresses = False  # gevent-websocket has no permessage-deflate
    kept = False  # gevent-websocket closes the socket when the application returns
    waiting = False
    buffered = False

    def active_since_last_check(self) -> bool:
        return True

    def when_readable(self, listener: ReadableListener) -> None:
        raise NotImplementedError("gevent-websocket connections are never kept")

    def send_frames(self, frames: list[str | bytes], compress: CompressFlags = True) -> None:
        with self._write_lock:
            try:
                for frame in frames:
                    self._ws.send(frame, binary=isinstance(frame, bytes))
            except Exception as exc:
                raise ConnectionResetError(str(exc)) from exc

    def abort(self) -> None:
        """Mark it closed and shut its socket (when gevent-websocket exposes it), so a
        write that waits for the peer fails at once."""
        ws = self._ws
        ws.closed = True
        handler = getattr(getattr(ws, "stream", None), "handler", None)
        sock = getattr(handler, "socket", None)
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

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
