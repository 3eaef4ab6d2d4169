"""Emits, acks and disconnects from real OS threads (not greenlets) are safe.

Legacy code emits from plain threads: unpatched modules, thread pools, C extensions'
callbacks. Each such call is handed to the serving hub and run there while the thread
waits, so every message arrives once, each thread's order is kept, the hub's own emits go
on meanwhile, and no gevent hub is ever made in the thread. The same on WebSocket and
polling, over plain TCP and TLS.
"""

from __future__ import annotations

import collections
import ssl
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import gevent
import gevent.event
import pytest
from gevent._hub_local import get_hub_if_exists
from gevent.monkey import get_original

import sockio_wsgi
from tests.helpers.server import Running, serving
from tests.helpers.tls import self_signed, server_context

start_os_thread: Callable[..., Any] = get_original("_thread", "start_new_thread")
allocate_lock: Callable[[], Any] = get_original("_thread", "allocate_lock")

THREADS = 4
EMITS = 1000
CLIENTS = 50
HUB_EMITS = 200


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return self_signed(tmp_path_factory.mktemp("tls"))


def os_threads(count: int, work: Callable[[int], Any]) -> tuple[list[Any], gevent.event.Event]:
    """Start ``count`` real OS threads running ``work(n)``; results in order of n.

    The returned event is set (from the hub) once all have finished, so the test's
    greenlet waits without blocking the hub the threads need."""
    results: list[Any] = [None] * count
    finished = gevent.event.Event()
    remaining = [count]
    guard = allocate_lock()
    notify = gevent.get_hub().loop.async_()
    notify.start(finished.set)

    def body(n: int) -> None:
        try:
            results[n] = work(n)
        except BaseException as exc:
            results[n] = exc
        with guard:
            remaining[0] -= 1
            last = remaining[0] == 0
        if last:
            notify.send()

    for n in range(count):
        start_os_thread(body, (n,))
    return results, finished


@pytest.fixture(params=["plain", "tls"])
def scheme(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def served(scheme: str, certificate: tuple[Path, Path]) -> Iterator[tuple[Any, Running, str]]:
    sio = sockio_wsgi.Server()
    kwargs: dict[str, Any] = {}
    if scheme == "tls":
        kwargs["ssl_context"] = server_context(*certificate)
    with serving(sockio_wsgi.WSGIApp(sio), **kwargs) as running:
        url = f"{'https' if scheme == 'tls' else 'http'}://127.0.0.1:{running.port}"
        try:
            yield sio, running, url
        finally:
            sio.close()


def client_for(scheme: str, certificate: tuple[Path, Path]) -> sockio_wsgi.Client:
    if scheme == "tls":
        return sockio_wsgi.Client(
            ssl_context=ssl.create_default_context(cafile=str(certificate[1]))
        )
    return sockio_wsgi.Client()


@pytest.mark.timeout(120)
@pytest.mark.parametrize("transports", [["websocket"], ["polling"]], ids=["websocket", "polling"])
def test_thread_broadcasts_arrive_once_and_in_order(
    served: tuple[Any, Running, str],
    scheme: str,
    certificate: tuple[Path, Path],
    transports: list[str],
) -> None:
    sio, _, url = served
    got: list[list[tuple[str, int]]] = []
    all_in = gevent.event.Event()
    expected = THREADS * EMITS + HUB_EMITS
    clients = []
    try:
        for _ in range(CLIENTS):
            inbox: list[tuple[str, int]] = []
            got.append(inbox)
            client = client_for(scheme, certificate)

            def on_message(source: str, n: int, inbox: list[tuple[str, int]] = inbox) -> None:
                inbox.append((source, n))
                if all(len(box) == expected for box in got):
                    all_in.set()

            client.on("m", on_message)
            client.connect(url, transports=transports)
            clients.append(client)

        def from_thread(t: int) -> Any:
            for n in range(EMITS):
                sio.emit("m", f"thread-{t}", n)
            return get_hub_if_exists()

        hubs, threads_done = os_threads(THREADS, from_thread)
        for n in range(HUB_EMITS):  # the hub emits meanwhile
            sio.emit("m", "hub", n)
            if n % 20 == 0:
                gevent.sleep(0)
        assert threads_done.wait(60), "the threads did not finish"
        assert hubs == [None] * THREADS  # no hub was made in any thread
        assert all_in.wait(60), f"received {[len(b) for b in got]} of {expected} each"
        for inbox in got:
            by_source: dict[str, list[int]] = collections.defaultdict(list)
            for source, n in inbox:
                by_source[source].append(n)
            assert by_source["hub"] == list(range(HUB_EMITS))
            for t in range(THREADS):
                assert by_source[f"thread-{t}"] == list(range(EMITS))
    finally:
        for client in clients:
            client.disconnect()


@pytest.mark.timeout(60)
@pytest.mark.parametrize("transports", [["websocket"], ["polling"]], ids=["websocket", "polling"])
def test_thread_acks_direct_emits_and_disconnects(
    served: tuple[Any, Running, str],
    scheme: str,
    certificate: tuple[Path, Path],
    transports: list[str],
) -> None:
    sio, _, url = served
    sids: list[str] = []
    disconnected = gevent.event.Event()

    @sio.on("connect")
    def connect(socket: sockio_wsgi.Socket, auth: Any) -> None:
        sids.append(socket.id)

    @sio.on("disconnect")
    def disconnect(socket: sockio_wsgi.Socket, reason: str) -> None:
        disconnected.set()

    client = client_for(scheme, certificate)
    direct: list[int] = []
    client.on("direct", direct.append)
    client.on("question", lambda n: n * 2)
    client.connect(url, transports=transports)
    try:
        (sid,) = sids
        socket = sio.get_socket(sid)

        def from_thread(t: int) -> Any:
            for n in range(50):
                socket.emit("direct", t * 1000 + n)
            answers = [socket.emit_with_ack("question", n, timeout=5) for n in range(20)]
            return answers, get_hub_if_exists()

        results, threads_done = os_threads(2, from_thread)
        assert threads_done.wait(30)
        for answers, hub in results:
            assert answers == [n * 2 for n in range(20)]
            assert hub is None
        for t in range(2):
            assert [n - t * 1000 for n in direct if n // 1000 == t] == list(range(50))

        def kick(_: int) -> Any:
            socket.disconnect()
            return get_hub_if_exists()

        (hub,), kicked = os_threads(1, kick)
        assert kicked.wait(10) and hub is None
        assert disconnected.wait(10)
    finally:
        client.disconnect()
