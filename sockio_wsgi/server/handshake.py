"""What a socket knows about the request that opened its connection."""

from __future__ import annotations

import time
from typing import Any

from sockio_wsgi.engine.http import parse_query


class Handshake:
    """Headers (lower-case names), query, auth, client address and time of the handshake.

    Read from the connection's WSGI environ when first asked for: most sockets never look
    at their handshake, and building it eagerly cost every connection time and memory.
    """

    __slots__ = ("environ", "auth", "issued", "_headers", "_query")

    def __init__(self, environ: dict[str, Any], auth: Any, issued: int | None = None) -> None:
        self.environ = environ
        self.auth: dict[str, Any] = auth if isinstance(auth, dict) else {}
        self.issued = int(time.time() * 1000) if issued is None else issued  # ms since epoch
        self._headers: dict[str, str] | None = None
        self._query: dict[str, str] | None = None

    @classmethod
    def from_environ(cls, environ: dict[str, Any], auth: Any) -> Handshake:
        return cls(environ, auth)

    @property
    def headers(self) -> dict[str, str]:
        if self._headers is None:
            environ = self.environ
            headers = {
                key[5:].replace("_", "-").lower(): value
                for key, value in environ.items()
                if key.startswith("HTTP_")
            }
            if environ.get("CONTENT_TYPE"):
                headers["content-type"] = environ["CONTENT_TYPE"]
            self._headers = headers
        return self._headers

    @property
    def query(self) -> dict[str, str]:
        if self._query is None:
            self._query = parse_query(self.environ)
        return self._query

    @property
    def address(self) -> str:
        address: str = self.environ.get("REMOTE_ADDR", "")
        return address

    @property
    def time(self) -> str:
        return time.strftime("%a %b %d %Y %H:%M:%S GMT", time.gmtime(self.issued / 1000))

    @property
    def url(self) -> str:
        query_string = self.environ.get("QUERY_STRING", "")
        path: str = self.environ.get("PATH_INFO", "")
        return path + ("?" + query_string if query_string else "")

    @property
    def secure(self) -> bool:
        return bool(self.environ.get("wsgi.url_scheme") == "https")

    @property
    def xdomain(self) -> bool:
        return "HTTP_ORIGIN" in self.environ

    def as_dict(self) -> dict[str, Any]:
        """Every field but the environ, as socket.io sends a handshake to other servers."""
        return {
            "headers": self.headers,
            "query": self.query,
            "auth": self.auth,
            "address": self.address,
            "time": self.time,
            "issued": self.issued,
            "url": self.url,
            "secure": self.secure,
            "xdomain": self.xdomain,
        }

    def __repr__(self) -> str:
        return f"Handshake(url={self.url!r}, address={self.address!r}, auth={self.auth!r})"
