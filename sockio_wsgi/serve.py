"""Serving: gevent's pywsgi with a handler that lets the engine take over WebSockets.

The handler adds the raw socket to the environ of upgrade requests; the engine then
completes the handshake with wsproto and frames the connection itself. Requests it
does not upgrade are answered as ordinary HTTP.
"""

from __future__ import annotations

import contextlib
import io
import logging
import re
import socket
import time
import weakref
from collections.abc import Callable
from email.utils import formatdate
from typing import Any

from gevent import pywsgi

from sockio_wsgi import runtime
from sockio_wsgi.engine.websocket import (
    CONNECTION_KEY,
    RAW_SOCKET_KEY,
    SOCKET_KEEPABLE_KEY,
    SOCKET_KEPT_KEY,
    UPGRADED_KEY,
)
from sockio_wsgi.serve_limits import (
    REQUEST_TIMEOUT_RESPONSE,
    ConnectionCap,
    DeadlineReader,
    HttpLimits,
    RequestTimeout,
    wait_for_request,
)

log = logging.getLogger("sockio_wsgi.serve")

WSGIApplication = Callable[[dict[str, Any], Callable[..., Any]], Any]


# pywsgi reads requests through an 8 KiB buffer kept for the connection's whole life;
# request heads fit in far less, larger bodies bypass the buffer, and a WebSocket never
# reads through it: a small one saves 6 KiB on every open connection.
REQUEST_BUFFER_SIZE = 2048


# what an upgraded connection's environ holds as its (consumed) request body
EMPTY_INPUT = io.BytesIO(b"")

MAX_HEADER_LINE = 65536
MAX_HEADERS = 100
# RFC 9110: a name is a token; a value holds no control character but tab (a bare CR or a
# NUL would otherwise reach the application, and any response that reflects it)
_BAD_NAME = re.compile(r"[^!#$%&'*+\-.^_`|~0-9A-Za-z]").search
_BAD_VALUE = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]").search

# a response body up to this size is sent in the same write as the response's head
SMALL_BODY = 65536


_date: tuple[int, bytes] = (0, b"")  # (second, its HTTP date), replaced whole


def http_date() -> bytes:
    """The ``Date`` header's value, formatted once a second."""
    global _date
    now = int(time.time())
    second, value = _date
    if second != now:
        value = formatdate(now, usegmt=True).encode("latin-1")
        _date = (now, value)
    return value


class RequestHeaders:
    """Request headers read straight off the connection, with the small interface pywsgi's
    handler uses (``get``, ``getheader``, ``del``, ``headers``, ``typeheader``, ``status``).

    pywsgi parses them with the ``email`` package, a tenth of the cost of setting up a
    WebSocket connection and of every long-polling request; this reads the same lines.
    """

    __slots__ = ("status", "headers", "_values")

    def __init__(self, fp: Any, *_: Any) -> None:
        self.status = ""
        self.headers: list[str] = []  # raw "Name: value\r\n" lines, as pywsgi expects
        self._values: list[tuple[str, str]] = []  # (lower-case name, value)
        while True:
            line = fp.readline(MAX_HEADER_LINE + 1)
            if len(line) > MAX_HEADER_LINE:
                self.status = "Line too long"
                return
            if line in (b"\r\n", b"\n", b""):
                return
            if len(self.headers) >= MAX_HEADERS:
                self.status = "Too many headers"
                return
            text = line.decode("latin-1")
            end = -2 if text[-2:] == "\r\n" else -1  # the line's own CRLF (or LF) ends it
            if _BAD_VALUE(text, 0, len(text) + end):
                self.status = "Invalid character in header"
                return
            if text[:1] in (" ", "\t") and self._values:  # obsolete folding: continue value
                name, value = self._values[-1]
                self._values[-1] = (name, f"{value} {text.strip()}")
            else:
                name, colon, value = text.partition(":")
                if not colon or not name or _BAD_NAME(name):
                    self.status = "Invalid header line"
                    return
                self._values.append((name.lower(), value.strip(" \t\r\n")))
            self.headers.append(text)

    def get(self, name: str, default: Any = None) -> Any:
        name = name.lower()
        for key, value in self._values:
            if key == name:
                return value
        return default

    getheader = get

    def items(self) -> list[tuple[str, str]]:
        """(lower-case name, value) pairs, for access logs such as gunicorn's."""
        return list(self._values)

    def __delitem__(self, name: str) -> None:
        name = name.lower()
        self._values = [(key, value) for key, value in self._values if key != name]
        self.headers = [line for line in self.headers if line.partition(":")[0].lower() != name]

    def environ_items(self) -> list[tuple[str, str]]:
        """The ``HTTP_*`` entries of a WSGI environ, as pywsgi makes them: names holding an
        underscore are dropped (they could pass for another header), Content-Type and
        Content-Length have environ keys of their own."""
        items = []
        for name, value in self._values:
            if "_" in name:
                continue
            key = name.upper().replace("-", "_")
            if key != "CONTENT_TYPE" and key != "CONTENT_LENGTH":
                items.append(("HTTP_" + key, value))
        return items

    @property
    def typeheader(self) -> str | None:
        value: str | None = self.get("content-type")
        return value


