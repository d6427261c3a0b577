"""Log set-up: one line per event name, with ids as ``key=value`` pairs.

Logs carry ids (event ids, user ids, request ids), never media, hashes of victims' images,
passwords, keys or report contents. Callers pass only such ids in ``extra``.
"""

from __future__ import annotations

import logging

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


def configure_logging(level: str = "info") -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(KeyValueFormatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    root = logging.getLogger("shieldwall")
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    root.propagate = False
