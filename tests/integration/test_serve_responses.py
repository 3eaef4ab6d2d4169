"""Responses written by ``serve``'s handler (pywsgi's, with a small body sent in the same
write as its head and a cached ``Date``), through a real server and raw keep-alive
connections."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from email.utils import parsedate_to_datetime
from typing import Any

import gevent
import gevent.pool
import pytest

import sockio_wsgi.runtime
from sockio_wsgi.serve import SMALL_BODY
from tests.helpers.server import Running, serving

BIG = b"x" * (SMALL_BODY * 3 + 17)


def app(environ: dict[str, Any], start_response: Any) -> Any:
    path = environ["PATH_INFO"]
    if path == "/small":
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "5")])
        return [b"hello"]
    if path == "/big":
        start_response("200 OK", [("Content-Length", str(len(BIG)))])
        return [BIG]
    if path == "/chunked":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return iter([b"first,", BIG, b",last"])
    if path == "/dated":
        start_response(
            "200 OK", [("Date", "Thu, 01 Jan 2015 00:00:00 GMT"), ("Content-Length", "0")]
        )
        return [b""]
    if path == "/greenlet":
        greenlets.append(gevent.getcurrent())
        start_response("200 OK", [("Content-Length", "0")])
        return [b""]
    start_response("204 No Content", [])
    return []


greenlets: list[Any] = []


@pytest.fixture
def running() -> Iterator[Running]:
    with serving(app) as server:
        yield server


class Response:
    def __init__(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
        self.status = status
        self.headers = headers
        self.body = body

    def header(self, name: str) -> list[str]:
        return [v for k, v in self.headers if k.lower() == name.lower()]


class KeepAlive:
    """A raw HTTP/1.1 client reading Content-Length and chunked responses."""

    def __init__(self, running: Running) -> None:
        self.conn = socket.create_connection(running.address, timeout=5)
        self.buffer = b""

    def _fill(self) -> None:
        chunk = self.conn.recv(65536)
        if not chunk:
            raise ConnectionError("server closed the connection")
        self.buffer += chunk

    def _take(self, count: int) -> bytes:
        while len(self.buffer) < count:
            self._fill()
        data, self.buffer = self.buffer[:count], self.buffer[count:]
        return data

    def _line(self) -> bytes:
        while b"\r\n" not in self.buffer:
            self._fill()
        line, _, self.buffer = self.buffer.partition(b"\r\n")
        return line

    def get(self, path: str) -> Response:
        self.conn.sendall(f"GET {path} HTTP/1.1\r\nHost: test\r\n\r\n".encode())
        status = int(self._line().split()[1])
        headers = []
        while line := self._line():
            name, _, value = line.decode("latin-1").partition(":")
            headers.append((name, value.strip()))
        response = Response(status, headers, b"")
        if response.header("Transfer-Encoding") == ["chunked"]:
            while size := int(self._line(), 16):
                response.body += self._take(size)
                assert self._take(2) == b"\r\n"
            assert self._line() == b""
        elif response.header("Content-Length"):
            response.body = self._take(int(response.header("Content-Length")[0]))
        return response

    def close(self) -> None:
        self.conn.close()


def test_responses_on_one_keep_alive_connection(running: Running) -> None:
    client = KeepAlive(running)
    try:
        for path in ["/small", "/big", "/chunked", "/empty", "/small"]:
            response = client.get(path)
            expected = {
                "/small": (200, b"hello"),
                "/big": (200, BIG),
                "/chunked": (200, b"first," + BIG + b",last"),
                "/empty": (204, b""),
            }[path]
            assert (response.status, response.body) == expected, path
            (date,) = response.header("Date")  # one, and the current time
            assert abs(parsedate_to_datetime(date).timestamp() - time.time()) < 5
    finally:
        client.close()


def test_an_application_date_is_kept(running: Running) -> None:
    client = KeepAlive(running)
    try:
        assert client.get("/dated").header("Date") == ["Thu, 01 Jan 2015 00:00:00 GMT"]
    finally:
        client.close()


def test_a_small_body_goes_out_with_its_head(
    running: Running, monkeypatch: pytest.MonkeyPatch
) -> None:
    writes: list[bytes] = []
    real_send_all = sockio_wsgi.runtime.send_all

    def recording_send_all(sock: Any, raw: Any, data: Any) -> None:
        writes.append(bytes(data))
        real_send_all(sock, raw, data)

    monkeypatch.setattr(sockio_wsgi.runtime, "send_all", recording_send_all)
    client = KeepAlive(running)
    try:
        assert client.get("/small").body == b"hello"
        assert len(writes) == 1 and writes[0].endswith(b"\r\n\r\nhello")
        writes.clear()
        assert client.get("/big").body == BIG
        assert len(writes) == 2 and writes[1] == BIG  # a big body is not copied into the head
    finally:
        client.close()


@pytest.mark.parametrize("pool", [False, True])
def test_connections_are_handled_in_plain_new_greenlets_unless_a_pool_is_given(
    pool: bool,
) -> None:
    """make_server's default handles each connection in a new plain greenlet started at
    once (cheaper than a ``gevent.Greenlet``, never one an earlier connection used); a pool
    given as ``spawn`` (as gunicorn's worker gives) is used as given."""
    del greenlets[:]
    options = {"spawn": gevent.pool.Pool(10)} if pool else {}
    with serving(app, **options) as running:
        for _ in range(3):  # one connection after another
            client = KeepAlive(running)
            assert client.get("/greenlet").status == 200
            client.close()
    assert len(greenlets) == 3
    assert len(set(greenlets)) == 3
    assert all(isinstance(g, gevent.Greenlet) == pool for g in greenlets)
