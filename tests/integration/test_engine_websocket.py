"""WebSocket sessions and the polling-to-WebSocket upgrade over a raw wsproto client."""

from __future__ import annotations

import struct

import gevent
import pytest
from wsproto.extensions import PerMessageDeflate

from tests.helpers.raw import (
    EngineHarness,
    RawWebSocket,
    WebSocketClosed,
    eio_target,
    masked_frame,
    parse_open,
    probe_websocket,
    request,
    serving_engine,
)


def probe(h: EngineHarness, sid: str) -> RawWebSocket:
    """A WebSocket for session ``sid`` whose upgrade probe the server has answered."""
    return probe_websocket(h.address, h.eio.path, sid)


def upgrade(h: EngineHarness, sid: str) -> RawWebSocket:
    ws = probe(h, sid)
    ws.send("5")
    return ws


# -- websocket-only sessions -------------------------------------------------------------


def test_websocket_only_messages_both_ways() -> None:
    with serving_engine() as h:
        ws, sid = h.open_websocket()
        try:
            ws.send("4hello")
            assert h.recorder.next_message() == (sid, "hello")
            ws.send(b"\x00\xffraw")
            assert h.recorder.next_message() == (sid, b"\x00\xffraw")
            h.eio.send(sid, "text")
            h.eio.send(sid, b"\x01\x02")
            assert ws.recv() == "4text"
            assert ws.recv() == b"\x01\x02"  # binary frames carry no type prefix
            ws.send("2x")
            assert ws.recv() == "3x"
        finally:
            ws.close()
        assert h.recorder.wait_disconnect(sid) == "transport close"


def test_messages_sent_by_the_connect_handler_follow_the_open_packet() -> None:
    with serving_engine() as h:
        h.eio.on("connect", lambda sid, environ: h.eio.send(sid, "welcome"))
        ws = h.websocket()
        try:
            first = ws.recv()
            assert isinstance(first, str) and first.startswith("0{")
            assert ws.recv() == "4welcome"
        finally:
            ws.close()


def test_a_client_that_stops_reading_gets_every_message_in_order() -> None:
    """Writes to a client whose kernel buffers are full wait for it (holding the write lock,
    made then) while later messages queue behind them; nothing is lost or reordered."""
    big = "x" * 262144
    count = 64  # 16 MiB: more than loopback's socket buffers hold
    with serving_engine() as h:
        ws, sid = h.open_websocket()
        try:
            esock = h.eio.sockets[sid]
            for index in range(count):
                h.eio.send(sid, f"{index}:{big}")
            h.eio.send(sid, "last")
            received = [ws.recv() for _ in range(count + 1)]
            assert esock.ws._write_lock is not None  # a write had to wait for the kernel
            assert [m.split(":", 1)[0] for m in received[:-1]] == [
                f"4{index}" for index in range(count)
            ]
            assert all(m.endswith(big) for m in received[:-1])
            assert received[-1] == "4last"
            h.eio.send(sid, "after")  # writes go on once the client reads again
            assert ws.recv() == "4after"
        finally:
            ws.close()


def test_client_close_packet_over_websocket() -> None:
    with serving_engine() as h:
        ws, sid = h.open_websocket()
        try:
            ws.send("1")
            assert h.recorder.wait_disconnect(sid) == "transport close"
            ws.recv_until_closed()
            assert ws.closed
        finally:
            ws.close()


def test_server_disconnect_closes_the_websocket_normally() -> None:
    with serving_engine() as h:
        ws, sid = h.open_websocket()
        try:
            h.eio.send(sid, "bye")
            h.eio.disconnect(sid)
            assert ws.recv_until_closed() == ["4bye"]
            assert ws.close_code == 1000
            assert h.recorder.wait_disconnect(sid) == "forced close"
        finally:
            ws.close()


def test_websocket_heartbeat() -> None:
    with serving_engine(ping_interval=0.3, ping_timeout=0.2) as h:
        ws, sid = h.open_websocket()
        try:
            for _ in range(4):
                assert ws.recv(timeout=2) == "2"
                ws.send("3")
            assert not h.recorder.is_disconnected(sid)
            assert ws.recv(timeout=2) == "2"
            # unanswered: the session times out and the socket is closed
            assert h.recorder.wait_disconnect(sid, timeout=2) == "ping timeout"
            assert ws.recv_until_closed(timeout=2) == []
        finally:
            ws.close()


def test_websocket_refused_by_connect_handler_is_closed() -> None:
    with serving_engine() as h:
        h.eio.on("connect", lambda sid, environ: False)
        ws = h.websocket()
        try:
            assert ws.recv_until_closed() == []
        finally:
            ws.close()
        assert h.eio.sockets == {}


