"""One app's Socket.IO server and the glue that calls Flask-style handlers on it.

``AppState`` installs dispatchers on the app's ``sockio_wsgi.Server``; each looks up the
extension's handler at call time (so handlers registered after ``init_app`` work), builds
the Flask context and calls ``handler(*args)``. Failures go to the error handlers.
"""

from __future__ import annotations

import functools
import inspect
import logging
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import gevent
import gevent.event
from flask import Flask

import sockio_wsgi
from flask_ext.context import (
    HandlerContext,
    ManagedSession,
    event_contexts,
    managed_copy,
    run_with_reloader,
)

if TYPE_CHECKING:
    from flask_ext.extension import SocketIO

log = logging.getLogger("flask_ext")

Handler = Callable[..., Any]
SESSION_KEY = "flask_ext.session"
# Flask-SocketIO's catch-all: as an event, handler(event, *args) for events without a
# handler; as a namespace, handlers for the events a namespace does not handle itself
CATCH_ALL = "*"
# the namespace the test client connects to as a barrier: never served, so always refused
SYNC_NAMESPACE = "/flask_ext-test-client-sync"
# sockio_wsgi's lifecycle events, which the dispatchers below own
LIFECYCLE = ("connect", "disconnecting", "disconnect")

# options the extension itself takes; the rest go to sockio_wsgi.Server
EXTENSION_OPTIONS = frozenset({"manage_session", "message_queue", "channel", "json", "namespaces"})
# Flask-SocketIO / python-socketio options that have no meaning here
IGNORED_OPTIONS = frozenset(
    {
        "logger",
        "engineio_logger",
        "async_handlers",
        "always_connect",
        "http_compression",
        "compression_threshold",
        "monitor_clients",
        "allow_upgrades",
        "client_manager",
        "write_only",
        "serializer",
    }
)


