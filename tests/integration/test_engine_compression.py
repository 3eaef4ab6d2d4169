"""Compression on the wire: permessage-deflate on WebSocket, gzip/deflate on long-polling.

The raw clients look at the bytes: ``RecordingDeflate`` notes the RSV1 bit of every data
message the server sends, and polling responses are read undecoded.
"""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Iterator

import gevent.event
import pytest

import sockio_wsgi
from tests.helpers.raw import (
    EngineHarness,
    HTTPResult,
    RawWebSocket,
    RecordingDeflate,
    WebSocketClosed,
    parse_open,
    serving_engine,
)
from tests.helpers.server import serving_sio

BIG = "compressible text " * 200  # 3600 bytes, over the default 1024 threshold
SMALL = "small"


def deflate_session(h: EngineHarness) -> tuple[RawWebSocket, RecordingDeflate, str]:
    spy = RecordingDeflate()
    ws = h.websocket(extensions=[spy])
    assert [e.name for e in ws.extensions] == ["permessage-deflate"]
    sid = parse_open(str(ws.recv()))["sid"]
    return ws, spy, sid


def masked(opcode: int, payload: bytes, rsv1: bool = False) -> bytes:
    """A client frame of any length, built by hand."""
    first = 0x80 | (0x40 if rsv1 else 0) | opcode
    length = len(payload)
    if length < 126:
        head = bytes([first, 0x80 | length])
    elif length < 65536:
        head = bytes([first, 0x80 | 126]) + length.to_bytes(2, "big")
    else:
        head = bytes([first, 0x80 | 127]) + length.to_bytes(8, "big")
    mask = b"\x11\x22\x33\x44"
    key = (mask * (length // 4 + 1))[:length]
    body = (int.from_bytes(payload, "big") ^ int.from_bytes(key, "big")).to_bytes(length, "big")
    return head + mask + body


def raw_deflate(data: bytes) -> bytes:
    """A permessage-deflate payload: raw deflate, sync-flushed, the 4 trailing bytes cut."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    return (compressor.compress(data) + compressor.flush(zlib.Z_SYNC_FLUSH))[:-4]


# -- permessage-deflate ------------------------------------------------------------------


def test_large_messages_compressed_small_ones_plain() -> None:
    with serving_engine(websocket_compression=True) as h:
        ws, spy, sid = deflate_session(h)
        try:
            sock = h.eio.sockets[sid]
            sock.send(BIG)
            sock.send(SMALL)
            h.eio.send(sid, BIG.encode(), compress=False)
            sock.send(BIG.encode())
            assert ws.recv() == "4" + BIG
            assert ws.recv() == "4" + SMALL
            assert ws.recv() == BIG.encode()
            assert ws.recv() == BIG.encode()
            # OPEN (small), BIG, SMALL, BIG with compress=False, BIG again: the
            # plain messages in between did not upset the compressor's shared context
            assert spy.compressed == [False, True, False, False, True]
        finally:
            ws.close()


def test_threshold_option() -> None:
    with serving_engine(websocket_compression=True, compression_threshold=10) as h:
        ws, spy, sid = deflate_session(h)
        try:
            h.eio.send(sid, "x" * 9)  # "4" + 9 = 10 bytes: compressed
            h.eio.send(sid, "x" * 7)
            assert ws.recv() == "4" + "x" * 9
            assert ws.recv() == "4" + "x" * 7
            assert spy.compressed[1:] == [True, False]
        finally:
            ws.close()


def test_threshold_counts_utf8_bytes() -> None:
    with serving_engine(websocket_compression=True, compression_threshold=1024) as h:
        ws, spy, sid = deflate_session(h)
        try:
            h.eio.send(sid, "é" * 600)  # 601 characters, 1201 bytes
            assert ws.recv() == "4" + "é" * 600
            assert spy.compressed[1:] == [True]
        finally:
            ws.close()


def test_queued_packets_keep_their_flags_through_the_writer() -> None:
    """Packets queued before an upgrade go out later through the writer greenlet."""
    with serving_engine(websocket_compression=True) as h:
        client = h.polling()
        spy = RecordingDeflate()
        ws = h.websocket(extensions=[spy], sid=client.sid)
        try:
            ws.send("2probe")
            assert ws.recv() == "3probe"
            sock = h.eio.sockets[client.sid]
            sock.send_messages([BIG, BIG], compress=False)
            sock.send(BIG)
            sock.send(SMALL)
            ws.send("5")
            got: list[str | bytes] = []
            while len(got) < 4 + got.count("6"):  # a noop queued at probe time may come too
                got.append(ws.recv())
            flags = dict(enumerate(spy.compressed[1:]))  # [0] is the "3probe" reply
            sent = [(m, flags[i]) for i, m in enumerate(got) if m != "6"]
            assert sent == [
                ("4" + BIG, False),
                ("4" + BIG, False),
                ("4" + BIG, True),
                ("4" + SMALL, False),
            ]
        finally:
            ws.close()


def test_client_compressed_messages_are_inflated() -> None:
    with serving_engine(websocket_compression=True, echo=True) as h:
        ws, spy, sid = deflate_session(h)
        try:
            for _ in range(3):  # context takeover across messages
                ws.send("4" + BIG)
                assert h.recorder.next_message() == (sid, BIG)
                assert ws.recv() == "4" + BIG
            ws.send_raw(masked(0x1, b"4plain in a deflate session"))
            assert h.recorder.next_message() == (sid, "plain in a deflate session")
        finally:
            ws.close()


def test_decompression_bomb_is_bounded() -> None:
    limit = 100_000
    with serving_engine(websocket_compression=True, max_http_buffer_size=limit) as h:
        ws, spy, sid = deflate_session(h)
        try:
            bomb = raw_deflate(b"4" + b"\x00" * 50_000_000)  # about 50 KB on the wire
            assert len(bomb) < limit
            ws.send_raw(masked(0x1, bomb, rsv1=True))
            with pytest.raises(WebSocketClosed):
                ws.recv()
            assert ws.close_code == 1009
            assert h.recorder.wait_disconnect(sid) == "transport close"
            assert h.recorder.messages.empty()
        finally:
            ws.close()


def test_message_just_under_the_limit_inflates() -> None:
    limit = 100_000
    with serving_engine(websocket_compression=True, max_http_buffer_size=limit) as h:
        ws, spy, sid = deflate_session(h)
        try:
            payload = b"4" + b"a" * (limit - 1)
            ws.send_raw(masked(0x1, raw_deflate(payload), rsv1=True))
            assert h.recorder.next_message() == (sid, "a" * (limit - 1))
        finally:
            ws.close()


def test_invalid_deflate_data_closes_cleanly() -> None:
    with serving_engine(websocket_compression=True) as h:
        ws, spy, sid = deflate_session(h)
        try:
            ws.send_raw(masked(0x1, b"\xff\xff\xff\xff not deflate", rsv1=True))
            with pytest.raises(WebSocketClosed):
                ws.recv()
            assert ws.close_code == 1007
            assert h.recorder.wait_disconnect(sid) == "transport close"
        finally:
            ws.close()


def test_compressed_frame_without_negotiation_is_a_protocol_error() -> None:
    with serving_engine() as h:  # compression off: the offer is declined
        ws = h.websocket(extensions=[RecordingDeflate()])
        try:
            assert ws.extensions == []
            parse_open(str(ws.recv()))
            ws.send_raw(masked(0x1, raw_deflate(b"4hello"), rsv1=True))
            with pytest.raises(WebSocketClosed):
                ws.recv()
            assert ws.close_code == 1002
        finally:
            ws.close()


# -- Socket.IO: compress(False) reaches the wire -------------------------------------------


@pytest.fixture
def sio_deflate() -> Iterator[tuple[sockio_wsgi.Server, tuple[str, int], gevent.event.Event]]:
    sio = sockio_wsgi.Server(websocket_compression=True)
    joined = gevent.event.Event()

    @sio.on("connect")
    def connect(socket: sockio_wsgi.Socket, auth: object) -> None:
        joined.set()

    with serving_sio(sio) as run:
        yield sio, run.address, joined


def test_socketio_compress_flag(
    sio_deflate: tuple[sockio_wsgi.Server, tuple[str, int], gevent.event.Event],
) -> None:
    sio, address, joined = sio_deflate
    spy = RecordingDeflate()
    ws = RawWebSocket.connect(address, "/socket.io/?EIO=4&transport=websocket", extensions=[spy])
    try:
        parse_open(str(ws.recv()))
        ws.send("40")
        assert str(ws.recv()).startswith("40{")
        assert joined.wait(5)
        sio.emit("big", BIG)
        sio.compress(False).emit("big", BIG)
        sio.emit("small", SMALL)
        sio.compress(True).emit("big", BIG)
        expected = [f'42["big","{BIG}"]', f'42["big","{BIG}"]', '42["small","small"]']
        assert [ws.recv() for _ in range(3)] == expected
        assert ws.recv() == expected[0]
        # OPEN, CONNECT reply, then the four events
        assert spy.compressed == [False, False, True, False, False, True]
    finally:
        ws.close()


# -- HTTP long-polling -------------------------------------------------------------------


def poll_raw(
    h: EngineHarness, accept_encoding: str | None, data: str | bytes, compress: bool = True
) -> HTTPResult:
    headers = {} if accept_encoding is None else {"Accept-Encoding": accept_encoding}
    client = h.polling(headers=headers)
    h.eio.sockets[client.sid].send(data, compress)
    return client.get_raw()


@pytest.mark.parametrize(
    ("accept", "encoding"),
    [
        ("gzip", "gzip"),
        ("gzip, deflate, br", "gzip"),
        ("deflate", "deflate"),
        ("gzip;q=0.5, deflate", "deflate"),
        ("gzip;q=0, *", "deflate"),
        ("*", "gzip"),
        ("br", None),
        ("identity", None),
        ("gzip;q=0, deflate;q=0", None),
        (None, None),
    ],
)
def test_polling_response_encoding(accept: str | None, encoding: str | None) -> None:
    with serving_engine() as h:  # http_compression is on by default
        resp = poll_raw(h, accept, BIG)
        assert resp.status == 200
        assert resp.header("Content-Encoding") == encoding
        assert ("Vary", "Accept-Encoding") in resp.header_list
        body = resp.body
        if encoding == "gzip":
            body = gzip.decompress(body)
        elif encoding == "deflate":
            body = zlib.decompress(body)
        assert body.decode() == "4" + BIG
        assert int(resp.headers["content-length"]) == len(resp.body)


def test_polling_small_responses_stay_plain() -> None:
    with serving_engine() as h:
        resp = poll_raw(h, "gzip", SMALL)
        assert resp.header("Content-Encoding") is None
        assert resp.text == "4" + SMALL


def test_polling_binary_payload_compressed() -> None:
    with serving_engine() as h:
        resp = poll_raw(h, "gzip", b"\x00" * 3000)
        assert resp.header("Content-Encoding") == "gzip"
        assert gzip.decompress(resp.body).startswith(b"bAAAA")


def test_polling_compress_false_is_plain() -> None:
    with serving_engine() as h:
        resp = poll_raw(h, "gzip", BIG, compress=False)
        assert resp.header("Content-Encoding") is None
        assert resp.text == "4" + BIG


def test_polling_compression_can_be_turned_off() -> None:
    with serving_engine(http_compression=False) as h:
        resp = poll_raw(h, "gzip", BIG)
        assert resp.header("Content-Encoding") is None
        assert ("Vary", "Accept-Encoding") not in resp.header_list
        assert resp.text == "4" + BIG


def test_polling_threshold_option() -> None:
    with serving_engine(compression_threshold=4) as h:
        resp = poll_raw(h, "deflate", "abc")  # "4abc" is 4 bytes
        assert resp.header("Content-Encoding") == "deflate"
        assert zlib.decompress(resp.body) == b"4abc"
