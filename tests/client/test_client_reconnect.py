"""Reconnection, offline buffering and at-least-once retries against our server,
including a server stopped and restarted on the same port and connections cut while
acks are outstanding."""

from __future__ import annotations

import queue
from typing import Any

import pytest

import sockio_wsgi
from sockio_wsgi.client import BufferFullError
from tests.helpers.client import assert_no_client_threads, make_sio, serving_on
from tests.helpers.sio_interop import Recorder

FAST = {"reconnection_delay": 0.05, "reconnection_delay_max": 0.1}


@pytest.fixture
def client() -> Any:
    made: list[sockio_wsgi.Client] = []

    def factory(**kwargs: Any) -> sockio_wsgi.Client:
        made.append(sockio_wsgi.Client(**{**FAST, **kwargs}))
        return made[-1]

    yield factory
    for each in made:
        each.disconnect()
    assert_no_client_threads()


@pytest.mark.parametrize("transports", [None, ["polling"], ["websocket"]])
def test_restart_on_same_port_delivers_buffered_emits_in_order(
    client: Any, transports: list[str] | None
) -> None:
    first, second = Recorder(), Recorder()
    c = client()
    reasons: queue.Queue[str] = queue.Queue()
    connects: queue.Queue[str | None] = queue.Queue()
    reconnects: queue.Queue[int] = queue.Queue()
    attempts: queue.Queue[int] = queue.Queue()
    c.on("disconnect", reasons.put)
    c.on("connect", lambda: connects.put(c.sid))
    c.on("reconnect", reconnects.put)
    c.on("reconnect_attempt", attempts.put)
    with serving_on(make_sio(first)) as running:
        port = running.port
        c.connect(running.url, transports=transports)
        assert connects.get(timeout=5)
        assert c.emit_with_ack("log", "before", timeout=5) == "ok"
    assert reasons.get(timeout=5) == "transport close"
    assert attempts.get(timeout=5) == 1  # the server is gone: attempts keep failing
    for i in range(10):
        c.emit("log", i)
    c.emit("log", "volatile", volatile=True)
    with serving_on(make_sio(second), port):
        assert reconnects.get(timeout=10) >= 1
        assert connects.get(timeout=5)
        assert c.emit_with_ack("log", "after", timeout=5) == "ok"
        assert [args[0] for args in second.values("log")] == [*range(10), "after"]
        assert [args[0] for args in first.values("log")] == ["before"]
        assert c.connected


def test_reconnect_failed_after_attempts(client: Any) -> None:
    c = client(reconnection_attempts=2)
    failed: queue.Queue[bool] = queue.Queue()
    errors: queue.Queue[Any] = queue.Queue()
    c.on("reconnect_failed", lambda: failed.put(True))
    c.on("reconnect_error", errors.put)
    with serving_on(make_sio(Recorder())) as running:
        c.connect(running.url)
    assert failed.get(timeout=10)
    assert isinstance(errors.get(timeout=1), sockio_wsgi.client.ConnectionError)
    assert c.wait(5)
    assert_no_client_threads()


def test_no_reconnection_when_disabled(client: Any) -> None:
    c = client(reconnection=False)
    reasons: queue.Queue[str] = queue.Queue()
    c.on("disconnect", reasons.put)
    with serving_on(make_sio(Recorder())) as running:
        c.connect(running.url)
    assert reasons.get(timeout=5) == "transport close"
    assert c.wait(5)


def test_auth_callable_is_evaluated_on_every_connection(client: Any) -> None:
    record = Recorder()
    calls: list[int] = []

    def auth() -> dict[str, int]:
        calls.append(1)
        return {"n": len(calls)}

    c = client()
    connects: queue.Queue[bool] = queue.Queue()
    c.on("connect", lambda: connects.put(True))
    with serving_on(make_sio(record)) as running:
        c.connect(running.url, auth=auth)
        assert connects.get(timeout=5)
        c.emit("drop")  # the Engine.IO session ends without DISCONNECT: a lost connection
        assert connects.get(timeout=10)
        auths = [v["auth"] for v in record.values("connect")]
        assert auths == [{"n": 1}, {"n": 2}]


