"""The one place the core touches gevent: spawning, sleeping, waiting and timeouts.

Everything above the sans-IO protocol uses these names, so the concurrency model is
visible in one file and the rest of the code reads as plain sequential Python.
"""

from __future__ import annotations

import _socket
import contextvars
import functools
import logging
import os
import time
import weakref
from collections import deque
from collections.abc import Callable
from typing import Any, TypeVar, cast

import gevent
import gevent.event
import gevent.lock
import gevent.monkey
import gevent.queue
import gevent.socket
import greenlet
from gevent import Greenlet
from gevent import Timeout as Timeout

T = TypeVar("T")

log = logging.getLogger("sockio_wsgi.runtime")

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


def run_soon(func: Callable[..., Any], *args: Any) -> None:
    """Run ``func(*args)`` in a greenlet of its own, soon: for tasks nobody joins or kills.

    Each task gets a new plain greenlet (cheaper to start than a ``gevent.Greenlet``),
    never one a previous task used: a ``gevent.Timeout`` that task left running, or the
    greenlet-local data it set, must not reach the next one. Errors are logged."""
    gevent.get_hub().loop.run_callback(_start_task, func, args)


def _start_task(func: Callable[..., Any], args: tuple[Any, ...]) -> None:
    hub_worker().switch(func, args)


# the OS thread's id, even under monkey patching (where threading's is the greenlet's)
os_thread_id: Callable[[], int] = gevent.monkey.get_original("_thread", "get_ident")


# -- calls from other OS threads ---------------------------------------------------------
#
# The server's state (sessions, rooms, queued bytes) belongs to the hub of the thread that
# serves. An emit from a plain OS thread (unpatched code, a thread pool, a C extension's
# callback) is handed to that hub and run there, in a greenlet of its own, while the
# thread waits for its result: its calls run one after another, in order, and no hub is
# ever made in the thread.

_allocate_lock: Callable[[], Any] = gevent.monkey.get_original("_thread", "allocate_lock")


class _Home:
    """The serving thread's hub and the calls other threads queued for it."""

    def __init__(self) -> None:
        self.thread = os_thread_id()
        self.hub = gevent.get_hub()
        self.calls: deque[_ThreadCall] = deque()
        self.wakeup = self.hub.loop.async_(ref=False)  # send() is safe from any thread
        self.wakeup.start(self._run_calls)

    def _run_calls(self) -> None:
        calls = self.calls
        while calls:
            run_soon(calls.popleft().run)


class _ThreadCall:
    __slots__ = ("func", "args", "kwargs", "done", "result", "error")

    def __init__(self, func: Callable[..., Any], args: Any, kwargs: Any) -> None:
        self.func, self.args, self.kwargs = func, args, kwargs
        self.done = _allocate_lock()
        self.done.acquire()
        self.result: Any = None
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self.result = self.func(*self.args, **self.kwargs)
        except BaseException as exc:  # re-raised in the calling thread
            self.error = exc
        finally:
            self.done.release()


_home: _Home | None = None


def claim_home() -> None:
    """This thread's hub serves connections: calls from other threads go to it. Cheap to
    call on every request."""
    global _home
    home = _home
    if home is None or home.thread != os_thread_id():
        _home = _Home()


def _forget_home() -> None:
    global _home
    _home = None  # a forked child serves with its own hub (claimed on its first request)


os.register_at_fork(after_in_child=_forget_home)

F = TypeVar("F", bound=Callable[..., Any])


def from_any_thread(func: F) -> F:
    """Decorator for the public calls that touch connections (emit, disconnect, join...):
    called from another OS thread than the serving one, the call runs in the serving hub
    and the thread waits for its result (or exception)."""

    @functools.wraps(func)
    def call(*args: Any, **kwargs: Any) -> Any:
        home = _home
        if home is None or home.thread == os_thread_id():
            return func(*args, **kwargs)
        handed = _ThreadCall(func, args, kwargs)
        home.calls.append(handed)
        home.wakeup.send()
        handed.done.acquire()
        if handed.error is not None:
            raise handed.error
        return handed.result

    return cast(F, call)


