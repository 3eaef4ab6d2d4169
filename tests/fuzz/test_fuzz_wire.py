"""Fuzz targets of the decoders that face the network in the server: WebSocket frames,
HTTP request heads (through a real server), and messages on the cluster bus.

Whatever arrives, nothing raises past the decoder: a WebSocket closes (or carries on), an
HTTP request gets a 4xx response (never a 500) or a close, and a bus message is ignored
or acted on."""

from __future__ import annotations

import io
import socket
import struct
from collections.abc import Iterator
from typing import Any

import msgpack
import pytest
from hypothesis import given
from hypothesis import strategies as st

import sockio_wsgi
from sockio_wsgi.adapters.local_bus import LocalBus, LocalHub
from sockio_wsgi.engine.wsproto_connection import WsprotoWebSocket
from sockio_wsgi.protocol import wsframes
from sockio_wsgi.serve import RequestHeaders
from tests.fuzz.settings import FUZZ, TIMEOUT, nested_values
from tests.helpers.server import Running, serving

pytestmark = TIMEOUT

# -- WebSocket frames ------------------------------------------------------------------


def client_frame(first: int, payload: bytes, mask: bytes, masked: bool) -> bytes:
    length = len(payload)
    if length < 126:
        head = bytes([first, (0x80 if masked else 0) | length])
    elif length < 65536:
        head = bytes([first, (0x80 if masked else 0) | 126]) + struct.pack("!H", length)
    else:
        head = bytes([first, (0x80 if masked else 0) | 127]) + struct.pack("!Q", length)
    if not masked:
        return head + payload
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


frames = st.builds(
    client_frame,
    st.one_of(
        st.sampled_from([0x81, 0x82, 0x01, 0x02, 0x00, 0x80, 0x88, 0x89, 0x8A, 0xC1]),
        st.integers(0, 255),
    ),
    st.one_of(st.binary(max_size=40), st.text(max_size=20).map(str.encode)),
    st.binary(min_size=4, max_size=4),
    st.sampled_from([True, True, True, False]),  # masked, as a client's must be
)
streams = st.one_of(st.lists(frames, max_size=12).map(b"".join), st.binary(max_size=200))


@FUZZ
@given(streams, st.lists(st.integers(1, 64), min_size=1, max_size=8))
def test_websocket_frames(stream: bytes, cuts: list[int]) -> None:
    server, peer = socket.socketpair()
    try:
        ws = WsprotoWebSocket(server, None, 100, compressed=False)
        pos = 0
        for cut in cuts * (len(stream) // sum(cuts) + 1):
            if pos >= len(stream) or ws._closed:
                break
            ws._buffer += stream[pos : pos + cut]
            pos += cut
            ws._split_frames()
        for message in ws._ready or []:
            assert isinstance(message, (str, bytes)) and len(message) <= 100
    finally:
        server.close()
        peer.close()
    assert wsframes.frame_head(stream, 0) is None or stream
    wsframes.sole_frame(stream, len(stream), 100)


# -- HTTP request heads ----------------------------------------------------------------

HEADER_PIECES = [*"aZ-_:; \t\r\n\x00\x7f\xe9/?=&%0", "Host", "Content-Length: 3", "Connection"]
header_lines = st.lists(
    st.lists(st.sampled_from(HEADER_PIECES), max_size=12).map("".join), max_size=8
).map(lambda lines: "".join(line + "\r\n" for line in lines).encode("latin-1"))
request_lines = st.one_of(
    st.sampled_from([b"GET / HTTP/1.1\r\n", b"POST /x?y=1 HTTP/1.0\r\n", b"GET /\r\n"]),
    st.binary(max_size=40).map(lambda b: b + b"\r\n"),
)
heads = st.one_of(
    st.builds(lambda line, headers: line + headers + b"\r\n", request_lines, header_lines),
    st.binary(max_size=200),
)


@FUZZ
@given(heads)
def test_request_headers_parse(head: bytes) -> None:
    headers = RequestHeaders(io.BytesIO(head))
    if not headers.status:  # accepted: every value is clean
        for name, value in headers.items():
            assert name and value == value.strip(" \t")
            assert not any(c in value for c in "\r\n\x00")


def reflecting_app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    """Echoes a request header in a response header: what turned bad input into a 500."""
    start_response("200 OK", [("X-Echo", environ.get("HTTP_X", "none"))])
    return [b"ok"]


@pytest.fixture(scope="module")
def running() -> Iterator[Running]:
    with serving(reflecting_app, header_timeout=5, body_timeout=5, keepalive_timeout=5) as run:
        yield run


@FUZZ
@given(st.one_of(heads, header_lines.map(lambda h: b"GET / HTTP/1.1\r\nX: " + h + b"\r\n")))
def test_http_heads_through_a_server(running: Running, head: bytes) -> None:
    with socket.create_connection(running.address, timeout=10) as sock:
        try:
            sock.sendall(head)
            sock.shutdown(socket.SHUT_WR)
            received = b""
            while chunk := sock.recv(65536):
                received += chunk
        except ConnectionResetError:
            return  # the server closed while bytes were still coming: a clean refusal
    if received:
        assert received.startswith((b"HTTP/1.1 ", b"HTTP/1.0 ")), received[:80]
        assert received[9:12] != b"500", received[:200]


# -- cluster bus messages ----------------------------------------------------------------


@pytest.fixture(scope="module")
def adapter() -> Iterator[sockio_wsgi.RedisAdapter]:
    hub = LocalHub()
    sio = sockio_wsgi.Server(
        adapter=sockio_wsgi.RedisAdapter.factory(bus=LocalBus(hub, "fuzz"), request_timeout=0.2)
    )
    adapter = sio.of("/").adapter
    assert isinstance(adapter, sockio_wsgi.RedisAdapter)
    yield adapter
    sio.close()


wire_values = nested_values(st.text(max_size=8))
requests = st.fixed_dictionaries(
    {"type": st.integers(-1, 12), "uid": st.sampled_from(["other", "x"])},
    optional={
        "requestId": st.text(max_size=6),
        "opts": wire_values,
        "rooms": wire_values,
        "packet": wire_values,
        "data": wire_values,
        "close": wire_values,
        "sid": wire_values,
    },
)
broadcasts = st.tuples(st.just("other"), wire_values, wire_values).map(list)
payloads = st.one_of(requests, broadcasts, wire_values).map(
    lambda v: msgpack.packb(v, use_bin_type=True)
) | st.binary(max_size=60)


@FUZZ
@given(st.sampled_from(["request", "response", "broadcast"]), payloads)
def test_cluster_bus_messages(adapter: sockio_wsgi.RedisAdapter, kind: str, payload: bytes) -> None:
    channels = adapter.channels
    channel = {
        "request": channels.request,
        "response": channels.response,
        "broadcast": channels.broadcast,
    }[kind]
    adapter._on_message(channel, payload)  # returns, whatever the message
