"""Raw Engine.IO clients for integration tests where the bytes on the wire matter.

``request`` sends one plain HTTP request; ``Polling`` is an Engine.IO long-polling session
spoken by hand; ``RawWebSocket`` is a wsproto client over a plain socket. Every read has a
timeout, so a server that never answers fails the test instead of hanging it.
``EngineRecorder`` registers handlers on an ``EngineServer`` and lets a test wait for
what they saw.
"""

from __future__ import annotations

import base64
import contextlib
import http.client
import json
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import gevent
import gevent.event
import gevent.queue
import pytest
from wsproto import ConnectionType, WSConnection
from wsproto.connection import ConnectionState
from wsproto.events import (
    AcceptConnection,
    BytesMessage,
    CloseConnection,
    Message,
    Ping,
    Pong,
    RejectConnection,
    RejectData,
    Request,
    TextMessage,
)
from wsproto.extensions import Extension, PerMessageDeflate
from wsproto.frame_protocol import CloseReason, FrameDecoder, FrameProtocol, Opcode, RsvBits

import sockio_wsgi

TIMEOUT = 5.0
SEP = "\x1e"
Address = tuple[str, int]


# -- plain HTTP ------------------------------------------------------------------------


@dataclass
class HTTPResult:
    status: int
    headers: dict[str, str]
    body: bytes
    header_list: list[tuple[str, str]] = field(default_factory=list)

    @property
    def text(self) -> str:
        return self.body.decode("utf-8")

    def json(self) -> Any:
        return json.loads(self.body)

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


def request(
    address: Address,
    method: str,
    target: str,
    body: bytes | str | None = None,
    headers: dict[str, str] | None = None,
    timeout: float = TIMEOUT,
) -> HTTPResult:
    """One HTTP request on a fresh connection; the whole exchange is bounded by ``timeout``."""
    conn = http.client.HTTPConnection(*address, timeout=timeout)
    try:
        data = body.encode("utf-8") if isinstance(body, str) else body
        conn.request(method, target, body=data, headers=headers or {})
        resp = conn.getresponse()
        payload = resp.read()
        pairs = resp.getheaders()
        return HTTPResult(resp.status, {k.lower(): v for k, v in pairs}, payload, pairs)
    finally:
        conn.close()


def eio_target(path: str = "/socket.io/", **query: str) -> str:
    """An Engine.IO URL: ``EIO=4`` unless overridden, plus the other query keys."""
    params = {"EIO": "4", **query}
    return f"{path}?{urlencode({k: v for k, v in params.items() if v is not None})}"


def split_payload(body: str) -> list[str]:
    """A polling payload's packets as text (binary ones still ``b<base64>``)."""
    return body.split(SEP) if body else []


def decode_packet(text: str) -> str | bytes:
    """``b<base64>`` to bytes, anything else as is."""
    return base64.b64decode(text[1:]) if text.startswith("b") else text


def binary_packet(data: bytes) -> str:
    return "b" + base64.b64encode(data).decode("ascii")


def parse_open(packet: str) -> dict[str, Any]:
    assert packet.startswith("0"), packet
    result: dict[str, Any] = json.loads(packet[1:])
    return result


# -- long polling ----------------------------------------------------------------------


class Polling:
    """An Engine.IO v4 polling session driven by hand."""

    def __init__(
        self, address: Address, path: str = "/socket.io/", headers: dict[str, str] | None = None
    ) -> None:
        self.address = address
        self.path = path
        self.headers = headers or {}
        self.sid = ""
        self.handshake: dict[str, Any] = {}
        self.handshake_response: HTTPResult | None = None

    def target(self) -> str:
        return eio_target(self.path, transport="polling", sid=self.sid)

    def open(self) -> dict[str, Any]:
        resp = request(
            self.address, "GET", eio_target(self.path, transport="polling"), headers=self.headers
        )
        assert resp.status == 200, (resp.status, resp.body)
        self.handshake_response = resp
        packets = split_payload(resp.text)
        assert len(packets) == 1, packets
        self.handshake = parse_open(packets[0])
        self.sid = self.handshake["sid"]
        return self.handshake

    def get_raw(self, timeout: float = TIMEOUT) -> HTTPResult:
        return request(self.address, "GET", self.target(), headers=self.headers, timeout=timeout)

    def get(self, timeout: float = TIMEOUT) -> list[str]:
        """One poll: the packets of a 200 response."""
        resp = self.get_raw(timeout)
        assert resp.status == 200, (resp.status, resp.body)
        return split_payload(resp.text)

    def post_raw(self, body: str | bytes, timeout: float = TIMEOUT) -> HTTPResult:
        headers = {"Content-Type": "text/plain;charset=UTF-8", **self.headers}
        return request(self.address, "POST", self.target(), body, headers, timeout)

    def post(self, *packets: str) -> None:
        resp = self.post_raw(SEP.join(packets))
        assert resp.status == 200, (resp.status, resp.body)
        assert resp.body == b"ok"

    def get_until(self, wanted: str, timeout: float = TIMEOUT) -> list[str]:
        """Poll until ``wanted`` arrives; return every packet seen up to and with it."""
        seen: list[str] = []
        with gevent.Timeout(timeout, AssertionError(f"no {wanted!r}; saw {seen}")):
            while wanted not in seen:
                seen += self.get(timeout)
        return seen


