"""Matching indexes (principle 1): an exact PDQ index, built, changed, queried and saved.

Public surface::

    from shieldwall.core.index import PdqIndex, DEFAULT_THRESHOLD

See :mod:`shieldwall.core.index.pdq` and ``docs/index.md``.
"""

from shieldwall.core.index.pdq import DEFAULT_THRESHOLD, MAX_DISTANCE, Match, PdqIndex

__all__ = ["DEFAULT_THRESHOLD", "MAX_DISTANCE", "Match", "PdqIndex"]
