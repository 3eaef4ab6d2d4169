"""Fixtures for tests against a real Redis.

Redis is at ``REDIS_URL`` (default redis://127.0.0.1:6379). When it cannot be reached the
tests skip, except under ``CI=true`` where they fail: CI promises a Redis. Every test gets
its own key prefix, so tests never see each other's messages and nothing is flushed.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from typing import Any

import pytest
import redis

from sockio_wsgi.adapters.local_bus import LocalHub
from tests.helpers.requirements import missing

REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379")


@pytest.fixture(scope="session")
def redis_url() -> str:
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2, socket_timeout=2)
    try:
        client.ping()
    except redis.exceptions.RedisError as exc:
        missing(f"no Redis at {REDIS_URL}: {exc}")
    finally:
        client.close()
    return REDIS_URL


@pytest.fixture
def prefix() -> str:
    return f"sockio-test-{secrets.token_hex(6)}"


@pytest.fixture
def redis_client(redis_url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_url)
    yield client
    client.close()


@pytest.fixture(params=["redis", "in-process"])
def cluster_target(request: pytest.FixtureRequest) -> Any:
    """Where a test's cluster meets: the real Redis, or an in-process hub running the same
    cluster logic (the adapter contract holds over both)."""
    if request.param == "redis":
        return request.getfixturevalue("redis_url")
    return LocalHub()