def open_polling(address: Address, path: str = "/socket.io/", **kwargs: Any) -> Polling:
    client = Polling(address, path, **kwargs)
    client.open()
    return client


# -- WebSocket -------------------------------------------------------------------------


class WebSocketRejected(Exception):
    """The server answered the upgrade request with an HTTP response."""

    def __init__(self, status: int, headers: dict[str, str], body: bytes) -> None:
        super().__init__(f"upgrade refused with HTTP {status}: {body!r}")
        self.status = status
        self.headers = headers
        self.body = body

    def json(self) -> Any:
        return json.loads(self.body)


class WebSocketClosed(Exception):
    """The server closed the connection (``code`` is None when it just dropped it)."""

    def __init__(self, code: int | None, reason: str = "") -> None:
        super().__init__(f"WebSocket closed: {code} {reason}")
        self.code = code
        self.reason = reason


class RawWebSocket:
    """A wsproto client WebSocket over a plain socket; every read times out."""

    def __init__(self, sock: socket.socket, conn: WSConnection, timeout: float) -> None:
        self.sock = sock
        self.conn = conn
        self.timeout = timeout
        self._messages: list[str | bytes] = []
        self._parts: list[Any] = []
        self.close_code: int | None = None
        self.closed = False
        self.pongs: list[bytes] = []
        self.extensions: list[Extension] = []

    @classmethod
    def connect(
        cls,
        address: Address,
        target: str,
        headers: dict[str, str] | None = None,
        timeout: float = TIMEOUT,
        extensions: list[Extension] | None = None,
    ) -> RawWebSocket:
        sock = socket.create_connection(address, timeout=timeout)
        conn = WSConnection(ConnectionType.CLIENT)
        extra = [(k.encode(), v.encode()) for k, v in (headers or {}).items()]
        host = f"{address[0]}:{address[1]}"
        offer = Request(host=host, target=target, extra_headers=extra, extensions=extensions or [])
        sock.sendall(conn.send(offer))
        ws = cls(sock, conn, timeout)
        try:
            ws._await_handshake()
        except BaseException:
            sock.close()
            raise
        return ws

    def _await_handshake(self) -> None:
        status = 0
        headers: dict[str, str] = {}
        body = b""
        while True:
            data = self.sock.recv(65536)
            if not data:
                if status:
                    raise WebSocketRejected(status, headers, body)
                raise WebSocketClosed(None, "connection dropped during handshake")
            self.conn.receive_data(data)
            for event in self.conn.events():
                if isinstance(event, AcceptConnection):
                    self.extensions = list(event.extensions)
                    # frames sent right after the 101 may already be buffered in wsproto
                    self._handle_events()
                    return
                if isinstance(event, RejectConnection):
                    status = event.status_code
                    headers = {k.decode().lower(): v.decode() for k, v in event.headers}
                    if not event.has_body:
                        raise WebSocketRejected(status, headers, body)
                elif isinstance(event, RejectData):
                    body += event.data
                    if event.body_finished:
                        raise WebSocketRejected(status, headers, body)
                elif isinstance(event, Message):
                    self._collect(event)

    def _collect(self, event: Message[Any]) -> None:
        self._parts.append(event.data)
        if event.message_finished:
            parts, self._parts = self._parts, []
            if isinstance(event, TextMessage):
                self._messages.append("".join(parts))
            else:
                self._messages.append(b"".join(bytes(p) for p in parts))

    def _handle_events(self) -> None:
        for event in self.conn.events():
            if isinstance(event, Message):
                self._collect(event)
            elif isinstance(event, Ping):
                self.sock.sendall(self.conn.send(event.response()))
            elif isinstance(event, Pong):
                self.pongs.append(bytes(event.payload))
            elif isinstance(event, CloseConnection):
                self.close_code = event.code
                if self.conn.state is ConnectionState.REMOTE_CLOSING:
                    with contextlib.suppress(OSError):
                        self.sock.sendall(self.conn.send(event.response()))
                self.closed = True

    def recv(self, timeout: float | None = None) -> str | bytes:
        """The next whole message; ``WebSocketClosed`` once the server closed."""
        deadline = timeout if timeout is not None else self.timeout
        with gevent.Timeout(deadline, TimeoutError(f"no WebSocket message in {deadline}s")):
            while not self._messages:
                if self.closed:
                    raise WebSocketClosed(self.close_code)
                try:
                    data = self.sock.recv(65536)
                except ConnectionError:
                    data = b""
                if not data:
                    self.closed = True
                    continue
                self.conn.receive_data(data)
                self._handle_events()
        return self._messages.pop(0)

    def recv_until_closed(self, timeout: float | None = None) -> list[str | bytes]:
        """Every message until the server closes; returns them (close code in ``close_code``)."""
        seen: list[str | bytes] = []
        while True:
            try:
                seen.append(self.recv(timeout))
            except WebSocketClosed:
                return seen

    def recv_answering_pings(self, timeout: float | None = None) -> str | bytes:
        """The next message that is not an Engine.IO PING; each PING is answered."""
        while True:
            message = self.recv(timeout)
            if message != "2":
                return message
            self.send("3")

    def send(self, data: str | bytes) -> None:
        message = TextMessage(data=data) if isinstance(data, str) else BytesMessage(data=data)
        self.sock.sendall(self.conn.send(message))

    def send_raw(self, data: bytes) -> None:
        """Bytes straight onto the socket, bypassing wsproto (for invalid frames)."""
        self.sock.sendall(data)

    def close(self) -> None:
        try:
            if self.conn.state is ConnectionState.OPEN:
                self.sock.sendall(self.conn.send(CloseConnection(code=1000)))
        except OSError:
            pass
        finally:
            self.sock.close()


