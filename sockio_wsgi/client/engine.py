"""The Engine.IO v4 client session: handshake, upgrade, heartbeat, ordered writes.

One ``EngineClient`` is one Engine.IO session. It opens with a polling handshake (or
straight over WebSocket), then probes and upgrades to WebSocket when both sides allow
it. Threads (greenlets under gevent): a reader per transport, one writer that drains the
outgoing queue in order, and a short-lived prober during an upgrade. The server's pings
are answered with pongs; when no ping arrives within ``pingInterval + pingTimeout`` the
session is lost with reason ``"ping timeout"``. Every thread ends when the session ends.
"""

from __future__ import annotations

import json
import logging
import ssl
import threading
import time
import urllib.parse
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from sockio_wsgi.client.transports import (
    Polling,
    ReadTimeout,
    Target,
    Transport,
    TransportError,
    WebSocket,
)
from sockio_wsgi.exceptions import SocketIOError
from sockio_wsgi.protocol.eio import (
    CLOSE,
    PONG,
    PROBE_PING,
    Packet,
    PacketType,
    message,
)
from sockio_wsgi.protocol.errors import ProtocolError

log = logging.getLogger("sockio_wsgi.client")

TRANSPORTS = ("polling", "websocket")
_JOIN_TIMEOUT = 5.0
_CLOSE_FLUSH_TIMEOUT = 2.0


