"""HTTP plumbing for Engine.IO: query strings, responses, CORS and cookies.

Kept apart from the transports so every response the engine writes, and every origin
decision, is made in one place.
"""

from __future__ import annotations

import logging
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from sockio_wsgi.protocol.requests import EngineErrorCode

log = logging.getLogger("sockio_wsgi.engine")

Headers = list[tuple[str, str]]
StartResponse = Callable[..., Any]
OriginRule = str | Iterable[str] | Callable[[str], bool] | None

TEXT_PLAIN = "text/plain; charset=UTF-8"
_STATUS_TEXT = {
    200: "OK",
    204: "No Content",
    400: "Bad Request",
    403: "Forbidden",
    404: "Not Found",
    413: "Payload Too Large",
    500: "Internal Server Error",
}


@dataclass(slots=True)
class Response:
    status: int
    body: bytes = b""
    headers: Headers = field(default_factory=list)

    # called when the server could not write the body (the client went away)
    on_undelivered: Callable[[], None] | None = None

    def send(self, start_response: StartResponse) -> Iterable[bytes]:
        headers = [*self.headers, ("Content-Length", str(len(self.body)))]
        start_response(f"{self.status} {_STATUS_TEXT.get(self.status, '')}".rstrip(), headers)
        if self.on_undelivered is not None:
            return _TrackedBody(self.body, self.on_undelivered)
        return [self.body]


class _TrackedBody:
    """A WSGI body that knows whether the server wrote it: the server asks for the next
    chunk only after writing this one, and calls ``close()`` either way."""

    __slots__ = ("body", "on_undelivered", "written")

    def __init__(self, body: bytes, on_undelivered: Callable[[], None]) -> None:
        self.body = body
        self.on_undelivered = on_undelivered
        self.written = False

    def __iter__(self) -> Iterator[bytes]:
        yield self.body
        self.written = True

    def close(self) -> None:
        if not self.written:
            self.on_undelivered()


def error_response(code: EngineErrorCode) -> Response:
    """The spec's JSON error body with its HTTP status."""
    return Response(code.http_status, code.body(), [("Content-Type", "application/json")])


def text_response(status: int, text: str) -> Response:
    return Response(status, text.encode("utf-8"), [("Content-Type", TEXT_PLAIN)])


# the encodings a polling response may use, in the server's order of preference
_ENCODINGS = ("gzip", "deflate")
VARY_ACCEPT_ENCODING = ("Vary", "Accept-Encoding")


def choose_encoding(accept_encoding: str) -> str | None:
    """The content coding to answer with for an ``Accept-Encoding`` header: ``"gzip"``,
    ``"deflate"`` or ``None`` (send it plain). The client's q-values rank them; on a tie
    gzip wins; ``*`` stands for any coding not named; ``q=0`` refuses one."""
    weights: dict[str, float] = {}
    star: float | None = None
    for item in accept_encoding.split(","):
        name, _, params = item.partition(";")
        name = name.strip().lower()
        quality = 1.0
        for param in params.split(";"):
            key, _, value = param.partition("=")
            if key.strip().lower() == "q":
                try:
                    quality = float(value.strip())
                except ValueError:
                    quality = 0.0
        if not 0.0 <= quality <= 1.0:  # also rules out nan
            quality = 0.0
        if name == "*":
            star = quality
        elif name in _ENCODINGS:
            weights[name] = quality
    best: str | None = None
    best_quality = 0.0
    for name in _ENCODINGS:
        quality = weights.get(name, star if star is not None else 0.0)
        if quality > best_quality:
            best, best_quality = name, quality
    return best


def compress_body(body: bytes, encoding: str) -> bytes:
    """``body`` in the ``gzip`` or ``deflate`` (zlib, RFC 1950) content coding."""
    wbits = 31 if encoding == "gzip" else 15
    compressor = zlib.compressobj(zlib.Z_DEFAULT_COMPRESSION, zlib.DEFLATED, wbits)
    return compressor.compress(body) + compressor.flush()


def parse_query(environ: dict[str, Any]) -> dict[str, str]:
    """The query string as a dict (first value wins), as ``parse_qsl`` reads it.

    An Engine.IO query (``EIO=4&transport=websocket&sid=...``) has nothing to unquote: it
    is split directly, which costs a tenth of ``parse_qsl`` on every request."""
    text: str = environ.get("QUERY_STRING", "")
    query: dict[str, str] = {}
    if "%" in text or "+" in text:
        for key, value in parse_qsl(text, keep_blank_values=True):
            query.setdefault(key, value)
        return query
    for part in text.split("&"):
        if part:
            key, _, value = part.partition("=")
            query.setdefault(key, value)
    return query


_DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}