class RecordingDeflate(PerMessageDeflate):
    """Client permessage-deflate that records, for each data message received, whether it
    came compressed (RSV1 set on its first frame): the wire, not just the decoded text."""

    def __init__(self) -> None:
        super().__init__()
        self.compressed: list[bool] = []

    def frame_inbound_header(
        self,
        proto: FrameDecoder | FrameProtocol,
        opcode: Opcode,
        rsv: RsvBits,
        payload_length: int,
    ) -> CloseReason | RsvBits:
        if opcode in (Opcode.TEXT, Opcode.BINARY):
            self.compressed.append(rsv.rsv1)
        return super().frame_inbound_header(proto, opcode, rsv, payload_length)


@contextmanager
def websocket(
    address: Address, target: str, headers: dict[str, str] | None = None
) -> Iterator[RawWebSocket]:
    ws = RawWebSocket.connect(address, target, headers)
    try:
        yield ws
    finally:
        ws.close()


def masked_frame(opcode: int, payload: bytes, *, fin: bool = True, rsv: int = 0) -> bytes:
    """A client frame built by hand (payload under 126 bytes), for malformed-input tests."""
    assert len(payload) < 126
    mask = b"\x01\x02\x03\x04"
    first = (0x80 if fin else 0) | (rsv << 4) | opcode
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return bytes([first, 0x80 | len(payload)]) + mask + masked


# -- as the protocols' reference test suites set a server up --------------------------

#: pingInterval 300 ms, pingTimeout 200 ms, maxPayload 1e6, as the reference suites expect
SUITE_OPTIONS: dict[str, Any] = {
    "ping_interval": 0.3,
    "ping_timeout": 0.2,
    "max_http_buffer_size": 1_000_000,
}

#: queries whose ``EIO`` or ``transport`` is missing or not valid (``None`` drops a key)
BAD_HANDSHAKE_QUERIES: dict[str, dict[str, Any]] = {
    "no EIO": {"EIO": None, "transport": "polling"},
    "EIO=abc": {"EIO": "abc", "transport": "polling"},
    "no transport": {},
    "transport=abc": {"transport": "abc"},
}