class ConnectionError(SocketIOError):  # noqa: A001 - the name python-socketio users know
    """The connection could not be established (refused, unreachable, bad handshake)."""

    def __init__(self, message: str, data: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.data = data


def make_target(
    url: str,
    *,
    socketio_path: str = "socket.io",
    headers: Mapping[str, str] | None = None,
    query: Mapping[str, str] | None = None,
    ssl_verify: bool = True,
    ssl_context: ssl.SSLContext | None = None,
    connect_timeout: float = 10.0,
) -> Target:
    """Resolve a ``http(s)://`` or ``ws(s)://`` URL and options into a :class:`Target`."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https", "ws", "wss") or not parts.hostname:
        raise ValueError(f"unsupported URL {url!r}: use http(s):// or ws(s)://")
    secure = parts.scheme in ("https", "wss")
    if secure and ssl_context is None:
        ssl_context = ssl.create_default_context()
        if not ssl_verify:
            ssl_context.check_hostname = False
            ssl_context.verify_mode = ssl.CERT_NONE
    path = "/" + socketio_path.strip("/") + "/"
    params = dict(urllib.parse.parse_qsl(parts.query))
    params.update(query or {})
    return Target(
        secure=secure,
        host=parts.hostname,
        port=parts.port or (443 if secure else 80),
        path=path,
        query=params,
        headers=dict(headers or {}),
        ssl_context=ssl_context,
        connect_timeout=connect_timeout,
    )


class EngineClient:
    """One Engine.IO session. ``on_message`` and ``on_close`` run on its threads.

    ``on_close(reason)`` is called once, for a loss (``"transport close"``,
    ``"transport error"``, ``"ping timeout"``, ``"parse error"``) or for
    :meth:`close` (``"io client disconnect"``).
    """

    def __init__(
        self,
        on_message: Callable[[str | bytes], None],
        on_close: Callable[[str], None],
        transports: Iterable[str] = TRANSPORTS,
    ) -> None:
        self.transports = [t for t in transports if t in TRANSPORTS]
        if not self.transports:
            raise ValueError(f"transports must name some of {TRANSPORTS}")
        self._on_message = on_message
        self._on_close = on_close
        self.sid: str | None = None
        self.state = "new"  # new, open, closing, closed
        self.ping_interval = 25.0
        self.ping_timeout = 20.0
        self.max_payload = 1_000_000
        self.upgrades: list[str] = []
        self._transport: Transport | None = None
        self._cond = threading.Condition()
        self._out: deque[Packet] = deque()
        self._writing = False
        self._upgrading = False
        self._pause_polling = False
        self._polling_paused = False
        self._ping_deadline = 0.0
        self._threads: list[threading.Thread] = []
        self._active = 0
        self._transports: list[Transport] = []

    @property
    def transport(self) -> str | None:
        return self._transport.name if self._transport is not None else None

    # -- opening ---------------------------------------------------------------------

    def connect(self, target: Target) -> None:
        """Handshake (blocking); raises :class:`ConnectionError` when it fails."""
        try:
            if self.transports[0] == "polling":
                polling = Polling(target)
                self._transports.append(polling)
                packets = polling.handshake()
                self._opened(polling, packets[0] if packets else None)
                polling.sid = self.sid
                rest = packets[1:]
            else:
                ws = WebSocket(target)
                self._transports.append(ws)
                ws.open()
                self._opened(ws, ws.receive(lambda: target.connect_timeout))
                rest = []
        except (TransportError, ProtocolError) as exc:
            for transport in self._transports:
                transport.close()
            status = getattr(exc, "status", None)
            body = getattr(exc, "body", "")
            data = {"status": status, "body": body} if status is not None else None
            raise ConnectionError(f"Engine.IO handshake failed: {exc}", data) from exc
        log.info("engine %s open over %s", self.sid, self.transport)
        if isinstance(self._transport, Polling):
            self._start(self._poll_loop, "poller", rest)
            if "websocket" in self.transports and "websocket" in self.upgrades:
                self._start(self._upgrade, "upgrade", target)
        else:
            self._start(self._ws_loop, "reader", self._transport)
        self._start(self._write_loop, "writer")

    def _opened(self, transport: Transport, packet: Packet | None) -> None:
        if packet is None or packet.type is not PacketType.OPEN or not isinstance(packet.data, str):
            raise TransportError(f"expected an OPEN packet, got {packet!r}"[:200])
        try:
            info = json.loads(packet.data)
            sid = info["sid"]
            self.ping_interval = float(info["pingInterval"]) / 1000
            self.ping_timeout = float(info["pingTimeout"]) / 1000
            self.max_payload = int(info.get("maxPayload", self.max_payload))
            self.upgrades = [str(u) for u in info.get("upgrades", [])]
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise TransportError(f"invalid OPEN packet: {exc!r}") from exc
        if not isinstance(sid, str) or not sid:
            raise TransportError("invalid sid in OPEN packet")
        with self._cond:
            if self.state != "new":
                raise TransportError("closed during the handshake")
            self.sid = sid
            self._transport = transport
            self._reset_ping_deadline()
            self.state = "open"

    def _start(self, func: Callable[..., None], role: str, *args: Any) -> None:
        def run() -> None:
            try:
                func(*args)
            finally:
                self._thread_done()

        thread = threading.Thread(target=run, name=f"sockio_wsgi.client.engine-{role}", daemon=True)
        with self._cond:
            self._active += 1
        self._threads.append(thread)
        thread.start()

    def _thread_done(self) -> None:
        """The last thread to leave a closed session releases the sockets."""
        with self._cond:
            self._active -= 1
            last = self._active == 0 and self.state == "closed"
        if last:
            for transport in self._transports:
                transport.close()

    def _reset_ping_deadline(self) -> None:
        self._ping_deadline = time.monotonic() + self.ping_interval + self.ping_timeout

    def _remaining(self) -> float:
        return self._ping_deadline - time.monotonic()

    # -- reading ---------------------------------------------------------------------

    def _handle(self, packet: Packet) -> bool:
        """Act on one packet from the server; False once the session has ended."""
        if self.state not in ("open", "closing"):
            return False
        kind = packet.type
        if kind is PacketType.MESSAGE:
            try:
                self._on_message(packet.data)
            except ProtocolError as exc:
                log.warning("engine %s: bad Socket.IO data: %s", self.sid, exc)
                self._lost("parse error")
                return False
        elif kind is PacketType.PING:
            self._reset_ping_deadline()
            self._queue([PONG])
        elif kind is PacketType.CLOSE:
            self._lost("transport close")
            return False
        elif kind is PacketType.OPEN or kind is PacketType.UPGRADE:
            log.warning("engine %s: unexpected %s packet", self.sid, kind.name)
            self._lost("parse error")
            return False
        return True  # PONG, NOOP

    def _poll_loop(self, initial: list[Packet]) -> None:
        polling = self._transport
        assert isinstance(polling, Polling)
        packets = initial
        while True:
            for packet in packets:
                if not self._handle(packet):
                    return
            with self._cond:
                if self.state == "closed":
                    return
                if self._pause_polling:
                    self._polling_paused = True
                    self._cond.notify_all()
                    return
            try:
                packets = polling.poll(self._remaining)
            except ReadTimeout:
                self._lost("ping timeout")
                return
            except TransportError as exc:
                log.info("engine %s: polling failed: %s", self.sid, exc)
                self._lost("transport error")
                return

    def _ws_loop(self, ws: WebSocket) -> None:
        while True:
            try:
                packet = ws.receive(self._remaining)
            except ReadTimeout:
                self._lost("ping timeout")
                return
            except TransportError as exc:
                log.info("engine %s: websocket ended: %s", self.sid, exc)
                self._lost("transport close")
                return
            except ProtocolError as exc:
                log.warning("engine %s: bad Engine.IO frame: %s", self.sid, exc)
                self._lost("parse error")
                return
            if not self._handle(packet):
                return

    # -- upgrading -------------------------------------------------------------------

    def _upgrade(self, target: Target) -> None:
        """Probe a WebSocket; once it answers, pause polling, then switch (spec order)."""
        ws = WebSocket(target, self.sid)
        with self._cond:
            if self.state != "open":
                return
            self._transports.append(ws)
        try:
            ws.open()
            ws.write([PROBE_PING])
            reply = ws.receive(lambda: target.connect_timeout)
            if reply.type is not PacketType.PONG or reply.data != "probe":
                raise TransportError(f"unexpected probe reply {reply!r}")
        except (TransportError, ProtocolError) as exc:
            log.info("engine %s: upgrade failed, staying on polling: %s", self.sid, exc)
            ws.close()
            return
        with self._cond:
            if self.state != "open":
                ws.close()
                return
            self._upgrading = True
            self._pause_polling = True
            self._cond.wait_for(
                lambda: (self._polling_paused and not self._writing) or self.state != "open",
                self.ping_interval + self.ping_timeout,
            )
            paused = self._polling_paused and not self._writing
            still_open = self.state == "open"
            upgraded = paused and still_open
            if upgraded:
                try:
                    ws.write([Packet(PacketType.UPGRADE)])
                except TransportError:
                    upgraded = False
                else:
                    polling, self._transport = self._transport, ws
                    if polling is not None:
                        polling.close()  # its reader has stopped and the writer is paused
                    log.info("engine %s upgraded to websocket", self.sid)
            self._upgrading = False
            self._cond.notify_all()
        if not upgraded:
            ws.close()
            if still_open:
                self._lost("transport error")  # polling is paused: the session is lost
            return
        self._ws_loop(ws)

    # -- writing ---------------------------------------------------------------------

    def send(self, messages: list[str | bytes]) -> bool:
        """Queue Socket.IO messages as one unit; False when the session is not open."""
        return self._queue([message(m) for m in messages])

    @property
    def writable(self) -> bool:
        return self.state == "open"

    def _queue(self, packets: list[Packet]) -> bool:
        with self._cond:
            if self.state != "open":
                return False
            self._out.extend(packets)
            self._cond.notify_all()
        return True

    def _write_loop(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(
                    lambda: self.state == "closed" or (bool(self._out) and not self._upgrading)
                )
                if self.state == "closed":
                    return
                batch = self._take_batch()
                transport = self._transport
                self._writing = True
            try:
                assert transport is not None
                transport.write(batch, self.ping_interval + self.ping_timeout)
            except TransportError as exc:
                log.info("engine %s: write failed: %s", self.sid, exc)
                self._lost("transport error")
                return
            finally:
                with self._cond:
                    self._writing = False
                    self._cond.notify_all()

    def _take_batch(self) -> list[Packet]:
        """Everything queued, or for polling as much as fits in the server's maxPayload."""
        if not isinstance(self._transport, Polling):
            batch = list(self._out)
            self._out.clear()
            return batch
        batch, size = [self._out.popleft()], 0
        while self._out:
            data = self._out[0].data
            size += len(data) * (2 if isinstance(data, bytes) else 1) + 2
            if size > self.max_payload:
                break
            batch.append(self._out.popleft())
        return batch

    # -- closing ---------------------------------------------------------------------

    def close(self) -> None:
        """Flush what is queued, send CLOSE, end every thread (deliberate close)."""
        with self._cond:
            state = self.state
            if state == "open":
                self._out.append(CLOSE)
                self.state = "closing"  # also cancels an upgrade in progress
                self._cond.notify_all()
                self._cond.wait_for(
                    lambda: not self._out and not self._writing, _CLOSE_FLUSH_TIMEOUT
                )
            elif state == "new":
                self.state = "closed"
                self._cond.notify_all()
        if state == "open":
            self._end("io client disconnect")
        elif state == "new":  # a handshake in progress on another thread: make it fail now
            for transport in list(self._transports):
                transport.abort()
        self._join()

    def _lost(self, reason: str) -> None:
        self._end(reason)

    def _end(self, reason: str) -> None:
        with self._cond:
            if self.state == "closed":
                return
            self.state = "closed"
            self._cond.notify_all()
        log.info("engine %s closed: %s", self.sid, reason)
        for transport in list(self._transports):
            if reason == "io client disconnect":
                transport.abort_gracefully()
            else:
                transport.abort()
        with self._cond:
            idle = self._active == 0
        if idle:
            for transport in self._transports:
                transport.close()
        try:
            self._on_close(reason)
        except Exception:
            log.exception("engine close callback failed")

    @property
    def alive(self) -> bool:
        """Whether any of the session's threads is still running."""
        return any(thread.is_alive() for thread in self._threads)

    def join(self, timeout: float = _JOIN_TIMEOUT) -> None:
        """Wait for the session's threads to end (except the calling one)."""
        self._join(timeout)

    def _join(self, timeout: float = _JOIN_TIMEOUT) -> None:
        current = threading.current_thread()
        for thread in self._threads:
            if thread is not current:
                thread.join(timeout)
