"""Pluggable Socket.IO parsers.

A parser turns a :class:`SioPacket` into the Engine.IO messages that carry it, and makes a
per-connection decoder for the other direction. Any object with the same two methods can
be passed as ``Server(parser=...)``.
"""

from __future__ import annotations

import json
import logging
from typing import Any, Protocol

from sockio_wsgi.protocol import jsontext
from sockio_wsgi.protocol.decoder import DEFAULT_MAX_ATTACHMENTS, JsonDecoder, Loads
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


log = logging.getLogger("sockio_wsgi.protocol")


def json_backend() -> str:
    """The JSON library :func:`default_json` picks: ``"orjson X.Y.Z"`` or the stdlib's."""
    try:
        import orjson
    except ImportError:
        return "json (standard library)"
    return f"orjson {orjson.__version__}"


def default_json() -> tuple[Loads, Dumps]:
    """orjson when it is installed (several times faster on small packets), else the stdlib.

    Whatever orjson refuses (non-string keys, integers past 64 bits, lone surrogates,
    datetimes and dataclasses, which the stdlib does not encode either) goes through the
    stdlib, so both give the same results: NaN and the infinities as ``null`` and lone
    surrogates escaped, as ``JSON.stringify`` writes them (see :mod:`.jsontext`)."""
    stdlib_dumps = jsontext.dumps
    try:
        import orjson
    except ImportError:
        return json.loads, stdlib_dumps
    fast_dumps, fast_loads = orjson.dumps, orjson.loads
    options = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS

    def dumps(data: Any) -> str:
        try:
            return fast_dumps(data, option=options).decode("utf-8")
        except TypeError:
            return stdlib_dumps(data)

    def loads(text: str) -> Any:
        try:
            return fast_loads(text)
        except ValueError:
            return json.loads(text)

    return loads, dumps


class JsonParser:
    """The default parser; ``json_module`` may be any module with ``dumps``/``loads``
    (by default orjson when installed, else the standard library)."""

    def __init__(
        self,
        json_module: Any = None,
        max_attachments: int = DEFAULT_MAX_ATTACHMENTS,
        max_packet_size: int | None = None,
    ):
        self._max_attachments = max_attachments
        self._max_packet_size = max_packet_size
        self._loads: Loads
        self._dumps: Dumps
        if json_module is None:
            self._loads, self._dumps = default_json()
            log.debug("JSON backend: %s", json_backend())
        elif json_module is json:
            self._loads, self._dumps = json.loads, jsontext.dumps
        else:
            self._loads = json_module.loads
            dumps = json_module.dumps
            self._dumps = lambda data: _as_text(dumps(data))

    def encode(self, packet: SioPacket) -> list[str | bytes]:
        return encode_text(packet, self._dumps)

    def decoder(self) -> JsonDecoder:
        return JsonDecoder(self._loads, self._max_attachments, self._max_packet_size)


def _as_text(value: str | bytes) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else value


def get_parser(
    parser: str | Parser | None,
    max_attachments: int = DEFAULT_MAX_ATTACHMENTS,
    max_packet_size: int | None = None,
) -> Parser:
    """Resolve ``Server(parser=...)``: a name (``"json"``, ``"msgpack"``) or a parser object.

    The limits apply to the JSON parser's binary packets (a parser object keeps its own; a
    msgpack packet is one message, which the transport bounds)."""
    if parser is None or parser == "json":
        return JsonParser(max_attachments=max_attachments, max_packet_size=max_packet_size)
    if parser == "msgpack":
        from sockio_wsgi.protocol.msgpack_parser import MsgpackParser

        return MsgpackParser()
    if isinstance(parser, str):
        raise ValueError(f"unknown parser {parser!r}; pass 'json', 'msgpack' or a parser object")
    return parser
