"""One immutable snapshot of a PDQ index: the compacted segment plus pending changes.

Pending changes are a *delta* (entries added since the last compaction, sorted by id, found
by brute force) and *tombstones* (rows of the segment that were removed or replaced).
Every change makes a new snapshot, copying only the small pending arrays, so a query reads
one snapshot without locks and always sees a consistent index.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from shieldwall.core.index._hashes import Words, distances
from shieldwall.core.index._segment import Distances, Segment

Ids = NDArray[np.int64]


def last_of_each(ids: Ids, words: Words) -> tuple[Ids, Words]:
    """Sorted unique ids, each with the last hash given for it (a later add replaces)."""
    if ids.size < 2 or bool((ids[1:] > ids[:-1]).all()):
        return ids, words
    reverse = ids[::-1]
    unique, first_in_reverse = np.unique(reverse, return_index=True)
    return unique, words[::-1][first_in_reverse]


def _contains(sorted_ids: Ids, ids: Ids) -> tuple[NDArray[np.bool_], NDArray[np.intp]]:
    where = np.searchsorted(sorted_ids, ids)
    found = where < sorted_ids.shape[0]
    found[found] = sorted_ids[where[found]] == ids[found]
    return found, where


@dataclass(frozen=True, eq=False)
class State:
    segment: Segment
    dead: Ids  # rows of the segment no longer live, sorted
    delta_ids: Ids  # sorted, unique, none of them live in the segment
    delta_words: Words

    @classmethod
    def of(cls, segment: Segment) -> State:
        none = np.empty(0, np.int64)
        return cls(segment, none, none, np.empty((0, 4), np.uint64))

    def __len__(self) -> int:
        return len(self.segment) - int(self.dead.shape[0]) + int(self.delta_ids.shape[0])

    @property
    def pending(self) -> int:
        return int(self.dead.shape[0] + self.delta_ids.shape[0])

    def contains(self, ids: Ids) -> NDArray[np.bool_]:
        in_segment, rows = self.segment.locate(ids)
        if self.dead.size and in_segment.any():
            in_segment[in_segment] = ~_contains(self.dead, rows[in_segment])[0]
        return in_segment | _contains(self.delta_ids, ids)[0]

    def _kill(self, ids: Ids) -> tuple[Ids, int]:
        """Tombstones after also burying the live segment rows of ``ids``; how many died."""
        in_segment, rows = self.segment.locate(ids)
        rows = rows[in_segment].astype(np.int64)
        fresh = rows[~_contains(self.dead, rows)[0]] if self.dead.size else rows
        if not fresh.size:
            return self.dead, 0
        return np.union1d(self.dead, fresh), int(fresh.size)

    def with_added(self, ids: Ids, words: Words) -> State:
        """Add or replace: ``ids`` sorted and unique, ``words`` their hashes."""
        dead, _ = self._kill(ids)
        exists, where = _contains(self.delta_ids, ids)
        delta_words = self.delta_words.copy()
        delta_words[where[exists]] = words[exists]
        new = ~exists
        delta_ids = np.insert(self.delta_ids, where[new], ids[new])
        delta_words = np.insert(delta_words, where[new], words[new], axis=0)
        return State(self.segment, dead, delta_ids, delta_words)

    def without(self, ids: Ids) -> tuple[State, int]:
        """Remove ``ids`` (sorted, unique; unknown ones are ignored); how many were live."""
        dead, killed = self._kill(ids)
        gone = _contains(ids, self.delta_ids)[0]
        dropped = int(gone.sum())
        if not killed and not dropped:
            return self, 0
        state = State(self.segment, dead, self.delta_ids[~gone], self.delta_words[~gone])
        return state, killed + dropped

    def live(self) -> tuple[Ids, Words]:
        """Every live (id, hash), sorted by id: the input of the next compaction."""
        keep = np.ones(len(self.segment), dtype=bool)
        keep[self.dead] = False
        ids = np.concatenate([self.segment.ids[keep], self.delta_ids])
        words = np.concatenate([self.segment.words[keep], self.delta_words])
        order = np.argsort(ids, kind="stable")
        return ids[order], words[order]

    def alive(self, rows: NDArray[np.int64]) -> NDArray[np.bool_]:
        """Which segment rows are not tombstoned."""
        return ~_contains(self.dead, rows)[0]

    def match(self, rows: NDArray[np.int64], dist: Distances) -> tuple[Ids, Distances]:
        """Segment matches minus tombstones, as (ids, distances)."""
        if self.dead.size and rows.size:
            keep = self.alive(rows)
            rows, dist = rows[keep], dist[keep]
        return self.segment.ids[rows], dist

    def match_delta(self, query: Words, threshold: int) -> tuple[Ids, Distances]:
        if not self.delta_ids.size:
            return np.empty(0, np.int64), np.empty(0, np.uint32)
        dist = distances(self.delta_words.copy(), query)
        hits = np.flatnonzero(dist <= threshold)
        return self.delta_ids[hits], dist[hits]
