"""The client's pure parts: backoff delays (with an injected random source), the bounded
buffer, URL resolution, and the timer thread's ordering."""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator

import pytest

from sockio_wsgi.client.backoff import Backoff, backoff_delay
from sockio_wsgi.client.buffer import BoundedQueue, BufferFullError
from sockio_wsgi.client.dispatch import Dispatcher, Timers
from sockio_wsgi.client.engine import make_target


def sequence(*values: float) -> Iterator[float]:
    return iter(values)


def test_backoff_doubles_up_to_the_maximum_without_jitter() -> None:
    delays = [backoff_delay(n, 1.0, 5.0, 0.0) for n in range(5)]
    assert delays == [1.0, 2.0, 4.0, 5.0, 5.0]
    assert backoff_delay(10_000, 1.0, 5.0, 0.0) == 5.0  # no overflow for huge attempts


def test_backoff_jitter_bounds() -> None:
    assert backoff_delay(0, 1.0, 5.0, 0.5, rand=lambda: 0.0) == 0.5  # -50 %
    assert backoff_delay(0, 1.0, 5.0, 0.5, rand=lambda: 0.5) == 1.0  # centre
    assert backoff_delay(1, 1.0, 5.0, 0.5, rand=lambda: 0.999999) == pytest.approx(3.0, 1e-5)
    assert backoff_delay(3, 1.0, 5.0, 0.5, rand=lambda: 0.9) == 5.0  # capped after jitter


def test_backoff_object_counts_and_resets() -> None:
    draws = sequence(0.5, 0.0, 1.0 - 1e-9, 0.5)
    backoff = Backoff(0.1, 1.0, 0.5, rand=lambda: next(draws))
    assert backoff.next_delay() == pytest.approx(0.1)
    assert backoff.next_delay() == pytest.approx(0.1)  # 0.2 - 50 %
    assert backoff.next_delay() == pytest.approx(0.6)  # 0.4 + 50 %
    assert backoff.attempts == 3
    backoff.reset()
    assert backoff.next_delay() == pytest.approx(0.1)


def test_backoff_rejects_bad_settings() -> None:
    with pytest.raises(ValueError):
        Backoff(1, 5, 1.5)
    with pytest.raises(ValueError):
        backoff_delay(-1, 1, 5, 0)


def test_bounded_queue_refuses_when_full_and_keeps_order() -> None:
    buffer: BoundedQueue[int] = BoundedQueue(3)
    for i in range(3):
        buffer.append(i)
    with pytest.raises(BufferFullError):
        buffer.append(3)
    assert list(buffer) == [0, 1, 2]  # nothing was dropped
    assert buffer.popleft() == 0
    buffer.append(3)
    buffer.remove(2)
    assert buffer.peek() == 1
    assert buffer.drain() == [1, 3]
    assert len(buffer) == 0 and buffer.peek() is None


def test_unbounded_queue() -> None:
    buffer: BoundedQueue[int] = BoundedQueue(None)
    for i in range(5000):
        buffer.append(i)
    assert len(buffer) == 5000


def test_make_target() -> None:
    target = make_target(
        "wss://example.com/ignored?a=1", socketio_path="/custom/", query={"b": "2"}
    )
    assert (target.secure, target.host, target.port, target.path) == (
        True,
        "example.com",
        443,
        "/custom/",
    )
    assert target.query == {"a": "1", "b": "2"}
    request = target.target("websocket", "abc")
    assert request.startswith("/custom/?") and "EIO=4" in request and "sid=abc" in request
    assert make_target("http://h:81").port == 81
    with pytest.raises(ValueError):
        make_target("ftp://h")


def test_cookies_are_kept_for_later_requests() -> None:
    target = make_target("http://h", headers={"Cookie": "a=1"})
    target.remember_cookies(["io=xyz; Path=/; HttpOnly", "bad"])
    assert target.request_headers()["Cookie"] == "a=1; io=xyz"


def test_timers_fire_in_deadline_order_and_cancel() -> None:
    timers = Timers("sockio_wsgi.client.test-timers")
    fired: queue.Queue[str] = queue.Queue()
    timers.call_later(0.05, fired.put, "late")
    cancelled = timers.call_later(0.01, fired.put, "cancelled")
    timers.call_later(0.0, fired.put, "early")
    cancelled.cancel()
    assert [fired.get(timeout=2), fired.get(timeout=2)] == ["early", "late"]
    timers.stop()
    assert not [t for t in threading.enumerate() if t.name.endswith("test-timers")]


def test_dispatcher_runs_in_order_and_survives_errors() -> None:
    dispatcher = Dispatcher("sockio_wsgi.client.test-dispatcher")
    ran: list[int] = []

    def boom() -> None:
        raise RuntimeError("handler bug")

    dispatcher.submit(ran.append, 1)
    dispatcher.submit(boom)
    dispatcher.submit(ran.append, 2)
    dispatcher.stop()  # runs what was submitted, then ends
    assert ran == [1, 2]
    dispatcher.submit(ran.append, 3)  # ignored once stopped
    assert ran == [1, 2]
