"""Redis stopped and restarted under a running cluster: the adapters report unhealthy,
publishing fails fast while local delivery goes on, then they resubscribe and deliver."""

from __future__ import annotations

import logging
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager

import pytest

import sockio_wsgi
from tests.cluster.helpers import cluster, peers
from tests.helpers.logs import watching
from tests.helpers.requirements import missing

pytestmark = [pytest.mark.redis, pytest.mark.timeout(60)]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def redis_server(port: int) -> Iterator[subprocess.Popen[str]]:
    """A throwaway redis-server on ``port``, nothing on disk; ready when it says so."""
    binary = shutil.which("redis-server")
    if binary is None:
        missing("redis-server is not installed")
    process = subprocess.Popen(
        [
            binary,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            "/tmp",
            "--loglevel",
            "notice",
        ],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert process.stdout is not None
        deadline = time.monotonic() + 10
        for line in process.stdout:
            if "Ready to accept connections" in line:
                break
            assert time.monotonic() < deadline, "redis-server did not start"
        else:
            pytest.fail(f"redis-server exited with {process.wait()}")
        yield process
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_outage_and_recovery() -> None:
    port = free_port()
    url = f"redis://127.0.0.1:{port}"
    with ExitStack() as stack:
        logged = stack.enter_context(watching("sockio_wsgi.adapters.redis"))
        first = stack.enter_context(redis_server(port))
        a, b = stack.enter_context(cluster(url, "outage"))
        pa, pb = stack.enter_context(peers((a.url, {}), (b.url, {})))
        a.sio.emit("before", 1)
        assert pb.got("before") == (1,)

        first.terminate()
        first.wait(timeout=10)
        assert a.adapter.wait_health(False, 10) and b.adapter.wait_health(False, 10)
        assert not a.adapter.healthy
        started = time.monotonic()
        with pytest.raises(sockio_wsgi.BusUnavailable):
            a.sio.emit("during", 2)
        assert time.monotonic() - started < 1.0  # fails fast
        assert pa.got("during") == (2,)  # local delivery went on
        b.adapter.raise_when_bus_down = False  # RedisAdapter.factory(raise_when_bus_down=False)
        assert b.sio.emit("quietly", 5) == 1  # no error: logged, delivered locally
        assert pb.got("quietly") == (5,)
        assert a.adapter.server_count() == 1
        with pytest.raises(sockio_wsgi.BusUnavailable):
            a.sio.fetch_sockets()
        with pytest.raises(sockio_wsgi.BusUnavailable):
            a.sio.server_side_emit_with_ack("sync")
        assert [s.id for s in a.sio.local.fetch_sockets()] == [pa.sid]

        # an outage long enough for the retries to reach their longest delay: 1 s
        logged.wait_for(r"reconnecting in 1\.00s", timeout=15)
        stack.enter_context(redis_server(port))
        assert a.adapter.wait_health(True, 15) and b.adapter.wait_health(True, 15)
        delays = [float(r.args[1]) for r in logged.matching(r"reconnecting in")]  # type: ignore[index, arg-type]
        assert max(delays) == 1.0
        up_again = logged.matching("up again after")
        assert up_again and all(r.levelno == logging.WARNING for r in up_again)
        assert a.adapter.server_count() == 2
        a.sio.emit("after", 3)
        assert pb.got("after") == (3,)
        b.sio.emit("back", 4)
        assert pa.got("back") == (4,)
        assert pb.never_got("during")
