"""One Engine.IO connection: the sans-IO session plus the greenlets that drive it.

The session decides; this class waits and writes. A timer greenlet sleeps until the
session's next deadline, a writer greenlet drains the outbox onto the WebSocket, and a
polling GET drains it into an HTTP response.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from sockio_wsgi import runtime
from sockio_wsgi.engine.idle import IdleSweeper
from sockio_wsgi.engine.reader import WebSocketReader
from sockio_wsgi.engine.tasks import OrderedTasks
from sockio_wsgi.engine.websocket import WebSocket
from sockio_wsgi.engine.ws_transport import WebSocketTransport
from sockio_wsgi.protocol.eio import (
    CLOSE,
    NOOP,
    Packet,
    PacketType,
    encode_frame,
    message,
    uncompressed,
)
from sockio_wsgi.protocol.session import (
    POLLING,
    CloseReason,
    EngineSession,
    Event,
    MessageReceived,
    ProbeFailed,
    SessionClosed,
    UpgradeState,
)
from sockio_wsgi.protocol.wsframes import encode_data_frame

log = logging.getLogger("sockio_wsgi.engine")

PROBE_NOOP_DELAY = 0.1  # seconds a GET may stay parked while the WebSocket is probed
# seconds a WebSocket's writer may go on after its session ended before it is cut
CLOSE_GRACE = 2.0
# bytes one connection may have queued (EngineServer's max_queued_bytes)
DEFAULT_MAX_QUEUED_BYTES = 16 * 1024 * 1024

_last_framed: tuple[tuple[Packet, ...], bytes] = ((), b"")


def _plain_frames(packets: tuple[Packet, ...]) -> bytes:
    """The WebSocket frames of ``packets`` (uncompressed), reused while the same tuple is
    sent again: a tuple cannot change, and the cache holds it, so its id is never reused."""
    global _last_framed
    last, frames = _last_framed
    if last is packets:
        return frames
    frames = b"".join([encode_data_frame(encode_frame(p)) for p in packets])
    _last_framed = (packets, frames)
    return frames


class MessageReceiver(Protocol):
    """Takes a session's messages straight from its read loop (or its POSTs)."""

    def on_message(self, data: str | bytes) -> None: ...


class _Unheard:
    """The receiver of a session nobody listens to yet: its messages are dropped."""

    def on_message(self, data: str | bytes) -> None:
        log.debug("a message arrived before anyone listened; dropped")


UNHEARD = _Unheard()


CloseCallback = Callable[["EngineSocket", CloseReason], None]


class _GoneWatch:
    """Watches a waiting poll's connection: readable with nothing to read means its client
    closed it. (Bytes instead mean a pipelined request: then it stops watching.)"""

    __slots__ = ("sock", "raw", "watcher", "gone")

    def __init__(self, sock: EngineSocket, connection: Any, raw: Any) -> None:
        self.sock = sock
        self.raw = raw  # the OS socket under ``connection``, peeked without blocking
        self.gone = False
        self.watcher = runtime.call_when_readable(connection, self._readable)

    def _readable(self) -> None:  # in the hub
        self.stop()
        try:
            self.gone = not self.raw.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT)
        except BlockingIOError:
            return  # nothing after all
        except OSError:
            self.gone = True
        if self.gone and self.sock._output is not None:
            self.sock._output.set()

    def stop(self) -> None:
        runtime.stop_waiting(self.watcher)
        self.watcher = None


