"""The adapter contract, over a real Redis and over an in-process bus: two Servers in this
process, each with its own RedisAdapter and gevent server, Python clients on both."""

from __future__ import annotations

import time
from typing import Any

import gevent
import pytest

import sockio_wsgi
from sockio_wsgi import runtime
from sockio_wsgi.adapters.local_bus import LocalHub
from tests.cluster.helpers import barrier, cluster, peers

pytestmark = [pytest.mark.redis, pytest.mark.timeout(60)]


def test_room_broadcast_reaches_both_servers_except_respected(
    cluster_target: Any, prefix: str
) -> None:
    with (
        cluster(cluster_target, prefix) as (a, b),
        peers(
            (a.url, {"rooms": ["r"]}),
            (b.url, {"rooms": ["r"]}),
            (b.url, {"rooms": ["r", "quiet"]}),
            (b.url, {"rooms": ["other"]}),
        ) as (on_a, on_b, quiet_b, other_b),
    ):
        assert a.adapter.server_count() == 2
        assert a.sio.to("r").except_("quiet").emit("news", 1, {"x": [1, 2]}, b"\x00\xff") == 1
        for peer in (on_a, on_b):
            assert peer.got("news") == (1, {"x": [1, 2]}, b"\x00\xff")
        # everything sent before the barrier has arrived: nothing for the excluded ones
        for peer in (quiet_b, other_b):
            barrier(peer, a, "after-news")
            assert peer.never_got("news")
        # everybody, from B
        b.sio.emit("all", "hi")
        for peer in (on_a, on_b, quiet_b, other_b):
            assert peer.got("all") == ("hi",)


def test_local_stays_on_one_server(cluster_target: Any, prefix: str) -> None:
    with cluster(cluster_target, prefix) as (a, b), peers((a.url, {}), (b.url, {})) as (pa, pb):
        a.sio.local.emit("here", 1)
        assert pa.got("here") == (1,)
        barrier(pb, a, "after-local")
        assert pb.never_got("here")


def test_emit_with_ack_collects_replies_across_servers(cluster_target: Any, prefix: str) -> None:
    with (
        cluster(cluster_target, prefix) as (a, b),
        peers((a.url, {"name": "pa"}), (b.url, {"name": "pb1"}), (b.url, {"name": "pb2"})) as found,
    ):
        for peer, name in zip(found, ["pa", "pb1", "pb2"], strict=True):
            peer.client.on("ask", lambda q, _n=name: f"{_n}:{q}")
        replies = a.sio.timeout(5).emit_with_ack("ask", "q")
        assert sorted(replies) == ["pa:q", "pb1:q", "pb2:q"]


def test_emit_with_ack_times_out_with_partial_replies(cluster_target: Any, prefix: str) -> None:
    with cluster(cluster_target, prefix) as (a, b), peers((a.url, {}), (b.url, {})) as (pa, pb):
        pa.client.on("ask", lambda: "fast")
        pb.client.on("ask", lambda: gevent.sleep(30))  # never answers in time
        with pytest.raises(sockio_wsgi.TimeoutError) as caught:
            a.sio.timeout(0.5).emit_with_ack("ask")
        assert caught.value.replies == ["fast"]


def test_fetch_sockets_returns_remote_sockets(cluster_target: Any, prefix: str) -> None:
    with (
        cluster(cluster_target, prefix) as (a, b),
        peers(
            (a.url, {"name": "pa", "rooms": ["r"]}),
            (b.url, {"name": "pb", "rooms": ["r"]}),
            (b.url, {"name": "out"}),
        ) as (pa, pb, _out),
    ):
        found = {s.id: s for s in a.sio.in_("r").fetch_sockets()}
        assert set(found) == {pa.sid, pb.sid}
        assert isinstance(found[pa.sid], sockio_wsgi.Socket)
        remote = found[pb.sid]
        assert isinstance(remote, sockio_wsgi.RemoteSocket)
        assert remote.data == {"name": "pb"}
        assert remote.rooms == {pb.sid, "r"}
        assert remote.handshake["auth"] == {"name": "pb", "rooms": ["r"]}
        assert "environ" not in remote.handshake
        remote.emit("direct", "to-you")
        assert pb.got("direct") == ("to-you",)
        assert len(a.sio.local.fetch_sockets()) == 1
        assert len(a.sio.fetch_sockets()) == 3