def split_options(
    options: Mapping[str, Any], from_config: frozenset[str] = frozenset()
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Server options and extension options; unknown names are an error (a warning when
    they come from ``SOCKETIO_*`` config keys, which may belong to someone else)."""
    server_params = set(inspect.signature(sockio_wsgi.Server).parameters)
    server: dict[str, Any] = {}
    extension: dict[str, Any] = {}
    for name, value in options.items():
        if name in EXTENSION_OPTIONS:
            extension[name] = value
        elif name in server_params:
            server[name] = value
        elif name == "async_mode":
            if value not in (None, "gevent", "gevent_uwsgi"):
                raise ValueError(f"async_mode={value!r}: sockio-wsgi runs on gevent only")
        elif name in IGNORED_OPTIONS:
            log.info("SocketIO option %r has no effect with sockio-wsgi", name)
        elif name in from_config:
            log.warning("config key SOCKETIO_%s is not a SocketIO option; ignored", name.upper())
        else:
            valid = ", ".join(sorted(server_params | EXTENSION_OPTIONS))
            raise TypeError(f"unknown SocketIO option {name!r}; valid options: {valid}")
    return server, extension


def build_server(server_options: dict[str, Any], extension_options: dict[str, Any]) -> Any:
    """The ``sockio_wsgi.Server`` for one app, with its adapter and parser."""
    queue = extension_options.get("message_queue")
    if queue:
        if not str(queue).startswith(("redis://", "rediss://", "unix://")):
            raise ValueError(f"message_queue={queue!r}: only Redis URLs are supported")
        channel = extension_options.get("channel")  # Flask-SocketIO's name for the prefix
        kwargs = {"key_prefix": channel} if channel else {}
        server_options.setdefault("adapter", sockio_wsgi.RedisAdapter.factory(queue, **kwargs))
    json_module = extension_options.get("json")
    if json_module is not None:
        from sockio_wsgi.protocol.parsers import JsonParser

        server_options.setdefault("parser", JsonParser(json_module))
    return sockio_wsgi.Server(**server_options)


def _any_but_the_barrier(name: str, auth: Any) -> bool:
    return name != SYNC_NAMESPACE


def accepts_argument(handler: Handler) -> bool:
    """Whether ``handler`` takes a (first) positional argument: connect's ``auth`` and
    disconnect's ``reason`` are passed only then, as in Flask-SocketIO."""
    try:
        params = inspect.signature(handler).parameters.values()
    except (TypeError, ValueError):
        return True
    kinds = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    return any(p.kind in kinds or p.kind is inspect.Parameter.VAR_POSITIONAL for p in params)


class AppState:
    """What ``init_app`` creates for one app: the server and its dispatchers."""

    def __init__(self, extension: SocketIO, app: Flask, server: Any, manage_session: bool) -> None:
        self.extension = extension
        self.app = app
        self.server: sockio_wsgi.Server = server
        self.manage_session = manage_session
        self._contexts = event_contexts(app)
        self._installed: dict[str, set[str]] = {}
        self._any_namespace: Any = None  # the server's parent namespace for "*"
        self._disconnect_waiters: dict[str, gevent.event.Event] = {}
        # socket id -> exceptions no error handler took (kept for its test client only)
        self._unhandled: dict[str, list[Exception]] = {}

    def install(self, namespace: str) -> None:
        """Put a dispatcher on the server for each event the namespace handles (its own
        and the ``"*"`` namespace's); ``"*"``'s handlers reach every namespace served."""
        targets = [*self._installed] if namespace == CATCH_ALL else [namespace]
        for name in targets:
            self._install_on(name)

    def accept_any_namespace(self) -> None:
        """``namespaces="*"``: a client may connect to any namespace (every name but the
        test client's barrier, which must stay unanswered)."""
        self._install_on(CATCH_ALL)

    def _install_on(self, namespace: str) -> None:
        if namespace == CATCH_ALL:
            nsp: Any = self._any_namespace or self.server.of(_any_but_the_barrier)
            self._any_namespace = nsp
        else:
            nsp = self.server.of(namespace)
        installed = self._installed.setdefault(namespace, set())
        if not installed:
            nsp.on("connect", self._on_connect)
            # Flask-SocketIO's disconnect handler still sees the socket's rooms: it runs on
            # sockio_wsgi's "disconnecting"; "disconnect" then tells waiting test clients
            nsp.on("disconnecting", self._on_disconnecting)
            nsp.on("disconnect", self._on_disconnected)
            installed.update(LIFECYCLE)
        handlers = self.extension.handlers
        for event in [*handlers.get(namespace, ()), *handlers.get(CATCH_ALL, ())]:
            if event not in installed:
                nsp.on(event, functools.partial(self._on_event, event))
                installed.add(event)

    def resolve(self, namespace: str, event: str) -> tuple[Handler, bool] | None:
        """The handler of ``event`` and whether it is a catch-all (called with the event
        name first), in python-socketio's order: the namespace's handler for the event,
        its ``"*"`` handler, then the same two of the ``"*"`` namespace."""
        handlers = self.extension.handlers
        for group in (handlers.get(namespace), handlers.get(CATCH_ALL)):
            if not group:
                continue
            found = group.get(event)
            if found is not None:
                return found, False
            if event not in LIFECYCLE and CATCH_ALL in group:
                return group[CATCH_ALL], True
        return None

    def _handler(self, namespace: str, event: str) -> Handler | None:
        found = self.resolve(namespace, event)
        return found[0] if found is not None and not found[1] else None

    def handles(self, namespace: str, event: str) -> bool:
        """Whether an event reaches a handler (its own or a catch-all)."""
        return self.resolve(namespace, event) is not None

    def context(self, socket: sockio_wsgi.Socket, event: str, args: tuple[Any, ...]) -> Any:
        """The Flask context a handler of ``socket`` runs in."""
        return self._contexts(HandlerContext(self, socket, event, args))

    def event_session(self, socket: sockio_wsgi.Socket) -> ManagedSession | None:
        """The session an event of ``socket`` sees: its managed copy, made from the
        handshake's cookies when first needed, or ``None`` for the cookie session."""
        if not self.manage_session:
            return None
        session: ManagedSession | None = socket.data.get(SESSION_KEY)
        if session is None:
            session = socket.data[SESSION_KEY] = self._copy_session(socket)
        return session

    # -- dispatchers (called by sockio_wsgi with the socket first) ---------------------

    def _on_connect(self, socket: sockio_wsgi.Socket, auth: Any) -> bool:
        if self.resolve(socket.nsp, CATCH_ALL) is not None:
            socket.use(self._route_unhandled)
        handler = self._handler(socket.nsp, "connect")
        if handler is None:
            return True
        args = (auth,) if accepts_argument(handler) else ()
        with self.context(socket, "connect", args):
            try:
                result = handler(*args)
            except sockio_wsgi.ConnectionRefusedError:
                raise
            except Exception as exc:
                self.handle_error(exc, socket.nsp, "connect")
                return False  # a failed connect handler refuses, as in sockio_wsgi
        return result is not False

    def _route_unhandled(self, socket: sockio_wsgi.Socket, packet: list[Any]) -> None:
        """Packet middleware: an event without a handler of its own goes to the ``"*"``
        handler, as ``["*", event, *args]`` (its return value still answers the ack)."""
        found = self.resolve(socket.nsp, packet[0])
        if found is not None and found[1]:
            packet.insert(0, CATCH_ALL)

    def _copy_session(self, socket: sockio_wsgi.Socket) -> ManagedSession:
        try:
            return managed_copy(self.app, socket.handshake.environ)
        except Exception:
            log.exception("could not open the session of socket %s", socket.id)
            return ManagedSession()

    def _on_event(self, event: str, socket: sockio_wsgi.Socket, *args: Any) -> Any:
        own = self.extension.handlers.get(socket.nsp)
        handler = own.get(event) if own else None
        if handler is None:
            found = self.resolve(socket.nsp, event)
            if found is None:
                return None
            handler, catch_all = found
            if catch_all:
                args = (event, *args)
        with self.context(socket, event, args):
            try:
                return handler(*args)
            except Exception as exc:
                return self.handle_error(exc, socket.nsp, event, socket.id)

    def _on_disconnecting(self, socket: sockio_wsgi.Socket, reason: str) -> None:
        handler = self._handler(socket.nsp, "disconnect")
        if handler is None:
            return
        args = (reason,) if accepts_argument(handler) else ()
        with self.context(socket, "disconnect", args):
            try:
                handler(*args)
            except Exception as exc:
                self.handle_error(exc, socket.nsp, "disconnect")

    def _on_disconnected(self, socket: sockio_wsgi.Socket, reason: str) -> None:
        self._unhandled.pop(socket.id, None)
        waiter = self._disconnect_waiters.pop(socket.id, None)
        if waiter is not None:
            waiter.set()

    def handle_error(
        self, exc: Exception, namespace: str, event: str, sid: str | None = None
    ) -> Any:
        """The namespace's error handler, else the default one, else a log line (and the
        test client of socket ``sid``, if any, raises it); the client stays connected.
        Runs inside the failed handler's Flask context."""
        ext = self.extension
        handler = ext.error_handlers.get(namespace) or ext.default_error_handler
        if handler is None:
            log.error("handler for %r on %s failed", event, namespace, exc_info=exc)
            unhandled = self._unhandled.get(sid) if sid is not None else None
            if unhandled is not None:
                unhandled.append(exc)
            return None
        try:
            return handler(exc)
        except Exception:
            log.exception("error handler for %s failed", namespace)
            return None

    def run_callback(
        self, sender: sockio_wsgi.Socket | None, callback: Handler, args: tuple[Any, ...]
    ) -> Any:
        """An ack callback runs in the emitting socket's context (or the app's)."""
        if sender is None:
            with self.app.app_context():
                return callback(*args)
        with self.context(sender, "ack", args):
            return callback(*args)

    def unhandled_errors(self, sid: str) -> list[Exception]:
        """Where the exceptions of socket ``sid``'s handlers that no error handler took
        are put, for its test client to raise (as Flask-SocketIO's raises them)."""
        return self._unhandled.setdefault(sid, [])

    def expect_disconnect(self, sid: str) -> gevent.event.Event:
        """An event set once the disconnect handler of socket ``sid`` has run (the test
        client waits on it, so ``disconnect()`` returns after the handler)."""
        return self._disconnect_waiters.setdefault(sid, gevent.event.Event())


# -- running ---------------------------------------------------------------------------


def run_app(
    ext: SocketIO,
    app: Flask,
    host: str | None,
    port: int | None,
    debug: bool | None,
    use_reloader: bool | None,
    extra_files: list[str] | None,
    log_output: bool,
    kwargs: dict[str, Any],
) -> None:
    server_name = str(app.config.get("SERVER_NAME") or "")
    name_host, _, name_port = server_name.partition(":")
    host = host or name_host or "127.0.0.1"
    port = port if port is not None else int(name_port or 5000)
    if debug is not None:
        app.debug = debug
    if use_reloader is None:
        use_reloader = app.debug

    def serve() -> None:
        server = sockio_wsgi.make_server(app, host, port, log_requests=log_output, **kwargs)
        ext._wsgi_servers.append(server)
        server.start()
        # the line Flask's own server prints, so users and scripts know where to go
        print(f"listening on http://{host}:{server.server_port}", flush=True)
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            for state in ext._live_states():
                state.server.close()
            server.stop(timeout=2)

    if use_reloader:
        from gevent import monkey

        # werkzeug's reloader watches files from a thread and sleeps with time.sleep
        if not monkey.is_module_patched("threading"):
            monkey.patch_thread()
        if not monkey.is_module_patched("time"):
            monkey.patch_time()
        run_with_reloader(serve, extra_files)
    else:
        serve()


def stop_all(ext: SocketIO) -> None:
    def stop() -> None:
        for state in ext._live_states():
            state.server.close()
        for server in list(ext._wsgi_servers):
            server.stop(timeout=2)
        ext._wsgi_servers.clear()

    gevent.spawn(stop)
