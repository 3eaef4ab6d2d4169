"""Shared test helpers (Node harness, ...); imported as ``tests.helpers``."""
