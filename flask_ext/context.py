"""The Flask contexts Socket.IO handlers run in, made with Flask's public API.

Each event gets a request context built from its socket's handshake environ, pushed and
popped as Flask does for an HTTP request (teardown functions, signals), with either the
cookie session or the socket's own copy of it. On the Flask releases whose internals
:mod:`flask_ext.flask_internals` knows, that module makes the same contexts lazily and
much faster; everywhere else (older Flask, newer Flask) this public path runs.
"""

from __future__ import annotations

import contextvars
import importlib.metadata
import inspect
import weakref
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol
from urllib.parse import unquote_plus

import werkzeug.test
from flask import Flask, current_app, has_app_context
from flask.sessions import SessionInterface, SessionMixin

if TYPE_CHECKING:
    from flask import Request

    import sockio_wsgi
    from flask_ext.state import AppState

# keys of a handshake environ that belong to the request that carried the handshake and
# must not leak into the contexts of later events
_REQUEST_ONLY_KEYS = ("werkzeug.request", "werkzeug.debug.preserve_context")
# query parameters of the Engine.IO protocol, which the application never sees
ENGINEIO_QUERY_KEYS = frozenset({"EIO", "transport", "sid", "t", "j", "b64"})
# where an event's environ carries its socket's managed session (public path)
MANAGED_SESSION_KEY = "flask_ext.managed_session"

#: Flask releases (major, minor) whose internals flask_internals knows
FAST_PATH_RELEASES = frozenset({(3, 0), (3, 1)})
#: False makes every app initialised afterwards use the public path (tests use it)
use_fast_path = True


class ManagedSession(dict[str, Any], SessionMixin):
    """The per-socket copy of the user's session (``manage_session=True``).

    Taken from the cookie when the socket connects; handlers may change it and the change is
    seen by that socket's later events. It is never written back to the cookie: HTTP
    requests and the socket each keep their own view, as with Flask-SocketIO.
    """

    modified = False
    accessed = False


class HandlerContext(NamedTuple):
    """The handler that is running: what the helpers and the lazy request need."""

    state: AppState
    socket: sockio_wsgi.Socket
    event: str
    args: tuple[Any, ...]


handler_var: contextvars.ContextVar[HandlerContext | None] = contextvars.ContextVar(
    "flask_ext_handler", default=None
)


class EventContexts(Protocol):
    """Makes the context of one event: ``with contexts(info): handler(*args)``."""

    def __call__(self, info: HandlerContext) -> Any: ...


def flask_release() -> tuple[int, int]:
    """The installed Flask's (major, minor)."""
    parts = importlib.metadata.version("flask").split(".")
    return int(parts[0]), int("".join(c for c in parts[1] if c.isdigit()) or 0)


def event_contexts(app: Flask) -> EventContexts:
    """The fast contexts on a Flask release they are made for, else the public ones."""
    if use_fast_path and flask_release() in FAST_PATH_RELEASES:
        from flask_ext.flask_internals import FastEventContexts

        return FastEventContexts(app)
    return PublicEventContexts(app)


def current_handler() -> HandlerContext | None:
    """The running handler's context, or ``None`` outside Socket.IO handlers."""
    return handler_var.get()


def current_flask_app() -> Flask | None:
    """The app of the current app context, if any."""
    if not has_app_context():
        return None
    app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]
    return app


