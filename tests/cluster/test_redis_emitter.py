"""Our RedisEmitter, from outside any server, reaching the clients of a cluster."""

from __future__ import annotations

from typing import Any

import gevent.event
import pytest

import sockio_wsgi
from tests.cluster.helpers import cluster, peers

pytestmark = [pytest.mark.redis, pytest.mark.timeout(60)]


def test_emitter_reaches_clients_with_rooms_and_except(redis_url: str, prefix: str) -> None:
    emitter = sockio_wsgi.RedisEmitter(redis_url, key_prefix=prefix)
    with (
        cluster(redis_url, prefix) as (a, b),
        peers((a.url, {"rooms": ["r"]}), (b.url, {"rooms": ["r", "quiet"]}), (b.url, {})) as (
            pa,
            quiet,
            outside,
        ),
    ):
        emitter.to("r").except_("quiet").emit("news", "n", b"\x01\x02")
        emitter.emit("all", {"k": 1})
        assert pa.got("news") == ("n", b"\x01\x02")
        for peer in (pa, quiet, outside):
            assert peer.got("all") == ({"k": 1},)  # published after "news"
        assert quiet.never_got("news") and outside.never_got("news")

        emitter.to("r").sockets_join("vip")
        emitter.to("vip").emit("vip-only", 1)
        assert pa.got("vip-only") == (1,) and quiet.got("vip-only") == (1,)
        emitter.to(outside.sid).emit("marker")
        outside.got("marker")
        assert outside.never_got("vip-only")

        gone = gevent.event.Event()
        outside.client.on("disconnect", lambda reason: gone.set())
        emitter.to(outside.sid).disconnect_sockets()
        assert gone.wait(5)
    emitter.close()


def test_emitter_namespace_and_server_side_emit(redis_url: str, prefix: str) -> None:
    emitter = sockio_wsgi.RedisEmitter(redis_url, key_prefix=prefix)
    with cluster(redis_url, prefix) as (a, b):
        got: list[Any] = []
        both = gevent.event.Event()
        for node in (a, b):
            node.sio.of("/chat")

            def ping(*args: Any) -> None:
                got.append(args)
                if len(got) == 2:
                    both.set()

            node.sio.on_server_side("ping", ping)
        chat_adapter = b.sio.of("/chat").adapter
        assert isinstance(chat_adapter, sockio_wsgi.RedisAdapter)
        client = sockio_wsgi.Client(reconnection=False)
        received = gevent.event.AsyncResult()
        client.on("room-news", lambda *args: received.set(args), namespace="/chat")
        client.connect(b.url, namespaces=["/chat"], transports=["websocket"])
        try:
            emitter.of("chat").emit("room-news", "x")
            assert received.get(timeout=5) == ("x",)
            emitter.server_side_emit("ping", 1, "two")
            assert both.wait(5)
            assert got == [(1, "two"), (1, "two")]
            with pytest.raises(ValueError):
                emitter.emit("connect")
        finally:
            client.disconnect()
    emitter.close()
