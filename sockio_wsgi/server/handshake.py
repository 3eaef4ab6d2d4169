"""What a socket knows about the request that opened its connection."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from sockio_wsgi.engine.http import parse_query


@dataclass(slots=True)
class Handshake:
    """Headers (lower-case names), query, auth, client address and time of the handshake."""

    headers: dict[str, str]
    query: dict[str, str]
    auth: dict[str, Any]
    address: str
    time: str
    issued: int
    url: str
    secure: bool
    xdomain: bool
    environ: dict[str, Any] = field(repr=False)

    @classmethod
    def from_environ(cls, environ: dict[str, Any], auth: Any) -> Handshake:
        headers = {
            key[5:].replace("_", "-").lower(): value
            for key, value in environ.items()
            if key.startswith("HTTP_")
        }
        if environ.get("CONTENT_TYPE"):
            headers["content-type"] = environ["CONTENT_TYPE"]
        query_string = environ.get("QUERY_STRING", "")
        url = environ.get("PATH_INFO", "") + ("?" + query_string if query_string else "")
        now = time.time()
        return cls(
            headers=headers,
            query=parse_query(environ),
            auth=auth if isinstance(auth, dict) else {},
            address=environ.get("REMOTE_ADDR", ""),
            time=time.strftime("%a %b %d %Y %H:%M:%S GMT", time.gmtime(now)),
            issued=int(now * 1000),
            url=url,
            secure=environ.get("wsgi.url_scheme") == "https",
            xdomain="HTTP_ORIGIN" in environ,
            environ=environ,
        )
