"""The Engine.IO session state machine, driven by plain time values (a fake clock)."""

from __future__ import annotations

import json

import pytest

from sockio_wsgi.protocol import eio
from sockio_wsgi.protocol.eio import Packet, PacketType
from sockio_wsgi.protocol.errors import ProtocolError
from sockio_wsgi.protocol.session import (
    POLLING,
    WEBSOCKET,
    CloseReason,
    EngineSession,
    MessageReceived,
    ProbeFailed,
    ProbeReply,
    SessionClosed,
    UpgradeCompleted,
    UpgradeState,
)

INTERVAL = 25.0
TIMEOUT = 20.0


def make(
    transport: str = POLLING,
    now: float = 1000.0,
    interval: float = INTERVAL,
    timeout: float = TIMEOUT,
    upgrade_timeout: float = 10.0,
) -> EngineSession:
    return EngineSession(
        "sid1",
        transport=transport,
        ping_interval=interval,
        ping_timeout=timeout,
        now=now,
        upgrade_timeout=upgrade_timeout,
    )


def test_initial_state() -> None:
    session = make()
    assert session.sid == "sid1"
    assert session.transport == POLLING
    assert not session.closed
    assert session.close_reason is None
    assert session.upgrade is UpgradeState.NONE
    assert session.outbox == []
    assert session.next_deadline() == 1000.0 + INTERVAL


def test_unknown_transport_is_rejected() -> None:
    with pytest.raises(ValueError, match="unknown transport"):
        make(transport="flash")


# -- open packet -------------------------------------------------------------------------


def test_open_packet_exact_fields() -> None:
    packet = make().open_packet(["websocket"], 1_000_000)
    assert packet.type is PacketType.OPEN
    assert isinstance(packet.data, str)
    assert packet.data == (
        '{"sid":"sid1","upgrades":["websocket"],"pingInterval":25000,'
        '"pingTimeout":20000,"maxPayload":1000000}'
    )
    assert eio.encode_frame(packet).startswith('0{"sid":"sid1"')


@pytest.mark.parametrize(
    ("seconds", "millis"),
    [
        (0.3, 300),
        (0.2, 200),
        (0.1, 100),
        (1.5, 1500),
        (0.001, 1),
        (1.001, 1001),
        (2.675, 2675),
        (0, 0),
    ],
)
def test_open_packet_milliseconds(seconds: float, millis: int) -> None:
    packet = make(interval=seconds, timeout=seconds).open_packet([], 10)
    assert isinstance(packet.data, str)
    body = json.loads(packet.data)
    assert body["pingInterval"] == millis
    assert body["pingTimeout"] == millis
    assert type(body["pingInterval"]) is int
    assert body["upgrades"] == []
    assert body["maxPayload"] == 10


# -- sending -------------------------------------------------------------------------


def test_send_and_take_outbox() -> None:
    session = make()
    session.send([eio.message("a"), eio.message(b"b")])
    session.send([eio.message("c")])
    assert session.take_outbox() == [eio.message("a"), eio.message(b"b"), eio.message("c")]
    assert session.take_outbox() == []


def test_idle_sessions_share_no_outbox_contents() -> None:
    """An empty outbox costs no list of its own, and one session's packets never show up
    in another's, before or after taking them."""
    one, other = make(), make()
    one.send([eio.message("a")])
    assert other.outbox == [] and other.take_outbox() == []
    taken = one.take_outbox()
    taken.append(eio.message("changed by the caller"))
    one.send([])
    assert one.outbox == [] and other.outbox == []
    other.send([eio.message("b")])
    assert one.outbox == [] and other.take_outbox() == [eio.message("b")]


# -- receiving -------------------------------------------------------------------------


def test_message_is_reported() -> None:
    session = make()
    assert session.receive(eio.message("hi"), 1001) == [MessageReceived("hi")]
    assert session.receive(eio.message(b"\x00"), 1001) == [MessageReceived(b"\x00")]


def test_noop_is_ignored() -> None:
    session = make()
    assert session.receive(eio.NOOP, 1001) == []
    assert session.outbox == []
    assert not session.closed


def test_client_ping_gets_a_pong_with_the_same_data() -> None:
    session = make()
    assert session.receive(Packet(PacketType.PING, "x"), 1001) == []
    assert session.take_outbox() == [Packet(PacketType.PONG, "x")]


def test_close_packet_closes_with_transport_close() -> None:
    session = make()
    assert session.receive(eio.CLOSE, 1001) == [SessionClosed(CloseReason.TRANSPORT_CLOSE)]
    assert session.closed
    assert session.close_reason is CloseReason.TRANSPORT_CLOSE


