"""The custom parser of README.md ("A custom parser") works as written, over a raw WebSocket."""

from __future__ import annotations

import json
from typing import Any

import gevent.event

import sockio_wsgi
from sockio_wsgi import ProtocolError
from sockio_wsgi.protocol.sio import SioPacket, SioType, validate
from tests.helpers.raw import RawWebSocket, parse_open
from tests.helpers.server import serving_sio


class OneMessageJson:
    """Each packet is one text message: [type, namespace, data, id] (no binary)."""

    def encode(self, packet: SioPacket) -> list[str | bytes]:
        return [json.dumps([int(packet.type), packet.namespace, packet.data, packet.id])]

    def decoder(self) -> OneMessageJson:
        return self

    def feed(self, message: str | bytes) -> SioPacket | None:
        try:
            kind, namespace, data, ack_id = json.loads(message)
            packet = SioPacket(SioType(kind), namespace, data, ack_id)
        except (TypeError, ValueError) as exc:
            raise ProtocolError(f"bad packet: {exc}") from exc
        validate(packet)  # the shape each type requires; raises ProtocolError
        return packet

    def reset(self) -> None:
        pass


def test_readme_custom_parser() -> None:
    sio = sockio_wsgi.Server(parser=OneMessageJson())
    reasons: gevent.event.AsyncResult = gevent.event.AsyncResult()

    @sio.on("add")
    def add(socket: sockio_wsgi.Socket, a: int, b: int) -> Any:
        return a + b

    @sio.on("disconnect")
    def disconnect(socket: sockio_wsgi.Socket, reason: str) -> None:
        reasons.set(reason)

    with serving_sio(sio) as run:
        ws = RawWebSocket.connect(run.address, "/socket.io/?EIO=4&transport=websocket")
        try:
            parse_open(str(ws.recv()))
            ws.send('4[0, "/", null, null]')
            kind, namespace, data, _ = json.loads(str(ws.recv())[1:])
            assert (kind, namespace, sorted(data)) == (0, "/", ["sid"])
            ws.send('4[2, "/", ["add", 2, 3], 7]')
            assert json.loads(str(ws.recv())[1:]) == [3, "/", [5], 7]
            ws.send("4not json")
            assert reasons.get(timeout=5) == "parse error"
        finally:
            ws.close()
