"""Request heads read by ``serve``'s own header reader, through a real server."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import pytest

from sockio_wsgi.serve import MAX_HEADERS, RequestHeaders
from tests.helpers.server import Running, serving

Seen = list[dict[str, Any]]


def app(seen: Seen) -> Any:
    def wsgi(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        body = environ["wsgi.input"].read()
        seen.append({**{k: v for k, v in environ.items() if k.isupper()}, "body": body})
        start_response("200 OK", [("Content-Length", "2")])
        return [b"ok"]

    return wsgi


@pytest.fixture
def server() -> Iterator[tuple[Running, Seen]]:
    seen: Seen = []
    with serving(app(seen)) as running:
        yield running, seen


def exchange(running: Running, head: bytes) -> bytes:
    with socket.create_connection(running.address, timeout=5) as conn:
        conn.sendall(head)
        reply = b""
        while b"\r\n\r\n" not in reply:
            chunk = conn.recv(4096)
            if not chunk:
                break
            reply += chunk
        return reply


def environ_of(server: tuple[Running, Seen], head: bytes) -> dict[str, Any]:
    """The environ the app saw for one request (answered 200)."""
    running, seen = server
    assert exchange(running, head).startswith(b"HTTP/1.1 200")
    return seen[0]


def test_headers_reach_the_environ(server: tuple[Running, Seen]) -> None:
    environ = environ_of(
        server,
        b"POST /x?a=1 HTTP/1.1\r\nHost: h\r\nX-Thing:  spaced  \r\nX-Folded: one\r\n two\r\n"
        b"Content-Type: text/plain\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc",
    )
    assert environ["HTTP_X_THING"] == "spaced"
    assert environ["HTTP_X_FOLDED"].split() == ["one", "two"]
    assert environ["CONTENT_TYPE"] == "text/plain"
    assert environ["CONTENT_LENGTH"] == "3"
    assert environ["QUERY_STRING"] == "a=1"
    assert environ["body"] == b"abc"


def test_environ_keys_as_pywsgi_makes_them(server: tuple[Running, Seen]) -> None:
    """Repeated headers are joined (cookies with "; "), names with an underscore are
    dropped (they could pass for another header), HTTP/1.0 is served."""
    environ = environ_of(
        server,
        b"GET / HTTP/1.0\r\nHost: h\r\nX-Many: 1\r\nX-Many: 2\r\nCookie: a=1\r\n"
        b"Cookie: b=2\r\nX_Sneaky: no\r\nX-Dash-Name: yes\r\n\r\n",
    )
    assert environ["HTTP_X_MANY"] == "1,2"
    assert environ["HTTP_COOKIE"] == "a=1; b=2"
    assert environ["HTTP_X_DASH_NAME"] == "yes"
    assert "HTTP_X_SNEAKY" not in environ
    assert environ["SERVER_PROTOCOL"] == "HTTP/1.0"


@pytest.mark.parametrize(
    ("head", "closes"),
    [
        (b"GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n", True),
        (b"GET / HTTP/1.1\r\nHost: h\r\n\r\n", False),
    ],
    ids=["close asked", "keep-alive"],
)
def test_a_connection_closed_after_the_response_is_announced(
    server: tuple[Running, Seen], head: bytes, closes: bool
) -> None:
    """An HTTP/1.1 request that asks for ``Connection: close`` gets it in the response
    (RFC 9112, 9.6) and the connection is then closed; a client that pools connections,
    as Node's http agent does, would otherwise reuse it. Others stay open, unannounced."""
    running, _ = server
    with socket.create_connection(running.address, timeout=5) as conn:
        conn.sendall(head)
        reply = b""
        while b"ok" not in reply:
            chunk = conn.recv(4096)
            assert chunk, reply
            reply += chunk
        assert (b"\r\nConnection: close\r\n" in reply) is closes
        if closes:
            assert conn.recv(4096) == b""  # the server closed it
        else:
            conn.sendall(head)
            assert conn.recv(4096).startswith(b"HTTP/1.1 200")


@pytest.mark.parametrize("version", [b"HTTP/2.0", b"HTTP/0.8", b"HTTX/1.1"])
def test_unsupported_http_versions_get_400(server: tuple[Running, Seen], version: bytes) -> None:
    running, seen = server
    assert exchange(running, b"GET / " + version + b"\r\nHost: h\r\n\r\n").startswith(
        b"HTTP/1.1 400"
    )
    assert seen == []


def test_chunked_bodies_still_work(server: tuple[Running, Seen]) -> None:
    running, seen = server
    reply = exchange(
        running,
        b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nContent-Length: 99\r\n"
        b"Connection: close\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
    )
    assert reply.startswith(b"HTTP/1.1 200")
    assert seen[0]["body"] == b"abc"


@pytest.mark.parametrize(
    "head",
    [
        b"GET / HTTP/1.1\r\nno colon here\r\n\r\n",
        b"GET / HTTP/1.1\r\n"
        + b"".join(b"X-%d: v\r\n" % i for i in range(MAX_HEADERS + 1))
        + b"\r\n",
        b"GET / HTTP/1.1\r\nX-Long: " + b"a" * 70000 + b"\r\n\r\n",
    ],
    ids=["no colon", "too many", "too long"],
)
def test_bad_heads_get_400(server: tuple[Running, Seen], head: bytes) -> None:
    running, seen = server
    assert exchange(running, head).startswith(b"HTTP/1.1 400")
    assert seen == []


class Lines:
    def __init__(self, *lines: bytes) -> None:
        self.lines = list(lines)

    def readline(self, limit: int) -> bytes:
        return self.lines.pop(0) if self.lines else b""


def test_lookup_is_case_insensitive_and_delete_removes_every_copy() -> None:
    headers = RequestHeaders(Lines(b"A: 1\r\n", b"b: 2\r\n", b"a: 3\r\n", b"\r\n"))
    assert headers.get("a") == "1" and headers.getheader("B") == "2"
    assert headers.get("missing", "d") == "d"
    del headers["A"]
    assert headers.get("a") is None
    assert headers.headers == ["b: 2\r\n"]
    assert headers.typeheader is None and headers.status == ""