def _scheme_host_port(scheme: str, netloc: str) -> tuple[str, str, int] | None:
    """``(scheme, host, port)`` with the scheme's default port filled in; None if invalid."""
    scheme = scheme.lower()
    default = _DEFAULT_PORTS.get(scheme)
    if default is None:
        return None
    try:
        parts = urlsplit("//" + netloc)
        port = parts.port
    except ValueError:
        return None
    if not parts.hostname or parts.username is not None or parts.path:
        return None
    return scheme, parts.hostname, default if port is None else port


def same_origin(origin: str, environ: dict[str, Any]) -> bool:
    """``origin`` names this server: the same scheme, host and port as the request.

    The request's scheme is the first ``X-Forwarded-Proto`` when a proxy sets one (a page
    cannot set that header on a WebSocket, nor on a request without a preflight, which
    this same check answers), else ``wsgi.url_scheme``."""
    scheme, sep, netloc = origin.partition("://")
    theirs = _scheme_host_port(scheme, netloc) if sep else None
    host = environ.get("HTTP_HOST")
    if theirs is None or not host:
        return False
    forwarded = environ.get("HTTP_X_FORWARDED_PROTO", "").partition(",")[0].strip()
    ours = _scheme_host_port(forwarded or environ.get("wsgi.url_scheme", "http"), host)
    return theirs == ours


class CorsPolicy:
    """Which origins may talk to the server, and the CORS headers that say so.

    ``allowed_origins`` is ``None`` (same origin only: scheme, host and port), ``"*"``
    (any origin, answered ``Access-Control-Allow-Origin: *`` and never with credentials),
    a list of exact origins (an empty list turns origin checks off) or a callable taking
    the origin and returning a bool. Requests without an ``Origin`` header (non-browser
    clients) are always allowed.
    """

    def __init__(self, allowed_origins: OriginRule = None, credentials: bool = True) -> None:
        self._rule: Any
        if isinstance(allowed_origins, str) and allowed_origins != "*":
            self._rule = frozenset([allowed_origins])
        elif allowed_origins is None or allowed_origins == "*" or callable(allowed_origins):
            self._rule = allowed_origins
        else:
            self._rule = frozenset(allowed_origins)
        self._credentials = credentials

    @property
    def disabled(self) -> bool:
        return isinstance(self._rule, frozenset) and not self._rule

    def origin_allowed(self, environ: dict[str, Any]) -> bool:
        origin = environ.get("HTTP_ORIGIN")
        if not origin or self.disabled:
            return True
        rule = self._rule
        if rule == "*":
            return True
        if rule is None:
            return same_origin(origin, environ)
        if callable(rule):
            try:
                return bool(rule(origin))
            except Exception:
                log.exception("cors_allowed_origins callable failed for %r", origin)
                return False
        return origin in rule

    def headers(self, environ: dict[str, Any]) -> Headers:
        """CORS headers for a response to an allowed request; none for a refused origin."""
        origin = environ.get("HTTP_ORIGIN")
        if not origin or self.disabled or not self.origin_allowed(environ):
            return []
        if self._rule == "*":  # any page may read, none with the user's cookies
            return [("Access-Control-Allow-Origin", "*")]
        headers = [("Access-Control-Allow-Origin", origin), ("Vary", "Origin")]
        if self._credentials:
            headers.append(("Access-Control-Allow-Credentials", "true"))
        return headers

    def preflight(self, environ: dict[str, Any]) -> Response:
        headers = self.headers(environ)
        headers.append(("Access-Control-Allow-Methods", "OPTIONS, GET, POST"))
        requested = environ.get("HTTP_ACCESS_CONTROL_REQUEST_HEADERS")
        if requested:
            headers.append(("Access-Control-Allow-Headers", requested))
        return Response(204, b"", headers)


def session_cookie(cookie: str | dict[str, Any] | None, sid: str) -> Headers:
    """The ``Set-Cookie`` header for the handshake when the cookie option is on."""
    if not cookie:
        return []
    options: dict[str, Any] = {"name": cookie} if isinstance(cookie, str) else dict(cookie)
    parts = [f"{options.get('name', 'io')}={sid}", f"Path={options.get('path', '/')}"]
    if options.get("httpOnly", options.get("http_only", True)):
        parts.append("HttpOnly")
    same_site = options.get("sameSite", options.get("same_site", "Lax"))
    if same_site:
        parts.append(f"SameSite={same_site}")
    if options.get("secure"):
        parts.append("Secure")
    return [("Set-Cookie", "; ".join(parts))]


def read_body(environ: dict[str, Any], limit: int) -> bytes | None:
    """Read the request body; ``None`` when it is larger than ``limit`` bytes."""
    stream = environ["wsgi.input"]
    length_text = environ.get("CONTENT_LENGTH") or ""
    if length_text.isdigit():
        length = int(length_text)
        if length > limit:
            return None
        return bytes(stream.read(length))
    body = bytes(stream.read(limit + 1))
    return None if len(body) > limit else body
