"""Fixtures of the Python client tests: our server in this (gevent-patched) process."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import sockio_wsgi
from tests.helpers.client import assert_no_client_threads, make_sio
from tests.helpers.server import Running, serving_sio
from tests.helpers.sio_interop import Recorder


@pytest.fixture
def sio(record: Recorder) -> sockio_wsgi.Server:
    return make_sio(record, ping_interval=1, ping_timeout=1)


@pytest.fixture
def running(sio: sockio_wsgi.Server) -> Iterator[Running]:
    with serving_sio(sio) as run:
        yield run


@pytest.fixture
def clients() -> Iterator[list[sockio_wsgi.Client]]:
    """Clients made by a test; each is disconnected afterwards and must leave no thread."""
    made: list[sockio_wsgi.Client] = []
    yield made
    for client in made:
        client.disconnect()
    assert_no_client_threads()
