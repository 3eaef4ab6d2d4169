"""Everything flask_ext knows about Flask's (and werkzeug's) internals, in one place.

Handlers run inside a request context built from the connection's handshake environ, with
either the cookie session or a per-socket copy of it; the test client talks to the app
through werkzeug's test client; ``socketio.run`` uses werkzeug's reloader. When Flask
changes how any of that works, this is the only file to touch.
"""

from __future__ import annotations

import contextvars
import weakref
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, NamedTuple

import werkzeug.test
from flask import Flask, current_app, has_app_context
from flask.ctx import RequestContext
from flask.sessions import SessionMixin

if TYPE_CHECKING:
    from flask import Request

    import sockio_wsgi
    from flask_ext.state import AppState

# keys of a handshake environ that belong to the request that carried the handshake and
# must not leak into the contexts of later events
_REQUEST_ONLY_KEYS = ("werkzeug.request", "werkzeug.debug.preserve_context")


class ManagedSession(dict[str, Any], SessionMixin):
    """The per-socket copy of the user's session (``manage_session=True``).

    Taken from the cookie when the socket connects; handlers may change it and the change is
    seen by that socket's later events. It is never written back to the cookie: HTTP
    requests and the socket each keep their own view, as with Flask-SocketIO.
    """

    modified = False
    accessed = False


class HandlerContext(NamedTuple):
    """What the helpers need to know about the handler that is running."""

    state: AppState
    socket: sockio_wsgi.Socket


_current: contextvars.ContextVar[HandlerContext | None] = contextvars.ContextVar(
    "flask_ext_handler", default=None
)


class _SocketContexts:
    """What the event contexts of one socket share, made on its first event.

    Flask builds a URL adapter for every request context (a third of an event's cost) and
    matches the URL against the app's routes on every push; a socket's events all carry
    its handshake environ, so both are made once. Each event still gets its own request
    object, ``g``, flashes and teardown, from a copy of a context Flask built itself (so
    the fields Flask adds stay right without naming each one here).
    """

    __slots__ = ("environ", "template")

    def __init__(self, app: Flask, environ: Mapping[str, Any]) -> None:
        self.environ = _clean(environ)
        template = _EventRequestContext(app, dict(self.environ), session=_TEMPLATE_SESSION)
        template.match = _Match()  # shared by every copy
        self.template = template

    def new_context(self, session: SessionMixin | None) -> _EventRequestContext:
        template = self.template
        shape = _template_fields(template)
        fields = dict(template.__dict__)
        for key in shape.lists:
            fields[key] = []
        app = template.app
        request = app.request_class(dict(self.environ))
        request.json_module = app.json
        # what Flask's adapter sets on the request it is built for (the host check)
        request.trusted_hosts = template.request.trusted_hosts
        if template.url_adapter is None:  # the adapter failed: its error is the request's
            request.routing_exception = template.request.routing_exception
        fields[shape.request] = request
        for key in shape.session:
            fields[key] = session
        ctx = _EventRequestContext.__new__(_EventRequestContext)
        ctx.__dict__.update(fields)
        return ctx


class _Match:
    """The match of a socket's handshake URL (made on its first push)."""

    __slots__ = ("result",)

    def __init__(self) -> None:
        self.result: tuple[Any, Any, Any] | None = None  # (url_rule, view_args, exception)


class _Fields(NamedTuple):
    request: str
    session: tuple[str, ...]
    lists: tuple[str, ...]


_TEMPLATE_SESSION = ManagedSession()
_fields: list[_Fields] = []


def _template_fields(template: RequestContext) -> _Fields:
    """Which of a RequestContext's attributes hold its request, its session and its
    per-request lists (found once, on the first template Flask builds)."""
    if not _fields:
        items = template.__dict__.items()
        _fields.append(
            _Fields(
                request=next(k for k, v in items if v is template.request),
                session=tuple(k for k, v in items if v is _TEMPLATE_SESSION),
                lists=tuple(k for k, v in items if type(v) is list and not v),
            )
        )
    return _fields[0]


# socket -> what its event contexts share (which must not refer to the socket)
_contexts: weakref.WeakKeyDictionary[Any, _SocketContexts] = weakref.WeakKeyDictionary()


class _EventRequestContext(RequestContext):
    """The request context of one Socket.IO event (see :class:`_SocketContexts`)."""

    match: _Match | None = None  # None in a copy() Flask makes (matched as Flask does)

    def match_request(self) -> None:
        request = self.request
        match = self.match
        if match is None:
            super().match_request()
            return
        if match.result is None:
            super().match_request()
            view_args = request.view_args
            match.result = (
                request.url_rule,
                dict(view_args) if view_args is not None else None,  # handlers may change theirs
                request.routing_exception,
            )
        else:
            rule, view_args, request.routing_exception = match.result
            request.url_rule = rule
            request.view_args = dict(view_args) if view_args is not None else None


def socket_contexts(socket: Any, app: Flask) -> _SocketContexts:
    """The shared part of ``socket``'s event contexts (made on its first event)."""
    shared = _contexts.get(socket)
    if shared is None:
        shared = _contexts[socket] = _SocketContexts(app, socket.handshake.environ)
    return shared


def current_handler() -> HandlerContext | None:
    """The running handler's context, or ``None`` outside Socket.IO handlers."""
    return _current.get()


def current_flask_app() -> Flask | None:
    """The app of the current app context, if any."""
    if not has_app_context():
        return None
    app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]
    return app


def _clean(environ: Mapping[str, Any]) -> dict[str, Any]:
    copied = dict(environ)
    for key in _REQUEST_ONLY_KEYS:
        copied.pop(key, None)
    return copied


def open_cookie_session(app: Flask, environ: Mapping[str, Any]) -> SessionMixin:
    """The session the handshake's cookies carry (a null session without a secret key)."""
    request = app.request_class(_clean(environ))
    interface = app.session_interface
    session = interface.open_session(app, request)
    return session if session is not None else interface.make_null_session(app)


def managed_copy(app: Flask, environ: Mapping[str, Any]) -> ManagedSession:
    return ManagedSession(open_cookie_session(app, environ))


class handler_context:  # noqa: N801 - used as a function, like contextlib's
    """App and request context for one handler call (``with handler_context(...) as
    request``).

    ``session=None`` opens the cookie session as Flask does for an HTTP request; otherwise
    the given (managed) session is ``flask.session``. ``request.sid``, ``request.namespace``
    and ``request.event`` are set as Flask-SocketIO does.
    """

    __slots__ = ("_info", "_ctx", "_token")

    def __init__(
        self, info: HandlerContext, app: Flask, event: dict[str, Any], session: SessionMixin | None
    ) -> None:
        socket = info.socket
        ctx = socket_contexts(socket, app).new_context(session)
        request = ctx.request
        request.sid = socket.id  # type: ignore[attr-defined]
        request.namespace = socket.nsp  # type: ignore[attr-defined]
        request.event = event  # type: ignore[attr-defined]
        self._info = info
        self._ctx = ctx
        self._token: contextvars.Token[HandlerContext | None] | None = None

    def __enter__(self) -> Request:
        self._token = _current.set(self._info)
        try:
            self._ctx.push()
        except BaseException:
            _current.reset(self._token)
            raise
        return self._ctx.request

    def __exit__(self, exc_type: Any, error: BaseException | None, tb: Any) -> None:
        try:
            self._ctx.pop(error)
        finally:
            if self._token is not None:
                _current.reset(self._token)


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
