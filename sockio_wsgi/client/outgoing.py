"""The sending half of :class:`~sockio_wsgi.client.Client`: emits, acks, the offline
buffer and the at-least-once retry queue, per namespace.

Private methods run with the client's lock held, except ``_emit``, ``_ack_timed_out``
and ``_cancel``, which take it. Ack callbacks of ``emit(callback=)`` run on the
dispatcher; the waiters of ``emit_with_ack`` are woken directly from the reader, so a
handler may wait for an ack.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from sockio_wsgi.client.buffer import BoundedQueue, Emit
from sockio_wsgi.client.dispatch import Dispatcher, Timers
from sockio_wsgi.client.handlers import MANAGER_EVENTS, Handler, Handlers
from sockio_wsgi.exceptions import DisconnectedError, SocketIOError, TimeoutError
from sockio_wsgi.protocol.parsers import Parser
from sockio_wsgi.protocol.sio import RESERVED_EVENTS, SioPacket, event_packet

log = logging.getLogger("sockio_wsgi.client")


class BadNamespaceError(SocketIOError):
    """The namespace is not one this client was asked to connect to."""


class NamespaceState:
    """The client's state in one namespace."""

    def __init__(self, name: str, max_buffer: int | None) -> None:
        self.name = name
        self.connected = False
        self.wanted = True  # still to be (re)connected
        self.sid: str | None = None
        self.pid: str | None = None
        self.offset: str | None = None
        self.recovered = False
        self.acks: dict[int, Emit] = {}
        self.next_id = 0
        self.buffer: BoundedQueue[Emit] = BoundedQueue(max_buffer)
        self.queue: BoundedQueue[Emit] = BoundedQueue(max_buffer)
        self.ready = threading.Event()  # CONNECT or CONNECT_ERROR arrived
        self.error: Any = None
        self.received: list[SioPacket] = []  # events that came before the CONNECT reply


def _unwrap(reply: list[Any]) -> Any:
    if not reply:
        return None
    return reply[0] if len(reply) == 1 else tuple(reply)


def ack_args(result: Any) -> list[Any]:
    """A handler's return value as ack arguments: None, one value, or a tuple of them."""
    if result is None:
        return []
    if isinstance(result, tuple):
        return list(result)
    return [result]


