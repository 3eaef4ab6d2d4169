"""The raw Engine.IO server: a WSGI application that owns the sessions.

Usable on its own (``EngineServer`` with connect/message/disconnect handlers) and as the
transport under the Socket.IO :class:`~sockio_wsgi.server.server.Server`.
"""

from __future__ import annotations

import logging
import weakref
from collections.abc import Callable, Iterable
from typing import Any

from sockio_wsgi import runtime
from sockio_wsgi.engine import polling
from sockio_wsgi.engine.http import (
    CorsPolicy,
    OriginRule,
    Response,
    StartResponse,
    error_response,
    parse_query,
    session_cookie,
    text_response,
)
from sockio_wsgi.engine.idle import IdleSweeper
from sockio_wsgi.engine.ordered_writes import DEFAULT_SEND_TIMEOUT
from sockio_wsgi.engine.socket import DEFAULT_MAX_QUEUED_BYTES, UNHEARD, EngineSocket
from sockio_wsgi.engine.tasks import DEFAULT_MAX_QUEUED
from sockio_wsgi.engine.websocket import UpgradeRefused, accept, can_upgrade
from sockio_wsgi.protocol.eio import encode_payload
from sockio_wsgi.protocol.ids import new_id
from sockio_wsgi.protocol.requests import (
    EngineErrorCode,
    EngineRequest,
    EngineRequestError,
    parse_request,
)
from sockio_wsgi.protocol.session import SERVER_SIDE_REASONS, CloseReason, EngineSession

log = logging.getLogger("sockio_wsgi.engine")

_SHUTTING_DOWN = b'{"code":3,"message":"Server shutting down"}'

ConnectHandler = Callable[[str, dict[str, Any]], Any]
MessageHandler = Callable[[str, "str | bytes"], Any]
DisconnectHandler = Callable[[str, str], Any]


_live: weakref.WeakSet[EngineServer] = weakref.WeakSet()


def live_servers() -> list[EngineServer]:
    """Every Engine.IO server of this process, for a worker that shuts down gracefully."""
    return list(_live)


class _HandlerReceiver:
    """Gives a session's messages to the ``message`` handler, in order even while one of
    them waits (see :mod:`sockio_wsgi.engine.tasks`)."""

    __slots__ = ("server", "sock")

    def __init__(self, server: EngineServer, sock: EngineSocket) -> None:
        self.server = server
        self.sock = sock

    def on_message(self, data: str | bytes) -> None:
        handler = self.server._handlers.get("message")
        if handler is not None:
            self.sock.run(handler, self.sock.sid, data)


