"""Dynamic namespaces: ``sio.of(re.compile(r"^/team-\\d+$"))`` or ``sio.of(fn)``.

A parent namespace is a template. A CONNECT to an unknown namespace whose name matches
creates a child :class:`~sockio_wsgi.server.namespace.Namespace` on demand; the child
uses the parent's handlers, middleware, catch-all and room-event listeners (also ones
registered later) before its own. Broadcasting on the parent reaches every child.
"""

from __future__ import annotations

import dataclasses
import itertools
import logging
import re
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, Union

from sockio_wsgi.adapters.base import ROOM_EVENTS, BroadcastOptions
from sockio_wsgi.server.broadcast import BroadcastOperator, as_rooms
from sockio_wsgi.server.listeners import CatchAll
from sockio_wsgi.server.middleware import Middleware

if TYPE_CHECKING:
    from sockio_wsgi.server.namespace import Namespace
    from sockio_wsgi.server.server import Server

log = logging.getLogger("sockio_wsgi.server")

# a name test: a compiled regular expression, or fn(name, auth) -> bool
NamespaceMatcher = Union["re.Pattern[str]", Callable[[str, Any], bool]]

_ids = itertools.count(1)


class ParentNamespace(CatchAll):
    """The group of namespaces a matcher creates; register handlers on it."""

    def __init__(self, server: Server, matcher: NamespaceMatcher) -> None:
        super().__init__()
        self.server = server
        self.matcher = matcher
        self.name = f"/_{next(_ids)}"
        self.handlers: dict[str, Callable[..., Any]] = {}
        self.room_handlers: dict[str, Callable[..., Any]] = {}
        self.middlewares: list[Middleware] = []
        self.children: dict[str, Namespace] = {}

    def __repr__(self) -> str:
        return f"<ParentNamespace {self.matcher!r}>"

    def on(self, event: str, handler: Callable[..., Any] | None = None) -> Any:
        """As :meth:`Namespace.on`, for every child (present and future)."""

        def register(func: Callable[..., Any]) -> Callable[..., Any]:
            if event in ROOM_EVENTS:
                self.room_handlers[event] = func
            else:
                self.handlers[event] = func
            return func

        return register(handler) if handler is not None else register

    def event(self, handler: Callable[..., Any]) -> Callable[..., Any]:
        return self.on(handler.__name__, handler)  # type: ignore[no-any-return]

    def use(self, middleware: Middleware) -> Middleware:
        """Connection middleware of every child; runs before the child's own."""
        self.middlewares.append(middleware)
        return middleware

    def matches(self, name: str, auth: Any) -> bool:
        """Does a CONNECT to ``name`` (with ``auth``) belong to this group?"""
        try:
            if isinstance(self.matcher, re.Pattern):
                return self.matcher.search(name) is not None
            return bool(self.matcher(name, auth))
        except Exception:
            log.exception("namespace matcher %r failed for %r", self.matcher, name)
            return False

    # -- broadcasting to every child -------------------------------------------------

    def _operator(self) -> ParentOperator:
        return ParentOperator(self, BroadcastOptions())

    def to(self, rooms: str | Iterable[str]) -> ParentOperator:
        return self._operator().to(rooms)

    in_ = to

    def except_(self, rooms: str | Iterable[str]) -> ParentOperator:
        return self._operator().except_(rooms)

    @property
    def volatile(self) -> ParentOperator:
        return self._operator().volatile

    @property
    def local(self) -> ParentOperator:
        return self._operator().local

    def emit(self, event: str, *args: Any) -> int:
        """Send ``event`` to every socket of every child; the local count."""
        return self._operator().emit(event, *args)


class ParentOperator:
    """A broadcast to the same rooms in every child namespace (emit only, as the
    parent's sockets live in the children)."""

    def __init__(self, parent: ParentNamespace, opts: BroadcastOptions) -> None:
        self._parent = parent
        self._opts = opts

    def _with(self, **changes: Any) -> ParentOperator:
        return ParentOperator(self._parent, dataclasses.replace(self._opts, **changes))

    def to(self, rooms: str | Iterable[str]) -> ParentOperator:
        return self._with(rooms=self._opts.rooms | as_rooms(rooms))

    in_ = to

    def except_(self, rooms: str | Iterable[str]) -> ParentOperator:
        return self._with(except_rooms=self._opts.except_rooms | as_rooms(rooms))

    @property
    def volatile(self) -> ParentOperator:
        return self._with(volatile=True)

    @property
    def local(self) -> ParentOperator:
        return self._with(local=True)

    def compress(self, compress: bool) -> ParentOperator:
        return self._with(compress=compress)

    def emit(self, event: str, *args: Any) -> int:
        children = list(self._parent.children.values())
        return sum(BroadcastOperator(child, self._opts).emit(event, *args) for child in children)
