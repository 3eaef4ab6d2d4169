"""How many inputs each fuzz target tries: a short run by default (CI), 100 000 on demand.

``SOCKIO_FUZZ=long python -m pytest tests/fuzz`` runs the long one;
``SOCKIO_FUZZ=<n>`` any other count. Each target's pytest timeout grows with the count.
"""

from __future__ import annotations

import os
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

SHORT = 300
LONG = 100_000


def examples() -> int:
    chosen = os.environ.get("SOCKIO_FUZZ", "")
    if chosen == "long":
        return LONG
    return int(chosen) if chosen.isdigit() else SHORT


EXAMPLES = examples()
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    print_blob=True,
)
TIMEOUT = pytest.mark.timeout(60 + EXAMPLES // 50)


def nested_values(keys: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """What msgpack carries: scalars, bytes, and lists and maps of them (maps keyed by
    ``keys``)."""
    return st.recursive(
        st.one_of(
            st.none(),
            st.booleans(),
            st.integers(-(2**63), 2**64 - 1),
            st.floats(),
            st.text(max_size=10),
            st.binary(max_size=10),
        ),
        lambda inner: st.one_of(
            st.lists(inner, max_size=4), st.dictionaries(keys, inner, max_size=4)
        ),
        max_leaves=12,
    )
