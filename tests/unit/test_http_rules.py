"""Pure HTTP helpers of the engine: CORS, cookies, query strings, bodies, responses."""

from __future__ import annotations

import io
import logging
from typing import Any
from urllib.parse import parse_qsl

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sockio_wsgi.engine.http import (
    CorsPolicy,
    Response,
    error_response,
    parse_query,
    read_body,
    session_cookie,
    text_response,
)
from sockio_wsgi.protocol.requests import EngineErrorCode

HOST = "example.com:5000"


def env(origin: str | None = None, host: str | None = HOST, **extra: Any) -> dict[str, Any]:
    environ: dict[str, Any] = dict(extra)
    if origin is not None:
        environ["HTTP_ORIGIN"] = origin
    if host is not None:
        environ["HTTP_HOST"] = host
    return environ


# -- CORS: which origins are allowed ----------------------------------------------------


def test_no_origin_header_is_always_allowed() -> None:
    for rule in [None, "*", ["https://a.test"], [], lambda o: False, "https://a.test"]:
        assert CorsPolicy(rule).origin_allowed(env())  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("origin", "allowed"),
    [
        ("http://example.com:5000", True),
        ("http://example.com", False),
        ("http://example.com:5001", False),
        ("http://evil.test", False),
        ("http://example.com:5000.evil.test", False),
        ("null", False),
        ("https://example.com:5000", False),  # the scheme counts too
        ("HTTP://EXAMPLE.COM:5000", True),  # neither is case-sensitive
        ("http://example.com:5000/", False),  # an origin has no path
        ("http://user@example.com:5000", False),
    ],
)
def test_default_is_same_origin_by_scheme_host_and_port(origin: str, allowed: bool) -> None:
    assert CorsPolicy(None).origin_allowed(env(origin)) is allowed


@pytest.mark.parametrize(
    ("origin", "host", "scheme", "allowed"),
    [
        ("https://example.com", "example.com", "https", True),
        ("https://example.com", "example.com:443", "https", True),  # default ports
        ("http://example.com:80", "example.com", "http", True),
        ("http://example.com", "example.com", "https", False),
        ("https://example.com", "example.com", "http", False),
        ("http://[::1]:5000", "[::1]:5000", "http", True),
        ("http://[::1]:5000", "[::1]:5001", "http", False),
    ],
)
def test_same_origin_compares_with_the_requests_scheme(
    origin: str, host: str, scheme: str, allowed: bool
) -> None:
    environ = env(origin, host=host, **{"wsgi.url_scheme": scheme})
    assert CorsPolicy(None).origin_allowed(environ) is allowed


def test_same_origin_behind_a_proxy_takes_its_forwarded_scheme() -> None:
    environ = env("https://example.com", host="example.com", HTTP_X_FORWARDED_PROTO="https")
    assert CorsPolicy(None).origin_allowed(environ)
    environ["HTTP_X_FORWARDED_PROTO"] = "http, https"  # the first proxy's
    assert not CorsPolicy(None).origin_allowed(environ)


def test_same_origin_without_host_header_refuses_browser_origins() -> None:
    policy = CorsPolicy(None)
    assert not policy.origin_allowed(env("http://example.com", host=None))
    assert not policy.origin_allowed(env("null", host=None))


def test_star_allows_any_origin() -> None:
    policy = CorsPolicy("*")
    assert policy.origin_allowed(env("http://anything.test"))
    assert policy.origin_allowed(env("null"))
    assert not policy.disabled


def test_list_of_origins() -> None:
    policy = CorsPolicy(["https://a.test", "https://b.test"])
    assert policy.origin_allowed(env("https://a.test"))
    assert policy.origin_allowed(env("https://b.test"))
    assert not policy.origin_allowed(env("https://c.test"))
    assert not policy.origin_allowed(env("http://a.test"))  # scheme matters
    assert not policy.origin_allowed(env("https://a.test/"))  # exact match only
    # the list replaces the same-origin default
    assert not policy.origin_allowed(env("http://example.com:5000"))


def test_tuple_and_generator_of_origins() -> None:
    assert CorsPolicy(("https://a.test",)).origin_allowed(env("https://a.test"))
    assert CorsPolicy(o for o in ["https://a.test"]).origin_allowed(env("https://a.test"))


def test_single_origin_string() -> None:
    policy = CorsPolicy("https://a.test")
    assert policy.origin_allowed(env("https://a.test"))
    assert not policy.origin_allowed(env("https://a.tes"))  # not a substring test
    assert not policy.origin_allowed(env("a"))