class Outgoing(Handlers):
    """Emitting; :class:`Client` supplies the state declared here."""

    retries: int
    ack_timeout: float | None
    parser: Parser
    _lock: threading.RLock
    _namespaces: dict[str, NamespaceState]
    _closing: bool
    _timers: Timers
    _dispatcher: Dispatcher

    def _send(self, packet: SioPacket) -> bool:
        raise NotImplementedError

    def _fire(self, namespace: str, event: str, *args: Any) -> None:
        raise NotImplementedError

    def emit(
        self,
        event: str,
        *args: Any,
        namespace: str = "/",
        callback: Handler | None = None,
        volatile: bool = False,
    ) -> None:
        """Send ``event``; ``callback(*reply)`` runs (on the dispatcher) when acked.

        ``volatile`` emits are dropped instead of buffered while disconnected. A callback
        is not called for an emit that times out or is dropped.
        """
        on_reply = None
        if callback is not None:
            user_callback = callback

            def on_reply(reply: list[Any]) -> None:
                self._dispatcher.submit(user_callback, *reply)

        self._emit(Emit(namespace, event, list(args), on_reply, None, volatile))

    def send(self, *args: Any, namespace: str = "/", callback: Handler | None = None) -> None:
        """Emit the ``message`` event."""
        self.emit("message", *args, namespace=namespace, callback=callback)

    def emit_with_ack(
        self,
        event: str,
        *args: Any,
        namespace: str = "/",
        timeout: float | None = None,
        volatile: bool = False,
    ) -> Any:
        """Emit and wait for the ack; one reply argument as is, several as a tuple.

        ``timeout`` defaults to ``ack_timeout`` (without retries) or to the retry queue
        giving up (with retries). Raises :class:`~sockio_wsgi.TimeoutError`, or
        :class:`~sockio_wsgi.DisconnectedError` when the client is disconnected first.
        """
        done = threading.Event()
        outcome: dict[str, Any] = {}

        def on_reply(reply: list[Any]) -> None:
            outcome.setdefault("reply", reply)
            done.set()

        def on_fail(exc: BaseException) -> None:
            outcome.setdefault("error", exc)
            done.set()

        emit = Emit(namespace, event, list(args), on_reply, on_fail, volatile)
        self._emit(emit)
        if timeout is None and not self.retries:
            timeout = self.ack_timeout
        if not done.wait(timeout):
            self._cancel(emit)
            raise TimeoutError(f"no ack for {event!r} within {timeout}s")
        if "reply" in outcome:
            return _unwrap(outcome["reply"])
        raise outcome["error"]

    call = emit_with_ack

    def _emit(self, emit: Emit) -> None:
        if emit.event in RESERVED_EVENTS or emit.event in MANAGER_EVENTS:
            raise ValueError(f"{emit.event!r} is a reserved event name")
        self.parser.encode(event_packet(emit.namespace, emit.event, emit.args))  # TypeError early
        with self._lock:
            ns = self._namespaces.get(emit.namespace)
            if ns is None:
                raise BadNamespaceError(f"namespace {emit.namespace} is not connected")
            if self._closing or not ns.wanted:
                raise DisconnectedError("the client is disconnected")
            if self.retries and not emit.volatile:
                emit.queued = True
                ns.queue.append(emit)
                self._drain_queue(ns)
            elif ns.connected and self._send_emit(ns, emit):
                pass
            elif emit.volatile:
                log.debug("volatile %r dropped while disconnected", emit.event)
                if emit.on_fail is not None:
                    emit.on_fail(DisconnectedError("volatile emit dropped while disconnected"))
            else:
                ns.buffer.append(emit)

    def _send_emit(self, ns: NamespaceState, emit: Emit) -> bool:
        """Send one emit now (lock held); False if the engine is already gone."""
        ack_id = None
        if emit.wants_ack:
            ack_id = emit.ack_id = ns.next_id
            ns.next_id += 1
            ns.acks[ack_id] = emit
        packet = event_packet(ns.name, emit.event, emit.args, ack_id)
        if not self._send(packet):
            if ack_id is not None:
                del ns.acks[ack_id]
            return False
        if ack_id is not None and self.ack_timeout is not None:
            emit.timer = self._timers.call_later(self.ack_timeout, self._ack_timed_out, ns, ack_id)
        for handler in list(self.any_outgoing_handlers.get(ns.name, [])):
            self._dispatcher.submit(handler, emit.event, *emit.args)
        return True

    def _drain_queue(self, ns: NamespaceState, force: bool = False) -> None:
        """Send the head of the retry queue unless it is already waiting for its ack."""
        while ns.connected:
            head = ns.queue.peek()
            if head is None or (head.pending and not force):
                return
            if head.cancelled:
                ns.queue.popleft()
                continue
            if head.ack_id is not None:
                ns.acks.pop(head.ack_id, None)
            if head.timer is not None:
                head.timer.cancel()
            head.pending = True
            head.tries += 1
            if head.on_reply is None:
                head.on_reply = lambda reply: None  # the queue needs the ack anyway
            log.debug("sending %r (try %d)", head.event, head.tries)
            self._send_emit(ns, head)
            return

    def _on_ack(self, ns: NamespaceState, ack_id: int, reply: list[Any]) -> None:
        emit = ns.acks.pop(ack_id, None)
        if emit is None:
            log.debug("ack %s on %s matches no emit", ack_id, ns.name)
            return
        if emit.timer is not None:
            emit.timer.cancel()
        if emit.queued:
            if ns.queue.peek() is not emit:
                return
            ns.queue.popleft()
            emit.pending = False
        if emit.on_reply is not None:
            emit.on_reply(reply)
        if emit.queued:
            self._drain_queue(ns)

    def _ack_timed_out(self, ns: NamespaceState, ack_id: int) -> None:
        with self._lock:
            emit = ns.acks.pop(ack_id, None)
            if emit is None:
                return
            if emit.queued:
                if ns.queue.peek() is not emit:
                    return
                emit.pending = False
                if emit.tries > self.retries:
                    log.info("%r discarded after %d tries", emit.event, emit.tries)
                    ns.queue.popleft()
                    self._fail(emit, TimeoutError(f"no ack for {emit.event!r}"))
                self._drain_queue(ns)
            else:
                self._fail(emit, TimeoutError(f"no ack for {emit.event!r}"))

    def _fail(self, emit: Emit, exc: BaseException) -> None:
        if emit.on_fail is not None:
            emit.on_fail(exc)

    def _cancel(self, emit: Emit) -> None:
        """The caller stopped waiting: forget the emit unless it is already on the wire."""
        with self._lock:
            emit.cancelled = True
            ns = self._namespaces.get(emit.namespace)
            if ns is None:
                return
            ns.buffer.remove(emit)
            if emit.queued and not emit.pending:
                ns.queue.remove(emit)
            if not emit.queued and emit.ack_id is not None:
                ns.acks.pop(emit.ack_id, None)

    def _namespace_down(self, ns: NamespaceState, reason: str) -> None:
        """Mark ``ns`` disconnected (lock held): fail sent acks, keep queued emits."""
        was_connected = ns.connected
        ns.connected, ns.sid, ns.received = False, None, []
        for emit in ns.acks.values():
            if emit.timer is not None:
                emit.timer.cancel()
            if emit.queued:
                emit.pending = False
            else:
                self._fail(emit, DisconnectedError(f"disconnected ({reason}) before the ack"))
        ns.acks.clear()
        if was_connected:
            self._fire(ns.name, "disconnect", reason)
