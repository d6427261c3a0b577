"""Parsing JSON that comes from outside (uploads, partners, classifiers, hash values).

``json.loads`` raises RecursionError, not ValueError, for a document nested deeper than the
decoder goes (100,000 ``[`` is a few hundred kilobytes); every caller here already turns
ValueError into a clear refusal, so :func:`loads` raises a ``JSONDecodeError`` instead.
"""

from __future__ import annotations

import json
from typing import Any


def loads(data: str | bytes | bytearray, **kwargs: Any) -> Any:
    """``json.loads``, with "nested too deeply" as a ``JSONDecodeError`` (a ValueError)."""
    try:
        return json.loads(data, **kwargs)
    except RecursionError:
        raise json.JSONDecodeError("nested too deeply to read", "", 0) from None
