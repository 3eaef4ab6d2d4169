"""Limits of the HTTP server: how long a client may take, and how many may connect.

A client that sends a request head a byte at a time, never finishes a body, or opens more
connections than the process can serve would otherwise hold a greenlet and a socket
forever. As Node's http server does, a request head must arrive within
``header_timeout``, a body within ``body_timeout`` after its head, and a kept-alive
connection must start its next request within ``keepalive_timeout``; past
``max_connections`` open connections a new one is answered 503 and closed.
"""

from __future__ import annotations

import contextlib
import logging
import socket
from dataclasses import dataclass, field
from typing import Any

from sockio_wsgi import runtime

log = logging.getLogger("sockio_wsgi.serve")

HEADER_TIMEOUT = 60.0  # Node's headersTimeout
BODY_TIMEOUT = 300.0  # Node's requestTimeout
KEEPALIVE_TIMEOUT = 5.0  # Node's keepAliveTimeout
MAX_CONNECTIONS = 10_000

REQUEST_TIMEOUT_RESPONSE = (
    b"HTTP/1.1 408 Request Timeout\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"
)
_BUSY_BODY = b"Server busy: too many connections\n"
BUSY_RESPONSE = (
    b"HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nRetry-After: 1\r\n"
    b"Content-Type: text/plain; charset=UTF-8\r\nContent-Length: %d\r\n\r\n%s"
    % (len(_BUSY_BODY), _BUSY_BODY)
)
REFUSAL_LOG_INTERVAL = 10.0  # at most one line about refused connections this often
REFUSAL_DRAIN = 0.5  # seconds a refused connection is read before it is closed
PRUNE_INTERVAL = 0.25  # at the cap, closed WebSockets are looked for at most this often


class RequestTimeout(TimeoutError):
    """A request head or body did not arrive in time (the connection is closed)."""


def default_max_connections() -> int:
    """10 000, or less when the process may not open that many files: a clean 503
    instead of failing ``accept`` calls."""
    try:
        import resource  # not on every platform

        soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    except (ImportError, OSError, ValueError):
        return MAX_CONNECTIONS
    if soft == resource.RLIM_INFINITY:
        return MAX_CONNECTIONS
    return max(1, min(MAX_CONNECTIONS, soft * 9 // 10))


@dataclass(frozen=True, slots=True)
class HttpLimits:
    """The server's limits (``None`` turns one off); times in seconds."""

    header_timeout: float | None = HEADER_TIMEOUT
    body_timeout: float | None = BODY_TIMEOUT
    keepalive_timeout: float | None = KEEPALIVE_TIMEOUT
    max_connections: int | None = field(default_factory=default_max_connections)


class DeadlineReader:
    """A request body's stream, whose reads fail with :class:`RequestTimeout` once the
    body's deadline has passed (set when its head was read)."""

    __slots__ = ("_raw", "_deadline")

    def __init__(self, raw: Any, seconds: float) -> None:
        self._raw = raw
        self._deadline = runtime.monotonic() + seconds

    def _bounded(self, method: Any, *args: Any) -> Any:
        remaining = self._deadline - runtime.monotonic()
        if remaining <= 0:
            raise RequestTimeout("request body not received in time")
        with runtime.Timeout(remaining, RequestTimeout("request body not received in time")):
            return method(*args)

    def read(self, size: int = -1) -> bytes:
        data: bytes = self._bounded(self._raw.read, size)
        return data

    def readline(self, size: int = -1) -> bytes:
        data: bytes = self._bounded(self._raw.readline, size)
        return data

    @property
    def closed(self) -> bool:
        return bool(self._raw.closed)


def wait_for_request(rfile: Any, seconds: float | None) -> bool:
    """Wait until a kept-alive connection starts its next request; False when it stays
    idle for ``seconds`` (the connection is then closed, as Node's keep-alive timeout)."""
    if seconds is None:
        return True
    try:
        with runtime.Timeout(seconds, RequestTimeout("keep-alive connection idle")):
            rfile.peek(1)
    except RequestTimeout:
        return False
    except OSError:
        return True  # the read that follows sees the same error and ends the connection
    return True


class ConnectionCap:
    """Counts a server's open connections and turns away those past the cap."""

    def __init__(self, limit: int | None) -> None:
        self.limit = limit
        self.active = 0
        self._refused = 0
        self._logged_at = -REFUSAL_LOG_INTERVAL
        self._pruned_at = -PRUNE_INTERVAL

    def full(self, kept: Any) -> bool:
        """True when ``active`` connections plus the ``kept`` ones (a weak set of the
        WebSockets that hold no handler greenlet) are at the cap.

        A closed WebSocket leaves the set only when it is garbage collected, which may
        be late (reference cycles): at the cap, closed ones are dropped first."""
        limit = self.limit
        if limit is None or self.active + len(kept) < limit:
            return False
        now = runtime.monotonic()
        if now - self._pruned_at >= PRUNE_INTERVAL:
            self._pruned_at = now
            for sock in list(kept):
                if sock.closed:
                    kept.discard(sock)
        return self.active + len(kept) >= limit

    def refuse(self, sock: Any, address: Any) -> None:
        """Answer 503 and close; log it at most every few seconds."""
        self._refused += 1
        now = runtime.monotonic()
        if now - self._logged_at >= REFUSAL_LOG_INTERVAL:
            log.warning(
                "%d open connections (max_connections): refused %d with 503, latest from %s",
                self.limit,
                self._refused,
                address,
            )
            self._refused, self._logged_at = 0, now
        with contextlib.suppress(OSError):
            sock.sendall(BUSY_RESPONSE)
            sock.shutdown(socket.SHUT_WR)
            # read what the client sent before closing, or the close resets the
            # connection and the client may never see the 503 (bounded: a refused
            # connection holds its greenlet this long at most)
            with runtime.Timeout(REFUSAL_DRAIN, False):
                while sock.recv(65536):
                    pass
        with contextlib.suppress(OSError):
            sock.close()