def test_buffer_bound_raises(client: Any) -> None:
    c = client(max_buffer=3)
    reasons: queue.Queue[str] = queue.Queue()
    c.on("disconnect", reasons.put)
    with serving_on(make_sio(Recorder())) as running:
        c.connect(running.url)
    assert reasons.get(timeout=5)
    for i in range(3):
        c.emit("log", i)
    with pytest.raises(BufferFullError):
        c.emit("log", 3)
    c.emit("log", "v", volatile=True)  # volatile emits are dropped, never refused


def test_disconnect_fails_buffered_acks(client: Any) -> None:
    c = client()
    reasons: queue.Queue[str] = queue.Queue()
    c.on("disconnect", reasons.put)
    replies: queue.Queue[Any] = queue.Queue()
    with serving_on(make_sio(Recorder())) as running:
        c.connect(running.url)
    assert reasons.get(timeout=5)

    def wait_reply() -> None:
        try:
            replies.put(c.emit_with_ack("echo", 1, timeout=10))
        except sockio_wsgi.DisconnectedError as exc:
            replies.put(exc)

    import threading

    waiter = threading.Thread(target=wait_reply)
    waiter.start()
    c.disconnect()
    assert isinstance(replies.get(timeout=5), sockio_wsgi.DisconnectedError)
    waiter.join(5)


def flaky_sio(record: Recorder) -> sockio_wsgi.Server:
    """``step(i)`` records i, then for some i (first delivery only) cuts the connection
    before acking, or fails (so no ack is sent) to force a resend by timeout."""
    sio = make_sio(record)
    seen: set[int] = set()

    @sio.on("step")
    def step(socket: sockio_wsgi.Socket, i: int) -> str:
        record.add("step", i)
        first = i not in seen
        seen.add(i)
        if first and i % 5 == 2:
            sio.eio.disconnect(socket.client.sid)  # the engine goes, the ack outstanding
        elif first and i % 5 == 4:
            raise RuntimeError("no ack this time")  # the client must time out and resend
        return f"ok{i}"

    return sio


@pytest.mark.parametrize("transports", [None, ["polling"], ["websocket"]])
def test_retries_deliver_every_emit_at_least_once_in_order(
    client: Any, transports: list[str] | None
) -> None:
    record = Recorder()
    c = client(retries=5, ack_timeout=0.5)
    acks: queue.Queue[Any] = queue.Queue()
    with serving_on(flaky_sio(record)) as running:
        c.connect(running.url, transports=transports)
        for i in range(15):
            c.emit("step", i, callback=acks.put)
        got = [acks.get(timeout=20) for _ in range(15)]
        assert got == [f"ok{i}" for i in range(15)]
        steps = record.values("step")
        assert sorted(set(steps)) == list(range(15))
        assert steps == sorted(steps)  # in order, one at a time; repeats only of the same step
        assert len(steps) > 15  # the cuts and failures did cause resends


def test_retries_with_emit_with_ack_and_exhaustion(client: Any) -> None:
    record = Recorder()
    c = client(retries=2, ack_timeout=0.2)
    with serving_on(flaky_sio(record)) as running:
        c.connect(running.url)
        assert c.emit_with_ack("step", 2, timeout=10) == "ok2"
        assert c.emit_with_ack("step", 4, timeout=10) == "ok4"
        with pytest.raises(sockio_wsgi.TimeoutError):
            c.emit_with_ack("no_handler")  # tried 3 times, then given up
        assert c.emit_with_ack("echo", "still", timeout=5) == "still"


def test_retries_survive_a_server_restart(client: Any) -> None:
    first, second = Recorder(), Recorder()
    c = client(retries=3, ack_timeout=1)
    reasons: queue.Queue[str] = queue.Queue()
    acks: queue.Queue[Any] = queue.Queue()
    c.on("disconnect", reasons.put)
    with serving_on(make_sio(first)) as running:
        port = running.port
        c.connect(running.url)
        assert c.emit_with_ack("log", "a", timeout=5) == "ok"
    assert reasons.get(timeout=5)
    for i in range(5):
        c.emit("log", i, callback=acks.put)
    with serving_on(make_sio(second), port):
        assert [acks.get(timeout=10) for _ in range(5)] == ["ok"] * 5
        assert [args[0] for args in second.values("log")] == list(range(5))