def test_empty_list_disables_checks_and_headers() -> None:
    policy = CorsPolicy([])
    assert policy.disabled
    assert policy.origin_allowed(env("http://evil.test"))
    assert policy.headers(env("http://evil.test")) == []


def test_callable_rule() -> None:
    seen: list[str] = []

    def rule(origin: str) -> bool:
        seen.append(origin)
        return origin.endswith(".good.test")

    policy = CorsPolicy(rule)
    assert policy.origin_allowed(env("https://app.good.test"))
    assert not policy.origin_allowed(env("https://bad.test"))
    assert seen == ["https://app.good.test", "https://bad.test"]


def test_callable_result_is_made_a_bool() -> None:
    assert CorsPolicy(lambda o: 1).origin_allowed(env("x")) is True  # type: ignore[arg-type,return-value]
    assert CorsPolicy(lambda o: None).origin_allowed(env("x")) is False  # type: ignore[arg-type,return-value]


def test_callable_that_raises_denies_and_logs(caplog: pytest.LogCaptureFixture) -> None:
    def rule(origin: str) -> bool:
        raise RuntimeError("boom")

    with caplog.at_level(logging.ERROR, logger="sockio_wsgi.engine"):
        assert CorsPolicy(rule).origin_allowed(env("https://a.test")) is False
    assert any("https://a.test" in r.getMessage() for r in caplog.records)


# -- CORS headers --------------------------------------------------------------------------


def test_listed_origins_are_echoed_with_credentials() -> None:
    assert CorsPolicy(["https://a.test"]).headers(env("https://a.test")) == [
        ("Access-Control-Allow-Origin", "https://a.test"),
        ("Vary", "Origin"),
        ("Access-Control-Allow-Credentials", "true"),
    ]


def test_headers_without_credentials() -> None:
    assert CorsPolicy(["https://a.test"], credentials=False).headers(env("https://a.test")) == [
        ("Access-Control-Allow-Origin", "https://a.test"),
        ("Vary", "Origin"),
    ]


def test_star_is_answered_star_without_credentials() -> None:
    for credentials in (True, False):
        policy = CorsPolicy("*", credentials=credentials)
        assert policy.headers(env("https://a.test")) == [("Access-Control-Allow-Origin", "*")]


def test_no_headers_for_a_refused_origin() -> None:
    assert CorsPolicy(["https://a.test"]).headers(env("https://evil.test")) == []
    assert CorsPolicy(None).headers(env("https://evil.test")) == []
    assert CorsPolicy(None).headers(env("http://example.com:5000")) != []


def test_no_headers_without_origin() -> None:
    assert CorsPolicy("*").headers(env()) == []


def test_headers_never_say_star_with_credentials() -> None:
    for rule in ("*", ["https://a.test"], lambda origin: True):
        headers = dict(CorsPolicy(rule).headers(env("https://a.test")))  # type: ignore[arg-type]
        star = headers["Access-Control-Allow-Origin"] == "*"
        assert not (star and "Access-Control-Allow-Credentials" in headers)


def test_preflight() -> None:
    environ = env("https://a.test", HTTP_ACCESS_CONTROL_REQUEST_HEADERS="X-Token, Content-Type")
    response = CorsPolicy(["https://a.test"]).preflight(environ)
    assert response.status == 204
    assert response.body == b""
    assert response.headers == [
        ("Access-Control-Allow-Origin", "https://a.test"),
        ("Vary", "Origin"),
        ("Access-Control-Allow-Credentials", "true"),
        ("Access-Control-Allow-Methods", "OPTIONS, GET, POST"),
        ("Access-Control-Allow-Headers", "X-Token, Content-Type"),
    ]


def test_preflight_without_requested_headers() -> None:
    response = CorsPolicy("*").preflight(env("https://a.test"))
    assert dict(response.headers) == {
        "Access-Control-Allow-Origin": "*",
        "Access-Control-Allow-Methods": "OPTIONS, GET, POST",
    }


# -- cookie ------------------------------------------------------------------------------


@pytest.mark.parametrize("cookie", [None, "", {}])
def test_no_cookie(cookie: Any) -> None:
    assert session_cookie(cookie, "sid1") == []


def test_cookie_by_name() -> None:
    assert session_cookie("io", "sid1") == [
        ("Set-Cookie", "io=sid1; Path=/; HttpOnly; SameSite=Lax")
    ]


def test_cookie_options() -> None:
    cookie = {"name": "s", "path": "/app", "httpOnly": False, "sameSite": "Strict", "secure": True}
    assert session_cookie(cookie, "x") == [
        ("Set-Cookie", "s=x; Path=/app; SameSite=Strict; Secure")
    ]


