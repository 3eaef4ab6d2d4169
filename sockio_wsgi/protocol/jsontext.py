"""JSON text as the JavaScript peers write it, whatever Python data holds.

``JSON.stringify`` writes ``NaN`` and the infinities as ``null`` and a lone surrogate as
an escape (``"\\ud800"``); Python's encoder writes ``NaN`` / ``Infinity`` (not JSON: the
official client throws on them) and leaves a lone surrogate raw, which then cannot be
encoded as UTF-8 when the packet reaches the wire. :func:`dumps` does what JavaScript
does, at no cost for data that holds neither.
"""

from __future__ import annotations

import json
import re
from typing import Any

_plain = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode
_ascii = json.JSONEncoder(separators=(",", ":"), ensure_ascii=True, allow_nan=False).encode
_has_surrogate = re.compile("[\ud800-\udfff]").search


def dumps(data: Any) -> str:
    """Compact JSON text that is valid JSON and valid UTF-8 once encoded."""
    try:
        text = _plain(data)
    except ValueError as exc:  # NaN or an infinity (or a circular structure)
        try:
            data = finite(data)
        except RecursionError:
            raise exc from None
        text = _plain(data)
    if not text.isascii() and _has_surrogate(text):
        text = _ascii(data)  # escapes every non-ASCII character, surrogates included
    return text


def finite(data: Any) -> Any:
    """``data`` with ``None`` in place of every float that is not finite."""
    if isinstance(data, float):
        return data if data - data == 0.0 else None  # inf - inf and nan - nan are nan
    if isinstance(data, (list, tuple)):
        return [finite(item) for item in data]
    if isinstance(data, dict):
        return {key: finite(value) for key, value in data.items()}
    return data
