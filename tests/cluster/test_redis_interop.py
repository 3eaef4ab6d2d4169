"""Our server and a Node socket.io server with the official @socket.io/redis-adapter in one
cluster, plus the official @socket.io/redis-emitter reaching our clients."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest

from tests.cluster.helpers import cluster, peers
from tests.helpers.node import (
    NODE_DIR,
    NodeClient,
    NodeProcess,
    decode_binary,
    ensure_node_modules,
    start_node_script,
)

pytestmark = [pytest.mark.redis, pytest.mark.node, pytest.mark.timeout(90)]


@pytest.fixture
def node_server(redis_url: str, prefix: str) -> Iterator[tuple[NodeProcess, str]]:
    process, ready = start_node_script("redis_server.js", prefix, redis_url)
    try:
        yield process, f"http://127.0.0.1:{ready['port']}"
    finally:
        process.close()


def node_command(process: NodeProcess, seq: int, cmd: str, **fields: Any) -> dict[str, Any]:
    process.send({"cmd": cmd, "seq": seq, **fields})
    reply = process.wait_for(lambda m: m.get("seq") == seq and m.get("type") in ("done", "error"))
    assert reply["type"] == "done", reply
    return reply


def test_broadcasts_and_fetch_both_ways(
    redis_url: str, prefix: str, node_server: tuple[NodeProcess, str]
) -> None:
    process, node_url = node_server
    with (
        cluster(redis_url, prefix, size=1) as (ours,),
        peers((ours.url, {"name": "py", "rooms": ["r"]}), (ours.url, {"name": "py-out"})) as (
            py,
            py_out,
        ),
        NodeClient() as node_client,
    ):
        node_client.connect(node_url, "n1", auth={"rooms": ["r"]}, transports=["websocket"])
        node_sid = node_client.wait_for("connect", id="n1")["sid"]
        assert ours.adapter.server_count() == 2
        assert node_command(process, 1, "count")["count"] == 2

        # ours -> Node's client (binary as msgpack bin, a Buffer on the Node side)
        ours.sio.to("r").emit("from-py", 1, {"a": [True, None]}, b"\x00\x01")
        event = node_client.wait_for("event", id="n1", event="from-py")
        assert decode_binary(event["args"]) == [1, {"a": [True, None]}, b"\x00\x01"]

        # Node -> our clients, room and except respected
        node_command(process, 2, "emit", rooms=["r"], event="from-node", args=["hi"])
        node_command(process, 3, "emit", rooms=[], event="to-all", args=[2])
        assert py.got("from-node") == ("hi",)
        assert py_out.got("to-all") == (2,)
        assert py_out.never_got("from-node")

        # fetch_sockets both ways
        found = {s.id: s for s in ours.sio.in_("r").fetch_sockets()}
        assert set(found) == {py.sid, node_sid}
        assert found[node_sid].data == {"server": "node"}
        assert found[node_sid].rooms == {node_sid, "r"}
        fetched = node_command(process, 4, "fetch", rooms=["r"])["sockets"]
        by_id = {s["id"]: s for s in fetched}
        assert set(by_id) == {py.sid, node_sid}
        assert by_id[py.sid]["data"] == {"name": "py"}
        assert sorted(by_id[py.sid]["rooms"]) == sorted([py.sid, "r"])

        # acks from a Node client through the Node server, and Node's server-side handler
        node_client.auto_ack("n1", "ask", ["node-reply"])
        py.client.on("ask", lambda: "py-reply")
        replies = ours.sio.to("r").timeout(5).emit_with_ack("ask")
        assert sorted(replies) == ["node-reply", "py-reply"]
        assert ours.sio.server_side_emit_with_ack("hello", 5) == [["node", 5]]


def test_official_emitter_reaches_our_clients(redis_url: str, prefix: str) -> None:
    with (
        cluster(redis_url, prefix, size=1) as (ours,),
        peers((ours.url, {"rooms": ["r"]}), (ours.url, {"rooms": ["r", "quiet"]})) as (pa, quiet),
    ):
        ops = [
            {"rooms": ["r"], "except": ["quiet"], "event": "news", "args": ["x", {"$bin": "AAE="}]},
            {"rooms": ["r"], "join": ["vip"]},
            {"rooms": ["vip"], "event": "vip", "args": [1]},
        ]
        result = subprocess.run(
            [ensure_node_modules(), "redis_emit.js", prefix, redis_url, json.dumps(ops)],
            cwd=NODE_DIR,
            capture_output=True,
            text=True,
            timeout=30,
            stdin=subprocess.DEVNULL,
        )
        assert result.returncode == 0, result.stderr
        assert pa.got("news") == ("x", b"\x00\x01")
        assert pa.got("vip") == (1,) and quiet.got("vip") == (1,)
        assert quiet.never_got("news")  # "vip" was published after it