def test_cookie_snake_case_options_and_default_name() -> None:
    cookie = {"path": "/", "http_only": False, "same_site": None}
    assert session_cookie(cookie, "x") == [("Set-Cookie", "io=x; Path=/")]


# -- query and body ----------------------------------------------------------------------


def test_parse_query() -> None:
    environ = {"QUERY_STRING": "EIO=4&transport=polling&t=N8hyd6w&sid=a%2Bb&empty="}
    assert parse_query(environ) == {
        "EIO": "4",
        "transport": "polling",
        "t": "N8hyd6w",
        "sid": "a+b",
        "empty": "",
    }


def test_parse_query_first_value_wins() -> None:
    assert parse_query({"QUERY_STRING": "sid=first&sid=second"}) == {"sid": "first"}


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="ab=&%+2B é;", max_size=24))
def test_parse_query_reads_any_query_as_parse_qsl_does(text: str) -> None:
    """The direct split (no ``%`` or ``+``) and parse_qsl agree on every query string."""
    expected: dict[str, str] = {}
    for key, value in parse_qsl(text, keep_blank_values=True):
        expected.setdefault(key, value)
    assert parse_query({"QUERY_STRING": text}) == expected


def test_parse_query_missing_or_empty() -> None:
    assert parse_query({}) == {}
    assert parse_query({"QUERY_STRING": ""}) == {}


def _body_env(body: bytes, length: str | None) -> dict[str, Any]:
    environ: dict[str, Any] = {"wsgi.input": io.BytesIO(body)}
    if length is not None:
        environ["CONTENT_LENGTH"] = length
    return environ


def test_read_body_with_length() -> None:
    assert read_body(_body_env(b"hello", "5"), 10) == b"hello"
    assert read_body(_body_env(b"hello", "5"), 5) == b"hello"
    assert read_body(_body_env(b"", "0"), 5) == b""


def test_read_body_reads_only_content_length() -> None:
    assert read_body(_body_env(b"hello world", "5"), 100) == b"hello"


def test_read_body_over_limit_by_length() -> None:
    assert read_body(_body_env(b"hello", "5"), 4) is None


@pytest.mark.parametrize("length", [None, "", "abc", "-1"])
def test_read_body_without_usable_length(length: str | None) -> None:
    assert read_body(_body_env(b"hello", length), 5) == b"hello"
    assert read_body(_body_env(b"hello", length), 4) is None


def test_read_body_returns_bytes() -> None:
    class Stream:
        def read(self, n: int) -> bytearray:
            return bytearray(b"ab")

    assert type(read_body({"wsgi.input": Stream(), "CONTENT_LENGTH": "2"}, 5)) is bytes


# -- responses -----------------------------------------------------------------------------


def test_error_response() -> None:
    response = error_response(EngineErrorCode.UNKNOWN_TRANSPORT)
    assert response.status == 400
    assert response.body == b'{"code":0,"message":"Transport unknown"}'
    assert response.headers == [("Content-Type", "application/json")]
    assert error_response(EngineErrorCode.FORBIDDEN).status == 403


def test_text_response() -> None:
    response = text_response(200, "ok€")
    assert response.body == "ok€".encode()
    assert response.headers == [("Content-Type", "text/plain; charset=UTF-8")]


def test_response_send() -> None:
    calls: list[tuple[str, list[tuple[str, str]]]] = []

    def start_response(status: str, headers: list[tuple[str, str]]) -> None:
        calls.append((status, headers))

    body = Response(200, b"abc", [("X", "1")]).send(start_response)
    assert body == [b"abc"]
    assert calls == [("200 OK", [("X", "1"), ("Content-Length", "3")])]
    calls.clear()
    Response(204).send(start_response)
    assert calls == [("204 No Content", [("Content-Length", "0")])]
    calls.clear()
    Response(418).send(start_response)
    assert calls[0][0] == "418"


def test_a_tracked_body_reports_only_a_body_the_server_did_not_write() -> None:
    from sockio_wsgi.engine.http import Response

    lost: list[str] = []
    started: list[str] = []
    response = Response(200, b"packets", on_undelivered=lambda: lost.append("lost"))
    body = response.send(lambda status, headers: started.append(status))
    assert list(body) == [b"packets"]  # as a server writes it: asks for the next chunk
    body.close()  # type: ignore[attr-defined]
    assert lost == [] and started == ["200 OK"]

    body = response.send(lambda status, headers: None)
    next(iter(body))  # the write of the first chunk failed: no next chunk is asked for
    body.close()  # type: ignore[attr-defined]
    assert lost == ["lost"]
