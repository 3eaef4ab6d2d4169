"""The package says which JSON library it encodes with (orjson is the ``fast`` extra)."""

from __future__ import annotations

import importlib.util
import logging

import pytest

from sockio_wsgi.protocol.parsers import JsonParser, json_backend


def test_the_json_backend_is_named_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    expected = "orjson" if importlib.util.find_spec("orjson") else "json (standard library)"
    assert json_backend().startswith(expected)
    with caplog.at_level(logging.DEBUG, logger="sockio_wsgi.protocol"):
        JsonParser()
    assert f"JSON backend: {json_backend()}" in caplog.messages
