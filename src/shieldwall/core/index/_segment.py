"""The immutable, compacted part of a PDQ index: sorted ids, hashes and one table per key.

Memory layout for ``n`` entries and ``m`` tables of ``b``-bit keys:

* ``ids``        ``int64[n]``, ascending (so an id is found by binary search);
* ``words``      ``uint64[n, 4]``, the hash of ``ids[i]`` in row ``i``;
* ``positions``  ``uint32[m * n]``, table after table; within a table the row numbers sorted
  by key (then by row), i.e. a CSR list per key;
* ``offsets``    ``uint32[m * 2**b + 1]`` (``int64`` when small, or past 2**32 positions):
  where each key's list starts in ``positions``; the list of key ``k`` in table ``i`` is
  ``positions[offsets[i * 2**b + k] : offsets[i * 2**b + k + 1]]`` (a table's last list
  ends where the next table's first begins; the final entry is ``m * n``).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
from numpy.typing import NDArray

from shieldwall.core.errors import InvalidInput
from shieldwall.core.index._hashes import Words, distances, pair_distances
from shieldwall.core.index._layout import (
    CANDIDATE_NS,
    SCAN_NS,
    Layout,
    ProbePlan,
    choose_layout,
    probe_plan,
)

Positions = NDArray[np.int64]
Distances = NDArray[np.uint32]

MAX_ENTRIES = (1 << 32) - 1
_SCAN_ROWS = 1 << 18
_BATCH_CANDIDATES = 1 << 18


def _empty() -> tuple[Positions, Distances]:
    return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.uint32)


def offsets_dtype(layout: Layout, entries: int) -> type[np.integer[Any]]:
    """int64 while that stays small (saves a conversion per query) or is needed, else uint32."""
    if layout.tables * entries > MAX_ENTRIES or (layout.offsets_bytes() * 2) <= 16 << 20:
        return np.int64
    return np.uint32


def _first_of_each(rows: NDArray[np.uint32], dist: Distances) -> tuple[Positions, Distances]:
    """Each row once (a match may be found through several tables), ascending."""
    if rows.size <= 1:
        return rows.astype(np.int64), dist
    order = np.argsort(rows, kind="stable")
    rows, dist = rows[order], dist[order]
    keep = np.empty(rows.size, dtype=bool)
    keep[0] = True
    np.not_equal(rows[1:], rows[:-1], out=keep[1:])
    return rows[keep].astype(np.int64), dist[keep]


@lru_cache(maxsize=256)
def _plan_for(layout: Layout, threshold: int, entries: int, scan_ns: float) -> ProbePlan | None:
    if layout.estimate_ns(threshold, entries) >= entries * scan_ns:
        return None
    return probe_plan(layout, threshold)


@dataclass(frozen=True, eq=False)
class Segment:
    """Compacted entries and their tables (layout in the module docstring); never mutated."""

    ids: NDArray[np.int64]
    words: Words
    layout: Layout
    positions: NDArray[np.uint32]
    offsets: NDArray[np.integer[Any]]  # see offsets_dtype

    def __len__(self) -> int:
        return int(self.ids.shape[0])

    @classmethod
    def empty(cls) -> Segment:
        return cls(
            ids=np.empty(0, dtype=np.int64),
            words=np.empty((0, 4), dtype=np.uint64),
            layout=Layout(16),
            positions=np.empty(0, dtype=np.uint32),
            offsets=np.empty(0, dtype=np.uint32),
        )

    @classmethod
    def build(cls, ids: NDArray[np.int64], words: Words, threshold: int) -> Segment:
        """Index ``words`` under ``ids`` (ascending, unique), laid out for ``threshold``."""
        n = int(ids.shape[0])
        if n == 0:
            return cls.empty()
        if n > MAX_ENTRIES:
            raise InvalidInput(f"an index holds at most {MAX_ENTRIES} entries, got {n}")
        layout = choose_layout(n, threshold)
        tables, buckets = layout.tables, layout.buckets
        positions = np.empty(tables * n, dtype=np.uint32)
        offsets: NDArray[np.integer[Any]] = np.empty(
            tables * buckets + 1, dtype=offsets_dtype(layout, n)
        )
        rows = np.arange(n, dtype=np.uint64)
        for table in range(tables):
            keys = layout.table_keys(words, table)
            counts = np.bincount(keys.astype(np.intp), minlength=buckets)
            # Sort (key, row) pairs packed in one uint64: a single fast native sort.
            packed = keys << np.uint64(32)
            packed |= rows
            packed.sort()
            positions[table * n : (table + 1) * n] = packed.astype(np.uint32)
            # Where each key's list starts; a list ends where the next begins (the next
            # table's first list, or the final sentinel, for the last key).
            offsets[table * buckets] = table * n
            offsets[table * buckets + 1 : (table + 1) * buckets + 1] = np.cumsum(counts) + table * n
        return cls(ids, words, layout, positions, offsets)

    def locate(self, ids: NDArray[np.int64]) -> tuple[NDArray[np.bool_], Positions]:
        """For each id: whether this segment holds it, and its row if so."""
        rows = np.searchsorted(self.ids, ids)
        found = rows < len(self)
        found[found] = self.ids[rows[found]] == ids[found]
        return found, rows

    # -- queries ------------------------------------------------------------------------

    def _lists(
        self, plan: ProbePlan, keys: NDArray[np.int64]
    ) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
        """Start and length of every probed list for ``(tables,)`` or ``(k, tables)`` keys."""
        probes = keys[..., plan.tables] ^ plan.xmasks
        starts = np.take(self.offsets, probes).astype(np.int64, copy=False)
        lengths = np.take(self.offsets[1:], probes) - starts
        return starts, lengths

    def _gather(
        self, starts: NDArray[np.int64], lengths: NDArray[np.int64], queries: int
    ) -> NDArray[np.uint32] | None:
        """The rows in the given lists, concatenated; None when a scan would be cheaper."""
        ends = np.cumsum(lengths)
        total = int(ends[-1])
        # Skewed (clustered) lists can make probing dearer than a scan; both are exact.
        if total * CANDIDATE_NS > len(self) * SCAN_NS * queries:
            return None
        index = np.repeat(starts - ends + lengths, lengths)
        index += np.arange(total, dtype=np.int64)
        return np.take(self.positions, index)

    def search(self, query: Words, threshold: int) -> tuple[Positions, Distances]:
        """Rows within ``threshold`` of ``query`` (each once, ascending) and their distances."""
        n = len(self)
        if n == 0:
            return _empty()
        plan = _plan_for(self.layout, threshold, n, SCAN_NS)
        if plan is None:
            return self.scan(query, threshold)
        starts, lengths = self._lists(plan, self.layout.query_keys(query))
        candidates = self._gather(starts, lengths, 1)
        if candidates is None:
            return self.scan(query, threshold)
        dist = distances(np.take(self.words, candidates, axis=0), query)
        hits = np.flatnonzero(dist <= threshold)
        return _first_of_each(candidates[hits], dist[hits])

    def search_many(
        self, queries: Words, threshold: int
    ) -> tuple[NDArray[np.intp], Positions, Distances]:
        """(query number, row, distance) of every match, sorted by query then row."""
        n, k = len(self), int(queries.shape[0])
        if n == 0 or k == 0:
            return np.empty(0, dtype=np.intp), *_empty()
        plan = _plan_for(self.layout, threshold, n, SCAN_NS)
        per_query = plan.xmasks.size * max(1.0, n / self.layout.buckets) if plan else n
        step = max(1, min(256, int(_BATCH_CANDIDATES / per_query)))
        which, rows, dists = [], [], []
        for start in range(0, k, step):
            w, r, d = self._search_chunk(plan, queries[start : start + step], threshold)
            which.append(w + start)
            rows.append(r)
            dists.append(d)
        return np.concatenate(which), np.concatenate(rows), np.concatenate(dists)

    def _search_chunk(
        self, plan: ProbePlan | None, queries: Words, threshold: int
    ) -> tuple[NDArray[np.intp], Positions, Distances]:
        k, n = int(queries.shape[0]), len(self)
        candidates = None
        if plan is not None:
            starts, lengths = self._lists(plan, self.layout.query_keys(queries))
            candidates = self._gather(starts.reshape(-1), lengths.reshape(-1), k)
        if candidates is None:
            each = [self.scan(q, threshold) for q in queries]
            which = np.repeat(np.arange(k, dtype=np.intp), [len(e[0]) for e in each])
            return which, np.concatenate([e[0] for e in each]), np.concatenate([e[1] for e in each])
        # Lists come out query after query, so each candidate's query is known by counting.
        owner = np.repeat(np.arange(k, dtype=np.int64), lengths.sum(axis=1))
        dist = pair_distances(
            np.take(self.words, candidates, axis=0), np.take(queries, owner, axis=0)
        )
        hits = np.flatnonzero(dist <= threshold)
        pairs, first = np.unique(owner[hits] * n + candidates[hits], return_index=True)
        which, rows = np.divmod(pairs, n)
        return which.astype(np.intp), rows, dist[hits][first]

    def scan(self, query: Words, threshold: int) -> tuple[Positions, Distances]:
        """Brute force: compare ``query`` with every row (the reference the tests trust)."""
        rows_out: list[Positions] = []
        dist_out: list[Distances] = []
        for start in range(0, len(self), _SCAN_ROWS):
            found = distances(self.words[start : start + _SCAN_ROWS].copy(), query)
            hits = np.flatnonzero(found <= threshold)
            rows_out.append(hits.astype(np.int64) + start)
            dist_out.append(found[hits])
        if not rows_out:
            return _empty()
        return np.concatenate(rows_out), np.concatenate(dist_out)
