"""Blocking Engine.IO transports for the client: HTTP long-polling and WebSocket.

Only the standard library (``socket``, ``ssl``, ``http.client``) and wsproto are used, so
the same code runs on plain threads and, once gevent has monkey-patched, on greenlets.
Each transport moves Engine.IO packets and nothing else; the session rules live in
:mod:`sockio_wsgi.client.engine`. Any I/O failure or broken framing becomes
:class:`TransportError`, so the engine needs one ``except`` per call.
"""

from __future__ import annotations

import contextlib
import http.client
import logging
import socket
import ssl
import threading
import time
import urllib.parse
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from wsproto import ConnectionType, WSConnection
from wsproto.connection import ConnectionState
from wsproto.events import (
    AcceptConnection,
    BytesMessage,
    CloseConnection,
    Ping,
    RejectConnection,
    RejectData,
    Request,
    TextMessage,
)
from wsproto.utilities import ProtocolError as WsprotoError

from sockio_wsgi.protocol.eio import Packet, decode_frame, decode_payload, encode_frame
from sockio_wsgi.protocol.eio import encode_payload as encode_polling_payload
from sockio_wsgi.protocol.errors import ProtocolError

log = logging.getLogger("sockio_wsgi.client")

_RECV_SIZE = 65536
DEFAULT_MAX_MESSAGE = 100 * 1024 * 1024

Remaining = Callable[[], float]


