"""Catch-all listeners (``on_any``, ``on_any_outgoing``) and their calling.

Shared by sockets (``fn(event, *args)``) and namespaces (``fn(socket, event, *args)``).
A listener that raises is logged and the others still run: a catch-all is for
observation (logging, metrics, debugging) and must never break delivery.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

log = logging.getLogger("sockio_wsgi.server")

AnyListener = Callable[..., Any]


class CatchAll:
    """Incoming and outgoing catch-all listeners, in socket.io's API.

    Kept as tuples, replaced on every change: most sockets never have one, and an empty
    tuple costs nothing per socket (nor a collector's scan), where a list would.
    """

    def __init__(self) -> None:
        self._any: tuple[AnyListener, ...] = ()
        self._any_outgoing: tuple[AnyListener, ...] = ()

    # -- incoming --------------------------------------------------------------------

    def on_any(self, listener: AnyListener) -> AnyListener:
        """Call ``listener`` for every incoming event, handled or not (a decorator too)."""
        self._any = (*self._any, listener)
        return listener

    def prepend_any(self, listener: AnyListener) -> AnyListener:
        """Like :meth:`on_any`, but before the listeners already registered."""
        self._any = (listener, *self._any)
        return listener

    def off_any(self, listener: AnyListener | None = None) -> None:
        """Remove one catch-all listener, or all of them."""
        self._any = _without(self._any, listener)

    def listeners_any(self) -> list[AnyListener]:
        return list(self._any)

    @property
    def any_listeners(self) -> tuple[AnyListener, ...]:
        """The ``on_any`` listeners as they are now (no copy: the tuple is replaced on
        change), for the namespace that calls them."""
        return self._any

    # -- outgoing --------------------------------------------------------------------

    def on_any_outgoing(self, listener: AnyListener) -> AnyListener:
        """Call ``listener`` for every event emitted to a single socket (not broadcasts,
        which are encoded once for all recipients)."""
        self._any_outgoing = (*self._any_outgoing, listener)
        return listener

    def prepend_any_outgoing(self, listener: AnyListener) -> AnyListener:
        self._any_outgoing = (listener, *self._any_outgoing)
        return listener

    def off_any_outgoing(self, listener: AnyListener | None = None) -> None:
        self._any_outgoing = _without(self._any_outgoing, listener)

    def listeners_any_outgoing(self) -> list[AnyListener]:
        return list(self._any_outgoing)


def _without(
    listeners: tuple[AnyListener, ...], listener: AnyListener | None
) -> tuple[AnyListener, ...]:
    """``listeners`` without the first ``listener`` (without any, for ``None``)."""
    if listener is None or listener not in listeners:
        return () if listener is None else listeners
    i = listeners.index(listener)
    return listeners[:i] + listeners[i + 1 :]


def notify(listeners: Sequence[AnyListener], where: str, *args: Any) -> None:
    """Call every listener with ``args`` (a listener may remove itself meanwhile)."""
    for listener in tuple(listeners):
        try:
            listener(*args)
        except Exception:
            log.exception("catch-all listener failed (%s)", where)
