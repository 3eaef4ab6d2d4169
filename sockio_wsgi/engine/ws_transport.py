"""The WebSocket transport of a session: attach, probe and upgrade, and the writer.

The writer greenlet lives only while a WebSocket has a backlog (what a send could not
write at once), so an idle connection costs no parked writer. Reading is
:mod:`sockio_wsgi.engine.reader`'s.
"""

from __future__ import annotations

import logging
from typing import Any

from sockio_wsgi import runtime
from sockio_wsgi.engine.websocket import CLOSE_NORMAL, WebSocket
from sockio_wsgi.protocol.eio import decode_frame, encode_frame
from sockio_wsgi.protocol.errors import ProtocolError
from sockio_wsgi.protocol.session import (
    CloseReason,
    EngineSession,
    Event,
    ProbeReply,
    UpgradeCompleted,
)

log = logging.getLogger("sockio_wsgi.engine")


class WebSocketTransport:
    """Mixin of :class:`~sockio_wsgi.engine.socket.EngineSocket`: the WebSocket's
    attach, upgrade and write side. The session side supplies ``session``, ``sid``,
    ``_apply``, ``_wake``, ``_schedule_timer`` and ``_read_loop``."""

    session: EngineSession
    sid: str
    ws: WebSocket | None = None
    _probe_ws: WebSocket | None = None
    _writer: Any = None  # the writer greenlet while there is a backlog
    _output: Any = None  # set when there is output for a parked poll

    def _apply(self, events: list[Event]) -> None:
        raise NotImplementedError

    def _wake(self) -> None:
        raise NotImplementedError

    def _schedule_timer(self) -> None:
        raise NotImplementedError

    def _read_loop(self, ws: WebSocket) -> None:
        raise NotImplementedError

    def run_websocket(self, ws: WebSocket) -> None:
        """Serve a WebSocket-only session until it ends."""
        self._attach(ws)
        self._read_loop(ws)

    def run_upgrade(self, ws: WebSocket) -> None:
        """Probe, upgrade, then serve the session over ``ws``."""
        try:
            self.session.start_probe(runtime.monotonic())
        except ProtocolError as exc:
            log.info("refused upgrade of session %s: %s", self.sid, exc)
            ws.close()
            return
        self._probe_ws = ws
        self._schedule_timer()  # the probe has a deadline now
        while self._probe_ws is ws:
            frame = ws.receive()
            if frame is None or self._probe_ws is not ws:
                self._apply(self.session.abort_probe("probe closed"))
                return
            try:
                packet = decode_frame(frame)
            except ProtocolError:
                self._apply(self.session.abort_probe("invalid probe packet"))
                return
            for event in self.session.receive_probe(packet, runtime.monotonic()):
                if isinstance(event, ProbeReply):
                    ws.send_frames([encode_frame(event.packet)])
                    if self._output is not None:
                        self._output.set()  # a waiting GET gets its noop
                elif isinstance(event, UpgradeCompleted):
                    self._probe_ws = None
                    self._attach(ws)
                else:
                    self._apply([event])
            if self.session.outbox:
                self._wake()
        if self.ws is ws:
            self._read_loop(ws)

    def _attach(self, ws: WebSocket) -> None:
        """Make ``ws`` the transport; this greenlet, about to read it, first writes what
        is queued (the OPEN packet, or what the probe held back) without a writer."""
        self.ws = ws
        if self.session.outbox and self._writer is None:
            self._write_backlog(ws)
        if self.session.closed:
            self._wake()

    def _join_writer(self) -> None:
        if self._writer is not None:
            self._writer.join(timeout=5)

    def _cut_if_still_writing(self) -> None:
        """After a session ended: a writer still waiting for the peer (which stopped
        reading) is not waited for any longer; its connection and queue are released."""
        ws = self.ws
        if ws is not None and self._writer is not None:
            log.info("session %s ended but its peer takes nothing; cutting it", self.sid)
            self.session.discard_outbox()
            ws.abort()

    def _start_writer(self) -> None:
        if self.ws is not None and self._writer is None:
            self._writer = runtime.spawn(self._write_loop, self.ws)

    def _write_loop(self, ws: WebSocket) -> None:
        try:
            self._write_backlog(ws)
        except Exception:  # the connection must still end, and a kept one be closed
            log.exception("writer of session %s failed", self.sid)
            self._apply(self.session.close(CloseReason.TRANSPORT_ERROR))
            ws.abort()
        finally:
            self._writer = None

    def _write_backlog(self, ws: WebSocket) -> None:
        """Write until nothing is queued (then end: the next backlog starts a writer)."""
        session = self.session
        while True:
            packets = session.take_outbox()
            if packets or ws.has_pending:
                # per-packet flags matter only once permessage-deflate is on
                compress = [p.compress for p in packets] if ws.compresses else True
                try:
                    ws.send_frames([encode_frame(p) for p in packets], compress)
                except OSError as exc:  # a peer that takes nothing: TimeoutError
                    log.info("write to session %s failed: %r; cutting it", self.sid, exc)
                    self._apply(session.close(CloseReason.TRANSPORT_ERROR))
                    session.discard_outbox()
                    ws.abort()
                    return
            if session.closed:
                ws.close(CLOSE_NORMAL)
                return
            if not session.outbox and not ws.has_pending:
                return