# -- upgrade from polling ----------------------------------------------------------------


def test_upgrade_from_polling() -> None:
    with serving_engine() as h:
        client = h.polling()
        assert client.handshake["upgrades"] == ["websocket"]
        client.post("4before")
        assert h.recorder.next_message() == (client.sid, "before")
        poll = gevent.spawn(client.get)
        h.wait_polling(client.sid)
        ws = probe(h, client.sid)
        try:
            # the parked GET is answered with a noop so the client can pause polling
            assert poll.get(timeout=5) == ["6"]
            h.eio.send(client.sid, "during upgrade")  # queued until the upgrade completes
            ws.send("5")
            assert ws.recv() == "4during upgrade"
            h.eio.send(client.sid, "after")
            assert ws.recv() == "4after"
            ws.send("4up")
            assert h.recorder.next_message() == (client.sid, "up")
            ws.send(b"\x07")
            assert h.recorder.next_message() == (client.sid, b"\x07")
            # polling is over for this session
            get = client.get_raw()
            assert get.status == 400 and get.json()["code"] == 3
            post = client.post_raw("4late")
            assert post.status == 400 and post.json()["code"] == 3
            assert h.recorder.messages.empty()
            # a second upgrade completes its handshake and is closed (as engine.io), and
            # the session still works
            second = h.websocket(sid=client.sid)
            try:
                with pytest.raises(WebSocketClosed):
                    second.recv(timeout=5)
            finally:
                second.close()
            ws.send("4still")
            assert h.recorder.next_message() == (client.sid, "still")
        finally:
            ws.close()
        assert h.recorder.wait_disconnect(client.sid) == "transport close"
        assert h.recorder.connected == [client.sid]


def test_upgrade_without_a_pending_poll() -> None:
    with serving_engine(echo=True) as h:
        client = h.polling()
        ws = upgrade(h, client.sid)
        try:
            ws.send("4echo")
            assert ws.recv() == "4echo"  # no noop ever reaches the WebSocket
        finally:
            ws.close()


def test_upgrade_heartbeat_continues_over_websocket() -> None:
    with serving_engine(ping_interval=0.3, ping_timeout=0.2) as h:
        client = h.polling()
        ws = upgrade(h, client.sid)
        try:
            pings = 0
            with gevent.Timeout(3):
                while pings < 3:
                    frame = ws.recv(timeout=2)
                    if frame == "2":
                        pings += 1
                        ws.send("3")
            assert not h.recorder.is_disconnected(client.sid)
        finally:
            ws.close()


def test_server_close_after_the_probe_reply_is_delivered_over_the_upgrade() -> None:
    """A client that saw the probe reply pauses polling; if the server closes the session
    then, the upgrade still completes and the queued packets reach it on the WebSocket."""
    with serving_engine() as h:
        client = h.polling()
        ws = probe(h, client.sid)
        try:
            assert client.get() == ["6"]  # the client pauses polling here
            h.eio.send(client.sid, "bye")
            h.eio.disconnect(client.sid)
            assert h.recorder.wait_disconnect(client.sid) == "forced close"
            ws.send("5")
            assert ws.recv() == "4bye"
            with pytest.raises(WebSocketClosed) as info:
                ws.recv()
            assert info.value.code == 1000
        finally:
            ws.close()


def test_server_close_during_an_unanswered_probe_closes_the_probe() -> None:
    with serving_engine() as h:
        client = h.polling()
        ws = h.websocket(sid=client.sid)
        try:
            h.eio.send(client.sid, "bye")
            h.eio.disconnect(client.sid)
            with pytest.raises(WebSocketClosed):
                ws.recv()
            assert client.get() == ["4bye"]  # polling still delivers what was queued
            assert client.get() == ["1"]
        finally:
            ws.close()


def test_probe_socket_closed_before_upgrade_keeps_polling_alive() -> None:
    with serving_engine(echo=True) as h:
        client = h.polling()
        ws = probe(h, client.sid)
        assert client.get() == ["6"]
        ws.close()
        # polling still works after the aborted upgrade
        client.post("4still polling")
        assert client.get_until("4still polling")[-1] == "4still polling"
        assert not h.recorder.is_disconnected(client.sid)


def test_unexpected_packet_during_probe_aborts_the_upgrade() -> None:
    with serving_engine(echo=True) as h:
        client = h.polling()
        ws = h.websocket(sid=client.sid)
        try:
            ws.send("4not a probe")
            assert ws.recv_until_closed() == []
        finally:
            ws.close()
        client.post("4polling")
        assert client.get_until("4polling")[-1] == "4polling"