def assert_suite_handshake(info: dict[str, Any], upgrades: list[str]) -> None:
    """The OPEN packet's fields are exactly those a server with ``SUITE_OPTIONS`` sends."""
    assert set(info) == {"sid", "upgrades", "pingInterval", "pingTimeout", "maxPayload"}
    assert isinstance(info["sid"], str) and info["sid"]
    assert info["upgrades"] == upgrades
    assert (info["pingInterval"], info["pingTimeout"]) == (300, 200)
    assert info["maxPayload"] == 1_000_000


def assert_bad_handshakes_refused(address: Address, path: str) -> None:
    """A handshake without ``EIO=4`` or a known ``transport`` is refused with HTTP 400, over
    polling and as a WebSocket upgrade; so is a polling handshake by POST or PUT."""
    for name, query in BAD_HANDSHAKE_QUERIES.items():
        resp = request(address, "GET", eio_target(path, **query))
        assert resp.status == 400, (name, resp.body)
        assert set(resp.json()) == {"code", "message"}, name
        if query.get("transport") == "polling":
            query = {**query, "transport": "websocket"}
        try:
            RawWebSocket.connect(address, eio_target(path, **query)).close()
        except WebSocketRejected as refused:
            assert refused.status == 400, name
        else:
            raise AssertionError(f"WebSocket handshake with {name} accepted")
    for method in ("POST", "PUT"):
        resp = request(address, method, eio_target(path, transport="polling"), body="")
        assert resp.status == 400, (method, resp.body)


def assert_gone_after_ping_deadline(client: Polling) -> None:
    """``client`` (just opened, silent since) is gone pingInterval + pingTimeout after its
    handshake: its ping goes out at 300 ms and the pong is due 200 ms later. A client has
    only the clock to go by, so this sleeps until then, plus 100 ms for the server's
    timers to fire, and polls: the GET is refused at once, with no CLOSE packet first."""
    opened = time.monotonic()
    gevent.sleep(max(0.0, opened + 0.3 + 0.2 + 0.1 - time.monotonic()))
    poll = client.get_raw()
    assert poll.status == 400, poll.body
    assert poll.json() == {"code": 1, "message": "Session ID unknown"}


def assert_upgraded_sid_refuses_polling_and_websockets(
    eio: sockio_wsgi.EngineServer, address: Address, client: Polling
) -> RawWebSocket:
    """Upgrade ``client`` with the probe and upgrade packets sent back to back (a client may
    send the upgrade packet before the probe reply), then check that its sid refuses
    polling (HTTP 400) and closes a second WebSocket. Returns the upgraded WebSocket."""
    ws = probe_websocket(address, client.path, client.sid, pipelined=True)
    try:
        wait_upgraded(eio, client.sid)
        poll = client.get_raw()
        assert poll.status == 400
        assert poll.json() == {"code": 3, "message": "Bad request"}
        second = RawWebSocket.connect(
            address, eio_target(client.path, transport="websocket", sid=client.sid)
        )
        try:
            with pytest.raises(WebSocketClosed):
                second.recv()
        finally:
            second.close()
    except BaseException:
        ws.close()
        raise
    return ws


def probe_websocket(address: Address, path: str, sid: str, pipelined: bool = False) -> RawWebSocket:
    """A WebSocket for session ``sid`` whose upgrade probe the server has answered.

    ``pipelined`` sends the upgrade packet right after the probe, before the probe reply
    is read (a client may), so the upgrade is complete or about to be."""
    ws = RawWebSocket.connect(address, eio_target(path, transport="websocket", sid=sid))
    try:
        ws.send("2probe")
        if pipelined:
            ws.send("5")
        assert ws.recv() == "3probe"
    except BaseException:
        ws.close()
        raise
    return ws


def wait_upgraded(eio: sockio_wsgi.EngineServer, sid: str, timeout: float = TIMEOUT) -> None:
    """Wait until session ``sid`` runs on its WebSocket (no event exists for it)."""
    with gevent.Timeout(timeout, AssertionError(f"{sid} not upgraded within {timeout}s")):
        while eio.sockets[sid].transport != "websocket":
            gevent.sleep(0.005)


# -- server side -----------------------------------------------------------------------


