"""Everything flask_ext knows about Flask's (and werkzeug's) internals, in one place.

Handlers run inside a request context built from the connection's handshake environ, with
either the cookie session or a per-socket copy of it; the test client talks to the app
through werkzeug's test client; ``socketio.run`` uses werkzeug's reloader. When Flask
changes how any of that works, this is the only file to touch.
"""

from __future__ import annotations

import contextvars
import weakref
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

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


@dataclass(frozen=True)
class HandlerContext:
    """What the helpers need to know about the handler that is running."""

    state: AppState
    socket: sockio_wsgi.Socket


_current: contextvars.ContextVar[HandlerContext | None] = contextvars.ContextVar(
    "flask_ext_handler", default=None
)


# socket -> (url_rule, view_args, routing_exception) of its handshake request's URL
_routing: weakref.WeakKeyDictionary[Any, tuple[Any, Any, Any]] = weakref.WeakKeyDictionary()


class _EventRequestContext(RequestContext):
    """The request context of one Socket.IO event.

    Flask matches the request's URL against the app's routes on every push; a socket's
    events all carry its handshake environ, so the match is made on its first event and
    reused (a fifth of the cost of an event's context)."""

    def __init__(
        self, app: Flask, environ: dict[str, Any], session: SessionMixin | None, socket: Any
    ) -> None:
        super().__init__(app, environ, session=session)
        self._socket = socket

    def match_request(self) -> None:
        request = self.request
        cached = _routing.get(self._socket)
        if cached is None:
            super().match_request()
            view_args = request.view_args
            _routing[self._socket] = (
                request.url_rule,
                dict(view_args) if view_args is not None else None,  # handlers may change theirs
                request.routing_exception,
            )
        else:
            rule, view_args, request.routing_exception = cached
            request.url_rule = rule
            request.view_args = dict(view_args) if view_args is not None else None


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


@contextmanager
def handler_context(
    ctx_info: HandlerContext,
    app: Flask,
    environ: Mapping[str, Any],
    event: dict[str, Any],
    session: SessionMixin | None,
) -> Iterator[Request]:
    """App and request context for one handler call.

    ``session=None`` opens the cookie session as Flask does for an HTTP request; otherwise
    the given (managed) session is ``flask.session``. ``request.sid``, ``request.namespace``
    and ``request.event`` are set as Flask-SocketIO does.
    """
    ctx = _EventRequestContext(app, _clean(environ), session, ctx_info.socket)
    request = ctx.request
    request.sid = ctx_info.socket.id  # type: ignore[attr-defined]
    request.namespace = ctx_info.socket.nsp  # type: ignore[attr-defined]
    request.event = event  # type: ignore[attr-defined]
    token = _current.set(ctx_info)
    ctx.push()
    error: BaseException | None = None
    try:
        yield request
    except BaseException as exc:
        error = exc
        raise
    finally:
        ctx.pop(error)
        _current.reset(token)


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
