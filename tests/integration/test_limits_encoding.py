"""Data JSON cannot carry as is: lone surrogates and non-finite floats.

They are written as ``JSON.stringify`` writes them (an escape, ``null``), so a broadcast
reaches every client, the official client parses it, and the packets queued with it for a
polling client are delivered too.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import sockio_wsgi
from tests.helpers.healthy import echo_server, healthy_client
from tests.helpers.node import NodeClient
from tests.helpers.server import Running, serving_sio
from tests.helpers.sio_interop import connected_sid, socket_of

pytestmark = [pytest.mark.node, pytest.mark.timeout(60)]

ODD = ["\ud800", float("nan"), float("-inf"), {"key\udc00": [float("inf"), "ok \U0001f600"]}]
AS_JAVASCRIPT_SEES_IT = ["\ud800", None, None, {"key\udc00": [None, "ok \U0001f600"]}]


@pytest.fixture
def sio() -> sockio_wsgi.Server:
    return echo_server()


@pytest.fixture
def running(sio: sockio_wsgi.Server) -> Iterator[Running]:
    with serving_sio(sio) as run:
        yield run


def test_a_broadcast_of_odd_data_reaches_every_client(
    sio: sockio_wsgi.Server, running: Running, client: NodeClient
) -> None:
    client.connect(running.url, "poll", transports=["polling"])
    client.connect(running.url, "ws1", transports=["websocket"])
    client.connect(running.url, "ws2", transports=["websocket"])
    polling = socket_of(sio, connected_sid(client, "poll"))
    with healthy_client(running.url) as healthy:
        # one polling response carries all three: none may be lost with the odd one
        polling.emit("before", 1)
        sio.emit("odd", *ODD)
        polling.emit("after", 2)
        for id in ("poll", "ws1", "ws2"):
            assert client.wait_for("event", id=id, event="odd")["args"] == AS_JAVASCRIPT_SEES_IT
        assert client.wait_for("event", id="poll", event="before")["args"] == [1]
        assert client.wait_for("event", id="poll", event="after")["args"] == [2]
        # and the official client sends them back as it got them
        assert client.call("ws1", "echo", "\udfff") == ["\udfff"]
        healthy.wait_acks()
