"""JSON text as JSON.stringify writes it: null for non-finite floats, escaped surrogates."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest

from sockio_wsgi.protocol import jsontext
from sockio_wsgi.protocol.parsers import JsonParser
from sockio_wsgi.protocol.sio import encode_text, event_packet


def strict_loads(text: str) -> Any:
    """The stdlib's parser, refusing NaN and Infinity as JavaScript's JSON.parse does."""

    def refuse(name: str) -> Any:
        raise ValueError(f"{name} is not JSON")

    return json.loads(text, parse_constant=refuse)


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_non_finite_floats_become_null(value: float) -> None:
    text = jsontext.dumps([1.5, value, {"a": (value, 2)}])
    assert text == '[1.5,null,{"a":[null,2]}]'
    assert strict_loads(text) == [1.5, None, {"a": [None, 2]}]


def test_lone_surrogates_are_escaped_and_the_text_encodes_as_utf8() -> None:
    data = {"k\udc00": ["\ud800", "é", "\U0001f600"]}
    text = jsontext.dumps(data)
    assert text == '{"k\\udc00":["\\ud800","\\u00e9","\\ud83d\\ude00"]}'
    text.encode("utf-8")  # no UnicodeEncodeError
    assert json.loads(text) == data


def test_ordinary_data_keeps_its_compact_unescaped_form() -> None:
    assert jsontext.dumps({"a": ["é", 1, None]}) == '{"a":["é",1,null]}'


def test_what_json_cannot_encode_still_raises() -> None:
    looped: list[Any] = []
    looped.append(looped)
    with pytest.raises(ValueError):
        jsontext.dumps(looped)
    with pytest.raises(TypeError):
        jsontext.dumps({1, 2})


@pytest.mark.parametrize("parser", [JsonParser(), JsonParser(json)], ids=["default", "stdlib"])
def test_parsers_write_what_javascript_writes(parser: JsonParser) -> None:
    messages = parser.encode(event_packet("/", "x", [math.nan, "\ud800", 2**70, b"\x00"]))
    assert messages == [
        '51-["x",null,"\\ud800",1180591620717411303424,{"_placeholder":true,"num":0}]',
        b"\x00",
    ]
    assert encode_text(event_packet("/", "y", [math.inf])) == ['2["y",null]']