class TransportError(Exception):
    """The transport failed: I/O error, bad HTTP status or bad framing."""

    def __init__(self, message: str, status: int | None = None, body: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.body = body


class ReadTimeout(TransportError):
    """Nothing arrived before the deadline (the engine reads it as a ping timeout)."""


@dataclass
class Target:
    """Where and how to reach the server; shared by both transports of one session."""

    secure: bool
    host: str
    port: int
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    ssl_context: ssl.SSLContext | None
    connect_timeout: float
    cookies: dict[str, str] = field(default_factory=dict)

    def target(self, transport: str, sid: str | None) -> str:
        """The request target (path and query) for one request."""
        query = dict(self.query)
        query.update({"EIO": "4", "transport": transport})
        if sid is not None:
            query["sid"] = sid
        if transport == "polling":
            query["t"] = format(time.time_ns() // 1000, "x")
        return self.path + "?" + urllib.parse.urlencode(query)

    def request_headers(self) -> dict[str, str]:
        headers = dict(self.headers)
        if self.cookies:
            jar = "; ".join(f"{name}={value}" for name, value in self.cookies.items())
            headers["Cookie"] = headers["Cookie"] + "; " + jar if "Cookie" in headers else jar
        return headers

    def remember_cookies(self, set_cookies: list[str]) -> None:
        """Keep ``Set-Cookie`` name/value pairs (sticky-session cookies) for later requests."""
        for header in set_cookies:
            name, sep, value = header.split(";", 1)[0].partition("=")
            if sep and name.strip():
                self.cookies[name.strip()] = value.strip()


# how a request fails on a kept-alive connection the server has closed meanwhile
_STALE_CONNECTION = (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError)


def _timeout(remaining: float) -> float:
    if remaining <= 0:
        raise ReadTimeout("deadline passed")
    return remaining


class Polling:
    """HTTP long-polling: one keep-alive connection for GETs, another for POSTs, so a
    pending poll never holds up a write."""

    name = "polling"

    def __init__(self, target: Target) -> None:
        self.target = target
        self.sid: str | None = None
        self._get: http.client.HTTPConnection | None = None
        self._post: http.client.HTTPConnection | None = None
        self._aborted = False

    def _connection(self) -> http.client.HTTPConnection:
        t = self.target
        if t.secure:
            return http.client.HTTPSConnection(
                t.host, t.port, timeout=t.connect_timeout, context=t.ssl_context
            )
        return http.client.HTTPConnection(t.host, t.port, timeout=t.connect_timeout)

    def _request(self, kind: str, method: str, body: str | None, timeout: float) -> str:
        if self._aborted:
            raise TransportError("transport closed")
        conn = self._get if kind == "get" else self._post
        if conn is None:
            conn = self._connection()
            if kind == "get":
                self._get = conn
            else:
                self._post = conn
        conn.timeout = timeout
        reused = conn.sock is not None
        if reused:
            conn.sock.settimeout(timeout)
        headers = self.target.request_headers()
        data = None
        if body is not None:
            data = body.encode("utf-8")
            headers["Content-Type"] = "text/plain;charset=UTF-8"
        target = self.target.target("polling", self.sid)
        try:
            try:
                conn.request(method, target, data, headers)
                response = conn.getresponse()
            except _STALE_CONNECTION:
                if not reused:
                    raise
                # the server closed the idle kept-alive connection before it read the
                # request (its keep-alive timeout): send it again on a new connection
                conn.close()
                conn.request(method, target, data, headers)
                response = conn.getresponse()
            raw = response.read()
        except TimeoutError as exc:
            conn.close()
            raise ReadTimeout(f"polling {method} timed out") from exc
        except (OSError, ValueError, http.client.HTTPException) as exc:
            # ValueError: the ssl module's answer to a read on a socket closed under it
            conn.close()
            raise TransportError(f"polling {method} failed: {exc!r}") from exc
        self.target.remember_cookies(response.headers.get_all("Set-Cookie") or [])
        text = raw.decode("utf-8", "replace")
        if response.status != 200:
            raise TransportError(
                f"polling {method} answered HTTP {response.status}", response.status, text
            )
        return text

    def handshake(self) -> list[Packet]:
        return self._decode(self._request("get", "GET", None, self.target.connect_timeout))

    def poll(self, remaining: Remaining) -> list[Packet]:
        return self._decode(self._request("get", "GET", None, _timeout(remaining())))

    def write(self, packets: list[Packet], timeout: float) -> None:
        body = encode_polling_payload(packets)
        answer = self._request("post", "POST", body, timeout)
        if answer != "ok":
            raise TransportError(f"polling POST answered {answer[:80]!r}")

    @staticmethod
    def _decode(body: str) -> list[Packet]:
        try:
            return decode_payload(body)
        except ProtocolError as exc:
            raise TransportError(f"invalid polling payload: {exc}") from exc

    def abort(self) -> None:
        """Unblock any request in progress; the connections are unusable afterwards."""
        self._aborted = True
        for conn in (self._get, self._post):
            sock = conn.sock if conn is not None else None
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)

    def abort_gracefully(self) -> None:
        self.abort()

    def close(self) -> None:
        """Release both connections; only once no thread is using them."""
        self._aborted = True
        for conn in (self._get, self._post):
            if conn is not None:
                with contextlib.suppress(OSError):
                    conn.close()


class WebSocket:
    """A WebSocket on a plain (or TLS) socket, framed by wsproto.

    ``receive`` runs on one reader thread; ``write`` may be called from any thread. The
    send lock keeps frames whole and in order; the protocol lock guards wsproto state.
    """

    name = "websocket"

    def __init__(self, target: Target, sid: str | None = None) -> None:
        self.target = target
        self.sid = sid
        self._sock: socket.socket | None = None
        self._ws = WSConnection(ConnectionType.CLIENT)
        self._send_lock = threading.Lock()
        self._proto_lock = threading.Lock()
        self._ready: deque[Packet] = deque()
        self._text: list[str] = []
        self._binary: list[bytes] = []
        self._size = 0
        self._closed = False
        self._remote_closed: int | None = None
        self._early: deque[Any] = deque()

    def open(self) -> None:
        """Connect and complete the opening handshake (raises TransportError)."""
        t = self.target
        try:
            sock = socket.create_connection((t.host, t.port), timeout=t.connect_timeout)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if t.secure:
                context = t.ssl_context or ssl.create_default_context()
                sock = context.wrap_socket(sock, server_hostname=t.host)
        except (OSError, ssl.SSLError) as exc:
            raise TransportError(f"cannot connect to {t.host}:{t.port}: {exc!r}") from exc
        self._sock = sock
        default_port = 443 if t.secure else 80
        host = t.host if t.port == default_port else f"{t.host}:{t.port}"
        headers = [
            (k.encode("latin-1"), v.encode("latin-1")) for k, v in t.request_headers().items()
        ]
        request = Request(host=host, target=t.target("websocket", self.sid), extra_headers=headers)
        self._sendall(request)
        accepted = False
        while not accepted:
            for event in self._read_events(lambda: t.connect_timeout):
                if accepted:
                    self._early.append(event)  # frames that came in the same read
                elif isinstance(event, AcceptConnection):
                    accepted = True
                elif isinstance(event, (RejectConnection, RejectData)):
                    status = getattr(event, "status_code", None)
                    raise TransportError(f"WebSocket upgrade refused (HTTP {status})", status)

    def _sendall(self, event: Any) -> None:
        sock = self._sock
        if sock is None:
            raise TransportError("not connected")
        with self._send_lock:
            try:
                with self._proto_lock:
                    data = self._ws.send(event)
                sock.sendall(data)
            except (OSError, WsprotoError) as exc:
                raise TransportError(f"WebSocket send failed: {exc!r}") from exc

    def write(self, packets: list[Packet], timeout: float | None = None) -> None:
        for packet in packets:
            frame = encode_frame(packet)
            self._sendall(
                TextMessage(data=frame) if isinstance(frame, str) else BytesMessage(data=frame)
            )

    def _read_events(self, remaining: Remaining) -> list[Any]:
        """Read once from the socket and return the wsproto events it completed."""
        sock = self._sock
        if sock is None or self._closed:
            raise TransportError("WebSocket closed")
        try:
            sock.settimeout(_timeout(remaining()))
            chunk = sock.recv(_RECV_SIZE)
        except TimeoutError as exc:
            raise ReadTimeout("WebSocket read timed out") from exc
        except (OSError, ValueError) as exc:  # ValueError: read on a closed SSL socket
            raise TransportError(f"WebSocket read failed: {exc!r}") from exc
        with self._proto_lock:
            try:
                self._ws.receive_data(chunk or None)
                events = list(self._ws.events())
            except WsprotoError as exc:
                raise TransportError(f"bad WebSocket data: {exc}") from exc
        if not chunk and not events:
            raise TransportError("connection closed by the server")
        return events

    def receive(self, remaining: Remaining) -> Packet:
        """The next Engine.IO packet; raises TransportError once the connection is gone."""
        while self._early and not self._ready:
            self._on_event(self._early.popleft())
        while not self._ready:
            if self._remote_closed is not None:
                raise TransportError(f"WebSocket closed by the server ({self._remote_closed})")
            for event in self._read_events(remaining):
                self._on_event(event)
        return self._ready.popleft()

    def _on_event(self, event: object) -> None:
        if isinstance(event, TextMessage):
            self._collect(event.data, len(event.data))
            self._text.append(event.data)
            if event.message_finished:
                self._finish(decode_frame("".join(self._text)))
        elif isinstance(event, BytesMessage):
            self._collect(event.data, len(event.data))
            self._binary.append(bytes(event.data))
            if event.message_finished:
                self._finish(decode_frame(b"".join(self._binary)))
        elif isinstance(event, Ping):
            self._sendall(event.response())
        elif isinstance(event, CloseConnection):
            if self._ws.state is ConnectionState.REMOTE_CLOSING:
                with contextlib.suppress(TransportError):
                    self._sendall(event.response())
            self._remote_closed = event.code  # packets read before it are still delivered

    def _collect(self, data: object, size: int) -> None:
        self._size += size
        if self._size > DEFAULT_MAX_MESSAGE:
            raise TransportError("WebSocket message too large")

    def _finish(self, packet: Packet) -> None:
        self._text, self._binary, self._size = [], [], 0
        self._ready.append(packet)

    def abort_gracefully(self) -> None:
        """Send a close frame if still possible, then unblock the reader."""
        if self._sock is not None and not self._closed and self._ws.state is ConnectionState.OPEN:
            with contextlib.suppress(TransportError):
                self._sendall(CloseConnection(code=1000))
        self.abort()

    def close(self) -> None:
        """Close gracefully and release the socket; only once no thread is using it."""
        if self._sock is None:
            return
        self.abort_gracefully()
        self._closed = True
        with contextlib.suppress(OSError):
            self._sock.close()

    def abort(self) -> None:
        """Unblock the reader: shut the socket down without waiting for anything."""
        if self._sock is not None:
            with contextlib.suppress(OSError):
                self._sock.shutdown(socket.SHUT_RDWR)


Transport = Polling | WebSocket
