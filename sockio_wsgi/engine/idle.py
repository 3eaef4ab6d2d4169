"""Idle WebSocket connections hold no greenlet.

A greenlet parked in a read costs a connection about half of its memory: its saved C
stack, its own chunk of Python frames, and the request objects of the greenlet that
accepted the connection. Most real-time connections are idle most of the time, so a
reader that has waited without a byte for a while is ended; a readiness watcher on the
socket starts a new one when data (or EOF) arrives. The cost is one greenlet spawn per
wake-up, paid only after an idle spell, never per message.
"""

from __future__ import annotations

from typing import Any, Protocol

from sockio_wsgi import runtime

SWEEP_INTERVAL = 0.5  # seconds; a reader idle for one to two sweeps hibernates


class Hibernate(Exception):
    """Raised in a parked reader: stop reading, the socket's watcher takes over."""


class Sleeper(Protocol):
    """What the sweep asks of a connection (an ``EngineSocket``)."""

    @property
    def closed(self) -> bool:
        """True once the session has ended (the sweep then forgets it)."""

    def idle_reader(self) -> Any:
        """The reader greenlet if it has been parked with no data since the last call."""


class IdleSweeper:
    """Tracks the connections whose reader greenlet is alive and ends the idle ones.

    One per Engine.IO server; a repeating loop timer runs only while some reader is
    awake, and each sweep looks at those readers only, not at hibernated connections.
    """

    def __init__(self, interval: float = SWEEP_INTERVAL) -> None:
        self.interval = interval
        self._awake: set[Sleeper] = set()
        self._timer: Any = None

    def awake(self, sock: Sleeper) -> None:
        self._awake.add(sock)
        if self._timer is None:
            self._timer = runtime.call_every(self.interval, self._sweep)

    def asleep(self, sock: Sleeper) -> None:
        self._awake.discard(sock)

    @property
    def awake_count(self) -> int:
        return len(self._awake)

    def _sweep(self) -> None:
        if not self._awake:
            runtime.cancel(self._timer)
            self._timer = None
            return
        for sock in list(self._awake):
            if sock.closed:
                self._awake.discard(sock)
                continue
            reader = sock.idle_reader()
            if reader is not None:
                runtime.interrupt(reader, Hibernate())