@pytest.mark.parametrize("kind", [PacketType.OPEN, PacketType.UPGRADE])
def test_unexpected_packet_is_a_parse_error(kind: PacketType) -> None:
    session = make()
    assert session.receive(Packet(kind), 1001) == [SessionClosed(CloseReason.PARSE_ERROR)]
    assert session.close_reason is CloseReason.PARSE_ERROR


def test_receive_invalid_closes_with_parse_error() -> None:
    session = make()
    assert session.receive_invalid() == [SessionClosed(CloseReason.PARSE_ERROR)]
    assert session.receive_invalid() == []


def test_close_reason_strings() -> None:
    assert {r.name: r.value for r in CloseReason} == {
        "TRANSPORT_CLOSE": "transport close",
        "TRANSPORT_ERROR": "transport error",
        "PING_TIMEOUT": "ping timeout",
        "PARSE_ERROR": "parse error",
        "FORCED_CLOSE": "forced close",
        "SERVER_SHUTTING_DOWN": "server shutting down",
    }


# -- heartbeat -------------------------------------------------------------------------


def test_no_ping_before_the_interval() -> None:
    session = make(now=0.0)
    assert session.tick(INTERVAL - 0.001) == []
    assert session.outbox == []


def test_ping_every_interval_while_pongs_arrive() -> None:
    session = make(now=0.0)
    now = 0.0
    for _ in range(5):
        now += INTERVAL
        assert session.next_deadline() == now
        assert session.tick(now) == []
        assert session.take_outbox() == [eio.PING]
        # the pong deadline is now the only timer
        assert session.next_deadline() == now + TIMEOUT
        now += 1.0
        assert session.receive(eio.PONG, now) == []
        assert session.next_deadline() == now + INTERVAL
    assert not session.closed


def test_only_one_ping_per_interval() -> None:
    session = make(now=0.0)
    session.tick(INTERVAL)
    session.tick(INTERVAL + 1)
    session.tick(INTERVAL + TIMEOUT - 0.001)
    assert session.take_outbox() == [eio.PING]
    assert not session.closed


def test_ping_timeout_closes_the_session() -> None:
    session = make(now=0.0)
    session.tick(INTERVAL)
    assert session.take_outbox() == [eio.PING]
    assert session.tick(INTERVAL + TIMEOUT - 0.001) == []
    assert session.tick(INTERVAL + TIMEOUT) == [SessionClosed(CloseReason.PING_TIMEOUT)]
    assert session.closed
    assert session.close_reason is CloseReason.PING_TIMEOUT
    assert session.next_deadline() is None
    assert session.tick(INTERVAL + TIMEOUT + 100) == []


def test_late_tick_still_pings_first_then_times_out() -> None:
    session = make(now=0.0)
    # the caller slept too long: the ping goes out now and the peer gets a full timeout
    assert session.tick(100.0) == []
    assert session.take_outbox() == [eio.PING]
    assert session.next_deadline() == 100.0 + TIMEOUT
    assert session.tick(100.0 + TIMEOUT) == [SessionClosed(CloseReason.PING_TIMEOUT)]


def test_pong_rearms_the_ping_timer() -> None:
    session = make(now=0.0)
    session.tick(INTERVAL)
    session.take_outbox()
    session.receive(eio.PONG, INTERVAL + TIMEOUT - 1)
    # the old pong deadline no longer applies
    assert session.tick(INTERVAL + TIMEOUT) == []
    assert not session.closed
    assert session.outbox == []
    next_ping = INTERVAL + TIMEOUT - 1 + INTERVAL
    assert session.next_deadline() == next_ping
    session.tick(next_ping)
    assert session.take_outbox() == [eio.PING]


def test_messages_do_not_count_as_pongs() -> None:
    session = make(now=0.0)
    session.tick(INTERVAL)
    session.receive(eio.message("still here"), INTERVAL + 1)
    assert session.tick(INTERVAL + TIMEOUT) == [SessionClosed(CloseReason.PING_TIMEOUT)]


def test_deadline_at_time_zero_is_reported() -> None:
    # a clock may legitimately read 0.0; a deadline then must not be mistaken for "none"
    session = make(now=-INTERVAL)
    assert session.next_deadline() == 0.0
    session.tick(0.0)
    assert session.take_outbox() == [eio.PING]


def test_sub_second_intervals() -> None:
    session = make(now=0.0, interval=0.3, timeout=0.2)
    session.tick(0.3)
    assert session.take_outbox() == [eio.PING]
    assert session.tick(0.49) == []
    assert session.tick(0.5) == [SessionClosed(CloseReason.PING_TIMEOUT)]


# -- polling ---------------------------------------------------------------------------


