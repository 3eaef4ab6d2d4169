"""Real gunicorn masters with ``sockio_wsgi.worker.SocketIOWorker`` sharing a real Redis."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

import pytest

from tests.cluster.helpers import Peer, peers
from tests.helpers.processes import ROOT, started

pytestmark = pytest.mark.redis


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextmanager
def gunicorn(redis_url: str, prefix: str, workers: int = 1) -> Iterator[tuple[str, Any]]:
    port = free_port()
    argv = [
        sys.executable,
        "-m",
        "gunicorn",
        "-k",
        "sockio_wsgi.worker.SocketIOWorker",
        "-w",
        str(workers),
        "-b",
        f"127.0.0.1:{port}",
        "--graceful-timeout",
        "20",
        "tests.cluster.fleet_app:app",
    ]
    os.environ["SOCKIO_TEST_PREFIX"] = prefix
    os.environ["REDIS_URL"] = redis_url
    with started(argv, r"Booting worker", timeout=60, cwd=ROOT) as (proc, _):
        yield f"http://127.0.0.1:{port}", proc


def wait_bus(peer: Peer) -> dict[str, Any]:
    """Ask the worker behind ``peer`` until its bus has confirmed its subscriptions."""
    for _ in range(200):  # each question is a round trip: no sleeping between them
        info: dict[str, Any] = peer.client.emit_with_ack("whoami", timeout=5)
        if info["bus"]:
            return info
    raise AssertionError("the worker's Redis bus never came up")


def test_two_masters_act_as_one_and_stop_gracefully(redis_url: str, prefix: str) -> None:
    with ExitStack() as stack:
        url_a, _ = stack.enter_context(gunicorn(redis_url, prefix))
        url_b, master_b = stack.enter_context(gunicorn(redis_url, prefix))
        on_a, on_b = stack.enter_context(peers((url_a, {}), (url_b, {})))
        pid_a, pid_b = wait_bus(on_a)["pid"], wait_bus(on_b)["pid"]
        assert pid_a != pid_b
        on_a.client.emit("shout", "hello fleet")
        for peer in (on_a, on_b):
            assert peer.got("shouted") == ({"text": "hello fleet", "from": pid_a},)
        disconnected = threading.Event()
        on_b.client.on("disconnect", lambda *reason: disconnected.set())
        master_b.send_signal(signal.SIGTERM)
        # graceful: the worker closes its sessions at once instead of holding them until
        # gunicorn's 20 s graceful timeout, so the master is gone well before that
        master_b.wait(timeout=10)
        assert master_b.returncode == 0
        assert disconnected.wait(5), "the client on B was not disconnected"
        on_a.client.emit("shout", "still here")
        on_a.events.wait("shouted", match=lambda args: args[0]["text"] == "still here")


def test_several_workers_behind_one_port_serve_websocket_clients(
    redis_url: str, prefix: str
) -> None:
    with ExitStack() as stack:
        url, _ = stack.enter_context(gunicorn(redis_url, prefix, workers=2))
        clients = stack.enter_context(peers(*[(url, {}) for _ in range(6)]))
        for peer in clients:
            wait_bus(peer)
        clients[0].client.emit("shout", "to every worker")
        for peer in clients:
            assert peer.got("shouted")[0]["text"] == "to every worker"


def test_the_worker_class_is_importable_without_starting_gunicorn() -> None:
    result = subprocess.run(
        [sys.executable, "-c", "import sockio_wsgi.worker as w; print(w.SocketIOWorker.__name__)"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    assert result.stdout.strip() == "SocketIOWorker", result.stderr


def test_cluster_operations_across_gunicorn_masters(redis_url: str, prefix: str) -> None:
    """Acks, fetch_sockets, sockets_join, disconnect_sockets and server_side_emit between
    two real gunicorn processes."""
    with ExitStack() as stack:
        url_a, _ = stack.enter_context(gunicorn(redis_url, prefix))
        url_b, _ = stack.enter_context(gunicorn(redis_url, prefix))
        on_a, on_b, other_b = stack.enter_context(peers((url_a, {}), (url_b, {}), (url_b, {})))
        pids = {wait_bus(on_a)["pid"], wait_bus(on_b)["pid"], wait_bus(other_b)["pid"]}
        assert len(pids) == 2
        for peer in (on_a, on_b, other_b):
            peer.client.on("question", lambda _p=peer: f"answer from {_p.sid}")
        for peer in (on_a, on_b):
            assert peer.client.emit_with_ack("join", "team", timeout=5) == "joined"

        answers = on_a.client.emit_with_ack("ask_all", timeout=10)
        assert answers == sorted(f"answer from {p.sid}" for p in (on_a, on_b, other_b))

        census = on_b.client.emit_with_ack("census", "team", timeout=10)
        assert sorted(sid for sid, _ in census) == sorted([on_a.sid, on_b.sid])
        assert {pid for _, pid in census} == pids

        on_a.client.emit_with_ack("gather", "team", "gathered", timeout=10)
        gathered = on_b.client.emit_with_ack("census", "gathered", timeout=10)
        assert sorted(sid for sid, _ in gathered) == sorted([on_a.sid, on_b.sid])

        own = on_a.client.emit_with_ack("whoami", timeout=5)["pid"]
        assert on_a.client.emit_with_ack("roll_call", timeout=10) == sorted(pids - {own})

        gone = threading.Event()
        on_b.client.on("disconnect", lambda *reason: gone.set())
        on_a.client.emit("kick", "gathered")
        assert gone.wait(5), "the socket on the other master was not disconnected"
        assert other_b.client.connected