class EngineRecorder:
    """Handlers for an ``EngineServer`` that record what they saw, with waitable events."""

    def __init__(self, eio: sockio_wsgi.EngineServer, echo: bool = False) -> None:
        self.eio = eio
        self.echo = echo
        self.connected: list[str] = []
        self.environs: dict[str, dict[str, Any]] = {}
        self.messages: gevent.queue.Queue[tuple[str, str | bytes]] = gevent.queue.Queue()
        self.disconnects: dict[str, str] = {}
        self._connect_events: dict[str, gevent.event.Event] = {}
        self._disconnect_events: dict[str, gevent.event.Event] = {}
        eio.on("connect", self._on_connect)
        eio.on("message", self._on_message)
        eio.on("disconnect", self._on_disconnect)

    def _on_connect(self, sid: str, environ: dict[str, Any]) -> None:
        self.connected.append(sid)
        self.environs[sid] = environ

    def _on_message(self, sid: str, data: str | bytes) -> None:
        self.messages.put((sid, data))
        if self.echo:
            self.eio.send(sid, data)

    def _on_disconnect(self, sid: str, reason: str) -> None:
        self.disconnects[sid] = reason
        self._disconnect_event(sid).set()

    def _disconnect_event(self, sid: str) -> gevent.event.Event:
        return self._disconnect_events.setdefault(sid, gevent.event.Event())

    def next_message(self, timeout: float = TIMEOUT) -> tuple[str, str | bytes]:
        try:
            return self.messages.get(timeout=timeout)
        except gevent.queue.Empty:
            raise AssertionError(f"no message within {timeout}s") from None

    def wait_disconnect(self, sid: str, timeout: float = TIMEOUT) -> str:
        """The reason the session ended; fails if it does not end within ``timeout``."""
        if not self._disconnect_event(sid).wait(timeout):
            raise AssertionError(f"session {sid} still open after {timeout}s")
        return self.disconnects[sid]

    def is_disconnected(self, sid: str) -> bool:
        return sid in self.disconnects


@dataclass
class EngineHarness:
    """A running ``EngineServer`` behind ``WSGIApp`` with a recorder on its handlers."""

    eio: sockio_wsgi.EngineServer
    recorder: EngineRecorder
    address: Address

    @property
    def port(self) -> int:
        return self.address[1]

    def polling(self, **kwargs: Any) -> Polling:
        return open_polling(self.address, self.eio.path, **kwargs)

    def websocket(
        self,
        headers: dict[str, str] | None = None,
        extensions: list[Extension] | None = None,
        **query: str,
    ) -> RawWebSocket:
        query.setdefault("transport", "websocket")
        target = eio_target(self.eio.path, **query)
        return RawWebSocket.connect(self.address, target, headers, extensions=extensions)

    def open_websocket(self) -> tuple[RawWebSocket, str]:
        """A WebSocket-only session: the socket, its OPEN read, and the session's sid."""
        ws = self.websocket()
        first = ws.recv()
        assert isinstance(first, str)
        return ws, parse_open(first)["sid"]

    def wait_polling(self, sid: str, timeout: float = TIMEOUT) -> None:
        wait_polling(self.eio, sid, timeout)


def wait_polling(eio: sockio_wsgi.EngineServer, sid: str, timeout: float = TIMEOUT) -> None:
    """Wait until a GET of ``sid`` is parked on the server (no event exists for it)."""
    with gevent.Timeout(timeout, AssertionError(f"no pending GET for {sid}")):
        while not eio.sockets[sid].session.poll_active:
            gevent.sleep(0.005)


@contextmanager
def serving_engine(
    echo: bool = False, other_app: Any = None, handler_class: Any = None, **options: Any
) -> Iterator[EngineHarness]:
    """Serve a fresh ``EngineServer(**options)`` on an ephemeral port.

    ``handler_class`` swaps our pywsgi handler for another (gevent-websocket's)."""
    from gevent import pywsgi

    from tests.helpers.server import serving

    eio = sockio_wsgi.EngineServer(**options)
    recorder = EngineRecorder(eio, echo=echo)
    app = sockio_wsgi.WSGIApp(eio, other_app)
    if handler_class is None:
        with serving(app) as running:
            try:
                yield EngineHarness(eio, recorder, running.address)
            finally:
                eio.close()
        return
    server = pywsgi.WSGIServer(("127.0.0.1", 0), app, handler_class=handler_class, log=None)
    server.start()
    try:
        yield EngineHarness(eio, recorder, ("127.0.0.1", server.server_port))
    finally:
        eio.close()
        server.stop(timeout=2)
