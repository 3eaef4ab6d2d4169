"""The fast path of WebSocket framing: whole, unfragmented data frames, pure and allocation-light.

wsproto frames everything correctly but costs about 9 microseconds per small received frame
in pure Python, more than the rest of an echo round trip. Nearly all Engine.IO traffic is
single-frame text or binary messages, so the connection (``engine/wsproto_connection.py``)
splits the byte stream into frames here, decodes those plain data frames itself, and hands
every other frame (control frames, fragments, compressed or malformed frames) whole to
wsproto, which stays the authority on the rest of RFC 6455.
"""

from __future__ import annotations

from dataclasses import dataclass

FIN_TEXT = 0x81
FIN_BINARY = 0x82
_MASK_BIT = 0x80
_LENGTH_16 = 126
_LENGTH_64 = 127


@dataclass(frozen=True, slots=True)
class FrameHead:
    """Where one complete frame sits in a buffer, and whether it is a plain data frame."""

    end: int  # offset just past the frame
    payload_start: int
    length: int
    plain: bool  # FIN text/binary, masked, no RSV bits: decodable here
    text: bool  # a plain text frame (else plain binary, or not plain)


def frame_head(buf: bytes | bytearray, pos: int) -> FrameHead | int | None:
    """Parse the header at ``pos``: a :class:`FrameHead` when the whole frame is in ``buf``,
    ``None`` when more bytes are needed, or the announced payload length (an ``int``) when the
    header is complete but the frame is not, so callers can refuse oversize frames early."""
    avail = len(buf) - pos
    if avail < 2:
        return None
    b0 = buf[pos]
    b1 = buf[pos + 1]
    length = b1 & 0x7F
    head = 2
    if length == _LENGTH_16:
        if avail < 4:
            return None
        length = int.from_bytes(buf[pos + 2 : pos + 4], "big")
        head = 4
    elif length == _LENGTH_64:
        if avail < 10:
            return None
        length = int.from_bytes(buf[pos + 2 : pos + 10], "big")
        head = 10
        if length >> 63:  # invalid length: wsproto rejects the header by itself
            return FrameHead(pos + head, pos + head, 0, False, False)
    masked = b1 & _MASK_BIT
    if masked:
        head += 4
    end = pos + head + length
    if len(buf) < end:
        return length
    plain = bool(masked) and b0 in (FIN_TEXT, FIN_BINARY)
    return FrameHead(end, pos + head, length, plain, plain and b0 == FIN_TEXT)


def sole_frame(buf: bytes | bytearray, count: int, limit: int) -> bytes | None:
    """The unmasked payload when ``buf[:count]`` is exactly one plain data frame of at most
    ``limit`` (and 65535) bytes, else ``None`` (the caller then splits the stream in full).

    One read holding one whole message is how nearly every message arrives; this decodes it
    straight from the read buffer, with no copy into a stream buffer and no header object.
    Whether it is text is ``buf[0] == FIN_TEXT``."""
    if count < 6:
        return None
    b0 = buf[0]
    b1 = buf[1]
    if b1 < _MASK_BIT or (b0 != FIN_TEXT and b0 != FIN_BINARY):
        return None
    length = b1 & 0x7F
    start = 6
    if length == _LENGTH_16:
        length = (buf[2] << 8) | buf[3]
        start = 8
    elif length == _LENGTH_64:
        return None
    if start + length != count or length > limit:
        return None
    return _unmasked(buf, start, length)


def unmask(buf: bytes | bytearray, head: FrameHead) -> bytes:
    """The payload of a masked frame, unmasked (XOR with the 4-byte key, as one big integer)."""
    return _unmasked(buf, head.payload_start, head.length)


def _unmasked(buf: bytes | bytearray, start: int, length: int) -> bytes:
    """XOR ``length`` bytes at ``start`` with the 4-byte key just before them."""
    if not length:
        return b""
    key = bytes(buf[start - 4 : start]) * (length // 4 + 1)
    payload = int.from_bytes(buf[start : start + length], "little")
    return (payload ^ int.from_bytes(key[:length], "little")).to_bytes(length, "little")


def encode_data_frame(data: str | bytes) -> bytes:
    """One unmasked, unfragmented server frame: text for ``str``, binary for ``bytes``."""
    if isinstance(data, str):
        payload = data.encode("utf-8")
        first = FIN_TEXT
    else:
        payload = data
        first = FIN_BINARY
    length = len(payload)
    if length < _LENGTH_16:
        return bytes((first, length)) + payload
    if length < 65536:
        return bytes((first, _LENGTH_16)) + length.to_bytes(2, "big") + payload
    return bytes((first, _LENGTH_64)) + length.to_bytes(8, "big") + payload