class WebSocketHandler(pywsgi.WSGIHandler):  # type: ignore[misc]
    """A pywsgi handler whose upgrade requests may be taken over by the application."""

    MessageClass = RequestHeaders
    socket: Any  # None once a kept WebSocket has taken the connection over
    _os_socket: Any = None  # set by handle()
    _head: bytes | None = None  # a response head held back for its body (see _sendall)
    _requests = 0  # requests begun on this connection
    _head_timer: Any = None  # the deadline of the request head being read
    _limits = HttpLimits()  # a server of ours has its own (see WebSocketServer)
    # pywsgi's own attributes that the methods below use
    code: int
    status: Any
    response_length: int
    provided_date: Any
    request_version: str
    headers: Any

    def __init__(self, sock: Any, address: Any, server: Any, rfile: Any = None) -> None:
        if rfile is None:
            rfile = sock.makefile("rb", REQUEST_BUFFER_SIZE)
        super().__init__(sock, address, server, rfile)

    def handle(self) -> None:
        # Small writes must not wait for the peer's delayed ACK (Nagle): a long-polling
        # response or a WebSocket frame is the whole message, and waiting costs ~40 ms.
        with contextlib.suppress(OSError, AttributeError):
            self.socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._os_socket = runtime.os_socket(self.socket)
        super().handle()

    def log_request(self) -> None:
        if getattr(self.server, "log_requests", True):  # formatting it costs every request
            super().log_request()

    # -- requests: pywsgi's, with the header lines read once ---------------------------

    # -- limits: deadlines for request heads and bodies, keep-alive idle time -----------

    def read_requestline(self) -> str:
        limits = getattr(self.server, "limits", self._limits)
        whole = False  # the request's head is in the read buffer: no read can block
        if self._requests:
            if not wait_for_request(self.rfile, limits.keepalive_timeout):
                # closed without a word, as Node does
                log.debug("connection from %s idle past keepalive_timeout", self.client_address)
                return ""
            with contextlib.suppress(OSError, ValueError):
                whole = b"\r\n\r\n" in self.rfile.peek(1)  # what is buffered: no wait
        self._requests += 1
        if limits.header_timeout is not None and not whole:
            self._head_timer = runtime.Timeout(
                limits.header_timeout, RequestTimeout("request head not received in time")
            )
            self._head_timer.start()
        try:
            line: str = super().read_requestline()
        except RequestTimeout as exc:
            self._timed_out(exc)
            return ""
        return line

    def read_request(self, raw_requestline: str) -> bool:
        try:
            if _BAD_VALUE(raw_requestline, 0, len(raw_requestline.rstrip("\r\n"))):
                raise ValueError(f"invalid character in request line {raw_requestline!r}")
            ok: bool = super().read_request(raw_requestline)
        finally:
            self._cancel_head_timer()
        return ok

    def handle_one_request(self) -> Any:
        try:
            return super().handle_one_request()
        finally:
            self._cancel_head_timer()

    def _cancel_head_timer(self) -> None:
        timer, self._head_timer = self._head_timer, None
        if timer is not None:
            timer.close()

    def get_environ(self) -> dict[str, Any]:
        environ: dict[str, Any] = super().get_environ()
        seconds = getattr(self.server, "limits", self._limits).body_timeout
        body = self.wsgi_input
        if seconds is not None and (body.content_length or body.chunked_input):
            body.rfile = DeadlineReader(self.rfile, seconds)
        return environ

    def _handle_client_error(self, ex: BaseException) -> Any:
        if isinstance(ex, RequestTimeout):
            return self._timed_out(ex)
        return super()._handle_client_error(ex)

    def _timed_out(self, exc: RequestTimeout) -> tuple[str, bytes]:
        """Log a request that did not arrive in time; answer 408 and close, as Node."""
        log.info("%s from %s; closing the connection", exc, self.client_address)
        self.close_connection = True
        if not getattr(self, "response_length", 0) and self.socket is not None:
            with contextlib.suppress(OSError):
                self.socket.sendall(REQUEST_TIMEOUT_RESPONSE)
        return ("408", b"")

    def _check_http_version(self) -> bool:
        if self.request_version in ("HTTP/1.1", "HTTP/1.0"):  # nearly every request
            return True
        result: bool = super()._check_http_version()
        return result

    def _headers(self) -> Any:
        headers = self.headers
        if isinstance(headers, RequestHeaders):  # pywsgi would split every line again
            return headers.environ_items()
        return super()._headers()

    # -- responses: pywsgi's, with fewer system calls ------------------------------------

    def finalize_headers(self) -> None:
        if self.provided_date is None:  # pywsgi formats the date for every response
            self.response_headers.append((b"Date", http_date()))
            self.provided_date = True
        super().finalize_headers()
        if (
            self.close_connection
            and self.request_version == "HTTP/1.1"
            and not any(name.lower() == b"connection" for name, _ in self.response_headers)
        ):
            # pywsgi closes the connection after this response (an HTTP/1.1 request asked
            # it to) but says so only to HTTP/1.0 clients; a client that pools connections
            # (Node's http agent) would otherwise send its next request into the closed one
            self.response_headers.append((b"Connection", b"close"))
        keep_alive = getattr(self.server, "keep_alive_header", None)
        if keep_alive is not None and not self.close_connection and self.code != 101:
            # clients that read it (Node's, say) stop reusing the connection in time
            self.response_headers.append(keep_alive)

    def _write_with_headers(self, data: bytes) -> None:
        # pywsgi sends the head and the body in two writes (two packets); a small body
        # (a polling response: nearly always) goes out with its head in one
        if len(data) > SMALL_BODY:
            super()._write_with_headers(data)
            return
        self._head = b""  # _sendall holds the head back until the body comes
        try:
            super()._write_with_headers(data)
        finally:
            held, self._head = self._head, None
        if held:
            self._sendall(held)

    def _sendall(self, data: bytes) -> None:
        if self._head is not None:
            self._head += data
            return
        try:
            runtime.send_all(self.socket, self._os_socket, data)
        except OSError as exc:  # as pywsgi records it, for its log line and its caller
            # part of the response may be out: nothing more may follow on this connection
            self.close_connection = True
            self.status = f"socket error: {exc}"
            if self.code > 0:
                self.code = -self.code
            raise
        self.response_length += len(data)

    def run_application(self) -> None:
        if self.environ.get("HTTP_UPGRADE", "").lower() != "websocket":
            self.environ[CONNECTION_KEY] = self.socket
            try:
                super().run_application()
            except RequestTimeout as exc:  # the application was reading a slow body
                self._timed_out(exc)
            return
        self.environ[RAW_SOCKET_KEY] = self.socket
        # only a server that leaves kept sockets open (WebSocketServer) may keep one
        kept = getattr(self.server, "kept_sockets", None)
        if kept is not None:
            self.environ[SOCKET_KEEPABLE_KEY] = True
        try:
            self.result = self.application(self.environ, self.start_response)
            if self.environ.get(UPGRADED_KEY):
                self.close_connection = True
                self._orig_status = self.status = "101 Switching Protocols"
                if kept is not None and self.environ.get(SOCKET_KEPT_KEY):
                    # the connection lives on without this greenlet: neither pywsgi nor
                    # the server may drain or close the socket (the WebSocket closes it)
                    kept.add(self.socket)
                    self.socket = None
                    # the environ stays as the connection's handshake: its request body
                    # stream (and pywsgi's read buffer behind it) goes with the request
                    self.environ["wsgi.input"] = EMPTY_INPUT
                return
            self.process_result()
        finally:
            close = getattr(self.result, "close", None)
            if close is not None:
                close()
            self.result = None


