"""The broadcast operator: an immutable description of who gets an emit, and how.

Everything goes through the namespace's adapter, so the same code reaches the sockets of
every server once a cluster adapter is installed (``local`` keeps it on this one).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from sockio_wsgi import runtime
from sockio_wsgi.adapters.base import BroadcastOptions
from sockio_wsgi.exceptions import TimeoutError
from sockio_wsgi.protocol.sio import RESERVED_EVENTS, event_packet
from sockio_wsgi.server.remote import RemoteSocket

if TYPE_CHECKING:
    from sockio_wsgi.server.namespace import Namespace
    from sockio_wsgi.server.socket import Socket

log = logging.getLogger("sockio_wsgi.server")

# emit(..., callback=fn) with a timeout: fn(error or None, replies)
BroadcastCallback = Callable[[Exception | None, list[Any]], Any]


def as_rooms(rooms: str | Iterable[str]) -> frozenset[str]:
    return frozenset([rooms]) if isinstance(rooms, str) else frozenset(rooms)


def unwrap(reply: list[Any] | tuple[Any, ...]) -> Any:
    """One ack argument as is, several as a tuple, none as ``None``."""
    if not reply:
        return None
    return reply[0] if len(reply) == 1 else tuple(reply)


class BroadcastOperator:
    """``sio.to("a").except_("b").volatile.emit(...)``: each step returns a new operator."""

    def __init__(self, namespace: Namespace, opts: BroadcastOptions | None = None) -> None:
        self._namespace = namespace
        self._opts = opts or BroadcastOptions()

    def _with(self, **changes: Any) -> BroadcastOperator:
        return BroadcastOperator(self._namespace, dataclasses.replace(self._opts, **changes))

    def to(self, rooms: str | Iterable[str]) -> BroadcastOperator:
        """Target these rooms too (a socket in several of them gets the event once)."""
        return self._with(rooms=self._opts.rooms | as_rooms(rooms))

    in_ = to

    def except_(self, rooms: str | Iterable[str]) -> BroadcastOperator:
        """Leave out the sockets of these rooms (socket ids are rooms)."""
        return self._with(except_rooms=self._opts.except_rooms | as_rooms(rooms))

    @property
    def volatile(self) -> BroadcastOperator:
        """Skip clients whose transport cannot take the packet right now."""
        return self._with(volatile=True)

    @property
    def local(self) -> BroadcastOperator:
        """Stay on this server (matters with a cluster adapter)."""
        return self._with(local=True)

    def compress(self, compress: bool) -> BroadcastOperator:
        """Ask the transport to compress (or not) these packets."""
        return self._with(compress=compress)

    def timeout(self, seconds: float) -> BroadcastOperator:
        """The deadline for acknowledgements of ``emit(callback=)``/``emit_with_ack``."""
        return self._with(timeout=seconds)

    @property
    def options(self) -> BroadcastOptions:
        return self._opts

    # -- emitting --------------------------------------------------------------------

    @runtime.from_any_thread
    def emit(self, event: str, *args: Any, callback: BroadcastCallback | None = None) -> int:
        """Send to every matching socket; returns how many local sockets got it.

        With ``callback`` (a :meth:`timeout` is required) every recipient is asked for an
        ack and ``callback(err, replies)`` runs once: ``err`` is ``None`` when all answered,
        a :class:`~sockio_wsgi.TimeoutError` when the deadline passed first.
        """
        _check_event(event)
        if callback is None:
            packet = event_packet(self._namespace.name, event, list(args))
            return self._namespace.adapter.broadcast(packet, self._opts)
        if self._opts.timeout is None:
            raise ValueError("a broadcast with acknowledgements needs timeout(seconds)")
        return self._emit_acked(event, args, self._opts.timeout, callback)

    def send(self, *args: Any, callback: BroadcastCallback | None = None) -> int:
        return self.emit("message", *args, callback=callback)

    @runtime.from_any_thread
    def emit_with_ack(self, event: str, *args: Any, timeout: float | None = None) -> list[Any]:
        """Emit and wait for one ack per recipient socket; return the replies.

        Each reply is the client's ack arguments as in ``Socket.emit_with_ack`` (one value,
        a tuple, or ``None``). Raises :class:`~sockio_wsgi.TimeoutError` (its ``replies``
        holds those received) when not all arrive within ``timeout`` (or :meth:`timeout`).
        """
        _check_event(event)
        seconds = timeout if timeout is not None else self._opts.timeout
        if seconds is None:
            raise ValueError("emit_with_ack on a broadcast needs a timeout")
        result: runtime.AsyncResult = runtime.AsyncResult()
        self._emit_acked(event, args, seconds, lambda err, replies: result.set((err, replies)))
        error, replies = result.get()
        if error is not None:
            raise error
        return replies  # type: ignore[no-any-return]

    def _emit_acked(
        self, event: str, args: tuple[Any, ...], timeout: float, done: BroadcastCallback
    ) -> int:
        adapter = self._namespace.adapter
        collector = _AckCollector(adapter.server_count(), timeout, done, event)
        counted: list[int] = []

        def on_client_count(count: int) -> None:
            counted.append(count)
            collector.on_client_count(count)

        packet = event_packet(self._namespace.name, event, list(args))
        adapter.broadcast_with_ack(packet, self._opts, on_client_count, collector.on_reply)
        return counted[0] if counted else 0

    @runtime.from_any_thread
    def emit_to_each(self, event: str, *args: Any, callback: Callable[..., Any]) -> int:
        """Flask-SocketIO's ``emit(..., callback=)``: ``callback(*ack_args)`` once per
        client that acks; no deadline."""
        _check_event(event)

        def on_reply(reply: list[Any]) -> None:
            try:
                callback(*reply)
            except Exception:
                log.exception("ack callback for %r failed", event)

        counted: list[int] = []
        packet = event_packet(self._namespace.name, event, list(args))
        self._namespace.adapter.broadcast_with_ack(packet, self._opts, counted.append, on_reply)
        return counted[0] if counted else 0

    # -- acting on the matching sockets ----------------------------------------------

    @runtime.from_any_thread
    def fetch_sockets(self) -> list[Socket | RemoteSocket]:
        """The matching sockets: local ones as :class:`Socket`, others (from a cluster
        adapter) as :class:`RemoteSocket`; both have id, rooms, data, handshake, emit,
        join, leave and disconnect."""
        found: list[Socket | RemoteSocket] = []
        for record in self._namespace.adapter.fetch_sockets(self._opts):
            socket = self._namespace.sockets.get(record.id)
            found.append(socket if socket is not None else RemoteSocket(self._namespace, record))
        return found

    @runtime.from_any_thread
    def sockets_join(self, rooms: str | Iterable[str]) -> None:
        """Make the matching sockets join ``rooms``."""
        self._namespace.adapter.add_sockets(self._opts, set(as_rooms(rooms)))

    @runtime.from_any_thread
    def sockets_leave(self, rooms: str | Iterable[str]) -> None:
        """Make the matching sockets leave ``rooms``."""
        self._namespace.adapter.del_sockets(self._opts, set(as_rooms(rooms)))

    @runtime.from_any_thread
    def disconnect_sockets(self, close: bool = False) -> None:
        """Disconnect the matching sockets (``close`` ends their whole connections)."""
        self._namespace.adapter.disconnect_sockets(self._opts, close)


def _check_event(event: str) -> None:
    if event in RESERVED_EVENTS:
        raise ValueError(f"{event!r} is a reserved event name")


class _AckCollector:
    """Counts servers and clients as socket.io's broadcast operator does: complete when
    every server has reported its client count and every counted client has replied."""

    def __init__(self, servers: int, timeout: float, done: BroadcastCallback, event: str) -> None:
        self._expected_servers = servers
        self._servers = 0
        self._expected_clients = 0
        self._replies: list[Any] = []
        self._done: BroadcastCallback | None = done
        self._event = event
        self._timer = runtime.spawn_later(timeout, self._timed_out, timeout)

    def on_client_count(self, count: int) -> None:
        self._servers += 1
        self._expected_clients += count
        self._check()

    def on_reply(self, reply: list[Any]) -> None:
        if self._done is not None:
            self._replies.append(unwrap(reply))
            self._check()

    def _check(self) -> None:
        if self._servers >= self._expected_servers and len(self._replies) >= self._expected_clients:
            runtime.kill(self._timer)
            self._finish(None)

    def _timed_out(self, timeout: float) -> None:
        error = TimeoutError(self._missing(timeout), replies=list(self._replies))
        self._finish(error)

    def _missing(self, timeout: float) -> str:
        """Name the part that did not come: servers that never reported, else acks."""
        acks = f"{len(self._replies)} of {self._expected_clients} acks"
        silent = self._expected_servers - self._servers
        if silent > 0:
            return (
                f"{silent} of {self._expected_servers} servers did not report their client "
                f"count for {self._event!r} within {timeout}s ({acks} from the others)"
            )
        return (
            f"{self._expected_clients - len(self._replies)} of {self._expected_clients} "
            f"clients did not ack {self._event!r} within {timeout}s"
        )

    def _finish(self, error: Exception | None) -> None:
        done, self._done = self._done, None
        if done is None:
            return
        try:
            done(error, list(self._replies))
        except Exception:
            log.exception("broadcast ack callback for %r failed", self._event)


class BroadcastMethods:
    """The operator's entry points on a namespace or the server: ``sio.to(...)`` etc."""

    def _operator(self) -> BroadcastOperator:
        raise NotImplementedError

    def to(self, rooms: str | Iterable[str]) -> BroadcastOperator:
        return self._operator().to(rooms)

    in_ = to

    def except_(self, rooms: str | Iterable[str]) -> BroadcastOperator:
        return self._operator().except_(rooms)

    @property
    def volatile(self) -> BroadcastOperator:
        return self._operator().volatile

    @property
    def local(self) -> BroadcastOperator:
        return self._operator().local

    def compress(self, compress: bool) -> BroadcastOperator:
        return self._operator().compress(compress)

    def timeout(self, seconds: float) -> BroadcastOperator:
        return self._operator().timeout(seconds)

    def emit_with_ack(self, event: str, *args: Any, timeout: float | None = None) -> list[Any]:
        return self._operator().emit_with_ack(event, *args, timeout=timeout)

    def fetch_sockets(self) -> list[Socket | RemoteSocket]:
        return self._operator().fetch_sockets()

    def sockets_join(self, rooms: str | Iterable[str]) -> None:
        self._operator().sockets_join(rooms)

    def sockets_leave(self, rooms: str | Iterable[str]) -> None:
        self._operator().sockets_leave(rooms)

    def disconnect_sockets(self, close: bool = False) -> None:
        self._operator().disconnect_sockets(close)