def test_overlapping_polls_are_a_protocol_error() -> None:
    session = make()
    session.start_poll()
    with pytest.raises(ProtocolError, match="overlapping"):
        session.start_poll()
    session.end_poll()
    session.start_poll()  # sequential polls are fine
    session.end_poll()


def test_poll_on_websocket_session_is_an_error() -> None:
    with pytest.raises(ProtocolError):
        make(transport=WEBSOCKET).start_poll()


# -- upgrade ---------------------------------------------------------------------------


def _probing(now: float = 1000.0) -> EngineSession:
    session = make(now=now)
    session.start_probe(now)
    return session


def test_upgrade_flow() -> None:
    session = _probing()
    assert session.upgrade is UpgradeState.PROBING
    assert session.receive_probe(eio.PROBE_PING, 1001) == [ProbeReply(eio.PROBE_PONG)]
    # nothing is queued: a waiting GET gets its noop from the I/O layer, and a queued
    # noop could reach the WebSocket after the upgrade
    assert session.take_outbox() == []
    assert session.awaits_upgrade
    assert session.transport == POLLING
    assert session.receive_probe(Packet(PacketType.UPGRADE), 1002) == [UpgradeCompleted()]
    assert session.upgrade is UpgradeState.DONE
    assert session.transport == WEBSOCKET
    assert session.probe_deadline is None
    with pytest.raises(ProtocolError):
        session.start_poll()


def test_probe_reply_is_not_queued_in_outbox() -> None:
    session = _probing()
    session.receive_probe(eio.PROBE_PING, 1001)
    assert eio.PROBE_PONG not in session.outbox


def test_polling_still_works_while_probing() -> None:
    session = _probing()
    session.start_poll()
    session.end_poll()


def test_probe_sets_a_deadline() -> None:
    session = make(now=0.0, upgrade_timeout=5.0)
    session.start_probe(1.0)
    assert session.next_deadline() == 6.0


def test_probe_timeout() -> None:
    session = make(now=0.0, upgrade_timeout=5.0)
    session.start_probe(1.0)
    assert session.tick(5.999) == []
    assert session.tick(6.0) == [ProbeFailed("upgrade timeout")]
    assert session.upgrade is UpgradeState.NONE
    assert session.transport == POLLING
    assert not session.closed
    assert session.next_deadline() == INTERVAL


def test_probe_timeout_and_ping_in_the_same_tick() -> None:
    session = make(now=0.0, upgrade_timeout=INTERVAL)
    session.start_probe(0.0)
    assert session.tick(INTERVAL) == [ProbeFailed("upgrade timeout")]
    assert session.take_outbox() == [eio.PING]


def test_probe_timeout_and_ping_timeout_in_the_same_tick() -> None:
    session = make(now=0.0)
    session.tick(INTERVAL)
    session.start_probe(INTERVAL + TIMEOUT - 10.0)
    assert session.tick(INTERVAL + TIMEOUT) == [
        ProbeFailed("upgrade timeout"),
        SessionClosed(CloseReason.PING_TIMEOUT),
    ]


@pytest.mark.parametrize(
    "packet",
    [
        eio.PING,
        Packet(PacketType.PING, "other"),
        eio.PROBE_PONG,
        eio.message("early"),
        eio.CLOSE,
        eio.NOOP,
    ],
)
def test_unexpected_packet_aborts_probe(packet: Packet) -> None:
    session = _probing()
    assert session.receive_probe(packet, 1001) == [ProbeFailed("unexpected packet during upgrade")]
    assert session.upgrade is UpgradeState.NONE
    assert session.transport == POLLING
    assert session.probe_deadline is None
    assert not session.closed
    assert session.outbox == []


def test_a_new_probe_may_follow_a_failed_one() -> None:
    session = _probing()
    session.abort_probe("socket closed")
    session.start_probe(1001)
    assert session.receive_probe(eio.PROBE_PING, 1002) == [ProbeReply(eio.PROBE_PONG)]


def test_probe_packets_without_probe() -> None:
    session = make()
    assert session.receive_probe(eio.PROBE_PING, 1001) == [ProbeFailed("no upgrade in progress")]
    assert session.outbox == []


def test_abort_probe_without_probe_reports_failure_only() -> None:
    session = make()
    assert session.abort_probe("x") == [ProbeFailed("x")]
    assert session.upgrade is UpgradeState.NONE


def test_cannot_probe_twice_at_once() -> None:
    session = _probing()
    with pytest.raises(ProtocolError):
        session.start_probe(1001)