def clean_environ(environ: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of a handshake environ for the requests of later events."""
    copied = dict(environ)
    for key in _REQUEST_ONLY_KEYS:
        copied.pop(key, None)
    query = copied.get("QUERY_STRING")
    if query:
        copied["QUERY_STRING"] = app_query_string(query)
    return copied


def app_query_string(query: str) -> str:
    """The handshake's query string without Engine.IO's own parameters, so ``request.args``
    holds only the application's (the same under the test client and a real server)."""
    kept = [
        part
        for part in query.split("&")
        if part and unquote_plus(part.partition("=")[0]) not in ENGINEIO_QUERY_KEYS
    ]
    return "&".join(kept)


def open_cookie_session(app: Flask, environ: Mapping[str, Any]) -> SessionMixin:
    """The session the handshake's cookies carry (a null session without a secret key)."""
    return open_request_session(app, app.request_class(clean_environ(environ)))


def open_request_session(app: Flask, request: Request) -> SessionMixin:
    interface = app.session_interface
    session = interface.open_session(app, request)
    return session if session is not None else interface.make_null_session(app)


def managed_copy(app: Flask, environ: Mapping[str, Any]) -> ManagedSession:
    return ManagedSession(open_cookie_session(app, environ))


# -- the public path ---------------------------------------------------------------


class PublicEventContexts:
    """Event contexts from ``app.request_context(environ)``, as for an HTTP request.

    ``request.sid``, ``request.namespace`` and ``request.event`` are set as Flask-SocketIO
    does. A managed session reaches the context through the app's session interface
    (wrapped by :class:`_EventSessions`), the public way to give a request its session.
    """

    __slots__ = ("app", "_environs")

    def __init__(self, app: Flask) -> None:
        self.app = app
        # socket -> its cleaned handshake environ (which must not refer to the socket)
        self._environs: weakref.WeakKeyDictionary[Any, dict[str, Any]] = weakref.WeakKeyDictionary()

    def __call__(self, info: HandlerContext) -> _PublicPushed:
        return _PublicPushed(self, info)

    def environ_for(self, info: HandlerContext) -> dict[str, Any]:
        """A fresh environ for one event of the socket (each request keeps its own)."""
        socket = info.socket
        base = self._environs.get(socket)
        if base is None:
            base = self._environs[socket] = clean_environ(socket.handshake.environ)
        environ = dict(base)
        session = info.state.event_session(socket)
        if session is not None:
            environ[MANAGED_SESSION_KEY] = session
            if not isinstance(self.app.session_interface, _EventSessions):
                self.app.session_interface = _EventSessions(self.app.session_interface)
        return environ


class _PublicPushed:
    __slots__ = ("_contexts", "_info", "_ctx", "_token")

    def __init__(self, contexts: PublicEventContexts, info: HandlerContext) -> None:
        self._contexts = contexts
        self._info = info

    def __enter__(self) -> None:
        info = self._info
        ctx = self._contexts.app.request_context(self._contexts.environ_for(info))
        self._token = handler_var.set(info)
        try:
            ctx.push()
        except BaseException:
            handler_var.reset(self._token)
            raise
        self._ctx = ctx
        request: Any = ctx.request
        request.sid = info.socket.id
        request.namespace = info.socket.nsp
        request.event = {"message": info.event, "args": info.args}

    def __exit__(self, exc_type: Any, error: BaseException | None, tb: Any) -> None:
        try:
            self._ctx.pop(error)
        finally:
            handler_var.reset(self._token)


class _EventSessions(SessionInterface):
    """The app's session interface, but an event's request context opens its socket's
    managed copy, and that copy is never saved to a cookie."""

    def __init__(self, wrapped: SessionInterface) -> None:
        self.wrapped = wrapped

    def __getattr__(self, name: str) -> Any:  # what the wrapped class adds
        return getattr(self.wrapped, name)

    def open_session(self, app: Flask, request: Request) -> SessionMixin | None:
        managed: SessionMixin | None = request.environ.get(MANAGED_SESSION_KEY)
        return managed if managed is not None else self.wrapped.open_session(app, request)

    def save_session(self, app: Flask, session: SessionMixin, response: Any) -> None:
        if not isinstance(session, ManagedSession):
            self.wrapped.save_session(app, session, response)


def _forward(name: str) -> Callable[..., Any]:
    def forward(self: _EventSessions, *args: Any, **kwargs: Any) -> Any:
        return getattr(self.wrapped, name)(*args, **kwargs)

    forward.__name__ = name
    return forward


def _forward_attribute(name: str) -> property:
    return property(lambda self: getattr(self.wrapped, name))


# everything else SessionInterface defines is the wrapped interface's
for _name, _value in list(vars(SessionInterface).items()):
    if _name.startswith("_") or _name in ("open_session", "save_session"):
        continue
    forwarded = _forward(_name) if inspect.isfunction(_value) else _forward_attribute(_name)
    setattr(_EventSessions, _name, forwarded)


# -- the test client's HTTP side -----------------------------------------------------


def http_client_for(app: Flask, given: Any = None) -> werkzeug.test.Client:
    """The werkzeug client the test client sends Engine.IO requests through."""
    return given if given is not None else app.test_client()


def http_request(
    client: werkzeug.test.Client,
    method: str,
    path: str,
    query_string: str,
    headers: Mapping[str, str],
    body: str | None = None,
) -> tuple[int, str]:
    """One request through the app's WSGI callable, with the client's cookies.

    ``FlaskClient.open`` also pops contexts it preserved for the user's own requests (in
    ``with client:``); a background poll must not touch those, so the werkzeug base method
    is called, with the Flask client's ``environ_base`` (remote address, user agent) so the
    handshake looks like the user's other requests.
    """
    environ_base = dict(getattr(client, "environ_base", None) or {})
    kwargs: dict[str, Any] = {
        "method": method,
        "query_string": query_string,
        "headers": dict(headers),
        "environ_base": environ_base,
    }
    if body is not None:
        kwargs["data"] = body.encode("utf-8")
        kwargs["content_type"] = "text/plain;charset=UTF-8"
    response = werkzeug.test.Client.open(client, path, **kwargs)
    try:
        return response.status_code, response.get_data(as_text=True)
    finally:
        response.close()


# -- development server ----------------------------------------------------------------


def run_with_reloader(main: Callable[[], None], extra_files: list[str] | None = None) -> None:
    """werkzeug's reloader (the one ``flask run`` uses): restart when a source file changes."""
    from werkzeug._reloader import run_with_reloader as werkzeug_reloader

    werkzeug_reloader(main, extra_files=extra_files)
