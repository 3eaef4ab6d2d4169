"""Connection state recovery's pure parts: the packet log, sessions, options, and the
in-memory adapter's side of the contract (over the fake host of adapter_fakes.py)."""

from __future__ import annotations

from typing import Any

import pytest

from sockio_wsgi.adapters.base import BroadcastOptions, RecoveryOptions, SessionRecord
from sockio_wsgi.adapters.memory import InMemoryAdapter
from sockio_wsgi.adapters.recovery import PacketLog, RecoveryStore, SessionStore, reaches
from sockio_wsgi.protocol.sio import event_packet
from sockio_wsgi.server.recovery import RECOVERABLE_REASONS, resolve_options
from tests.unit.adapter_fakes import FakeHost


def opts(*rooms: str, except_: tuple[str, ...] = (), volatile: bool = False) -> BroadcastOptions:
    return BroadcastOptions(
        rooms=frozenset(rooms), except_rooms=frozenset(except_), volatile=volatile
    )


def session(pid: str = "p1", *rooms: str, sid: str = "s1") -> SessionRecord:
    return SessionRecord(sid, pid, frozenset({sid, *rooms}), {"k": 1})


# -- the packet log ----------------------------------------------------------------


def test_offsets_are_appended_distinct_and_ordered() -> None:
    log = PacketLog(max_age=60, max_packets=100)
    first = log.append(["a", 1], opts(), now=0)
    second = log.append(["b"], opts(), now=0)
    assert first[:2] == ["a", 1] and second[:1] == ["b"]
    assert isinstance(first[-1], str) and first[-1] != second[-1]
    assert log.missed(first[-1], frozenset({"x"}), now=1) == [second]
    assert log.missed(second[-1], frozenset({"x"}), now=1) == []


def test_missed_packets_follow_rooms_and_exceptions() -> None:
    log = PacketLog(max_age=60, max_packets=100)
    start = log.append(["start"], opts(), now=0)[-1]
    everyone = log.append(["all"], opts(), now=0)
    in_r = log.append(["r"], opts("r"), now=0)
    log.append(["other"], opts("other"), now=0)
    log.append(["not-me"], opts("r", except_=("s1",)), now=0)
    own = log.append(["own"], opts("s1"), now=0)
    assert log.missed(start, frozenset({"s1", "r"}), now=0) == [everyone, in_r, own]


def test_unknown_or_foreign_offsets_are_not_recovered() -> None:
    log = PacketLog(max_age=60, max_packets=100)
    offset = log.append(["a"], opts(), now=0)[-1]
    other = PacketLog(max_age=60, max_packets=100)
    rooms = frozenset({"s1"})
    assert other.missed(offset, rooms, now=0) is None  # another process's log
    for bad in ("", "garbage", f"{log.log_id}:x", f"{log.log_id}:5", f"{log.log_id}:-1"):
        assert log.missed(bad, rooms, now=0) is None


def test_old_packets_expire_and_take_recovery_with_them() -> None:
    log = PacketLog(max_age=10, max_packets=100)
    offset = log.append(["a"], opts(), now=0)[-1]
    log.append(["b"], opts(), now=5)
    log.append(["c"], opts(), now=12)  # "a" (t=0) is older than 10 s now
    assert len(log) == 2
    # "a" itself is gone but everything after it is still there: nothing is lost
    assert [p[0] for p in log.missed(offset, frozenset({"s"}), now=12) or []] == ["b", "c"]
    assert log.missed(offset, frozenset({"s"}), now=16) is None  # "b" expired: a gap


def test_count_cap_bounds_the_log() -> None:
    log = PacketLog(max_age=60, max_packets=3)
    offsets = [log.append([n], opts(), now=0)[-1] for n in range(10)]
    assert len(log) == 3
    assert log.missed(offsets[5], frozenset({"s"}), now=0) is None
    assert [p[0] for p in log.missed(offsets[6], frozenset({"s"}), now=0) or []] == [7, 8, 9]


def test_reaches() -> None:
    mine = frozenset({"s1", "r"})
    assert reaches(mine, frozenset(), frozenset())
    assert reaches(mine, frozenset({"r", "q"}), frozenset())
    assert not reaches(mine, frozenset({"q"}), frozenset())
    assert not reaches(mine, frozenset(), frozenset({"s1"}))


# -- sessions ----------------------------------------------------------------------


def test_a_session_is_claimed_once() -> None:
    store = SessionStore(max_age=10)
    store.persist(session("p1"), now=0)
    assert store.claim("p1", now=1) == session("p1")
    assert store.claim("p1", now=1) is None
    assert store.claim("unknown", now=1) is None