def test_cannot_probe_after_upgrade() -> None:
    session = _probing()
    session.receive_probe(eio.PROBE_PING, 1001)
    session.receive_probe(Packet(PacketType.UPGRADE), 1001)
    with pytest.raises(ProtocolError):
        session.start_probe(1002)


def test_cannot_probe_a_websocket_session() -> None:
    with pytest.raises(ProtocolError):
        make(transport=WEBSOCKET).start_probe(1000)


def test_cannot_probe_a_closed_session() -> None:
    session = make()
    session.close(CloseReason.FORCED_CLOSE)
    with pytest.raises(ProtocolError):
        session.start_probe(1001)


def test_probe_on_a_session_closed_meanwhile() -> None:
    session = _probing()
    session.close(CloseReason.TRANSPORT_CLOSE)
    assert session.receive_probe(Packet(PacketType.UPGRADE), 1001) == [
        ProbeFailed("no upgrade in progress")
    ]
    assert session.transport == POLLING


def test_server_close_after_probe_reply_still_upgrades() -> None:
    """The client may have paused polling: what is queued must reach it on the WebSocket."""
    session = _probing()
    session.receive_probe(eio.PROBE_PING, 1001)
    session.take_outbox()
    session.send([eio.message("41")])
    assert session.close(CloseReason.FORCED_CLOSE) == [SessionClosed(CloseReason.FORCED_CLOSE)]
    assert session.awaits_upgrade
    assert session.next_deadline() == session.probe_deadline
    assert session.receive_probe(Packet(PacketType.UPGRADE), 1002) == [UpgradeCompleted()]
    assert session.transport == WEBSOCKET
    assert session.take_outbox() == [eio.message("41")]
    assert session.next_deadline() is None


def test_closed_session_awaiting_upgrade_times_the_probe_out() -> None:
    session = make(now=0.0, upgrade_timeout=5.0)
    session.start_probe(1.0)
    session.receive_probe(eio.PROBE_PING, 1.5)
    session.close(CloseReason.SERVER_SHUTTING_DOWN)
    assert session.tick(5.9) == []
    assert session.tick(6.0) == [ProbeFailed("upgrade timeout")]
    assert not session.awaits_upgrade
    assert session.next_deadline() is None


def test_client_side_close_does_not_wait_for_the_upgrade() -> None:
    session = _probing()
    session.receive_probe(eio.PROBE_PING, 1001)
    session.close(CloseReason.PING_TIMEOUT)
    assert not session.awaits_upgrade
    assert session.next_deadline() is None
    assert session.receive_probe(Packet(PacketType.UPGRADE), 1002) == [
        ProbeFailed("no upgrade in progress")
    ]


def test_unanswered_probe_is_not_kept_after_close() -> None:
    session = _probing()
    session.close(CloseReason.FORCED_CLOSE)
    assert session.receive_probe(eio.PROBE_PING, 1001) == [ProbeFailed("no upgrade in progress")]


def test_heartbeat_continues_after_upgrade() -> None:
    session = make(now=0.0)
    session.start_probe(1.0)
    session.receive_probe(eio.PROBE_PING, 1.0)
    session.receive_probe(Packet(PacketType.UPGRADE), 1.0)
    session.take_outbox()
    session.tick(INTERVAL)
    assert session.take_outbox() == [eio.PING]
    assert session.tick(INTERVAL + TIMEOUT) == [SessionClosed(CloseReason.PING_TIMEOUT)]


# -- close -----------------------------------------------------------------------------


def test_close_once_with_reason() -> None:
    session = make()
    assert session.close(CloseReason.FORCED_CLOSE) == [SessionClosed(CloseReason.FORCED_CLOSE)]
    assert session.close(CloseReason.PING_TIMEOUT) == []
    assert session.close_reason is CloseReason.FORCED_CLOSE
    assert session.receive(eio.CLOSE, 1001) == []


def test_nothing_is_queued_after_close() -> None:
    session = make()
    session.close(CloseReason.SERVER_SHUTTING_DOWN)
    session.send([eio.message("late")])
    session.receive(eio.PING, 1001)
    session.tick(1000 + INTERVAL)
    assert session.outbox == []


def test_closed_session_ignores_everything() -> None:
    session = make(now=0.0)
    session.close(CloseReason.TRANSPORT_ERROR)
    assert session.receive(eio.message("x"), 1) == []
    assert session.tick(1000.0) == []
    assert session.next_deadline() is None
    assert session.receive_probe(eio.PROBE_PING, 1) == [ProbeFailed("no upgrade in progress")]


def test_packets_queued_before_close_remain_for_flushing() -> None:
    session = make()
    session.send([eio.message("last words")])
    session.close(CloseReason.FORCED_CLOSE)
    assert session.take_outbox() == [eio.message("last words")]
