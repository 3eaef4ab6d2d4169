"""Waiting for log lines: what a test awaits when the server's only sign is a log record."""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager


class LogWatch(logging.Handler):
    """Keeps every record of a logger (at DEBUG and up) and wakes waiters on each one."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []
        self._arrived = threading.Condition()

    def emit(self, record: logging.LogRecord) -> None:
        with self._arrived:
            self.records.append(record)
            self._arrived.notify_all()

    def matching(self, pattern: str) -> list[logging.LogRecord]:
        return [r for r in self.records if re.search(pattern, r.getMessage())]

    def wait_for(self, pattern: str, count: int = 1, timeout: float = 10.0) -> None:
        """Wait until ``count`` records match ``pattern`` (a regular expression)."""
        with self._arrived:
            found = self._arrived.wait_for(lambda: len(self.matching(pattern)) >= count, timeout)
        assert found, f"no {count} log records matching {pattern!r}"


@contextmanager
def watching(name: str) -> Iterator[LogWatch]:
    """Watch logger ``name`` (set to DEBUG meanwhile) for the block."""
    watch = LogWatch()
    logger = logging.getLogger(name)
    level = logger.level
    logger.setLevel(logging.DEBUG)
    logger.addHandler(watch)
    try:
        yield watch
    finally:
        logger.removeHandler(watch)
        logger.setLevel(level)