_LIMIT_DEFAULTS = HttpLimits()


class WebSocketServer(pywsgi.WSGIServer):  # type: ignore[misc]
    """pywsgi's server, which leaves open the WebSockets that outlive their handler
    greenlet (their WebSocket closes them) and whose ``stop()`` also ends those (pywsgi's
    own stop only ends greenlets).

    ``header_timeout``, ``body_timeout``, ``keepalive_timeout`` (seconds) and
    ``max_connections`` bound what clients may hold (see :mod:`sockio_wsgi.serve_limits`;
    ``None`` turns one off)."""

    def __init__(
        self,
        *args: Any,
        log_requests: bool = True,
        header_timeout: float | None = _LIMIT_DEFAULTS.header_timeout,
        body_timeout: float | None = _LIMIT_DEFAULTS.body_timeout,
        keepalive_timeout: float | None = _LIMIT_DEFAULTS.keepalive_timeout,
        max_connections: int | None = _LIMIT_DEFAULTS.max_connections,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("handler_class", WebSocketHandler)
        super().__init__(*args, **kwargs)
        self.log_requests = log_requests
        self.kept_sockets: weakref.WeakSet[Any] = weakref.WeakSet()
        self.limits = HttpLimits(header_timeout, body_timeout, keepalive_timeout, max_connections)
        self.connections = ConnectionCap(max_connections)
        self.keep_alive_header = (
            None
            if keepalive_timeout is None
            else (b"Keep-Alive", b"timeout=%d" % max(1, int(keepalive_timeout)))
        )

    def handle(self, sock: Any, address: Any) -> None:
        connections = self.connections
        if connections.full(self.kept_sockets):
            connections.refuse(sock, address)
            return
        connections.active += 1
        try:
            super().handle(sock, address)
        finally:
            connections.active -= 1

    def set_spawn(self, spawn: Any) -> None:
        super().set_spawn(spawn)
        if spawn == "default":  # a plain greenlet started at once, not a gevent.Greenlet
            self._spawn = runtime.start_now

    def do_close(self, sock: Any, *args: Any) -> None:
        if sock not in self.kept_sockets:
            super().do_close(sock, *args)

    def stop(self, timeout: float | None = None) -> None:
        for sock in list(self.kept_sockets):
            with contextlib.suppress(OSError):  # the session ends as a transport close
                sock.shutdown(socket.SHUT_RDWR)
        super().stop(timeout)


def make_server(
    app: WSGIApplication,
    host: str = "127.0.0.1",
    port: int = 5000,
    *,
    log_requests: bool = False,
    **kwargs: Any,
) -> WebSocketServer:
    """A gevent WSGI server for ``app`` with WebSocket support; call ``serve_forever()``
    or ``start()``. ``port=0`` picks a free port (see ``server.server_port``)."""
    kwargs.setdefault("log", log if log_requests else None)
    kwargs.setdefault("error_log", log)
    return WebSocketServer((host, port), app, log_requests=log_requests, **kwargs)


def serve(app: WSGIApplication, host: str = "127.0.0.1", port: int = 5000, **kwargs: Any) -> None:
    """Serve ``app`` until interrupted. Call ``gevent.monkey.patch_all()`` at startup
    when the application uses blocking libraries."""
    server = make_server(app, host, port, **kwargs)
    log.info("serving on http://%s:%d", host, server.server_port)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
