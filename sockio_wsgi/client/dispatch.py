"""Background helpers of the client: an ordered task runner and a timer thread.

User handlers run one at a time, in arrival order, on the dispatcher thread, never on a
transport reader, so a handler may block (even on ``emit_with_ack``) while the reader
keeps routing acks. Ack timeouts run on a separate timer thread so a blocked handler
cannot stop a retry. Both threads end on ``stop()``.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

log = logging.getLogger("sockio_wsgi.client")

Task = tuple[Callable[..., Any], tuple[Any, ...]]


class Dispatcher:
    """Runs submitted calls in order on one thread, started on first use."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._tasks: deque[Task] = deque()
        self._cond = threading.Condition()
        self._stopping = False
        self._thread: threading.Thread | None = None

    def submit(self, func: Callable[..., Any], *args: Any) -> None:
        with self._cond:
            if self._stopping:
                return
            self._tasks.append((func, args))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
                self._thread.start()
            self._cond.notify()

    def _run(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: bool(self._tasks) or self._stopping)
                if not self._tasks:
                    return
                func, args = self._tasks.popleft()
            try:
                func(*args)
            except Exception:
                log.exception("client handler %s failed", getattr(func, "__name__", func))

    def stop(self, join: bool = True, timeout: float = 5.0) -> None:
        """Run what is already submitted, then end the thread (``join`` waits for it)."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
            thread = self._thread
        if join and thread is not None and thread is not threading.current_thread():
            thread.join(timeout)


class Timer:
    """A handle on a scheduled call; ``cancel()`` is safe at any time."""

    __slots__ = ("cancelled",)

    def __init__(self) -> None:
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


class Timers:
    """Calls functions after delays on one thread; callbacks must be quick."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._heap: list[tuple[float, int, Timer, Task]] = []
        self._seq = itertools.count()
        self._cond = threading.Condition()
        self._stopping = False
        self._thread: threading.Thread | None = None

    def call_later(self, delay: float, func: Callable[..., Any], *args: Any) -> Timer:
        timer = Timer()
        with self._cond:
            if self._stopping:
                timer.cancel()
                return timer
            entry = (time.monotonic() + delay, next(self._seq), timer, (func, args))
            heapq.heappush(self._heap, entry)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
                self._thread.start()
            self._cond.notify()
        return timer

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._stopping:
                    while self._heap and self._heap[0][2].cancelled:
                        heapq.heappop(self._heap)
                    if self._heap and self._heap[0][0] <= time.monotonic():
                        break
                    wait = self._heap[0][0] - time.monotonic() if self._heap else None
                    self._cond.wait(wait)
                if self._stopping:
                    return
                _, _, timer, (func, args) = heapq.heappop(self._heap)
            if timer.cancelled:
                continue
            try:
                func(*args)
            except Exception:
                log.exception("client timer %s failed", getattr(func, "__name__", func))

    def stop(self, join: bool = True, timeout: float = 5.0) -> None:
        """Drop every pending timer and end the thread (``join`` waits for it)."""
        with self._cond:
            self._stopping = True
            self._heap.clear()
            self._cond.notify_all()
            thread = self._thread
        if join and thread is not None and thread is not threading.current_thread():
            thread.join(timeout)
