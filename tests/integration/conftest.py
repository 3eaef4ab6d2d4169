"""Fixtures shared by the integration tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.helpers.node import NodeClient


@pytest.fixture
def client() -> Iterator[NodeClient]:
    """The official socket.io-client, scripted through Node; closed after the test."""
    with NodeClient() as node_client:
        yield node_client
