"""The ``SocketIO`` extension: Flask-SocketIO's API on a ``sockio_wsgi.Server`` per app.

Handlers are kept on the extension and installed on the server of every app passed to
:meth:`SocketIO.init_app` (before or after registration), so the app factory pattern and
several apps per extension work. Each app's state lives in ``app.extensions``.
"""

from __future__ import annotations

import inspect
import logging
import weakref
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from flask import Flask

import sockio_wsgi
from flask_ext.context import current_flask_app, current_handler
from flask_ext.state import CATCH_ALL, AppState, Handler, build_server, split_options
from sockio_wsgi.protocol.parsers import JsonParser

if TYPE_CHECKING:
    from flask_ext.namespace import Namespace
    from flask_ext.testing import SocketIOTestClient

log = logging.getLogger("flask_ext")

__all__ = ["SocketIO"]


class SocketIO:
    """``socketio = SocketIO(app)`` or ``SocketIO()`` + ``init_app(app)``.

    Options are those of :class:`sockio_wsgi.Server` plus ``manage_session`` (default
    True), ``message_queue`` and ``channel``; ``SOCKETIO_<OPTION>`` config keys supply
    any option not given as an argument.
    """

    #: Flask-SocketIO's attribute; sockio-wsgi serves with gevent only
    async_mode = "gevent"

    def __init__(self, app: Flask | None = None, **options: Any) -> None:
        self._options = options
        #: the options given to the constructor and to the last ``init_app``
        self.server_options: dict[str, Any] = dict(options)
        self.handlers: dict[str, dict[str, Handler]] = {"/": {}}
        self.error_handlers: dict[str, Callable[[Exception], Any]] = {}
        self.default_error_handler: Callable[[Exception], Any] | None = None
        self._states: list[weakref.ref[AppState]] = []
        self._wsgi_servers: list[Any] = []
        # SocketIO(message_queue=...) without an app: an emitter for processes that are
        # not servers (Flask-SocketIO's "external process" mode)
        self._emitter: sockio_wsgi.RedisEmitter | None = None
        if app is not None:
            self.init_app(app)
        elif options.get("message_queue"):
            prefix = options.get("channel") or "socket.io"
            self._emitter = sockio_wsgi.RedisEmitter(options["message_queue"], key_prefix=prefix)

    # -- apps --------------------------------------------------------------------------

    def init_app(self, app: Flask, **options: Any) -> None:
        """Create this app's Socket.IO server and mount it in front of ``app.wsgi_app``."""
        self.server_options.update(options)
        config = _config_options(app.config)
        merged = {**config, **self._options, **options}
        from_config = frozenset(config) - set(self._options) - set(options)
        server_options, extension_options = split_options(merged, from_config)
        server = build_server(server_options, extension_options)
        state = AppState(self, app, server, bool(extension_options.get("manage_session", True)))
        previous = app.extensions.get("sockio_wsgi")
        wsgi_app = app.wsgi_app
        if isinstance(previous, AppState) and isinstance(wsgi_app, sockio_wsgi.WSGIApp):
            # initialised again (new options): replace the earlier server, do not stack them
            previous.server.close()
            wsgi_app = wsgi_app.other_wsgi_app  # type: ignore[assignment]
        app.extensions["socketio"] = self
        app.extensions["sockio_wsgi"] = state
        app.wsgi_app = sockio_wsgi.WSGIApp(server, wsgi_app)  # type: ignore[method-assign]
        self._states = [ref for ref in self._states if ref() is not None]
        self._states.append(weakref.ref(state))
        for namespace in self.handlers:
            state.install(namespace)
        # Flask-SocketIO's option: namespaces clients may connect to without handlers there
        accepted = extension_options.get("namespaces") or ()
        if isinstance(accepted, str):
            accepted = [accepted]
        if CATCH_ALL in accepted:
            state.accept_any_namespace()
        else:
            for namespace in accepted:
                state.install(_namespace(namespace))

    def state_for(self, app: Flask | None = None) -> AppState:
        """The state of ``app``; without one: the running handler's app, the current app,
        or the only app this extension was initialised with."""
        if app is None:
            handler = current_handler()
            if handler is not None and handler.state.extension is self:
                return handler.state
            app = current_flask_app()
        if app is not None:
            state = app.extensions.get("sockio_wsgi")
            if not isinstance(state, AppState) or state.extension is not self:
                raise RuntimeError(f"{app!r} was not initialised with this SocketIO")
            return state
        live = [state for ref in self._states if (state := ref()) is not None]
        if len(live) != 1:
            raise RuntimeError(
                "SocketIO: no app context and "
                + ("no app" if not live else "several apps")
                + " initialised; call init_app(app) or push an app context"
            )
        return live[0]

    @property
    def server(self) -> sockio_wsgi.Server:
        """The ``sockio_wsgi.Server`` of the current (or only) app (``server.eio`` is its
        Engine.IO server)."""
        return self.state_for().server

    @property
    def manage_session(self) -> bool:
        """Whether handlers see a per-socket copy of the session (the current app's
        setting, else the option given)."""
        live = self._live_states()
        app = current_flask_app()
        for state in live:
            if state.app is app:
                return state.manage_session
        if live:
            return live[-1].manage_session
        return bool(self.server_options.get("manage_session", True))

    # -- handlers ----------------------------------------------------------------------

    def on(self, event: str, namespace: str | None = None) -> Callable[[Handler], Handler]:
        """``@socketio.on("chat")``: the handler is called as ``handler(*args)``."""

        def register(handler: Handler) -> Handler:
            self.on_event(event, handler, namespace)
            return handler

        return register

    def event(self, handler: Handler | None = None, namespace: str | None = None) -> Any:
        """``@socketio.event`` or ``@socketio.event(namespace="/chat")``: named after the
        function."""

        def register(func: Handler) -> Handler:
            self.on_event(func.__name__, func, namespace)
            return func

        return register(handler) if handler is not None else register

    def on_event(self, event: str, handler: Handler, namespace: str | None = None) -> None:
        namespace = _namespace(namespace)
        self.handlers.setdefault(namespace, {})[event] = handler
        for state in self._live_states():
            state.install(namespace)

    def on_error(self, namespace: str | None = None) -> Callable[[Handler], Handler]:
        """``@socketio.on_error("/chat")``: ``handler(exc)`` for failures in that namespace;
        its return value answers the client's ack."""

        def register(handler: Handler) -> Handler:
            self.error_handlers[_namespace(namespace)] = handler
            return handler

        return register

    def on_error_default(self, handler: Handler) -> Handler:
        """For failures in namespaces without an ``on_error`` handler."""
        self.default_error_handler = handler
        return handler

    def on_namespace(self, namespace_handler: Namespace) -> None:
        """Register a class-based :class:`~flask_ext.Namespace` (its ``on_<event>`` methods)."""
        namespace_handler._set_socketio(self)
        for name, member in inspect.getmembers(namespace_handler, callable):
            if name.startswith("on_") and len(name) > 3:
                self.on_event(name[3:], member, namespace_handler.namespace)

    def _live_states(self) -> list[AppState]:
        return [state for ref in self._states if (state := ref()) is not None]

    # -- sending -----------------------------------------------------------------------

    def emit(self, event: str, *args: Any, **kwargs: Any) -> None:
        """Broadcast to a namespace (``to``/``room``, ``include_self``, ``skip_sid``,
        ``namespace``, ``callback`` as in Flask-SocketIO)."""
        from flask_ext.helpers import emit_from

        if self._emitter is not None and not self._live_states():
            self._emit_external(event, args, **kwargs)
            return
        emit_from(self.state_for(), event, args, default_to=None, **kwargs)

    def _emit_external(
        self,
        event: str,
        args: tuple[Any, ...],
        to: Any = None,
        room: Any = None,
        skip_sid: Any = None,
        namespace: str | None = None,
        callback: Any = None,
        **ignored: Any,
    ) -> None:
        """Through Redis, from a process that serves no app."""
        from flask_ext.helpers import check_encodable, event_args

        args = event_args(args)
        check_encodable(_CHECK_PARSER, _namespace(namespace), event, args)
        if callback is not None:
            raise ValueError("an emitter without an app cannot wait for acknowledgements")
        assert self._emitter is not None
        emitter = self._emitter.of(_namespace(namespace))
        target = to if to is not None else room
        if target is not None:
            emitter = emitter.to(target)
        if skip_sid is not None:
            emitter = emitter.except_(skip_sid)
        emitter.emit(event, *args)

    def send(self, data: Any, json: bool = False, **kwargs: Any) -> None:
        self.emit("json" if json else "message", data, **kwargs)

    def call(self, event: str, *args: Any, to: str | None = None, **kwargs: Any) -> Any:
        """Emit to one client (``to=sid``) and wait for its acknowledgement."""
        from flask_ext.helpers import call_on

        return call_on(self.state_for(), event, args, to=to, **kwargs)

    def close_room(self, room: str, namespace: str | None = None) -> None:
        server = self.state_for().server
        nsp = server.namespaces.get(_namespace(namespace))
        if nsp is not None:
            nsp.in_(room).sockets_leave(room)

    # -- running -----------------------------------------------------------------------

    def run(
        self,
        app: Flask,
        host: str | None = None,
        port: int | None = None,
        *,
        debug: bool | None = None,
        use_reloader: bool | None = None,
        extra_files: list[str] | None = None,
        log_output: bool = False,
        **kwargs: Any,
    ) -> None:
        """Serve ``app`` (development or simple deployments) with ``sockio_wsgi.make_server``;
        ``debug`` turns on the reloader unless ``use_reloader=False``."""
        from flask_ext.state import run_app

        run_app(self, app, host, port, debug, use_reloader, extra_files, log_output, kwargs)

    def stop(self) -> None:
        """Disconnect every client and stop the servers started by :meth:`run`; callable from
        a handler (the stop happens in a greenlet of its own)."""
        from flask_ext.state import stop_all

        stop_all(self)

    @staticmethod
    def start_background_task(target: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Run ``target`` in a greenlet; returns it (``.join()`` waits)."""
        return sockio_wsgi.Server.start_background_task(target, *args, **kwargs)

    @staticmethod
    def sleep(seconds: float = 0) -> None:
        """Sleep without stalling the connection a handler runs on."""
        sockio_wsgi.Server.sleep(seconds)

    def test_client(
        self,
        app: Flask,
        namespace: str | None = None,
        query_string: str | None = None,
        headers: Mapping[str, str] | None = None,
        auth: Any = None,
        flask_test_client: Any = None,
    ) -> SocketIOTestClient:
        """A client speaking real Engine.IO long-polling through ``app``'s WSGI callable."""
        from flask_ext.testing import SocketIOTestClient

        return SocketIOTestClient(
            app,
            self,
            namespace=namespace,
            query_string=query_string,
            headers=headers,
            auth=auth,
            flask_test_client=flask_test_client,
        )


# what the servers that receive an emitter's packets encode with
_CHECK_PARSER = JsonParser()


def _namespace(namespace: str | None) -> str:
    if not namespace:
        return "/"
    if namespace == CATCH_ALL:
        return namespace
    return namespace if namespace.startswith("/") else "/" + namespace


def _config_options(config: Mapping[str, Any]) -> dict[str, Any]:
    """``SOCKETIO_PING_INTERVAL = 10`` becomes ``ping_interval=10``."""
    return {
        key[len("SOCKETIO_") :].lower(): value
        for key, value in config.items()
        if key.startswith("SOCKETIO_")
    }
