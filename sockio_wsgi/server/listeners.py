"""Catch-all listeners (``on_any``, ``on_any_outgoing``) and their calling.

Shared by sockets (``fn(event, *args)``) and namespaces (``fn(socket, event, *args)``).
A listener that raises is logged and the others still run: a catch-all is for
observation (logging, metrics, debugging) and must never break delivery.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

log = logging.getLogger("sockio_wsgi.server")

AnyListener = Callable[..., Any]


class CatchAll:
    """Lists of incoming and outgoing catch-all listeners, in socket.io's API."""

    def __init__(self) -> None:
        self._any: list[AnyListener] = []
        self._any_outgoing: list[AnyListener] = []

    # -- incoming --------------------------------------------------------------------

    def on_any(self, listener: AnyListener) -> AnyListener:
        """Call ``listener`` for every incoming event, handled or not (a decorator too)."""
        self._any.append(listener)
        return listener

    def prepend_any(self, listener: AnyListener) -> AnyListener:
        """Like :meth:`on_any`, but before the listeners already registered."""
        self._any.insert(0, listener)
        return listener

    def off_any(self, listener: AnyListener | None = None) -> None:
        """Remove one catch-all listener, or all of them."""
        _remove(self._any, listener)

    def listeners_any(self) -> list[AnyListener]:
        return list(self._any)

    # -- outgoing --------------------------------------------------------------------

    def on_any_outgoing(self, listener: AnyListener) -> AnyListener:
        """Call ``listener`` for every event emitted to a single socket (not broadcasts,
        which are encoded once for all recipients)."""
        self._any_outgoing.append(listener)
        return listener

    def prepend_any_outgoing(self, listener: AnyListener) -> AnyListener:
        self._any_outgoing.insert(0, listener)
        return listener

    def off_any_outgoing(self, listener: AnyListener | None = None) -> None:
        _remove(self._any_outgoing, listener)

    def listeners_any_outgoing(self) -> list[AnyListener]:
        return list(self._any_outgoing)


def _remove(listeners: list[AnyListener], listener: AnyListener | None) -> None:
    if listener is None:
        listeners.clear()
    elif listener in listeners:
        listeners.remove(listener)


def notify(listeners: list[AnyListener], where: str, *args: Any) -> None:
    """Call every listener (a copy of the list: one may remove itself) with ``args``."""
    for listener in list(listeners):
        try:
            listener(*args)
        except Exception:
            log.exception("catch-all listener failed (%s)", where)