# -- bad input ---------------------------------------------------------------------------


def test_message_over_max_http_buffer_size_closes_with_1009() -> None:
    with serving_engine(max_http_buffer_size=1000, echo=True) as h:
        other, other_sid = h.open_websocket()
        ws, sid = h.open_websocket()
        try:
            ws.send("4" + "x" * 999)  # at the limit
            assert h.recorder.next_message() == (sid, "x" * 999)
            assert ws.recv() == "4" + "x" * 999
            ws.send("4" + "x" * 2000)
            assert ws.recv_until_closed() == []
            assert ws.close_code == 1009
            h.recorder.wait_disconnect(sid)
            assert h.recorder.messages.empty()
            other.send("4alive")
            assert other.recv() == "4alive"
        finally:
            ws.close()
            other.close()
        assert sid not in h.eio.sockets


def test_binary_message_over_limit_closes_with_1009() -> None:
    with serving_engine(max_http_buffer_size=100) as h:
        ws, sid = h.open_websocket()
        try:
            ws.send(b"\x00" * 500)
            ws.recv_until_closed()
            assert ws.close_code == 1009
            h.recorder.wait_disconnect(sid)
        finally:
            ws.close()


@pytest.mark.parametrize("garbage", ["x", "9unknown", "", "0{}", "5"])
def test_garbage_text_frame_closes_the_session(garbage: str) -> None:
    with serving_engine(echo=True) as h:
        other, other_sid = h.open_websocket()
        ws, sid = h.open_websocket()
        try:
            ws.send(garbage)
            assert h.recorder.wait_disconnect(sid) == "parse error"
            assert ws.recv_until_closed() == []
            other.send("4fine")
            assert other.recv() == "4fine"
            assert not h.recorder.is_disconnected(other_sid)
        finally:
            ws.close()
            other.close()


def websocket_frames() -> list[tuple[str, bytes, int]]:
    """Malformed frames and the close code the server must answer them with."""
    unmasked = bytes([0x81, 0x02]) + b"4x"
    too_long_control = masked_frame(0x9, b"p" * 10, fin=False)
    length64 = bytes([0x82, 0x80 | 127]) + struct.pack("!Q", 2**63 + 1) + b"\x00" * 4
    first = masked_frame(0x1, b"4a", fin=False)  # the start of a fragmented message
    return [
        ("reserved opcode", masked_frame(0x3, b"4x"), 1002),
        ("rsv bits without extension", masked_frame(0x1, b"4x", rsv=0b100), 1002),
        ("unmasked client frame", unmasked, 1002),
        ("fragmented control frame", too_long_control, 1002),
        ("continuation without start", masked_frame(0x0, b"4x"), 1002),
        ("invalid utf-8 text", masked_frame(0x1, b"4\xff\xfe"), 1007),
        ("64-bit length with top bit", length64, 1002),
        ("new message inside a fragmented one", first + masked_frame(0x1, b"4b"), 1002),
        ("unmasked continuation", first + bytes([0x80, 0x01]) + b"b", 1002),
        ("invalid utf-8 across fragments", first + masked_frame(0x0, b"\xe2\x28\xa1"), 1007),
    ]


@pytest.mark.parametrize(
    ("frame", "code"),
    [(f, c) for _, f, c in websocket_frames()],
    ids=[n for n, *_ in websocket_frames()],
)
def test_invalid_frames_close_the_connection(frame: bytes, code: int) -> None:
    with serving_engine(echo=True) as h:
        other, other_sid = h.open_websocket()
        ws, sid = h.open_websocket()
        try:
            ws.send_raw(frame)
            ws.recv_until_closed()
            assert ws.close_code == code
            assert h.recorder.wait_disconnect(sid) in ("transport close", "transport error")
            other.send("4ok")
            assert other.recv() == "4ok"
        finally:
            ws.close()
            other.close()


def test_abrupt_disconnect_ends_the_session() -> None:
    with serving_engine() as h:
        ws, sid = h.open_websocket()
        ws.sock.close()
        assert h.recorder.wait_disconnect(sid) == "transport close"


def test_fragmented_message_is_reassembled() -> None:
    with serving_engine(echo=True) as h:
        ws, sid = h.open_websocket()
        try:
            ws.send_raw(masked_frame(0x1, b"4frag", fin=False) + masked_frame(0x0, b"mented"))
            assert h.recorder.next_message() == (sid, "fragmented")
            assert ws.recv() == "4fragmented"
        finally:
            ws.close()


