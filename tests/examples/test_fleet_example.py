"""examples/fleet: two gunicorn masters of the chat on one Redis, and the announcer."""

from __future__ import annotations

import secrets
import socket
import subprocess
import time
from collections.abc import Iterator

import pytest

from tests.cluster.conftest import redis_url  # noqa: F401 - the fixture
from tests.cluster.helpers import Peer, peers
from tests.helpers.processes import python_script, started

pytestmark = pytest.mark.redis


def two_free_ports() -> int:
    """A port p with p and p + 1 both free (the fleet takes consecutive ports)."""
    for _ in range(50):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port: int = probe.getsockname()[1]
        try:
            with socket.socket() as second:
                second.bind(("127.0.0.1", port + 1))
        except OSError:
            continue
        return port
    raise RuntimeError("no two consecutive free ports")


def wait_listening(port: int, timeout: float = 60) -> None:
    """gunicorn says nothing we can wait on per port: probe the port until it accepts."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


@pytest.fixture
def fleet(redis_url: str) -> Iterator[tuple[list[str], str, str]]:  # noqa: F811
    port, channel = two_free_ports(), f"fleet-test-{secrets.token_hex(4)}"
    argv = python_script(
        "examples/fleet/run.py", "--port", str(port), "--redis", redis_url, "--channel", channel
    )
    with started(argv, rf"listening on http://127\.0\.0\.1:{port + 1}", timeout=60):
        for p in (port, port + 1):
            wait_listening(p)
        yield [f"http://127.0.0.1:{p}" for p in (port, port + 1)], redis_url, channel


def join(peer: Peer, nick: str) -> None:
    reply = peer.client.emit_with_ack("join", {"nick": nick, "room": "lobby"}, timeout=10)
    assert reply == {"nick": nick, "room": "lobby"}


def test_chat_crosses_processes_and_the_announcer_reaches_everyone(
    fleet: tuple[list[str], str, str],
) -> None:
    (url_a, url_b), redis, channel = fleet
    with peers((url_a, {}), (url_b, {})) as (ada, bob):
        join(ada, "ada")
        join(bob, "bob")
        # a room message from a client of the first master reaches the second's client;
        # the workers' buses may still be subscribing: say it until it arrives
        for _ in range(50):
            ada.client.emit("say", "hello from 1")
            try:
                bob.events.wait("chat", timeout=0.2)
                break
            except TimeoutError:
                continue
        assert bob.events.values("chat")[0] == ({"nick": "ada", "text": "hello from 1"},)
        result = subprocess.run(
            python_script(
                "examples/fleet/announce.py", "doors close", "--redis", redis, "--channel", channel
            ),
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 0, result.stderr
        for peer in (ada, bob):
            peer.events.wait("notice", match=lambda args: args == ("announcement: doors close",))
