"""The write side of our WebSocket: writes that never interleave, tried at once, with the
kernel's leftovers and broadcasts' frames queued in order.

A write first tries one non-blocking send; only one that must wait for the kernel takes a
lock (made then: most connections never need one), and later writes go after it. Frames a
greenlet broadcasts before it yields are queued and sent in one write per connection from
the hub: several broadcasts then cost one system call per recipient instead of one each.
Leftovers go to the connection's writer greenlet (its owner's ``on_backlog``).
"""

from __future__ import annotations

import contextlib
from typing import Any

from sockio_wsgi.engine.websocket import BacklogListener, CompressFlags
from sockio_wsgi.runtime import (
    Semaphore,
    Timeout,
    call_soon_for,
    os_socket,
    os_thread_id,
    send_some,
    wait_writable,
)

_NOTHING_TO_WAIT_FOR = contextlib.nullcontext()

# broadcasts' frames queued for one connection beyond this go out without waiting
CORK_LIMIT = 65536

# seconds a write may wait for the peer to take any byte (EngineServer's send_timeout)
DEFAULT_SEND_TIMEOUT = 20.0


class OrderedWrites:
    """Base of :class:`~sockio_wsgi.engine.wsproto_connection.WsprotoWebSocket`: the
    subclass encodes frames (``_encode``) and says whether the connection is open
    (``_check_open``, which raises when it is not). ``_conn`` is the subclass's protocol
    state: while it is ``None`` and the connection is not closed, it is open."""

    _conn: Any = None
    send_timeout = DEFAULT_SEND_TIMEOUT  # set per connection when not the default

    def __init__(self, sock: Any) -> None:
        self._sock = sock
        self._thread = os_thread_id()  # the OS thread of the hub that serves the socket
        self._raw: Any = os_socket(sock)  # None with TLS
        self._closed = False
        # held by a write that waits for the kernel; made by the first such write (most
        # connections never have one)
        self._write_lock: Semaphore | None = None
        self._pending = b""  # bytes the kernel did not take during a try_send
        # set while _pending holds broadcasts' frames not yet tried (sent when the greenlet
        # yields): whom to tell if the kernel then leaves some
        self._cork_owner: BacklogListener | None = None

    def _encode(self, frames: list[str | bytes], compress: CompressFlags = True) -> bytes:
        raise NotImplementedError

    def _check_open(self) -> None:
        raise NotImplementedError

    def send_frames(self, frames: list[str | bytes], compress: CompressFlags = True) -> None:
        with self._after_other_writes():
            self._check_open()
            self._send_after_pending(self._encode(frames, compress))

    def _writing(self) -> bool:
        """True while a write waits for the kernel (it holds the write lock)."""
        lock = self._write_lock
        return lock is not None and lock.locked()

    def _after_other_writes(self) -> contextlib.AbstractContextManager[Any]:
        """The write lock while another write waits for the kernel (this one goes after
        it), else nothing to wait for."""
        lock = self._write_lock
        return lock if lock is not None and lock.locked() else _NOTHING_TO_WAIT_FOR

    def _send_after_pending(self, data: bytes) -> None:
        """Send what a try_send left, then ``data``: at once when the kernel takes it all,
        else holding the write lock (made now if need be) until it is out. Called with no
        other write in progress (or holding the lock)."""
        if self._pending:
            data, self._pending = self._pending + data, b""
            self._cork_owner = None
        raw = self._raw
        rest: bytes | memoryview = data
        if raw is not None:
            sent = send_some(raw, data)
            if sent == len(data):
                return
            rest = memoryview(data)[sent:]
        lock = self._write_lock
        if lock is None:
            lock = self._write_lock = Semaphore()
        if lock.locked():  # the caller holds it
            self._send_waiting(rest)
            return
        with lock:
            self._send_waiting(rest)

    def _send_waiting(self, data: bytes | memoryview) -> None:
        """Send all of ``data``, waiting for the kernel; a peer that takes no byte for
        ``send_timeout`` seconds gets ``TimeoutError`` (the connection is then cut)."""
        raw = self._raw
        if raw is None:  # TLS: the deadline covers the whole write
            with Timeout(self.send_timeout, TimeoutError("the peer took nothing")):
                self._sock.sendall(data)
            return
        view = memoryview(data)
        while view:
            sent = send_some(raw, view)
            if sent:
                view = view[sent:]
            else:
                wait_writable(self._sock, self.send_timeout)

    def try_send(self, frames: list[str | bytes], compress: bool = True) -> bool:
        """Write without waiting when no other write is in progress.

        Returns False when the caller must queue ``frames`` for the writer instead. Bytes
        the kernel does not take at once are kept and go out first on the writer's next
        :meth:`send_frames`, so a slow client never blocks the greenlet that emits.
        """
        if not self._can_send_now():
            return False
        self._check_open()  # before encoding: a deflate context must only see sent frames
        self._send_now(self._encode(frames, compress))
        return True

    def try_send_encoded(self, data: bytes, owner: BacklogListener) -> bool:
        """Queue frames already encoded (a broadcast's) for one send per connection when
        the running greenlet yields: the broadcasts handled before then go out together
        (written out in full: a broadcast calls this once per recipient)."""
        if os_thread_id() != self._thread:  # another OS thread: at once, or not at all
            if not self._can_send_now():
                return False
            self._check_open()
            self._send_now(data)
            return True
        pending = self._pending
        if pending:
            if self._cork_owner is None or len(pending) + len(data) > CORK_LIMIT:
                return False  # the kernel holds back earlier bytes: the writer goes on
            self._pending = pending + data
            return True
        lock = self._write_lock
        if self._raw is None or (lock is not None and lock.locked()):
            return False
        if self._closed or self._conn is not None:
            self._check_open()
        self._pending = data
        self._cork_owner = owner
        call_soon_for(self._sock, self._uncork)
        return True

    def _uncork(self) -> None:
        """Send what broadcasts queued (in the hub: one try, the rest to the writer)."""
        owner = self._cork_owner
        if owner is None:
            return  # another write took it first
        self._cork_owner = None
        data = self._pending
        if self._closed or not data:
            return
        try:
            sent = send_some(self._raw, data)
        except OSError:
            sent = 0  # the writer meets the error, and ends the session for it
        self._pending = data[sent:] if sent < len(data) else b""
        if self._pending:
            owner.on_backlog()

    def _can_send_now(self) -> bool:
        """No TLS, no leftover bytes and no other write in progress: a send may go now."""
        return self._raw is not None and not self._pending and not self._writing()

    def _send_now(self, data: bytes) -> None:
        """One non-blocking send; what the kernel does not take waits for the writer."""
        sent = send_some(self._raw, data)
        if sent < len(data):
            self._pending = data[sent:]

    @property
    def has_pending(self) -> bool:
        return bool(self._pending) and self._cork_owner is None

    def _write(self, data: bytes) -> None:
        try:
            with self._after_other_writes():
                self._send_after_pending(data)
        except OSError:
            self._closed = True
