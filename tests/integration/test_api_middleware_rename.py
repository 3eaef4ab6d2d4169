"""A ``socket.use`` middleware may rename an event: the new name's handler runs (and
answers the ack), as in socket.io, where middleware sees the packet before dispatch."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

import sockio_wsgi
from tests.helpers.node import NodeClient
from tests.helpers.server import Running, serving_sio
from tests.helpers.sio_interop import connected_sid

pytestmark = pytest.mark.node


@pytest.fixture
def running() -> Iterator[Running]:
    sio = sockio_wsgi.Server()

    @sio.on("connect")
    def connect(socket: sockio_wsgi.Socket, auth: Any) -> None:
        def route(socket: sockio_wsgi.Socket, packet: list[Any]) -> None:
            if packet[0] != "known":
                packet.insert(0, "fallback")

        socket.use(route)

    @sio.on("known")
    def known(socket: sockio_wsgi.Socket, value: Any) -> Any:
        return ["known", value]

    @sio.on("fallback")
    def fallback(socket: sockio_wsgi.Socket, event: str, *args: Any) -> Any:
        return ["fallback", event, *args]

    with serving_sio(sio) as run:
        yield run


@pytest.mark.parametrize("transports", [["polling"], ["websocket"]])
def test_a_renamed_event_reaches_the_new_names_handler(
    client: NodeClient, running: Running, transports: list[str]
) -> None:
    client.connect(running.url, "c1", transports=transports)
    connected_sid(client, "c1")
    assert client.call("c1", "known", 1) == [["known", 1]]
    assert client.call("c1", "unknown", 2, 3) == [["fallback", "unknown", 2, 3]]
