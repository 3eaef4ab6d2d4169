"""The one place the core touches gevent: spawning, sleeping, waiting and timeouts.

Everything above the sans-IO protocol uses these names, so the concurrency model is
visible in one file and the rest of the code reads as plain sequential Python.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar

import gevent
import gevent.event
import gevent.lock
import gevent.queue
from gevent import Greenlet
from gevent import Timeout as Timeout

T = TypeVar("T")

Event = gevent.event.Event
AsyncResult = gevent.event.AsyncResult
Queue = gevent.queue.Queue
Semaphore = gevent.lock.Semaphore
GreenletExit = gevent.GreenletExit


def monotonic() -> float:
    """The clock every deadline in the server is measured on."""
    return time.monotonic()


def spawn(func: Callable[..., Any], *args: Any, **kwargs: Any) -> Greenlet:
    return gevent.spawn(func, *args, **kwargs)


def spawn_later(seconds: float, func: Callable[..., Any], *args: Any) -> Greenlet:
    return gevent.spawn_later(seconds, func, *args)


def sleep(seconds: float = 0) -> None:
    gevent.sleep(seconds)


def kill(greenlet: Greenlet | None, block: bool = False) -> None:
    """Stop a greenlet unless it is the current one (a greenlet never kills itself)."""
    if greenlet is not None and greenlet is not gevent.getcurrent() and not greenlet.dead:
        greenlet.kill(block=block)


def current() -> Any:
    return gevent.getcurrent()


def joinall(greenlets: list[Greenlet], timeout: float | None = None) -> None:
    gevent.joinall(greenlets, timeout=timeout)
