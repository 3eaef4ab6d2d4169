"""The Engine.IO v4 session state machine: heartbeat, upgrade and close, without I/O.

The I/O layer feeds it received packets and the current time, reads back events, and
writes whatever the session puts in its outbox. Timers become deadlines: the caller
sleeps until :meth:`EngineSession.next_deadline` and then calls :meth:`tick`.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from sockio_wsgi.protocol.eio import (
    PING,
    PROBE_PONG,
    Packet,
    PacketType,
)
from sockio_wsgi.protocol.errors import ProtocolError
from sockio_wsgi.protocol.parsers import default_json

POLLING = "polling"
WEBSOCKET = "websocket"


class CloseReason(str, Enum):
    """Why a session ended; the strings are the ones socket.io reports."""

    TRANSPORT_CLOSE = "transport close"
    TRANSPORT_ERROR = "transport error"
    PING_TIMEOUT = "ping timeout"
    PARSE_ERROR = "parse error"
    FORCED_CLOSE = "forced close"
    SERVER_SHUTTING_DOWN = "server shutting down"


# closes decided by the server, whose queued packets the client must still receive
SERVER_SIDE_REASONS = frozenset({CloseReason.FORCED_CLOSE, CloseReason.SERVER_SHUTTING_DOWN})


_, _dumps = default_json()  # orjson when installed: a tenth of the stdlib's time here


class UpgradeState(Enum):
    NONE = "none"
    PROBING = "probing"
    DONE = "done"


@dataclass(frozen=True, slots=True)
class MessageReceived:
    data: str | bytes


@dataclass(frozen=True, slots=True)
class SessionClosed:
    reason: CloseReason


@dataclass(frozen=True, slots=True)
class ProbeReply:
    """A packet to write on the probing WebSocket (not through the outbox)."""

    packet: Packet


@dataclass(frozen=True, slots=True)
class UpgradeCompleted:
    pass


@dataclass(frozen=True, slots=True)
class ProbeFailed:
    reason: str


Event = MessageReceived | SessionClosed | ProbeReply | UpgradeCompleted | ProbeFailed


_EMPTY_OUTBOX: list[Packet] = []  # never changed: see EngineSession.outbox


class EngineSession:
    """State of one Engine.IO connection; times are seconds from any monotonic clock."""

    outbox_bytes = 0  # characters or bytes of the queued packets' data

    def __init__(
        self,
        sid: str,
        *,
        transport: str,
        ping_interval: float,
        ping_timeout: float,
        now: float,
        upgrade_timeout: float = 10.0,
    ) -> None:
        if transport not in (POLLING, WEBSOCKET):
            raise ValueError(f"unknown transport {transport!r}")
        self.sid = sid
        self.transport = transport
        self.ping_interval = ping_interval
        self.ping_timeout = ping_timeout
        self.upgrade_timeout = upgrade_timeout
        self.closed = False
        self.close_reason: CloseReason | None = None
        self.upgrade = UpgradeState.NONE
        self.probe_answered = False  # the probe pong went out: the client may pause polling
        self.poll_active = False
        # read-only outside this class; an empty outbox is the one shared list below (an
        # idle session holds no list of its own)
        self.outbox: list[Packet] = _EMPTY_OUTBOX
        self.next_ping_at: float | None = now + ping_interval
        self.pong_deadline: float | None = None
        self.probe_deadline: float | None = None

    # -- handshake -------------------------------------------------------------------

    def open_packet(self, upgrades: list[str], max_payload: int) -> Packet:
        """The OPEN packet: intervals in whole milliseconds, exactly as configured."""
        body = {
            "sid": self.sid,
            "upgrades": upgrades,
            "pingInterval": round(self.ping_interval * 1000),
            "pingTimeout": round(self.ping_timeout * 1000),
            "maxPayload": max_payload,
        }
        return Packet(PacketType.OPEN, _dumps(body))

    # -- sending ---------------------------------------------------------------------

    def send(self, packets: list[Packet]) -> None:
        """Queue packets as one unit; nothing is queued on a closed session.
        ``outbox_bytes`` counts what is queued (the caller enforces a cap on it)."""
        if not self.closed and packets:
            if self.outbox is _EMPTY_OUTBOX:
                self.outbox = list(packets)
            else:
                self.outbox.extend(packets)
            self.outbox_bytes += sum([len(p.data) for p in packets])

    def take_outbox(self) -> list[Packet]:
        packets, self.outbox = self.outbox, _EMPTY_OUTBOX
        if self.outbox_bytes:
            self.outbox_bytes = 0
        return packets if packets is not _EMPTY_OUTBOX else []

    def discard_outbox(self) -> None:
        """Forget what is queued (the connection is being cut off)."""
        self.take_outbox()

    # -- receiving -------------------------------------------------------------------

    def receive(self, packet: Packet, now: float) -> list[Event]:
        """Handle a packet that arrived over the session's current transport."""
        if self.closed:
            return []
        kind = packet.type
        if kind is PacketType.MESSAGE:
            return [MessageReceived(packet.data)]
        if kind is PacketType.PONG:
            self.pong_deadline = None
            self.next_ping_at = now + self.ping_interval
            return []
        if kind is PacketType.PING:
            self.send([Packet(PacketType.PONG, packet.data)])
            return []
        if kind is PacketType.CLOSE:
            return self.close(CloseReason.TRANSPORT_CLOSE)
        if kind is PacketType.NOOP:
            return []
        return self.close(CloseReason.PARSE_ERROR)

    def receive_invalid(self) -> list[Event]:
        """The transport got bytes that are not a packet: the session ends."""
        return self.close(CloseReason.PARSE_ERROR)

    # -- polling ---------------------------------------------------------------------

    def start_poll(self) -> None:
        """A polling GET begins; a second concurrent one is a protocol error."""
        if self.transport != POLLING:
            raise ProtocolError("session is not on polling")
        if self.poll_active:
            raise ProtocolError("overlapping polling requests")
        self.poll_active = True

    def end_poll(self) -> None:
        self.poll_active = False

    # -- upgrade ---------------------------------------------------------------------

    def start_probe(self, now: float) -> None:
        """A WebSocket arrived for this polling session; it must probe, then upgrade."""
        if self.closed or self.transport != POLLING or self.upgrade is not UpgradeState.NONE:
            raise ProtocolError("session cannot be upgraded")
        self.upgrade = UpgradeState.PROBING
        self.probe_deadline = now + self.upgrade_timeout

    def receive_probe(self, packet: Packet, now: float) -> list[Event]:
        """Handle a packet on the probing WebSocket before the upgrade completes."""
        if self.upgrade is not UpgradeState.PROBING or (self.closed and not self.awaits_upgrade):
            return [ProbeFailed("no upgrade in progress")]
        if packet.type is PacketType.PING and packet.data == "probe" and not self.closed:
            # a GET that is waiting gets a noop (the I/O layer's job) so the client can
            # pause polling; none is queued, or it could come out on the WebSocket later
            self.probe_answered = True
            return [ProbeReply(PROBE_PONG)]
        if packet.type is PacketType.UPGRADE:
            self.upgrade = UpgradeState.DONE
            self.transport = WEBSOCKET
            self.probe_deadline = None
            return [UpgradeCompleted()]
        return self.abort_probe("unexpected packet during upgrade")

    def abort_probe(self, reason: str) -> list[Event]:
        if self.upgrade is UpgradeState.PROBING:
            self.upgrade = UpgradeState.NONE
            self.probe_deadline = None
            self.probe_answered = False
        return [ProbeFailed(reason)]

    @property
    def awaits_upgrade(self) -> bool:
        """True while a client that saw the probe reply may have paused polling.

        A session the server closes meanwhile keeps the probe open until its deadline:
        if the client completes the upgrade, the packets still queued (a Socket.IO
        DISCONNECT, say) reach it over the WebSocket instead of being lost with polling."""
        return self.upgrade is UpgradeState.PROBING and self.probe_answered

    # -- time ------------------------------------------------------------------------

    def next_deadline(self) -> float | None:
        """The earliest time at which :meth:`tick` has something to do."""
        if self.closed:
            return self.probe_deadline  # None unless a closed session awaits its upgrade
        timers = (self.next_ping_at, self.pong_deadline, self.probe_deadline)
        times = [t for t in timers if t is not None]
        return min(times) if times else None

    def tick(self, now: float) -> list[Event]:
        """Advance timers: send a ping, time out a silent peer or a stalled probe."""
        events: list[Event] = []
        if self.closed:
            if self.probe_deadline is not None and now >= self.probe_deadline:
                events += self.abort_probe("upgrade timeout")
            return events
        if self.probe_deadline is not None and now >= self.probe_deadline:
            events += self.abort_probe("upgrade timeout")
        if self.pong_deadline is not None and now >= self.pong_deadline:
            return events + self.close(CloseReason.PING_TIMEOUT)
        if self.next_ping_at is not None and now >= self.next_ping_at:
            self.next_ping_at = None
            self.pong_deadline = now + self.ping_timeout
            self.send([PING])
        return events

    # -- close -----------------------------------------------------------------------

    def close(self, reason: CloseReason) -> list[Event]:
        """End the session once; later calls report nothing."""
        if self.closed:
            return []
        self.closed = True
        self.close_reason = reason
        self.next_ping_at = self.pong_deadline = None
        if not (self.awaits_upgrade and reason in SERVER_SIDE_REASONS):
            self.probe_deadline = None
            self.probe_answered = False
        return [SessionClosed(reason)]