def call_soon(func: Callable[..., Any], *args: Any) -> None:
    """Run ``func(*args)`` in this thread's hub once the running greenlet yields (before
    the loop next waits for I/O); ``func`` must not block."""
    gevent.get_hub().loop.run_callback(func, *args)


def call_soon_for(sock: Any, func: Callable[..., Any], *args: Any) -> None:
    """Run ``func(*args)`` in the hub of gevent socket ``sock`` once the running greenlet
    yields (before the loop next waits for I/O); like :func:`call_later`, ``func`` must
    not block. Only from that hub's OS thread (see :data:`os_thread_id`)."""
    sock.hub.loop.run_callback(func, *args)


def start_now(func: Callable[..., Any], *args: Any) -> None:
    """:func:`run_soon`, but started at once, in this call, when called in the hub (as a
    server's accept callback is): the task runs until it first waits, then the caller
    goes on. Outside the hub it is :func:`run_soon`."""
    if gevent.getcurrent() is gevent.get_hub():
        hub_worker().switch(func, args)
    else:
        run_soon(func, *args)


def hub_worker() -> Any:
    """A new greenlet that a hub callback starts at once with ``.switch(func, args)``.

    It is a plain greenlet (not a ``gevent.Greenlet``: it cannot be joined or killed);
    when it waits or ends, the hub goes on. Starting it this way costs a fraction of
    :func:`spawn`, which schedules the start for the loop's next callback round. Each
    starts with empty context variables."""
    hub = gevent.get_hub()
    if gevent.getcurrent() is not hub:
        raise RuntimeError("hub_worker is only for callbacks that run in the hub")
    worker = greenlet.greenlet(_work, parent=hub)
    worker.gr_context = contextvars.Context()
    return worker


def _work(func: Callable[..., Any], args: tuple[Any, ...]) -> None:
    try:
        func(*args)
    except (SystemExit, KeyboardInterrupt):
        raise
    except BaseException:
        log.exception("task %s failed", getattr(func, "__qualname__", func))


def spawn_later(seconds: float, func: Callable[..., Any], *args: Any) -> Greenlet:
    return gevent.spawn_later(seconds, func, *args)


def call_later(seconds: float, func: Callable[..., Any], *args: Any) -> Any:
    """Run ``func(*args)`` in the hub after ``seconds``, without a greenlet waiting for it.

    ``func`` must not block (spawn a greenlet for real work); cancel with :func:`cancel`."""
    timer = gevent.get_hub().loop.timer(seconds)
    timer.start(func, *args)
    return timer


def call_every(seconds: float, func: Callable[..., Any], *args: Any) -> Any:
    """Run ``func(*args)`` in the hub every ``seconds`` until cancelled; like
    :func:`call_later`, ``func`` must not block. The timer alone keeps no process alive."""
    timer = gevent.get_hub().loop.timer(seconds, seconds, ref=False)
    timer.start(func, *args)
    return timer


def call_when_readable(sock: Any, func: Callable[..., Any], *args: Any) -> Any:
    """Run ``func(*args)`` in the hub once a gevent socket has data or EOF, with no greenlet
    waiting meanwhile; ``func`` must not block, and must stop the watcher this returns
    (with :func:`stop_waiting`) unless it wants to be called again.

    Uses the socket's own read watcher (as :func:`wait_readable` does), which is free while
    no greenlet reads the socket: nothing is allocated per call. A socket without one (not
    gevent's, or a gevent that renamed it) gets a watcher of its own on its descriptor."""
    watcher = getattr(sock, "_read_event", None)
    if watcher is None:
        watcher = _OwnWatcher(gevent.get_hub().loop.io(sock.fileno(), 1))
    watcher.start(func, *args)
    return watcher


