"""runtime.run_soon and start_now: tasks in reused worker greenlets, each with its own
context; os_socket."""

from __future__ import annotations

import contextvars
import logging

import gevent
import gevent.event
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


def test_tasks_reuse_parked_greenlets_with_fresh_context() -> None:
    seen: list[tuple[object, str]] = []

    def task(value: str) -> None:
        seen.append((gevent.getcurrent(), marker.get()))
        marker.set(value)  # must not leak into the next task

    for value in ("a", "b", "c"):
        run_and_wait(task, value)
    greenlets = {g for g, _ in seen}
    assert len(greenlets) == 1  # one worker, parked between tasks and reused
    assert [m for _, m in seen] == ["unset", "unset", "unset"]


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


def test_a_failing_task_is_logged_and_its_worker_goes_on(
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


def test_a_timeout_thrown_into_a_parked_worker_ends_it_quietly() -> None:
    workers: list[object] = []
    run_and_wait(lambda: workers.append(gevent.getcurrent()))
    worker = workers[0]
    assert worker in runtime.idle_workers()
    # thrown from the hub, as a timer would (the worker's parent, where it returns)
    gevent.get_hub().loop.run_callback(worker.throw, runtime.Timeout())  # type: ignore[attr-defined]
    gevent.sleep(0)
    assert worker.dead  # type: ignore[attr-defined]
    assert worker not in runtime.idle_workers()
    seen: list[str] = []
    run_and_wait(seen.append, "still served")
    assert seen == ["still served"]


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
