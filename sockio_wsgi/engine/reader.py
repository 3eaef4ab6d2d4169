"""Reading a WebSocket, and handing reading over when a handler waits.

A message's handler runs right on the greenlet that read it: no greenlet is spawned and
nothing is switched for a handler that returns without waiting, which is much of the
server's speed. But a handler may wait (SQL, HTTP, ``time.sleep`` under monkey patching,
``emit_with_ack`` to the same client) for seconds or minutes, and meanwhile the client's
PONGs and acknowledgements must still be read.

So before a reader delivers a message it arms a hub callback. The hub runs callbacks only
when the running greenlet yields: if the callback finds the delivery still going on, the
handler is waiting, and a new greenlet takes over reading the connection at once. The
old one finishes its handler (and the events queued behind it, see
:mod:`sockio_wsgi.engine.tasks`) and ends. This is the one place that hands reading
over; no API has to remember to.

Idle connections hold no reader at all (see :mod:`sockio_wsgi.engine.idle`): the socket's
readiness watcher starts one when bytes arrive.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from sockio_wsgi import runtime
from sockio_wsgi.engine.idle import Hibernate, IdleSweeper
from sockio_wsgi.protocol.eio import Packet, decode_frame, message_data
from sockio_wsgi.protocol.errors import ProtocolError
from sockio_wsgi.protocol.session import CloseReason, EngineSession, Event

if TYPE_CHECKING:
    from sockio_wsgi.engine.websocket import WebSocket

log = logging.getLogger("sockio_wsgi.engine")


def _check_delivery(sock: WebSocketReader, reader: Any) -> None:
    """In the hub: ``reader`` yielded; if it is still delivering, its handler waits."""
    if sock._delivering is reader and sock._reader is reader:
        sock._hand_off()


class WebSocketReader:
    """Mixin of :class:`~sockio_wsgi.engine.socket.EngineSocket`: the WebSocket read
    side. The session side supplies ``session``, ``ws``, ``_idle``, ``_apply``, ``receive``,
    ``receive_invalid`` and ``_deliver_now``."""

    session: EngineSession
    ws: WebSocket | None
    sid: str
    _idle: IdleSweeper | None
    _reader: Any = None  # the greenlet reading the WebSocket (None: hibernated)
    _delivering: Any = None  # the reader while it runs a handler
    _last_wake = -1e9  # monotonic time the last hibernated reader was woken
    _ended: Any = None  # set when the session ends (made when first waited on)

    def _apply(self, events: list[Event]) -> None:
        raise NotImplementedError

    def receive_invalid(self, error: Exception) -> None:
        raise NotImplementedError

    def receive(self, packet: Packet) -> None:
        raise NotImplementedError

    def _deliver_now(self, data: str | bytes) -> None:
        raise NotImplementedError

    @property
    def closed(self) -> bool:
        return self.session.closed

    @property
    def is_reader(self) -> bool:
        """True in the greenlet that is reading this connection's WebSocket."""
        return self._reader is runtime.current()

    def _deliver(self, data: str | bytes) -> None:
        """Hand a message to the layer above; on the reader, watch for a handler that
        waits (the hub callback hands reading over then)."""
        reader = self._reader
        if reader is None or reader is not runtime.current():
            self._deliver_now(data)
            return
        self._delivering = reader
        runtime.call_soon(_check_delivery, self, reader)
        try:
            self._deliver_now(data)
        finally:
            if self._delivering is reader:
                self._delivering = None

    def _hand_off(self) -> None:
        """Start a new reader (from the hub) while the current one runs a handler."""
        ws = self.ws
        self._delivering = None
        if ws is None or self.session.closed:
            return
        reader = runtime.hub_worker()
        self._reader = reader
        reader.switch(self._read_guarded, (ws, False))

    def _read_loop(self, ws: WebSocket) -> None:
        if ws.kept and self._idle is not None and not ws.buffered:
            # The connection outlives this request's greenlet, whose stack is the deepest
            # (the WSGI server's): it ends now, and a reader starts when bytes arrive.
            self._reader = None
            ws.when_readable(self)
            return  # the writer closes the connection when the session ends
        self._reader = runtime.current()
        self._read_frames(ws)
        if ws.kept:
            return
        if not self.session.closed:
            if self._ended is None:
                self._ended = runtime.Event()
            self._ended.wait()  # reading was handed over; this greenlet still owns the socket
        self._join_writer()
        ws.close()

    def _join_writer(self) -> None:
        raise NotImplementedError

    def _read_frames(self, ws: WebSocket, one_shot: bool = False) -> None:
        me = runtime.current()
        idle = self._idle if ws.kept else None
        if idle is not None:
            idle.awake(self)
        try:
            self._read_until_handed_over(ws, me, one_shot)
        except (Hibernate, BlockingIOError):  # idle for a sweep, or a one-shot read is done
            if self._reader is me:
                self._reader = None
                ws.when_readable(self)
        finally:
            if self._reader is me:
                self._reader = None  # it ended without handing over: closed, or failed
            if idle is not None and self._reader is None:
                idle.asleep(self)

    # -- hibernation (see engine/idle.py) ----------------------------------------------

    def idle_reader(self) -> Any:
        """The reader greenlet when it waits for bytes that have not come since the last
        sweep (the sweep then ends it), else None."""
        ws = self.ws
        if ws is None or self.session.closed or self._reader is None:
            return None
        if self._delivering is not None:
            return None  # running a handler that has not yielded yet
        if ws.active_since_last_check() or not ws.waiting:
            return None
        return self._reader

    def on_readable(self) -> None:
        """Bytes arrived on a hibernated connection (called in the hub).

        After a quiet spell the new reader is one-shot: it reads what has arrived and
        hibernates again at once, which costs less than parking until the sweep ends it.
        Wake-ups in quick succession mean traffic: that reader parks between messages."""
        if self.ws is not None and not self.session.closed and self._reader is None:
            now = runtime.monotonic()
            assert self._idle is not None  # only kept sockets with a sweeper hibernate
            one_shot = now - self._last_wake > 2 * self._idle.interval
            self._last_wake = now
            reader = runtime.hub_worker()
            self._reader = reader
            reader.switch(self._read_guarded, (self.ws, one_shot))

    def _read_guarded(self, ws: WebSocket, one_shot: bool) -> None:
        """The body of a reader started from the hub: nothing above it would log an error
        (a handler's ``gevent.Timeout`` included), and the connection must not go deaf."""
        try:
            self._read_frames(ws, one_shot)
        except (SystemExit, KeyboardInterrupt):
            raise
        except BaseException:
            log.exception("reader of session %s failed", self.sid)
            self._apply(self.session.close(CloseReason.TRANSPORT_ERROR))

    def _read_until_handed_over(self, ws: WebSocket, me: Any, one_shot: bool = False) -> None:
        """Read and deliver until the session ends or another greenlet takes over reading;
        ``one_shot`` raises ``BlockingIOError`` once what had arrived is delivered (without
        asking the kernel again: the readiness watcher tells when more comes)."""
        session = self.session
        wait = not one_shot
        read = False
        while not session.closed and self._reader is me:
            if one_shot and read and not ws.buffered:
                raise BlockingIOError
            frame = ws.receive(wait)
            read = True
            if frame is None:
                self._apply(session.close(CloseReason.TRANSPORT_CLOSE))
                break
            data = message_data(frame)
            if data is not None:  # the common case: the session has nothing to do for it
                if not session.closed:
                    self._deliver(data)
                continue
            try:
                packet = decode_frame(frame)
            except ProtocolError as exc:
                self.receive_invalid(exc)
                break
            self.receive(packet)