class EngineSocket(WebSocketReader, WebSocketTransport, OrderedTasks):
    """A live Engine.IO session; ``send`` may be called from any greenlet.

    This class drives the session: sends, timers, polling and close. The WebSocket's read
    side (and the hand-off of reading while a handler waits) is
    :class:`~sockio_wsgi.engine.reader.WebSocketReader`, its attach, upgrade and write side
    :class:`~sockio_wsgi.engine.ws_transport.WebSocketTransport`; ``run`` orders the raw
    Engine.IO message handlers (:class:`~sockio_wsgi.engine.tasks.OrderedTasks`)."""

    max_queued_bytes = DEFAULT_MAX_QUEUED_BYTES  # set per socket when not the default

    def __init__(
        self,
        session: EngineSession,
        environ: dict[str, Any],
        on_close: CloseCallback,
        idle: IdleSweeper | None = None,
    ) -> None:
        self.session = session
        self.sid = session.sid
        self.environ = environ
        self.ws = None
        self.connected = False
        self._probe_ws = None
        # set by the layer above (an object, not its bound method: one object fewer per
        # connection)
        self.message_receiver: MessageReceiver = UNHEARD
        self._on_close = on_close
        self._output = None
        self._writer = None
        self.final_sent = False  # a poll carried the CLOSE (or NOOP) ending the session
        self._reader = None
        self._delivering = None
        self._idle = idle
        self._last_wake = -1e9
        self._ended = None
        self._timer: Any = None
        # Every field the mixins use is set here, always in this order: instances then
        # share one key table for their attributes (set later in varying orders, each
        # would get a dictionary of its own, about half a KiB per connection).
        self._schedule_timer()

    @property
    def transport(self) -> str:
        return self.session.transport

    @property
    def writable(self) -> bool:
        """True when a send now would go straight out (used by volatile emits)."""
        if self.session.closed:
            return False
        if self.ws is not None:
            return not self.session.outbox and not self.ws.has_pending
        return self.session.poll_active

    # -- sending ---------------------------------------------------------------------

    def send(self, data: str | bytes, compress: bool = True) -> None:
        self.send_packets([message(data)], compress)

    def send_messages(self, messages: list[str | bytes], compress: bool = True) -> None:
        """Queue several messages as one unit (a packet and its attachments)."""
        self.send_packets([message(m) for m in messages], compress)

    def send_packets(self, packets: Sequence[Packet], compress: bool = True) -> None:
        """Queue packets as one unit; on an idle WebSocket they are written at once, which
        saves waking the writer greenlet for every packet. ``compress=False`` keeps them
        uncompressed on the wire (no permessage-deflate for them, and a polling response
        holding only such packets is not gzipped)."""
        ws = self.ws
        if ws is not None and not self.session.outbox and not self.session.closed:
            try:
                if ws.try_send([encode_frame(p) for p in packets], compress):
                    self._sent(ws)
                    return
            except OSError as exc:
                self._write_failed(exc)
                return
        self._queue_packets(packets, compress)

    def send_encoded(self, packets: tuple[Packet, ...], compress: bool = True) -> None:
        """:meth:`send_packets` for packets encoded once for any number of recipients (a
        namespace's ``encode``): their WebSocket frames are made once too, and the frames
        a greenlet sends before it yields go out in one write per connection."""
        ws = self.ws
        if ws is None or ws.compresses or self.session.outbox or self.session.closed:
            self.send_packets(packets, compress)
            return
        try:
            if ws.try_send_encoded(_plain_frames(packets), self):
                self._sent(ws)
                return
        except OSError as exc:
            self._write_failed(exc)
            return
        self._queue_packets(packets, compress)

    def _sent(self, ws: WebSocket) -> None:
        if ws.has_pending:
            self._wake()  # the kernel left some: the writer finishes it

    def _write_failed(self, exc: OSError) -> None:
        log.debug("write to session %s failed: %s", self.sid, exc)
        self._apply(self.session.close(CloseReason.TRANSPORT_ERROR))

    def _queue_packets(self, packets: Sequence[Packet], compress: bool) -> None:
        if not compress:
            packets = [uncompressed(p) for p in packets]
        session = self.session
        session.send(list(packets))
        if session.outbox_bytes > self.max_queued_bytes:
            self._queue_overflowed()
            return
        self._wake()

    def _queue_overflowed(self) -> None:
        """The client takes less than the server sends: cut it off rather than let its
        queue grow (volatile packets were never queued for it)."""
        log.warning(
            "session %s: %d bytes queued for a client that does not read "
            "(max_queued_bytes); closing it",
            self.sid,
            self.session.outbox_bytes,
        )
        self._apply(self.session.close(CloseReason.TRANSPORT_ERROR))
        self.session.discard_outbox()
        if self.ws is not None:
            self.ws.abort()

    def on_backlog(self) -> None:
        """Frames a broadcast queued are partly unsent (called in the hub)."""
        self._wake()

    def _wake(self) -> None:
        """There is output: release a parked poll, or start the WebSocket writer.

        The writer greenlet lives only while a WebSocket has a backlog, so an idle
        connection costs no parked writer."""
        if self._output is not None:
            self._output.set()
        self._start_writer()

    def close(self, reason: CloseReason = CloseReason.FORCED_CLOSE) -> None:
        """Close from the server side; queued packets are still delivered."""
        self._apply(self.session.close(reason))

    # -- events from the session -----------------------------------------------------

    def receive(self, packet: Packet) -> None:
        """A packet other than a message arrived (or any packet, from a POST)."""
        self._apply(self.session.receive(packet, runtime.monotonic()))
        if packet.type is PacketType.PONG and not self.session.closed:
            self._schedule_timer()  # the next ping is due ping_interval from now

    def receive_invalid(self, error: Exception) -> None:
        log.info("session %s sent an invalid packet: %s", self.sid, error)
        self._apply(self.session.receive_invalid())

    def _deliver_now(self, data: str | bytes) -> None:
        try:
            self.message_receiver.on_message(data)
        except (Exception, runtime.Timeout):  # a handler's gevent.Timeout must not end reading
            log.exception("message handler failed for session %s", self.sid)

    def _apply(self, events: list[Event]) -> None:
        for event in events:
            if isinstance(event, MessageReceived):
                self._deliver(event.data)
            elif isinstance(event, SessionClosed):
                self._closed(event.reason)
            elif isinstance(event, ProbeFailed):
                log.debug("upgrade of session %s failed: %s", self.sid, event.reason)
                probe, self._probe_ws = self._probe_ws, None
                if probe is not None:
                    probe.close()
        if self.session.outbox:
            self._wake()

    def _closed(self, reason: CloseReason) -> None:
        log.debug("session %s closed: %s", self.sid, reason.value)
        if self._ended is not None:
            self._ended.set()
        self._schedule_timer()  # none left, unless a probe may still complete the upgrade
        self._wake()
        if self._writer is not None:  # the peer gets a little while to take the rest
            runtime.call_later(CLOSE_GRACE, self._cut_if_still_writing)
        if self._probe_ws is not None and not self.session.awaits_upgrade:
            self._probe_ws.close()
        try:
            self._on_close(self, reason)
        except Exception:
            log.exception("close handler failed for session %s", self.sid)

    # -- timers ----------------------------------------------------------------------

    def _schedule_timer(self) -> None:
        """Arm one loop timer for the session's next deadline (no greenlet waits for it)."""
        runtime.cancel(self._timer)
        self._timer = None
        deadline = self.session.next_deadline()
        if deadline is not None:
            delay = max(0.0, deadline - runtime.monotonic())
            # the timer calls the socket itself (__call__): an armed timer then holds no
            # bound method and no argument tuple, on every connection
            self._timer = runtime.call_later(delay, self)

    def __call__(self) -> None:
        """The deadline timer fired (in the hub, which must not block): handle it in a
        worker greenlet."""
        runtime.run_soon(self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        self._apply(self.session.tick(runtime.monotonic()))
        if not self.session.closed and self._timer is None:
            self._schedule_timer()

    # -- polling ---------------------------------------------------------------------

    def wait_for_output(self, connection: Any = None) -> list[Packet]:
        """Block until there is something to send (or the session ends), take it all.

        While the client may be upgrading (it saw the probe reply), this GET never takes
        the outbox: it gets a noop within ``PROBE_NOOP_DELAY``, or at once when the
        upgrade completes, and what is queued goes over the WebSocket (as engine.io)."""
        if self._output is None:
            self._output = runtime.Event()
        watch = None
        if connection is not None and not self.session.outbox and not self.session.closed:
            raw = runtime.os_socket(connection)  # None with TLS: not watched
            if raw is not None:  # the GET will wait: notice if its client goes away
                watch = _GoneWatch(self, connection, raw)
        try:
            return self._wait_for_output(watch)
        finally:
            if watch is not None:
                watch.stop()

    def _wait_for_output(self, watch: _GoneWatch | None) -> list[Packet]:
        session = self.session
        noop_at: float | None = None
        while session.transport == POLLING:
            if watch is not None and watch.gone:
                log.info("session %s: the client of a waiting poll went away", self.sid)
                self.close(CloseReason.TRANSPORT_ERROR)  # as engine.io
                return []
            if session.awaits_upgrade and not session.closed:
                if noop_at is None:
                    noop_at = runtime.monotonic() + PROBE_NOOP_DELAY
                remaining = noop_at - runtime.monotonic()
                if remaining <= 0 or not self._output.wait(remaining):
                    return [NOOP]
            elif session.outbox or session.closed:
                break
            elif session.upgrade is UpgradeState.PROBING:
                # a GET parked during an unanswered probe is released with a noop soon
                if not self._output.wait(PROBE_NOOP_DELAY):
                    return [NOOP]
            else:
                self._output.wait()
            self._output.clear()
        else:
            # upgraded while this GET was parked: release it, the WebSocket writer owns
            # the outbox now
            self._wake()
            return [NOOP]
        packets = session.take_outbox()
        if session.closed and not packets:
            # the last packets went out on their own first (a client handles a CLOSE
            # before the packets sharing its payload); this poll ends the session
            self.final_sent = True
            final = NOOP if session.close_reason is CloseReason.TRANSPORT_CLOSE else CLOSE
            packets.append(final)
        return packets

    def end_poll(self) -> None:
        self.session.end_poll()

    def poll_undelivered(self) -> None:
        """A poll's response could not be written: its packets are lost to the client,
        so the session ends (the client reconnects) instead of going on without them."""
        if not self.session.closed:
            log.info("session %s: a poll's response was not delivered; closing it", self.sid)
            self.close(CloseReason.TRANSPORT_ERROR)

    # -- ordered raw handlers (OrderedTasks) --------------------------------------------

    def _runs_inline(self) -> bool:
        return self.is_reader

    def _tasks_overflowed(self, queued: int) -> None:
        log.warning(
            "session %s: %d messages queued behind a running handler; closing it",
            self.sid,
            queued,
        )
        self._drop_tasks()
        self.close(CloseReason.TRANSPORT_ERROR)

    def __repr__(self) -> str:
        return f"<EngineSocket {self.sid}>"
