"""The official client (Node, ``ws`` with permessage-deflate) against compression options.

socket.io-client offers permessage-deflate by default and compresses what it sends from
1024 bytes on, as our server does; the frames on the wire are checked in
test_engine_compression.py with a raw client.
"""

from __future__ import annotations

from typing import Any

import pytest

import sockio_wsgi
from sockio_wsgi.engine.wsproto_connection import BoundedDeflate, WsprotoWebSocket
from tests.helpers.node import NodeClient
from tests.helpers.server import Running, serving_sio
from tests.helpers.sio_interop import connected_sid, socket_of

pytestmark = pytest.mark.node

BIG = "compress me please " * 300  # 5700 bytes
SMALL = "tiny"


def make_sio(**kwargs: Any) -> sockio_wsgi.Server:
    sio = sockio_wsgi.Server(**kwargs)

    @sio.on("echo")
    def echo(socket: sockio_wsgi.Socket, *args: Any) -> Any:
        return args

    return sio


def deflate_of(sio: sockio_wsgi.Server, client: NodeClient, id: str) -> BoundedDeflate | None:
    """The server's permessage-deflate state for this client's connection (None if off)."""
    ws = sio.eio.sockets[_engine_sid(client, id)].ws
    assert isinstance(ws, WsprotoWebSocket)
    assert ws.compresses == (ws.deflate is not None)
    if ws.deflate is None:
        return None
    assert isinstance(ws.deflate, BoundedDeflate)
    return ws.deflate


def _engine_sid(client: NodeClient, id: str) -> str:
    opened = [m for m in client.messages if m.get("type") == "engine_open" and m.get("id") == id]
    sid: str = opened[-1]["engine_sid"]
    return sid


@pytest.mark.parametrize("parser", ["json", "msgpack"])
@pytest.mark.parametrize("transports", [["websocket"], ["polling", "websocket"]])
def test_round_trip_with_permessage_deflate(
    client: NodeClient, parser: str, transports: list[str]
) -> None:
    sio = make_sio(websocket_compression=True, parser=parser)
    with serving_sio(sio) as run:
        _round_trip(sio, run, client, parser, transports)
        extension = deflate_of(sio, client, "c1")
        assert extension is not None
        # the client's large messages came compressed and were inflated by us
        assert extension._decompressor is not None
        # and ours went out through wsproto's compressor
        assert extension._compressor is not None


def test_no_deflate_unless_enabled(client: NodeClient) -> None:
    sio = make_sio()
    with serving_sio(sio) as run:
        _round_trip(sio, run, client, "json", ["websocket"])
        assert deflate_of(sio, client, "c1") is None


def _round_trip(
    sio: sockio_wsgi.Server, run: Running, client: NodeClient, parser: str, transports: list[str]
) -> None:
    opts: dict[str, Any] = {"parser": "msgpack"} if parser == "msgpack" else {}
    client.connect(run.url, "c1", transports=transports, **opts)
    sid = connected_sid(client, "c1")
    if len(transports) == 2:
        assert client.wait_for("upgrade", id="c1")["transport"] == "websocket"
    binary = bytes(range(256)) * 30
    for _ in range(3):  # context takeover both ways
        assert client.call("c1", "echo", BIG, binary) == [BIG, binary]
        assert client.call("c1", "echo", SMALL) == [SMALL]
    client.emit("c1", "echo", BIG, ack=False, compress=False)
    socket = socket_of(sio, sid)
    socket.emit("news", BIG)
    sio.compress(False).emit("news", BIG + "!")
    sio.emit("news", SMALL)
    for expected in (BIG, BIG + "!", SMALL):
        assert client.wait_for("event", id="c1", event="news")["args"] == [expected]
    assert client.call("c1", "echo", BIG) == [BIG]