def test_sessions_expire_in_disconnection_order() -> None:
    store = SessionStore(max_age=10)
    store.persist(session("p1"), now=0)
    store.persist(session("p2", sid="s2"), now=6)
    assert store.claim("p1", now=10.5) is None
    assert len(store) == 1
    assert store.claim("p2", now=16) is not None


def test_store_restores_with_missed_packets() -> None:
    store = RecoveryStore(RecoveryOptions(max_disconnection_duration=30))
    offset = store.record(["seen"], opts(), now=0)
    assert offset is not None
    assert store.record(["v"], opts(volatile=True), now=1) is None
    kept = store.record(["missed"], opts("r"), now=2)
    store.persist(session("p1", "r"), now=3)
    restored = store.restore("p1", offset[-1], now=4)
    assert restored is not None and restored.session.rooms == {"s1", "r"}
    assert restored.missed == [kept]
    assert store.restore("p1", offset[-1], now=4) is None


def test_store_refuses_after_the_duration() -> None:
    store = RecoveryStore(RecoveryOptions(max_disconnection_duration=30))
    offset = store.record(["seen"], opts(), now=0)
    assert offset is not None
    store.persist(session("p1"), now=1)
    assert store.restore("p1", offset[-1], now=32) is None


# -- options -----------------------------------------------------------------------


def test_options_in_both_spellings() -> None:
    assert resolve_options(None) is None and resolve_options(False) is None
    assert resolve_options(True) == RecoveryOptions()
    snake = resolve_options({"max_disconnection_duration": 30, "skip_middlewares": False})
    camel = resolve_options({"maxDisconnectionDuration": 30_000, "skipMiddlewares": False})
    assert snake == camel == RecoveryOptions(30.0, False)
    assert resolve_options({"max_packets": 5}) == RecoveryOptions(max_packets=5)
    with pytest.raises(ValueError, match="unknown"):
        resolve_options({"maxDisconnectDuration": 1})
    with pytest.raises(ValueError):
        resolve_options({"max_disconnection_duration": 0})


def test_recoverable_reasons_are_socket_io_s() -> None:
    assert "transport close" in RECOVERABLE_REASONS and "ping timeout" in RECOVERABLE_REASONS
    assert "client namespace disconnect" not in RECOVERABLE_REASONS
    assert "server namespace disconnect" not in RECOVERABLE_REASONS


# -- the in-memory adapter ---------------------------------------------------------


def recovering_host() -> FakeHost:
    return FakeHost(recovery=RecoveryOptions(max_disconnection_duration=60))


def sent(host: FakeHost) -> list[Any]:
    return [packet.data for packet in host.encoded]


def test_adapter_adds_offsets_to_recoverable_broadcasts_only() -> None:
    host = recovering_host()
    host.connect("s1", "r")
    adapter = host.adapter
    adapter.broadcast(event_packet("/", "e", [1]), opts("r"))
    adapter.broadcast(event_packet("/", "v", [2]), opts("r", volatile=True))
    adapter.broadcast_with_ack(
        event_packet("/", "a", [3]), opts("r"), lambda n: None, lambda r: None
    )
    plain, volatile, acked = sent(host)
    assert plain[:2] == ["e", 1] and len(plain) == 3 and isinstance(plain[2], str)
    assert volatile == ["v", 2] and acked == ["a", 3]


def test_adapter_persists_and_restores() -> None:
    host = recovering_host()
    host.connect("s1", "r")
    adapter = host.adapter
    adapter.broadcast(event_packet("/", "seen", []), opts())
    offset = sent(host)[-1][-1]
    adapter.persist_session(session("p1", "r"))
    adapter.delete_all("s1")
    adapter.broadcast(event_packet("/", "missed", [1]), opts("r"))
    restored = adapter.restore_session("p1", offset)
    assert restored is not None and [p[:2] for p in restored.missed] == [["missed", 1]]


def test_adapter_without_recovery_changes_nothing() -> None:
    host = FakeHost()
    host.connect("s1")
    host.adapter.broadcast(event_packet("/", "e", [1]), opts())
    assert sent(host) == [["e", 1]]
    host.adapter.persist_session(session())
    assert host.adapter.restore_session("p1", "x:0") is None


def test_room_handlers_run_after_every_room_is_joined() -> None:
    seen: list[set[str]] = []

    class Host(FakeHost):
        def room_event(self, event: str, room: str, sid: str | None = None) -> None:
            seen.append(self.adapter.socket_rooms("s1"))

    host = Host(adapter=InMemoryAdapter)
    host.adapter.add_all("s1", {"a", "b", "c"})
    assert seen and all(rooms == {"a", "b", "c"} for rooms in seen)
