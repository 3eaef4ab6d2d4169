"""``FLASK_EXT_CONTEXTS=public`` runs tests/flask_ext on Flask's public context API even
where flask_ext would take its fast path (CI does both)."""

from __future__ import annotations

import os

import flask_ext.context


def pytest_configure() -> None:
    if os.environ.get("FLASK_EXT_CONTEXTS") == "public":
        flask_ext.context.use_fast_path = False
