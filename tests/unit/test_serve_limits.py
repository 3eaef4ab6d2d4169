"""The pure parts of the HTTP server's limits: defaults and the body's deadline."""

from __future__ import annotations

import io
import resource

import pytest

from sockio_wsgi.serve_limits import (
    MAX_CONNECTIONS,
    DeadlineReader,
    HttpLimits,
    RequestTimeout,
    default_max_connections,
)


@pytest.mark.parametrize(
    ("soft", "expected"),
    [(1024, 921), (20_000, MAX_CONNECTIONS), (resource.RLIM_INFINITY, MAX_CONNECTIONS)],
)
def test_max_connections_stays_under_the_open_file_limit(
    monkeypatch: pytest.MonkeyPatch, soft: int, expected: int
) -> None:
    monkeypatch.setattr(resource, "getrlimit", lambda which: (soft, resource.RLIM_INFINITY))
    assert default_max_connections() == expected
    assert HttpLimits().max_connections == expected


def test_a_body_reads_until_its_deadline() -> None:
    body = DeadlineReader(io.BytesIO(b"line\nrest"), seconds=60)
    assert body.readline(100) == b"line\n"
    assert body.read(100) == b"rest"
    assert not body.closed
    late = DeadlineReader(io.BytesIO(b"data"), seconds=0)
    with pytest.raises(RequestTimeout):
        late.read(4)
