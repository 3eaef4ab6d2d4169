"""A small cluster in this process: Servers with a RedisAdapter each, and Python clients
that record what they receive."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from typing import Any

import sockio_wsgi
from sockio_wsgi.adapters.local_bus import LocalBus, LocalHub
from tests.helpers.server import Running, serving_sio
from tests.helpers.sio_interop import Recorder


@dataclass
class Node:
    """One server of the cluster, served on its own port."""

    sio: sockio_wsgi.Server
    running: Running
    factory: Any

    @property
    def url(self) -> str:
        return self.running.url

    @property
    def adapter(self) -> sockio_wsgi.RedisAdapter:
        adapter = self.sio.of("/").adapter
        assert isinstance(adapter, sockio_wsgi.RedisAdapter)
        return adapter


def make_server(target: Any, prefix: str, request_timeout: float = 3.0) -> tuple[Any, Any]:
    """A server on the cluster ``target``: a Redis URL, or a :class:`LocalHub` (the same
    cluster logic over an in-process bus)."""
    bus = LocalBus(target, prefix) if isinstance(target, LocalHub) else None
    factory = sockio_wsgi.RedisAdapter.factory(
        target if bus is None else None,
        key_prefix=prefix,
        request_timeout=request_timeout,
        bus=bus,
    )
    sio = sockio_wsgi.Server(adapter=factory)

    @sio.on("connect")
    def connect(socket: sockio_wsgi.Socket, auth: Any) -> None:
        socket.data = {"name": (auth or {}).get("name")}
        socket.join((auth or {}).get("rooms", []))

    return sio, factory


@contextmanager
def cluster(target: Any, prefix: str, size: int = 2, **kwargs: Any) -> Iterator[list[Node]]:
    """``size`` servers sharing ``prefix`` on ``target`` (see :func:`make_server`); each has
    confirmed its subscriptions."""
    with ExitStack() as stack:
        nodes = []
        for _ in range(size):
            sio, factory = make_server(target, prefix, **kwargs)
            running = stack.enter_context(serving_sio(sio))
            stack.callback(factory.bus.close)
            nodes.append(Node(sio, running, factory))
        for node in nodes:
            assert node.adapter.wait_health(True, 5), "the bus never came up"
        yield nodes


@dataclass
class Peer:
    """A Python client that records every event as ``(event, args)``."""

    client: sockio_wsgi.Client
    events: Recorder = field(default_factory=Recorder)

    @property
    def sid(self) -> str:
        sid = self.client.sid
        assert sid is not None
        return sid

    def got(self, event: str, timeout: float = 5.0) -> tuple[Any, ...]:
        args: tuple[Any, ...] = self.events.wait(event, timeout=timeout)
        return args

    def never_got(self, event: str) -> bool:
        return not self.events.values(event)


@contextmanager
def peers(*specs: tuple[str, dict[str, Any]]) -> Iterator[list[Peer]]:
    """Connect one client per ``(url, auth)``; all are disconnected at the end."""
    with ExitStack() as stack:
        made = []
        for url, auth in specs:
            client = sockio_wsgi.Client(reconnection=False)
            peer = Peer(client)
            client.on_any(lambda event, *args, _p=peer: _p.events.add(event, args))
            client.connect(url, auth=auth, transports=["websocket"])
            stack.callback(client.disconnect)
            made.append(peer)
        yield made


def barrier(peer: Peer, node: Node, token: str) -> None:
    """Everything a server published before now has reached ``peer``: a marker sent the
    same way (over the bus, to that socket) arrives after it."""
    node.sio.to(peer.sid).emit("barrier", token)
    peer.events.wait("barrier", match=lambda args: args == (token,))
