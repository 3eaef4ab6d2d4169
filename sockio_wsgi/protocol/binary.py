"""Binary attachments: replace bytes in event data by placeholders, and back.

Socket.IO sends a BINARY_EVENT as one text packet whose data holds
``{"_placeholder": true, "num": n}`` where each binary value was, followed by the
binary values themselves as separate Engine.IO messages, in ``num`` order.
"""

from __future__ import annotations

from typing import Any

from sockio_wsgi.protocol.errors import ProtocolError

BINARY_TYPES = (bytes, bytearray, memoryview)


_SCALARS = frozenset({str, int, float, bool, type(None)})


def has_binary(data: Any) -> bool:
    """True when ``data`` holds bytes anywhere inside lists, tuples or dicts."""
    kind = type(data)
    if kind in _SCALARS:  # the common case, decided without isinstance chains
        return False
    if isinstance(data, BINARY_TYPES):
        return True
    if isinstance(data, (list, tuple)):
        for item in data:  # noqa: SIM110 - a loop: any() over a generator is slower here
            if type(item) not in _SCALARS and has_binary(item):
                return True
        return False
    if isinstance(data, dict):
        for value in data.values():
            if type(value) not in _SCALARS and has_binary(value):
                return True
    return False


def deconstruct(data: Any) -> tuple[Any, list[bytes]]:
    """Return ``data`` with placeholders in place of binary values, and the values."""
    attachments: list[bytes] = []
    return _replace(data, attachments), attachments


def _replace(data: Any, attachments: list[bytes]) -> Any:
    if isinstance(data, BINARY_TYPES):
        attachments.append(bytes(data))
        return {"_placeholder": True, "num": len(attachments) - 1}
    if isinstance(data, (list, tuple)):
        return [_replace(item, attachments) for item in data]
    if isinstance(data, dict):
        return {key: _replace(value, attachments) for key, value in data.items()}
    return data


def reconstruct(data: Any, attachments: list[bytes]) -> Any:
    """Put the binary values back where their placeholders stand.

    Raises :class:`ProtocolError` for a placeholder whose ``num`` is out of range.
    """
    if isinstance(data, list):
        return [reconstruct(item, attachments) for item in data]
    if isinstance(data, dict):
        if data.get("_placeholder") is True and len(data) == 2 and "num" in data:
            num = data["num"]
            if type(num) is not int or not 0 <= num < len(attachments):
                raise ProtocolError(f"placeholder refers to missing attachment {num!r}")
            return attachments[num]
        return {key: reconstruct(value, attachments) for key, value in data.items()}
    return data
