"""Log set-up: one line per event name, with ids as ``key=value`` pairs.

Logs carry ids (event ids, user ids, request ids), never media, hashes of victims' images,
passwords, keys or report contents. Callers pass only such ids in ``extra``.
"""

from __future__ import annotations

import logging
import sys
from typing import Any, TextIO

_STANDARD = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {
    "message",
    "asctime",
    "color_message",
}


class KeyValueFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        base = super().format(record)
        extras = {
            k: v for k, v in record.__dict__.items() if k not in _STANDARD and not k.startswith("_")
        }
        if not extras:
            return base
        return base + " " + " ".join(f"{k}={v}" for k, v in sorted(extras.items()))


class CurrentStderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes each record to ``sys.stderr`` as it is when the record is emitted, not as it
    was when logging was configured: a server thread that outlives a stderr that was
    swapped and closed (a test's output capture, a daemon's redirect) still logs."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, _value: Any) -> None:
        pass


def configure_logging(level: str = "info") -> None:
    handler = CurrentStderrHandler()
    handler.setFormatter(KeyValueFormatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    root = logging.getLogger("shieldwall")
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    root.propagate = False
