"""The engine served by gevent-websocket's handler, which sets ``environ["wsgi.websocket"]``.

Apps already deployed under gevent-websocket must keep working: polling, WebSocket-only
sessions and the upgrade all go through its connection object instead of ours.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import gevent
from geventwebsocket.handler import WebSocketHandler as GeventWebSocketHandler

from tests.helpers.raw import EngineHarness, parse_open, serving_engine


@contextmanager
def gevent_websocket_engine(**options: Any) -> Iterator[EngineHarness]:
    with serving_engine(handler_class=GeventWebSocketHandler, **options) as h:
        yield h


def test_polling_still_works() -> None:
    with gevent_websocket_engine(echo=True) as h:
        client = h.polling()
        assert client.handshake["upgrades"] == ["websocket"]
        client.post("4plain http")
        assert client.get() == ["4plain http"]


def test_websocket_only_session() -> None:
    with gevent_websocket_engine(ping_interval=0.3, ping_timeout=0.2) as h:
        ws = h.websocket()
        try:
            first = ws.recv()
            assert isinstance(first, str)
            info = parse_open(first)
            assert info["upgrades"] == []
            assert (info["pingInterval"], info["pingTimeout"]) == (300, 200)
            sid = info["sid"]
            assert "wsgi.websocket" in h.recorder.environs[sid]
            ws.send("4text")
            assert h.recorder.next_message() == (sid, "text")
            ws.send(b"\x00\x01")
            assert h.recorder.next_message() == (sid, b"\x00\x01")
            h.eio.send(sid, "down")
            h.eio.send(sid, b"\xff")
            assert ws.recv() == "4down"
            assert ws.recv() == b"\xff"
            assert ws.recv(timeout=2) == "2"
            ws.send("3")
        finally:
            ws.close()
        assert h.recorder.wait_disconnect(sid) == "transport close"


def test_websocket_only_heartbeat_timeout() -> None:
    with gevent_websocket_engine(ping_interval=0.3, ping_timeout=0.2) as h:
        ws = h.websocket()
        try:
            sid = parse_open(str(ws.recv()))["sid"]
            assert ws.recv(timeout=2) == "2"
            assert h.recorder.wait_disconnect(sid, timeout=2) == "ping timeout"
            assert ws.recv_until_closed(timeout=2) == []
        finally:
            ws.close()


def test_upgrade_from_polling() -> None:
    with gevent_websocket_engine() as h:
        client = h.polling()
        poll = gevent.spawn(client.get)
        h.wait_polling(client.sid)
        ws = h.websocket(sid=client.sid)
        try:
            ws.send("2probe")
            assert ws.recv() == "3probe"
            assert poll.get(timeout=5) == ["6"]
            ws.send("5")
            h.eio.send(client.sid, "over websocket")
            assert ws.recv() == "4over websocket"
            ws.send("4up")
            assert h.recorder.next_message() == (client.sid, "up")
            resp = client.get_raw()
            assert resp.status == 400 and resp.json()["code"] == 3
        finally:
            ws.close()
        assert h.recorder.wait_disconnect(client.sid) == "transport close"


def test_server_disconnect_closes_the_websocket() -> None:
    with gevent_websocket_engine() as h:
        ws = h.websocket()
        try:
            sid = parse_open(str(ws.recv()))["sid"]
            h.eio.send(sid, "bye")
            h.eio.disconnect(sid)
            assert ws.recv_until_closed() == ["4bye"]
            assert ws.close_code == 1000  # a valid close frame, despite gevent-websocket
            assert h.recorder.wait_disconnect(sid) == "forced close"
        finally:
            ws.close()


def test_message_over_limit_closes_with_1009() -> None:
    with gevent_websocket_engine(max_http_buffer_size=100, echo=True) as h:
        other = h.websocket()
        ws = h.websocket()
        try:
            other.recv()
            sid = parse_open(str(ws.recv()))["sid"]
            ws.send("4" + "x" * 500)
            ws.recv_until_closed()
            assert ws.close_code == 1009
            h.recorder.wait_disconnect(sid)
            other.send("4alive")
            assert other.recv() == "4alive"
        finally:
            ws.close()
            other.close()


def test_garbage_frame_closes_the_session() -> None:
    with gevent_websocket_engine() as h:
        ws = h.websocket()
        try:
            sid = parse_open(str(ws.recv()))["sid"]
            ws.send("xyz")
            assert h.recorder.wait_disconnect(sid) == "parse error"
            assert ws.recv_until_closed() == []
        finally:
            ws.close()
