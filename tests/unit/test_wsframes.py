"""The WebSocket data-frame fast path, checked against wsproto's own framing."""

from __future__ import annotations

import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from wsproto.connection import Connection, ConnectionType
from wsproto.events import BytesMessage, Message, Ping, TextMessage

from sockio_wsgi.protocol.wsframes import (
    FrameHead,
    encode_data_frame,
    frame_head,
    sole_frame,
    unmask,
)


def client_frame(data: str | bytes, **kwargs: object) -> bytes:
    """A masked frame exactly as a client (wsproto) would send it."""
    conn = Connection(ConnectionType.CLIENT)
    event = (
        TextMessage(data=data, **kwargs)
        if isinstance(data, str)
        else BytesMessage(data=data, **kwargs)
    )  # type: ignore[arg-type]
    return conn.send(event)


def server_decode(frames: bytes) -> list[Message[object]]:
    conn = Connection(ConnectionType.SERVER)
    conn.receive_data(frames)
    return [e for e in conn.events() if isinstance(e, Message)]


@pytest.mark.parametrize("size", [0, 1, 125, 126, 127, 65535, 65536, 70000])
@pytest.mark.parametrize("kind", ["text", "binary"])
def test_plain_frames_of_every_length_class(size: int, kind: str) -> None:
    data: str | bytes = "é" * (size // 2) if kind == "text" else os.urandom(size)
    frame = client_frame(data)
    head = frame_head(frame, 0)
    assert isinstance(head, FrameHead)
    assert head.plain and head.text is (kind == "text")
    assert head.end == len(frame)
    payload = unmask(frame, head)
    assert (payload.decode("utf-8") if head.text else payload) == data


def test_incomplete_frames_ask_for_more_or_announce_their_length() -> None:
    frame = client_frame(b"x" * 300)
    assert frame_head(frame, 0) is not None
    assert frame_head(frame[:1], 0) is None
    assert frame_head(frame[:3], 0) is None  # 16-bit length not complete
    assert frame_head(frame[:10], 0) == 300  # header known, payload missing
    big = client_frame(b"y" * 70000)
    assert frame_head(big[:9], 0) is None  # 64-bit length not complete
    assert frame_head(big[:20], 0) == 70000


def test_a_64_bit_length_with_the_top_bit_is_handed_over_as_is() -> None:
    header = bytes([0x82, 0xFF]) + (1 << 63).to_bytes(8, "big") + b"mask"
    head = frame_head(header, 0)
    assert isinstance(head, FrameHead) and not head.plain and head.end == 10


def test_frames_are_found_one_after_another_in_a_buffer() -> None:
    stream = client_frame("one") + client_frame(b"\x00two") + client_frame("three")
    pos, found = 0, []
    while pos < len(stream):
        head = frame_head(stream, pos)
        assert isinstance(head, FrameHead)
        payload = unmask(stream, head)
        found.append(payload.decode() if head.text else payload)
        pos = head.end
    assert found == ["one", b"\x00two", "three"]


def test_everything_else_is_left_to_wsproto() -> None:
    fragment = client_frame("part", message_finished=False)
    ping = Connection(ConnectionType.CLIENT).send(Ping(b"hi"))
    unmasked = encode_data_frame("from a server")  # a client must mask
    plain = client_frame("z" * 200)
    compressed = bytes([plain[0] | 0x40]) + plain[1:]  # RSV1: permessage-deflate
    for frame in (fragment, ping, unmasked, compressed):
        head = frame_head(frame, 0)
        assert isinstance(head, FrameHead)
        assert not head.plain and not head.text
        assert head.end == len(frame)


@pytest.mark.parametrize("size", [0, 5, 125, 126, 65535, 65536, 100_000])
def test_server_frames_decode_with_wsproto(size: int) -> None:
    text = "a" * size
    binary = os.urandom(size)
    messages = server_decode_unmasked(encode_data_frame(text) + encode_data_frame(binary))
    assert messages == [text, binary]


def server_decode_unmasked(frames: bytes) -> list[str | bytes]:
    """Decode server-to-client frames the way a client does."""
    conn = Connection(ConnectionType.CLIENT)
    conn.receive_data(frames)
    return [e.data for e in conn.events() if isinstance(e, Message)]


@settings(max_examples=200, deadline=None)
@given(st.one_of(st.text(max_size=300), st.binary(max_size=300)))
def test_round_trip_matches_wsproto(data: str | bytes) -> None:
    frame = client_frame(data)
    head = frame_head(frame, 0)
    assert isinstance(head, FrameHead) and head.plain
    payload = unmask(frame, head)
    assert (payload.decode("utf-8") if head.text else payload) == data
    assert server_decode_unmasked(encode_data_frame(data)) == [data]


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=64), st.integers(min_value=0, max_value=70))
def test_arbitrary_bytes_never_overrun(buf: bytes, pos: int) -> None:
    head = frame_head(buf, pos)
    if isinstance(head, FrameHead):
        assert head.end <= len(buf)
        assert head.payload_start + head.length == head.end
        if head.plain:
            assert len(unmask(buf, head)) == head.length


# -- sole_frame: one read holding exactly one plain frame --------------------------------


@pytest.mark.parametrize("size", [0, 1, 125, 126, 1000, 65535])
def test_sole_frame_decodes_a_whole_plain_frame(size: int) -> None:
    text = "é" * (size // 2) + "x" * (size % 2)
    frame = client_frame(text)
    assert sole_frame(frame, len(frame), 1 << 20) == text.encode()
    binary = os.urandom(size)
    frame = client_frame(binary)
    assert sole_frame(frame + b"junk after count", len(frame), 1 << 20) == binary


def test_sole_frame_declines_what_the_full_path_must_handle() -> None:
    frame = client_frame("hello")
    assert sole_frame(frame, len(frame) - 1, 100) is None  # incomplete
    assert sole_frame(frame + frame, 2 * len(frame), 100) is None  # two frames
    assert sole_frame(frame, len(frame), 4) is None  # over the size limit
    big = client_frame(b"x" * 70000)  # 64-bit length
    assert sole_frame(big, len(big), 1 << 20) is None
    fragment = client_frame("part", message_finished=False)
    assert sole_frame(fragment, len(fragment), 100) is None
    ping = Connection(ConnectionType.CLIENT).send(Ping(b"p"))
    assert sole_frame(ping, len(ping), 100) is None
    unmasked = encode_data_frame("hello")
    assert sole_frame(unmasked, len(unmasked), 100) is None


@given(
    st.one_of(st.text(max_size=200), st.binary(max_size=200)),
    st.integers(min_value=-3, max_value=3),
    st.binary(max_size=8),
)
def test_sole_frame_agrees_with_the_full_path(data: str | bytes, cut: int, tail: bytes) -> None:
    frame = client_frame(data)
    buf = frame + tail
    count = max(0, min(len(buf), len(frame) + cut))
    payload = sole_frame(buf, count, 1 << 20)
    if count != len(frame):
        assert payload is None
        return
    raw = data.encode() if isinstance(data, str) else data
    assert payload == raw
