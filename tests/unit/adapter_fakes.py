"""A real, small AdapterHost for unit tests of adapters and the broadcast operator.

It stands in for a namespace: fake clients with data, a writable flag and a reply to
acks; it records what was delivered, encoded and reported. It is also "namespace-like"
enough (``name``, ``adapter``, ``sockets``) for a :class:`BroadcastOperator`; its
``sockets`` holds no local :class:`Socket`, so fetched sockets come back as remote ones.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sockio_wsgi.adapters.base import (
    BroadcastOptions,
    RecoveryOptions,
    ReplyCallback,
    SocketRecord,
)
from sockio_wsgi.adapters.memory import InMemoryAdapter
from sockio_wsgi.protocol.eio import Packet, message
from sockio_wsgi.protocol.sio import SioPacket
from sockio_wsgi.protocol.sio import encode_text as encode_sio


@dataclass
class FakeClient:
    sid: str
    data: dict[str, Any] = field(default_factory=dict)
    writable: bool = True
    reply: list[Any] | None = None  # ack arguments sent back at once; None: never acks
    received: list[list[Packet]] = field(default_factory=list)
    disconnected: list[bool] = field(default_factory=list)


class FakeHost:
    """An AdapterHost (and namespace stand-in) over fake clients."""

    def __init__(
        self,
        name: str = "/",
        adapter: Callable[[Any], Any] = InMemoryAdapter,
        recovery: RecoveryOptions | None = None,
    ) -> None:
        self.name = name
        self.recovery = recovery
        self.clients: dict[str, FakeClient] = {}
        self.sockets: dict[str, Any] = {}  # no local Socket objects
        self.events: list[tuple[Any, ...]] = []
        self.encoded: list[SioPacket] = []
        self.server_side: list[list[Any]] = []
        self._ack_ids = 0
        self.adapter = adapter(self)

    def connect(self, sid: str, *rooms: str, **kwargs: Any) -> FakeClient:
        client = self.clients[sid] = FakeClient(sid, **kwargs)
        self.adapter.add_all(sid, {sid, *rooms})
        return client

    # -- AdapterHost -----------------------------------------------------------------

    def encode(self, packet: SioPacket) -> list[Packet]:
        self.encoded.append(packet)
        return [message(part) for part in encode_sio(packet)]

    def deliver(
        self,
        sid: str,
        packets: list[Packet],
        opts: BroadcastOptions,
        ack_id: int | None = None,
        on_reply: ReplyCallback | None = None,
    ) -> bool:
        client = self.clients.get(sid)
        if client is None or (opts.volatile and not client.writable):
            return False
        client.received.append(packets)
        if on_reply is not None and client.reply is not None:
            on_reply(list(client.reply))
        return True

    def new_ack_id(self) -> int:
        self._ack_ids += 1
        return self._ack_ids

    def socket_record(self, sid: str) -> SocketRecord | None:
        client = self.clients.get(sid)
        if client is None:
            return None
        rooms = frozenset(self.adapter.socket_rooms(sid))
        return SocketRecord(sid, self.name, rooms, client.data, {"auth": {}})

    def disconnect_local(self, sid: str, close: bool) -> None:
        client = self.clients.pop(sid, None)
        if client is not None:
            client.disconnected.append(close)
            self.adapter.delete_all(sid)

    def room_event(self, event: str, room: str, sid: str | None = None) -> None:
        self.events.append((event, room) if sid is None else (event, room, sid))

    def on_server_side_emit(self, args: list[Any], reply: Callable[[Any], None] | None) -> None:
        self.server_side.append(args)


def texts(client: FakeClient) -> list[str]:
    """What a fake client got, as the Engine.IO message payloads."""
    return [str(packet.data) for packets in client.received for packet in packets]