class EngineServer:
    """Engine.IO v4 over WSGI. Times are in seconds (sub-second values allowed).

    Limits (see README's "Limits"): ``max_queued_bytes`` bounds what one connection may
    have queued for a client that does not read (over it the connection is cut);
    ``send_timeout`` is how long a WebSocket write may wait for the client to take any
    byte; ``max_queued_messages`` bounds the messages waiting behind a running raw
    ``message`` handler.

    ``idle_reader_timeout``: a WebSocket that has sent nothing for this long (at most)
    holds no greenlet until its next bytes arrive (see :mod:`sockio_wsgi.engine.idle`);
    ``None`` keeps a reader greenlet per connection. Only connections served by
    :mod:`sockio_wsgi.serve`'s handler (and the gunicorn worker) over plain TCP do this.
    """

    def __init__(
        self,
        *,
        ping_interval: float = 25,
        ping_timeout: float = 20,
        max_http_buffer_size: int = 1_000_000,
        transports: Iterable[str] = ("polling", "websocket"),
        cors_allowed_origins: OriginRule = None,
        cors_credentials: bool = True,
        allow_request: Callable[[dict[str, Any]], bool] | None = None,
        cookie: str | dict[str, Any] | None = None,
        path: str = "/socket.io/",
        upgrade_timeout: float = 10,
        websocket_compression: bool = False,
        http_compression: bool = True,
        compression_threshold: int = 1024,
        idle_reader_timeout: float | None = 1.0,
        max_queued_bytes: int = DEFAULT_MAX_QUEUED_BYTES,
        send_timeout: float = DEFAULT_SEND_TIMEOUT,
        max_queued_messages: int = DEFAULT_MAX_QUEUED,
    ) -> None:
        if max_queued_bytes < 1 or send_timeout <= 0 or max_queued_messages < 1:
            raise ValueError(
                "max_queued_bytes, send_timeout and max_queued_messages must be positive"
            )
        self.max_queued_bytes = max_queued_bytes
        self.send_timeout = send_timeout
        self.max_queued_messages = max_queued_messages
        self.ping_interval = ping_interval
        self.ping_timeout = ping_timeout
        self.max_http_buffer_size = max_http_buffer_size
        self.transports = tuple(transports)
        unknown = set(self.transports) - {"polling", "websocket"}
        if unknown or not self.transports:
            raise ValueError(f"transports must be 'polling' and/or 'websocket', not {unknown}")
        self.cors = CorsPolicy(cors_allowed_origins, cors_credentials)
        self.allow_request = allow_request
        self.cookie = cookie
        self.path = "/" + path.strip("/") + "/"
        self.upgrade_timeout = upgrade_timeout
        self.websocket_compression = websocket_compression
        self.http_compression = http_compression
        self.compression_threshold = compression_threshold
        self.sockets: dict[str, EngineSocket] = {}
        if idle_reader_timeout is not None and idle_reader_timeout <= 0:
            raise ValueError("idle_reader_timeout must be positive or None")
        # ends the reader greenlets of idle WebSockets (engine/idle.py)
        self._idle = IdleSweeper(idle_reader_timeout / 2) if idle_reader_timeout else None
        # bound once, not per connection: every socket holds the same object
        self._on_close_bound = self._on_close
        self._handlers: dict[str, Callable[..., Any]] = {}
        self.closing = False  # after close(): handshakes get 503
        _live.add(self)

    # -- public API ------------------------------------------------------------------

    def on(self, event: str, handler: Callable[..., Any] | None = None) -> Any:
        """Register ``connect(sid, environ)``, ``message(sid, data)`` or
        ``disconnect(sid, reason)``; usable as a decorator. A connect handler that
        returns ``False`` refuses the connection with 403."""
        if event not in ("connect", "message", "disconnect"):
            raise ValueError(f"unknown Engine.IO event {event!r}")

        def register(func: Callable[..., Any]) -> Callable[..., Any]:
            self._handlers[event] = func
            return func

        return register(handler) if handler is not None else register

    @runtime.from_any_thread
    def send(self, sid: str, data: str | bytes, compress: bool = True) -> None:
        """Queue one message for a session; raises ``KeyError`` for an unknown sid.
        ``compress=False`` keeps it uncompressed on the wire."""
        self.sockets[sid].send(data, compress)

    @runtime.from_any_thread
    def disconnect(self, sid: str) -> None:
        sock = self.sockets.get(sid)
        if sock is not None:
            sock.close(CloseReason.FORCED_CLOSE)

    @runtime.from_any_thread
    def close(self) -> None:
        """Close every session (server shutting down) and refuse new ones.

        The spec has no error code for this; a handshake gets HTTP 503 with the spec's
        JSON error shape (``{"code": 3, "message": "Server shutting down"}``, 3 being
        "Bad request"), which clients treat as a failed attempt and retry later."""
        self.closing = True
        for sock in list(self.sockets.values()):
            sock.close(CloseReason.SERVER_SHUTTING_DOWN)

    # -- callbacks from sockets ------------------------------------------------------

    def _on_close(self, sock: EngineSocket, reason: CloseReason) -> None:
        # a polling session the server ends keeps its last packets (and the CLOSE packet
        # that tells the client) for one more GET; any other end makes the sid unknown
        # at once (after a ping timeout, the next request gets "Session ID unknown")
        keep = sock.ws is None and reason in SERVER_SIDE_REASONS
        if self.sockets.get(sock.sid) is sock and not keep:
            del self.sockets[sock.sid]
        elif self.sockets.get(sock.sid) is sock:
            runtime.spawn_later(self.ping_interval + self.ping_timeout, self._forget, sock)
        handler = self._handlers.get("disconnect")
        if handler is not None and sock.connected:
            handler(sock.sid, reason.value)

    def _forget(self, sock: EngineSocket) -> None:
        if self.sockets.get(sock.sid) is sock:
            del self.sockets[sock.sid]

    # -- WSGI ------------------------------------------------------------------------

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        return self.handle_request(environ).send(start_response)

    def handle_request(self, environ: dict[str, Any]) -> Response:
        runtime.claim_home()  # emits from other OS threads come to this thread's hub
        method = environ.get("REQUEST_METHOD", "GET")
        if method == "OPTIONS":
            if not self.cors.origin_allowed(environ):
                return error_response(EngineErrorCode.FORBIDDEN)
            return self.cors.preflight(environ)
        try:
            request = parse_request(
                method,
                parse_query(environ),
                allowed_transports=self.transports,
                upgrade_header=environ.get("HTTP_UPGRADE", ""),
            )
            if not self.cors.origin_allowed(environ):
                log.info("refused origin %r", environ.get("HTTP_ORIGIN"))
                raise EngineRequestError(EngineErrorCode.FORBIDDEN, "origin not allowed")
            response = self._dispatch(request, environ)
        except EngineRequestError as exc:
            log.info("refused %s request: %s", method, exc)
            response = error_response(exc.code)
        response.headers.extend(self.cors.headers(environ))
        return response

    def _dispatch(self, request: EngineRequest, environ: dict[str, Any]) -> Response:
        if request.sid is None:
            if self.closing:
                log.info("refused a handshake: the server is shutting down")
                return Response(503, _SHUTTING_DOWN, [("Content-Type", "application/json")])
            if self.allow_request is not None and not self._allowed(environ):
                raise EngineRequestError(EngineErrorCode.FORBIDDEN)
            return self._handshake(request, environ)
        sock = self.sockets.get(request.sid)
        if sock is None:
            raise EngineRequestError(EngineErrorCode.UNKNOWN_SID)
        if request.is_websocket_upgrade:
            if sock.closed:
                raise EngineRequestError(EngineErrorCode.UNKNOWN_SID)
            ws = self._accept_websocket(environ)
            if sock.transport != "polling":
                # upgraded already: the handshake completes, then it closes (as engine.io)
                log.info("session %s is upgraded already; closing the WebSocket", sock.sid)
                ws.close()
                return Response(200)
            sock.run_upgrade(ws)
            return Response(200)
        if sock.transport != "polling":
            raise EngineRequestError(EngineErrorCode.BAD_REQUEST, "session is not on polling")
        if request.method == "GET":
            threshold = self.compression_threshold if self.http_compression else None
            response = polling.handle_get(sock, environ, threshold)
            if sock.final_sent:
                self._forget(sock)  # its last packets and the close went out: sid unknown now
            return response
        if sock.closed:
            raise EngineRequestError(EngineErrorCode.UNKNOWN_SID)
        return polling.handle_post(sock, environ, self.max_http_buffer_size)

    def _allowed(self, environ: dict[str, Any]) -> bool:
        assert self.allow_request is not None
        try:
            return bool(self.allow_request(environ))
        except Exception:
            log.exception("allow_request failed")
            return False

    def _accept_websocket(self, environ: dict[str, Any]) -> Any:
        if not can_upgrade(environ):
            raise EngineRequestError(
                EngineErrorCode.BAD_REQUEST, "the WSGI server cannot upgrade to WebSocket"
            )
        try:
            return accept(
                environ,
                max_message_size=self.max_http_buffer_size,
                compression=self.websocket_compression,
                compression_threshold=self.compression_threshold,
                send_timeout=self.send_timeout,
            )
        except UpgradeRefused as exc:
            raise EngineRequestError(EngineErrorCode.BAD_REQUEST, str(exc)) from exc

    def _handshake(self, request: EngineRequest, environ: dict[str, Any]) -> Response:
        ws = self._accept_websocket(environ) if request.is_websocket_upgrade else None
        sid = new_id()
        session = EngineSession(
            sid,
            transport=request.transport,
            ping_interval=self.ping_interval,
            ping_timeout=self.ping_timeout,
            now=runtime.monotonic(),
            upgrade_timeout=self.upgrade_timeout,
        )
        upgrades = ["websocket"] if ws is None and "websocket" in self.transports else []
        open_packet = session.open_packet(upgrades, self.max_http_buffer_size)
        sock = EngineSocket(session, environ, self._on_close_bound, self._idle)
        if self.max_queued_bytes != sock.max_queued_bytes:
            sock.max_queued_bytes = self.max_queued_bytes
        if self.max_queued_messages != sock.max_queued:
            sock.max_queued = self.max_queued_messages
        if ws is not None:
            session.send([open_packet])  # OPEN goes first, before anything a handler sends
        self.sockets[sid] = sock
        if not self._connect_allowed(sid, environ):
            sock.close(CloseReason.FORCED_CLOSE)
            self.sockets.pop(sid, None)
            if ws is not None:
                ws.close()
                return Response(200)
            raise EngineRequestError(EngineErrorCode.FORBIDDEN, "refused by connect handler")
        sock.connected = True
        if sock.message_receiver is UNHEARD:  # nobody above took the messages: the handler
            sock.message_receiver = _HandlerReceiver(self, sock)
        if ws is not None:
            sock.run_websocket(ws)
            return Response(200)
        response = text_response(200, encode_payload([open_packet]))
        response.headers.extend(session_cookie(self.cookie, sid))
        return response

    def _connect_allowed(self, sid: str, environ: dict[str, Any]) -> bool:
        handler = self._handlers.get("connect")
        if handler is None:
            return True
        try:
            return handler(sid, environ) is not False
        except Exception:
            log.exception("connect handler failed for session %s", sid)
            return False
