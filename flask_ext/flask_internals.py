"""Everything flask_ext knows about Flask's (and werkzeug's) internals, in one place.

The fast event contexts: Flask's own context classes, made without their ``__init__`` and
filled in only when a handler first reads them, pushed with Flask's context variables.
They rely on how Flask 3.0 and 3.1 build a request context, so
:func:`flask_ext.context.event_contexts` uses them only on those versions and Flask's
public API everywhere else. When Flask changes, this is the only file to touch.
"""

from __future__ import annotations

import weakref
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, NamedTuple

from flask import Flask
from flask.ctx import AppContext, RequestContext
from flask.globals import _cv_app, _cv_request
from flask.sessions import SessionMixin
from flask.signals import (
    appcontext_popped,
    appcontext_pushed,
    appcontext_tearing_down,
    request_tearing_down,
)

from flask_ext.context import (
    HandlerContext,
    ManagedSession,
    clean_environ,
    handler_var,
    open_request_session,
)

if TYPE_CHECKING:
    pass


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
        self.environ = clean_environ(environ)
        template = _EventRequestContext(app, dict(self.environ), session=_TEMPLATE_SESSION)
        template.match = _Match()  # shared by every copy
        self.template = template

    def event_fields(self, session: SessionMixin | None) -> dict[str, Any]:
        """The attributes of one event's context: the template's, with a request, lists
        and session of its own (``None``: opened the way Flask's push opens it)."""
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
        return fields


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


class _EventAppContext(AppContext):
    """The app context of one event, filled in by Flask's own ``__init__`` only when a
    handler first touches more than ``current_app`` (``g``, the URL adapter).

    ``app`` is a class attribute of the app's own subclass (:class:`FastEventContexts`)."""

    def __getattr__(self, name: str) -> Any:
        if "_cv_tokens" in self.__dict__:  # filled in already: really missing
            raise AttributeError(name)
        AppContext.__init__(self, self.app)
        return getattr(self, name)


class _LazyEventRequestContext(_EventRequestContext):
    """The request context of one event, made from its socket's shared template only when
    a handler (or a teardown function) first touches it: an event whose handler reads
    neither ``request`` nor ``session`` costs no request object and no session.

    ``app`` is a class attribute of the app's own subclass (:class:`FastEventContexts`)."""

    _pending: HandlerContext  # until filled in

    def __getattr__(self, name: str) -> Any:
        fields = self.__dict__
        info: HandlerContext | None = fields.get("_pending")
        if info is None or "_filling" in fields:  # filled in, or being filled: missing
            raise AttributeError(name)
        fields["_filling"] = True
        try:
            made = self._made_fields(info)
        finally:
            del fields["_filling"]
        # all or nothing: a failure above leaves the context as it was (and retried)
        fields.update(made)
        del fields["_pending"]
        if self.url_adapter is not None:
            self.match_request()
        return getattr(self, name)

    def _made_fields(self, info: HandlerContext) -> dict[str, Any]:
        socket = info.socket
        app = self.app
        session = info.state.event_session(socket)
        shared = socket_contexts(socket, app)
        shape = _template_fields(shared.template)
        made = shared.event_fields(session)
        request = made[shape.request]
        request.sid = socket.id
        request.namespace = socket.nsp
        request.event = {"message": info.event, "args": info.args}
        if session is None:  # what Flask's push does: the cookie session of this request
            opened = open_request_session(app, request)
            for key in shape.session:
                made[key] = opened
        return made


_new = object.__new__


class FastEventContexts:
    """Makes the Flask contexts of one app's Socket.IO events (``with contexts(info):``).

    Each event gets an app context and a request context, pushed and popped as Flask does
    for an HTTP request (teardown functions, signals), but both are filled in on first
    use, so an event whose handler reads nothing of them costs two small objects. The app
    is a class attribute of subclasses made for it, so that making them is one allocation.
    The session is the state's :meth:`~flask_ext.state.AppState.event_session` (the
    managed copy) or, when that is ``None``, the cookie session as Flask opens it for a
    request. ``request.sid``, ``request.namespace`` and ``request.event`` are set as
    Flask-SocketIO does.
    """

    __slots__ = ("app", "request_context", "app_context")

    def __init__(self, app: Flask) -> None:
        self.app = app
        self.request_context: type[_LazyEventRequestContext] = type(
            "EventRequestContext", (_LazyEventRequestContext,), {"app": app}
        )
        self.app_context: type[_EventAppContext] = type(
            "EventAppContext", (_EventAppContext,), {"app": app}
        )

    def __call__(self, info: HandlerContext) -> _PushedContexts:
        return _PushedContexts(self, info)


class _PushedContexts:
    __slots__ = ("_contexts", "_info", "_ctx", "_tokens")

    def __init__(self, contexts: FastEventContexts, info: HandlerContext) -> None:
        self._contexts = contexts
        self._info = info
        self._ctx: _LazyEventRequestContext
        self._tokens: tuple[Any, Any, Any]

    def __enter__(self) -> None:
        contexts = self._contexts
        app = contexts.app
        current = handler_var.set(self._info)
        app_token = None
        active = _cv_app.get(None)
        if active is None or active.app is not app:
            app_token = _cv_app.set(_new(contexts.app_context))
            if appcontext_pushed.receivers:
                try:
                    appcontext_pushed.send(app, _async_wrapper=app.ensure_sync)
                except BaseException:  # no __exit__ follows: leave nothing pushed
                    _cv_app.reset(app_token)
                    handler_var.reset(current)
                    raise
        ctx = self._ctx = _new(contexts.request_context)
        ctx._pending = self._info
        self._tokens = (current, app_token, _cv_request.set(ctx))

    def __exit__(self, exc_type: Any, error: BaseException | None, tb: Any) -> None:
        current, app_token, request_token = self._tokens
        ctx = self._ctx
        app = self._contexts.app
        try:
            request = None
            try:
                if app.teardown_request_funcs or request_tearing_down.receivers:
                    app.do_teardown_request(error)  # (may fill the context in)
                if "_pending" not in ctx.__dict__:
                    request = ctx.request
                    request.close()
            finally:
                _cv_request.reset(request_token)
                if request is not None:
                    request.environ["werkzeug.request"] = None
        finally:
            try:
                if app_token is not None:
                    try:
                        if app.teardown_appcontext_funcs or appcontext_tearing_down.receivers:
                            app.do_teardown_appcontext(error)
                    finally:
                        _cv_app.reset(app_token)
                    if appcontext_popped.receivers:
                        appcontext_popped.send(app, _async_wrapper=app.ensure_sync)
            finally:
                handler_var.reset(current)
