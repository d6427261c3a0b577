"""vPDQ matching, as python-threatexchange's ``match_VPDQ_hash_brute`` does it.

Both sides are deduplicated by hash (first occurrence kept), then frames with quality below
the floor are dropped. A frame matches when any frame on the other side is within
``distance`` (inclusive). The result is the percentage of the query's remaining frames that
matched and the percentage of the target's. Frames are an unordered bag: order and timing do
not matter.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import NDArray

from shieldwall.core.signals import (
    PDQ_DISTANCE_THRESHOLD,
    PDQ_QUALITY_FLOOR,
    VPDQ_INDEX_MATCH_PERCENT,
    VPDQ_QUERY_MATCH_PERCENT,
    VpdqFrame,
    VpdqHash,
)

_BLOCK_ROWS = 256


class VpdqMatch(NamedTuple):
    """Percentages (0-100) of the query's and of the target's frames that matched."""

    query_pct: float
    target_pct: float

    def is_match(
        self,
        query_threshold: float = VPDQ_QUERY_MATCH_PERCENT,
        target_threshold: float = VPDQ_INDEX_MATCH_PERCENT,
    ) -> bool:
        """pytx's rule: both percentages at or above their thresholds (80 % and 0 %)."""
        return self.query_pct >= query_threshold and self.target_pct >= target_threshold


def _prepare(frames: VpdqHash | Iterable[VpdqFrame], quality_floor: int) -> NDArray[np.uint64]:
    items = frames.frames if isinstance(frames, VpdqHash) else frames
    seen: set[str] = set()
    kept: list[str] = []
    for frame in items:
        if frame.pdq_hex in seen:
            continue
        seen.add(frame.pdq_hex)
        if frame.quality >= quality_floor:
            kept.append(frame.pdq_hex)
    if not kept:
        return np.zeros((0, 4), dtype=np.uint64)
    raw = np.frombuffer(bytes.fromhex("".join(kept)), dtype=">u8")
    return raw.astype(np.uint64).reshape(len(kept), 4)


def _matched(rows: NDArray[np.uint64], others: NDArray[np.uint64], distance: int) -> NDArray[Any]:
    """For each row, whether some row of ``others`` is within ``distance``."""
    hits = np.zeros(len(rows), dtype=bool)
    for start in range(0, len(rows), _BLOCK_ROWS):
        block = rows[start : start + _BLOCK_ROWS]
        bits = np.bitwise_count(block[:, np.newaxis, :] ^ others[np.newaxis, :, :])
        hits[start : start + _BLOCK_ROWS] = (bits.sum(axis=2) <= distance).any(axis=1)
    return hits


def vpdq_match(
    query_frames: VpdqHash | Iterable[VpdqFrame],
    target_frames: VpdqHash | Iterable[VpdqFrame],
    distance: int = PDQ_DISTANCE_THRESHOLD,
    quality_floor: int = PDQ_QUALITY_FLOOR,
) -> VpdqMatch:
    """Compare two vPDQ hashes; see the module docstring.

    A side left with no frames after filtering gives 0 % on both sides (pytx divides by zero).
    """
    query = _prepare(query_frames, quality_floor)
    target = _prepare(target_frames, quality_floor)
    if not len(query) or not len(target):
        return VpdqMatch(0.0, 0.0)
    query_hits = int(_matched(query, target, distance).sum())
    target_hits = int(_matched(target, query, distance).sum())
    return VpdqMatch(query_hits * 100 / len(query), target_hits * 100 / len(target))