class _OwnWatcher:
    """A read watcher made for one wait: stopping it also releases it."""

    __slots__ = ("watcher",)

    def __init__(self, watcher: Any) -> None:
        self.watcher = watcher

    def start(self, func: Callable[..., Any], *args: Any) -> None:
        self.watcher.start(func, *args)

    def stop(self) -> None:
        self.watcher.stop()
        self.watcher.close()


def stop_waiting(watcher: Any) -> None:
    """Undo :func:`call_when_readable` (``None`` is ignored)."""
    if watcher is not None:
        watcher.stop()


def cancel(timer: Any) -> None:
    """Stop a timer from :func:`call_later` or :func:`call_every` (``None`` is ignored)."""
    if timer is not None:
        timer.close()


def interrupt(greenlet: Any, exception: BaseException) -> None:
    """Raise ``exception`` in a greenlet that is waiting, right now, from the hub (a
    callback of :func:`call_every`). The caller knows where it waits, so no race: the
    greenlet runs until it waits again or ends, then the hub continues."""
    greenlet.throw(exception)


_scratch: weakref.WeakKeyDictionary[Any, bytearray] = weakref.WeakKeyDictionary()


def scratch_buffer(size: int) -> bytearray:
    """A receive buffer shared by every greenlet of this OS thread's hub.

    A read that copies out what it got before it yields can share it: greenlets of one
    hub never run at once, and each thread has its own hub (and so its own buffer)."""
    hub = gevent.get_hub()
    buffer = _scratch.get(hub)
    if buffer is None or len(buffer) < size:
        buffer = _scratch[hub] = bytearray(size)
    return buffer


def os_socket(sock: Any) -> Any:
    """The non-blocking OS socket under a plain gevent socket, or ``None`` (TLS, or not
    gevent's). Reads and writes on it skip gevent's wrapper: for a read once gevent says
    the socket is readable, and for a write that the kernel's buffer takes at once."""
    # an exact type check: TLS's SSLSocket is a subclass (its bytes must go through the SSL
    # layer), and asking a gevent socket for an attribute it lacks costs two AttributeErrors
    if type(sock) is not gevent.socket.socket:
        return None
    raw = getattr(sock, "_sock", None)  # gevent's own field: without it, no shortcut
    return raw if isinstance(raw, _socket.socket) else None


def send_some(raw: Any, data: bytes | bytearray | memoryview) -> int:
    """One non-blocking send on an OS socket: how many bytes the kernel took (0 when its
    buffer is full). Other errors propagate."""
    try:
        sent: int = raw.send(data)
    except BlockingIOError:
        return 0
    return sent


def send_all(sock: Any, raw: Any, data: bytes | bytearray | memoryview) -> None:
    """``sock.sendall(data)``, first trying one send on ``raw`` (its :func:`os_socket`, or
    ``None``): most writes fit the kernel's buffer, and gevent's ``sendall`` also asks
    the kernel for the buffer's size on every call."""
    if raw is not None:
        sent = send_some(raw, data)
        if sent == len(data):
            return
        data = memoryview(data)[sent:]
    sock.sendall(data)


def wait_writable(sock: Any, timeout: float) -> None:
    """Wait until a socket can take more bytes; ``TimeoutError`` after ``timeout``."""
    gevent.socket.wait_write(
        sock.fileno(), timeout, timeout_exc=TimeoutError("the peer took nothing")
    )


def wait_readable(sock: Any) -> None:
    """Wait until a gevent socket has data (or EOF), on the socket's own read watcher.

    A read loop that waits first and then reads makes one ``recv`` per message instead
    of a ``recv`` that fails with EAGAIN followed by the one that succeeds. Sockets
    without the watcher (not gevent's) just return, and the next read waits itself."""
    wait = getattr(sock, "_wait", None)
    event = getattr(sock, "_read_event", None)
    if wait is not None and event is not None:
        wait(event)


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
