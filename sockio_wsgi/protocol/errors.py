"""Errors raised by the sans-IO protocol core.

Every decoder in :mod:`sockio_wsgi.protocol` raises only :class:`ProtocolError` (or a
subclass) on bad input, so the I/O layers need exactly one ``except`` to turn garbage
from the network into a clean close.
"""

from __future__ import annotations


class ProtocolError(ValueError):
    """Input that does not follow the Engine.IO or Socket.IO wire format."""


class PayloadTooLarge(ProtocolError):
    """Input that exceeds a configured size or count limit."""
