"""Limits on what one packet may make the server hold, through a real server.

A hostile client announces many binary attachments, or sends attachments that together
are far larger than one message may be; its connection is closed ("parse error") while a
healthy client on the same server keeps getting its acks.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import pytest

from tests.helpers.healthy import echo_server, healthy_client
from tests.helpers.raw import RawWebSocket, eio_target
from tests.helpers.server import Running, serving_sio

pytestmark = pytest.mark.timeout(30)

LIMIT = 100_000  # max_http_buffer_size of these servers: one message, one packet in all


@pytest.fixture
def running() -> Iterator[Running]:
    with serving_sio(echo_server(max_http_buffer_size=LIMIT, max_attachments=3)) as run:
        yield run


def joined_websocket(running: Running) -> RawWebSocket:
    """An Engine.IO WebSocket session that has joined "/" by hand."""
    ws = RawWebSocket.connect(running.address, eio_target(transport="websocket"))
    assert str(ws.recv()).startswith("0{")
    ws.send("40")
    assert str(ws.recv()).startswith("40{")
    return ws


def placeholders(count: int) -> list[dict[str, object]]:
    return [{"_placeholder": True, "num": i} for i in range(count)]


def binary_event(count: int, event: str = "upload", ack_id: str = "") -> str:
    data = json.dumps([event, *placeholders(count)], separators=(",", ":"))
    return f"45{count}-{ack_id}{data}"


def assert_closed_for(running: Running, *messages: str | bytes) -> None:
    """The messages close a WebSocket session while a healthy client keeps its acks."""
    with healthy_client(running.url) as healthy:
        ws = joined_websocket(running)
        for message in messages:
            ws.send(message)
        assert ws.recv_until_closed() == []
        healthy.wait_acks()


def test_more_attachments_than_allowed_close_the_connection(
    running: Running, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, "sockio_wsgi")
    assert_closed_for(running, binary_event(999))
    assert "999 attachments announced; at most 3 allowed" in caplog.text
    # the limit is inclusive: three attachments are a packet like any other
    ws = joined_websocket(running)
    ws.send(binary_event(3, "echo", ack_id="1"))
    for part in (b"a", b"b", b"c"):
        ws.send(part)
    assert ws.recv() == "463-1" + json.dumps(placeholders(3), separators=(",", ":"))
    assert [ws.recv() for _ in range(3)] == [b"a", b"b", b"c"]
    ws.close()


def test_attachments_past_max_http_buffer_size_in_all_close_the_connection(
    running: Running, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, "sockio_wsgi")
    # each attachment is under the message limit, the two together are not
    assert_closed_for(running, binary_event(3), b"x" * (LIMIT // 2), b"y" * (LIMIT // 2))
    assert f"a packet's attachments exceed {LIMIT} bytes in all" in caplog.text


def fragments(payload: bytes, opcode: int = 0x2) -> bytes:
    """``payload`` as a message of one-byte masked fragments."""
    frames = []
    for i, byte in enumerate(payload):
        first = (0x80 if i == len(payload) - 1 else 0) | (opcode if i == 0 else 0)
        frames.append(bytes([first, 0x81, 0, 0, 0, 0, byte]))  # a zero mask key
    return b"".join(frames)


def test_a_message_of_one_byte_fragments_is_assembled_beside_a_healthy_client(
    running: Running,
) -> None:
    with healthy_client(running.url) as healthy:
        ws = joined_websocket(running)
        text = "x" * 50_000
        ws.send_raw(fragments(f'421["echo","{text}"]'.encode(), opcode=0x1))  # 350 KB of frames
        assert ws.recv() == f'431["{text}"]'

        healthy.wait_acks()
        ws.close()


def test_fragments_past_max_http_buffer_size_close_with_1009(running: Running) -> None:
    with healthy_client(running.url) as healthy:
        ws = joined_websocket(running)
        ws.send_raw(fragments(b"x" * (LIMIT + 1)))
        assert ws.recv_until_closed() == []
        assert ws.close_code == 1009
        healthy.wait_acks()
