"""The inflater of incoming permessage-deflate messages stops at the size limit.

wsproto's own extension inflates a frame in one unbounded call; ``BoundedDeflate`` must
never hold more than the limit (plus one byte) of inflated data for a message.
"""

from __future__ import annotations

import zlib

import pytest
from wsproto.frame_protocol import CloseReason, FrameProtocol, ParseFailed

from sockio_wsgi.engine.wsproto_connection import BoundedDeflate


def compressed_frame(data: bytes) -> bytes:
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    payload = (compressor.compress(data) + compressor.flush(zlib.Z_SYNC_FLUSH))[:-4]
    length = len(payload)
    assert 126 <= length < 65536
    mask = b"\x00\x00\x00\x00"  # XOR with zeros: the payload stays as it is
    return bytes([0xC1, 0x80 | 126]) + length.to_bytes(2, "big") + mask + payload


def negotiated(limit: int) -> tuple[BoundedDeflate, FrameProtocol]:
    extension = BoundedDeflate(limit)
    assert extension.accept("permessage-deflate") is not None
    return extension, FrameProtocol(client=False, extensions=[extension])


def test_bomb_stops_at_the_limit() -> None:
    extension, proto = negotiated(10_000)
    inflated: list[int] = []
    original = extension._inflate

    def spy(data: bytes) -> bytes | CloseReason:
        result = original(data)
        if isinstance(result, bytes):
            inflated.append(len(result))
        return result

    extension._inflate = spy  # type: ignore[method-assign]
    proto.receive_bytes(compressed_frame(b"\x00" * 20_000_000))
    with pytest.raises(ParseFailed) as failure:
        list(proto.received_frames())
    assert failure.value.code is CloseReason.MESSAGE_TOO_BIG
    assert extension._inflated <= 10_001
    assert sum(inflated) <= 10_001


def test_messages_under_the_limit_inflate_with_context_takeover() -> None:
    extension, proto = negotiated(10_000)
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    for _ in range(3):
        text = b"hello deflate " * 500  # 7000 bytes
        payload = (compressor.compress(text) + compressor.flush(zlib.Z_SYNC_FLUSH))[:-4]
        head = bytes([0xC1, 0x80 | len(payload)]) if len(payload) < 126 else None
        if head is None:
            head = bytes([0xC1, 0x80 | 126]) + len(payload).to_bytes(2, "big")
        proto.receive_bytes(head + b"\x00\x00\x00\x00" + payload)
        [frame] = list(proto.received_frames())
        assert frame.payload == text.decode()
        assert extension._inflated == 0  # counted per message