def test_sockets_join_leave_and_disconnect_across_servers(cluster_target: Any, prefix: str) -> None:
    with (
        cluster(cluster_target, prefix) as (a, b),
        peers((a.url, {"rooms": ["r"]}), (b.url, {"rooms": ["r"]}), (b.url, {})) as (pa, pb, pc),
    ):
        a.sio.in_("r").sockets_join("joined")
        barrier(pb, a, "after-join")  # the join request went before the barrier
        assert b.adapter.socket_rooms(pb.sid) == {pb.sid, "r", "joined"}
        assert a.adapter.socket_rooms(pa.sid) == {pa.sid, "r", "joined"}
        assert b.adapter.socket_rooms(pc.sid) == {pc.sid}
        a.sio.in_("joined").sockets_leave("r")
        barrier(pb, a, "after-leave")
        assert b.adapter.socket_rooms(pb.sid) == {pb.sid, "joined"}

        sid_b = pb.sid
        pb.client.on("disconnect", lambda reason: pb.events.add("gone", reason))
        a.sio.in_("joined").except_(pa.sid).disconnect_sockets()
        pb.events.wait("gone")
        barrier(pc, a, "after-disconnect")
        assert pc.client.connected and pa.client.connected
        assert sid_b not in {s.id for s in a.sio.fetch_sockets()}


def test_server_side_emit_with_ack(cluster_target: Any, prefix: str) -> None:
    with cluster(cluster_target, prefix, size=3) as (a, b, c):
        got: list[Any] = []
        done = gevent.event.Event()

        for name, node in (("b", b), ("c", c)):

            def hello(arg: Any, _n: str = name) -> Any:
                got.append((_n, arg))
                if len(got) == 2:
                    done.set()
                return f"{_n}:{arg}"

            node.sio.on_server_side("hello", hello)

        a.sio.on_server_side("hello", lambda arg: pytest.fail("sent to itself"))
        assert sorted(a.sio.server_side_emit_with_ack("hello", 7)) == ["b:7", "c:7"]
        got.clear()
        done.clear()
        a.sio.server_side_emit("hello", 8)
        assert done.wait(5)
        assert sorted(got) == [("b", 8), ("c", 8)]


def test_all_rooms_and_unknown_requests(redis_url: str, prefix: str, redis_client: Any) -> None:
    from sockio_wsgi.adapters import cluster_wire as wire

    with (
        cluster(redis_url, prefix) as (a, b),
        peers((a.url, {"rooms": ["ra"]}), (b.url, {"rooms": ["rb"]})) as (pa, pb),
    ):
        request_channel = f"{prefix}-request#/#"
        # garbage and unknown types are dropped, the listener survives
        redis_client.publish(request_channel, b"\xc1not msgpack")
        redis_client.publish(request_channel, wire.encode({"type": 99, "requestId": "x"}))
        redis_client.publish(f"{prefix}#/#", wire.encode(["u", {"type": 2}, {}]))
        assert a.adapter.all_rooms() == {pa.sid, pb.sid, "ra", "rb"}
        assert b.adapter.healthy


def test_close_leaves_no_greenlets(cluster_target: Any, prefix: str) -> None:
    with cluster(cluster_target, prefix) as (a, b):
        listener = a.factory.bus._listener
        assert listener is not None and not listener.dead
        a.sio.close()
        assert listener.dead
        assert b.adapter.server_count() == 1


def test_a_request_to_a_server_that_is_gone_times_out(prefix: str) -> None:
    """A server still counted on the bus but no longer answering (hung, or dying): the
    request fails after ``request_timeout`` with a clear error naming what came back."""
    with cluster(LocalHub(), prefix, request_timeout=0.5) as (a, b):
        runtime.kill(b.factory.bus._listener, block=True)  # b stops reading, stays subscribed
        started = time.monotonic()
        with pytest.raises(sockio_wsgi.TimeoutError, match="0 of 1 servers answered"):
            a.sio.fetch_sockets()
        assert 0.4 < time.monotonic() - started < 3
