"""Parsing JSON that comes from outside (uploads, partners, classifiers, hash values).

``json.loads`` fails in ways that are not a ``JSONDecodeError``: RecursionError (not even a
ValueError) for a document nested deeper than the decoder goes (100,000 ``[`` is a few
hundred kilobytes), a plain ValueError for an integer longer than Python converts
(``sys.get_int_max_str_digits()``, 4,300 digits), and UnicodeDecodeError for bytes that are
not UTF-8. Callers here catch ``JSONDecodeError`` (or ValueError) and turn it into a clear
refusal, so :func:`loads` raises a ``JSONDecodeError`` for every one of them.
"""

from __future__ import annotations

import json
import sys
from typing import Any


def loads(data: str | bytes | bytearray, **kwargs: Any) -> Any:
    """``json.loads``; every failure to read ``data`` is a ``JSONDecodeError`` (a ValueError)
    whose ``msg`` says why in plain words."""
    try:
        return json.loads(data, **kwargs)
    except json.JSONDecodeError:
        raise
    except RecursionError:
        raise json.JSONDecodeError("nested too deeply to read", "", 0) from None
    except UnicodeDecodeError as exc:
        raise json.JSONDecodeError(
            f"not {exc.encoding} text (byte {exc.start + 1})", "", 0
        ) from None
    except ValueError as exc:
        raise json.JSONDecodeError(_why(exc), "", 0) from None


def _why(exc: ValueError) -> str:
    limit = sys.get_int_max_str_digits()
    if limit and "int" in str(exc) and "digits" in str(exc):
        return f"a number has more than {limit:,} digits"
    return str(exc) or type(exc).__name__