def test_websocket_ping_frame_gets_a_pong_frame() -> None:
    with serving_engine(echo=True) as h:
        ws, sid = h.open_websocket()
        try:
            # a control frame between fragments is allowed and answered
            ws.send_raw(
                masked_frame(0x1, b"4a", fin=False)
                + masked_frame(0x9, b"hb")
                + masked_frame(0x0, b"b")
            )
            assert ws.recv() == "4ab"
            assert ws.pongs == [b"hb"]
        finally:
            ws.close()


def test_get_parked_when_the_upgrade_completes_is_released() -> None:
    with serving_engine() as h:
        client = h.polling()
        ws = probe(h, client.sid)
        try:
            assert client.get() == ["6"]
            # a client that polls again before sending the upgrade packet
            parked = gevent.spawn(client.get)
            h.wait_polling(client.sid)
            ws.send("5")
            assert parked.get(timeout=5) == ["6"]
            # what is sent after the upgrade goes over the WebSocket, not to that GET
            for i in range(3):
                h.eio.send(client.sid, f"m{i}")
            assert [ws.recv() for _ in range(3)] == ["4m0", "4m1", "4m2"]
        finally:
            ws.close()


def test_upgrade_request_without_websocket_key_is_a_bad_request() -> None:
    with serving_engine() as h:
        headers = {"Upgrade": "websocket", "Connection": "Upgrade", "Sec-WebSocket-Version": "13"}
        resp = request(h.address, "GET", eio_target(transport="websocket"), headers=headers)
        assert resp.status == 400
        assert resp.json() == {"code": 3, "message": "Bad request"}
        assert h.eio.sockets == {}


def test_permessage_deflate_when_enabled() -> None:
    with serving_engine(websocket_compression=True, echo=True) as h:
        ws = h.websocket(extensions=[PerMessageDeflate()])
        try:
            assert [e.name for e in ws.extensions] == ["permessage-deflate"]
            sid = parse_open(str(ws.recv()))["sid"]
            text = "4" + "compressible " * 500
            ws.send(text)
            assert h.recorder.next_message() == (sid, text[1:])
            assert ws.recv() == text
            ws.send(b"\x00" * 3000)
            assert ws.recv() == b"\x00" * 3000
        finally:
            ws.close()


def test_permessage_deflate_not_negotiated_by_default() -> None:
    with serving_engine(echo=True) as h:
        ws = h.websocket(extensions=[PerMessageDeflate()])
        try:
            assert ws.extensions == []
            parse_open(str(ws.recv()))
            ws.send("4plain")
            assert ws.recv() == "4plain"
        finally:
            ws.close()


def test_probe_without_upgrade_packet_times_out() -> None:
    with serving_engine(upgrade_timeout=0.3, echo=True) as h:
        client = h.polling()
        ws = probe(h, client.sid)
        try:
            # no "5": after upgrade_timeout the probe socket is dropped, polling goes on
            assert ws.recv_until_closed(timeout=3) == []
            client.post("4polling")
            assert client.get_until("4polling")[-1] == "4polling"
            assert not h.recorder.is_disconnected(client.sid)
            # and the session may try again
            again = upgrade(h, client.sid)
            try:
                again.send("4over ws")
                assert again.recv() == "4over ws"
            finally:
                again.close()
        finally:
            ws.close()


# -- as engine.io, exactly ---------------------------------------------------------------


def test_no_noop_reaches_the_websocket_when_no_get_waited_during_the_probe() -> None:
    with serving_engine() as h:
        client = h.polling()
        ws = probe(h, client.sid)
        try:
            h.eio.send(client.sid, "queued during the probe")
            ws.send("5")
            h.eio.send(client.sid, "after")
            assert [ws.recv(), ws.recv()] == ["4queued during the probe", "4after"]
        finally:
            ws.close()


def test_a_get_after_the_probe_reply_never_takes_what_the_websocket_will_carry() -> None:
    """A client that polls after the probe reply (it may have sent the upgrade packet
    already) gets a noop; the packets queued meanwhile go over the WebSocket."""
    with serving_engine() as h:
        client = h.polling()
        ws = probe(h, client.sid)
        try:
            h.eio.send(client.sid, "for the websocket")
            assert client.get() == ["6"]
            ws.send("5")
            assert ws.recv() == "4for the websocket"
        finally:
            ws.close()


def test_a_get_racing_the_upgrade_packet_gets_a_noop() -> None:
    with serving_engine() as h:
        client = h.polling()
        ws = probe(h, client.sid)
        try:
            h.eio.send(client.sid, "m")
            ws.send("5")
            poll = client.get_raw()  # sent right after the upgrade packet
            assert (poll.status, poll.text) in ((200, "6"), (400, poll.text))
            assert ws.recv() == "4m"
        finally:
            ws.close()
