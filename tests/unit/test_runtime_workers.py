"""runtime.run_soon and start_now: each task in a new greenlet with its own context, so
nothing one task leaves behind (a running timeout, greenlet-local data) reaches another;
os_socket."""

from __future__ import annotations

import contextvars
import logging

import gevent
import gevent.event
import gevent.local
import gevent.socket
import gevent.ssl
import pytest

from sockio_wsgi import runtime

marker: contextvars.ContextVar[str] = contextvars.ContextVar("marker", default="unset")


def run_and_wait(func: object, *args: object) -> None:
    done = gevent.event.Event()

    def task() -> None:
        try:
            func(*args)  # type: ignore[operator]
        finally:
            done.set()

    runtime.run_soon(task)
    assert done.wait(5), "the task did not run"


def test_each_task_gets_a_new_greenlet_with_fresh_context() -> None:
    seen: list[tuple[object, str]] = []

    def task(value: str) -> None:
        seen.append((gevent.getcurrent(), marker.get()))
        marker.set(value)  # must not leak into the next task

    for value in ("a", "b", "c"):
        run_and_wait(task, value)
    assert len({id(g) for g, _ in seen}) == 3
    assert all(g.dead for g, _ in seen)  # type: ignore[attr-defined]
    assert [m for _, m in seen] == ["unset", "unset", "unset"]


def test_a_timeout_a_task_left_running_never_reaches_a_later_task() -> None:
    outcome: list[str] = []

    def careless() -> None:
        gevent.Timeout(0.05).start()  # never cancelled

    def later() -> None:
        try:
            gevent.sleep(0.2)  # the careless timeout fires meanwhile
            outcome.append("later finished")
        except gevent.Timeout:
            outcome.append("later got the timeout")

    run_and_wait(careless)
    run_and_wait(later)
    assert outcome == ["later finished"]


def test_greenlet_local_data_never_reaches_a_later_task() -> None:
    local = gevent.local.local()
    seen: list[object] = []
    run_and_wait(lambda: setattr(local, "user", "ada"))
    run_and_wait(lambda: seen.append(getattr(local, "user", None)))
    assert seen == [None]


def test_tasks_that_wait_get_their_own_workers() -> None:
    release = gevent.event.Event()
    running: list[object] = []

    def waiting_task() -> None:
        running.append(gevent.getcurrent())
        release.wait()

    for _ in range(3):
        runtime.run_soon(waiting_task)
    with gevent.Timeout(5):
        while len(running) < 3:
            gevent.sleep(0.001)
    assert len(set(running)) == 3
    release.set()
    gevent.sleep(0)


def test_a_failing_task_is_logged_and_later_tasks_run(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def failing() -> None:
        raise ValueError("boom")

    with caplog.at_level(logging.ERROR, logger="sockio_wsgi.runtime"):
        run_and_wait(failing)
    assert any("failed" in r.message and r.exc_info for r in caplog.records)
    seen: list[str] = []
    run_and_wait(seen.append, "after")
    assert seen == ["after"]


def test_hub_worker_is_for_hub_callbacks_only() -> None:
    with pytest.raises(RuntimeError):
        runtime.hub_worker()


def test_start_now_in_the_hub_runs_the_task_before_the_callback_goes_on() -> None:
    order: list[str] = []
    done = gevent.event.Event()

    def callback() -> None:  # runs in the hub, as a server's accept callback does
        runtime.start_now(order.append, "task")
        order.append("callback")
        done.set()

    gevent.get_hub().loop.run_callback(callback)
    assert done.wait(5)
    assert order == ["task", "callback"]


def test_start_now_outside_the_hub_runs_the_task_soon() -> None:
    order: list[str] = []
    runtime.start_now(order.append, "task")
    order.append("caller")
    run_and_wait(lambda: None)  # the next task runs after the first
    assert order == ["caller", "task"]


def test_os_socket_is_only_for_plain_gevent_sockets() -> None:
    with gevent.socket.socket() as plain:
        assert runtime.os_socket(plain) is plain._sock
    context = gevent.ssl.create_default_context()
    tcp = gevent.socket.socket()
    with context.wrap_socket(tcp, server_hostname="test", do_handshake_on_connect=False) as tls:
        assert runtime.os_socket(tls) is None  # its bytes go through the TLS layer
    assert runtime.os_socket(object()) is None


def test_call_when_readable_uses_a_watcher_of_its_own_without_gevents_field() -> None:
    """A socket without gevent's read watcher (here a raw OS socket) gets one of its own,
    and stopping it releases it."""
    import _socket

    left, right = _socket.socketpair()
    try:
        assert not hasattr(left, "_read_event")
        fired = gevent.event.Event()
        calls: list[str] = []

        def readable() -> None:
            calls.append("readable")
            runtime.stop_waiting(watcher)
            fired.set()

        watcher = runtime.call_when_readable(left, readable)
        right.send(b"x")
        assert fired.wait(5)
        gevent.sleep(0.05)  # stopped: no second call although the byte is still unread
        assert calls == ["readable"]
        runtime.wait_readable(left)  # no gevent watcher: returns, the next read waits itself
        assert left.recv(1) == b"x"
    finally:
        left.close()
        right.close()


def test_call_when_readable_on_a_gevent_socket_uses_its_own_watcher() -> None:
    left, right = gevent.socket.socketpair()
    try:
        fired = gevent.event.Event()
        watcher = runtime.call_when_readable(left, fired.set)
        assert watcher is left._read_event  # nothing allocated per wait
        right.send(b"x")
        assert fired.wait(5)
        runtime.stop_waiting(watcher)
    finally:
        left.close()
        right.close()
