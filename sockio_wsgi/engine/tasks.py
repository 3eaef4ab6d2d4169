"""One connection's handlers run one at a time, in arrival order.

Handlers are synchronous code that may block for seconds or minutes. The connection's
reader keeps reading meanwhile (see :mod:`sockio_wsgi.engine.reader`), so events that
arrive during a handler are queued here and run after it, in order; acknowledgements and
heartbeats never wait in this queue. The queue is bounded: a client that keeps sending
while its handler is stuck is cut off rather than allowed to grow the server's memory.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable
from typing import Any

from sockio_wsgi import runtime

log = logging.getLogger("sockio_wsgi.engine")

# events one connection may have waiting behind a running handler (Server option
# ``max_queued_events``); over it the connection is closed
DEFAULT_MAX_QUEUED = 1000

Task = tuple[Callable[..., Any], tuple[Any, ...]]


class QueueOverflow(Exception):
    """Too many tasks queued behind a running one."""


class OrderedTasks:
    """Mixin: ``run(func, *args)`` runs tasks one at a time in call order.

    Called by the connection's reader it runs at once, on that greenlet (no greenlet is
    spawned for a handler that does not wait); anywhere else (a polling POST, a timer, a
    task that is still running) the task is queued and a worker greenlet drains the
    queue. Subclasses say whether the caller is their reader (``_runs_inline``) and what
    to do when the queue is full (``_tasks_overflowed``).
    """

    # class defaults: an idle connection holds neither a queue nor a flag of its own
    _inbox: deque[Task] | None = None
    _busy = False  # a task is running (tasks never overlap)
    max_queued = DEFAULT_MAX_QUEUED

    def _runs_inline(self) -> bool:
        raise NotImplementedError

    def _tasks_overflowed(self, queued: int) -> None:
        raise NotImplementedError

    def run(self, func: Callable[..., Any], *args: Any) -> None:
        """Run ``func(*args)`` after every earlier task of this connection."""
        if self._busy:
            self._queue(func, args)
            return
        self._busy = True
        if self._runs_inline():
            self._call(func, args)
            self._drain()
        else:
            self._queue(func, args)
            runtime.run_soon(self._drain)

    @property
    def queued_tasks(self) -> int:
        return len(self._inbox) if self._inbox else 0

    def _queue(self, func: Callable[..., Any], args: tuple[Any, ...]) -> None:
        inbox = self._inbox
        if inbox is None:
            inbox = self._inbox = deque()
        elif len(inbox) >= self.max_queued:
            self._tasks_overflowed(len(inbox))
            return
        inbox.append((func, args))

    def _drain(self) -> None:
        try:
            while self._inbox:  # read each time: a task may queue more
                func, args = self._inbox.popleft()
                self._call(func, args)
        finally:
            self._busy = False
            if not self._inbox:
                self._inbox = None

    def _call(self, func: Callable[..., Any], args: tuple[Any, ...]) -> None:
        try:
            func(*args)
        except (Exception, runtime.Timeout):  # a gevent.Timeout a handler let escape, too
            name = getattr(func, "__name__", func)
            log.exception("task %s failed on %r", name, self)

    def _drop_tasks(self) -> None:
        """Forget what is queued (the connection is being cut off)."""
        if self._inbox:
            self._inbox.clear()
