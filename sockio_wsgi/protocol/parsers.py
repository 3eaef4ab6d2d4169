"""Pluggable Socket.IO parsers.

A parser turns a :class:`SioPacket` into the Engine.IO messages that carry it, and makes a
per-connection decoder for the other direction. Any object with the same two methods can
be passed as ``Server(parser=...)``.
"""

from __future__ import annotations

import json
from typing import Any, Protocol

from sockio_wsgi.protocol.decoder import DEFAULT_MAX_ATTACHMENTS, JsonDecoder
from sockio_wsgi.protocol.sio import Dumps, SioPacket, encode_text


class Decoder(Protocol):
    def feed(self, data: str | bytes) -> SioPacket | None:
        """Feed one Engine.IO message; return a packet once one is complete."""

    def reset(self) -> None:
        """Forget a partly received packet."""


class Parser(Protocol):
    def encode(self, packet: SioPacket) -> list[str | bytes]:
        """Return the Engine.IO messages that carry ``packet``, in order."""

    def decoder(self) -> Decoder:
        """Return a fresh decoder for one connection."""


class JsonParser:
    """The default parser; ``json_module`` may be any module with ``dumps``/``loads``."""

    def __init__(self, json_module: Any = None, max_attachments: int = DEFAULT_MAX_ATTACHMENTS):
        module = json_module or json
        self._loads = module.loads
        self._max_attachments = max_attachments
        self._dumps: Dumps
        if module is json:
            self._dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode
        else:
            dumps = module.dumps
            self._dumps = lambda data: _as_text(dumps(data))

    def encode(self, packet: SioPacket) -> list[str | bytes]:
        return encode_text(packet, self._dumps)

    def decoder(self) -> JsonDecoder:
        return JsonDecoder(self._loads, self._max_attachments)


def _as_text(value: str | bytes) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else value


def get_parser(parser: str | Parser | None) -> Parser:
    """Resolve ``Server(parser=...)``: a name (``"json"``) or a parser object."""
    if parser is None or parser == "json":
        return JsonParser()
    if isinstance(parser, str):
        raise ValueError(f"unknown parser {parser!r}; pass 'json' or a parser object")
    return parser
