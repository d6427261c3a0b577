"""How the 256 bits are cut into table keys, and which keys a query must probe.

Multi-index hashing (Norouzi, Punjani and Fleet, 2012): cut the hash into ``m`` disjoint
substrings and keep one table per substring, mapping each substring value to the entries
that have it. The distance between two hashes is the sum of the distances between their
substrings, so if every substring ``i`` differed by more than ``r_i`` bits the whole would
differ by at least ``sum(r_i + 1)`` bits. Hence, when ``sum(r_i + 1) >= t + 1``, every entry
within distance ``t`` of a query agrees with it within ``r_i`` bits on at least one
substring ``i``, and probing, in each table ``i``, every key within ``r_i`` bits of the
query's substring finds all of them. A table with ``r_i = -1`` is not probed at all.

Tables here never straddle a 64-bit word: ``64 // b`` keys of ``b`` bits per word. Bits left
over are not indexed, which keeps the bound (distance on fewer bits is never larger).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property, lru_cache

import numpy as np
from numpy.typing import NDArray

from shieldwall.core.index._hashes import Words

#: Key widths the planner may choose from: 16 bits gives 16 tables, 17 to 21 give 12.
KEY_BITS_CHOICES = (16, 17, 18, 19, 20, 21)
# Rough single-thread costs in nanoseconds, measured with numpy 2.4 on an x86 server: one
# probed key (key arithmetic, two offset reads, its share of range bookkeeping), one
# candidate (position read, a random read of 32 bytes, XOR, popcount), one entry scanned
# by brute force. Only their ratios matter; they steer choices, never correctness.
PROBE_NS = 20.0
CANDIDATE_NS = 35.0
SCAN_NS = 4.0


@dataclass(frozen=True)
class Layout:
    """``tables`` substrings of ``key_bits`` bits each."""

    key_bits: int

    @property
    def per_word(self) -> int:
        return 64 // self.key_bits

    @property
    def tables(self) -> int:
        return 4 * self.per_word

    @property
    def buckets(self) -> int:
        return 1 << self.key_bits

    @cached_property
    def _word_of(self) -> NDArray[np.intp]:
        return np.repeat(np.arange(4, dtype=np.intp), self.per_word)

    @cached_property
    def _shift_of(self) -> NDArray[np.uint64]:
        shifts = [j * self.key_bits for j in range(self.per_word)] * 4
        return np.array(shifts, dtype=np.uint64)

    def table_keys(self, words: Words, table: int) -> NDArray[np.uint64]:
        """The key of every row of ``words`` in one table."""
        word, slot = divmod(table, self.per_word)
        shift = np.uint64(slot * self.key_bits)
        return (words[:, word] >> shift) & np.uint64(self.buckets - 1)

    @cached_property
    def _key_mask(self) -> np.uint64:
        return np.uint64(self.buckets - 1)

    def query_keys(self, queries: Words) -> NDArray[np.int64]:
        """Keys in every table of a ``(4,)`` query, or of ``(k, 4)`` queries as ``(k, tables)``."""
        keys = (queries[..., self._word_of] >> self._shift_of) & self._key_mask
        return keys.astype(np.int64)

    def offsets_bytes(self) -> int:
        return (self.tables * self.buckets + 1) * 4

    def radii(self, threshold: int) -> list[int] | None:
        """Per-table probe radii with ``sum(r + 1) == threshold + 1``; None if beyond reach."""
        whole, extra = divmod(threshold + 1, self.tables)
        radii = [whole] * extra + [whole - 1] * (self.tables - extra)
        return radii if max(radii) <= self.key_bits else None

    def estimate_ns(self, threshold: int, entries: int) -> float:
        """Expected cost of one query over ``entries`` uniformly random hashes."""
        radii = self.radii(threshold)
        if radii is None:
            return float("inf")
        probes = sum(int(_masks(self.key_bits, r).size) for r in radii if r >= 0)
        candidates = probes * entries / self.buckets
        return probes * PROBE_NS + candidates * CANDIDATE_NS


def choose_layout(entries: int, threshold: int) -> Layout:
    """The cheapest layout whose offset tables are at most ~1.25x the rest of the index.

    (The rest: 8 bytes of id, 32 of hash and 4 per table of position for each entry.)
    """
    best = Layout(KEY_BITS_CHOICES[0])
    for bits in KEY_BITS_CHOICES[1:]:
        layout = Layout(bits)
        budget = 1.25 * entries * (40 + 4 * layout.tables)
        if layout.offsets_bytes() > budget:
            continue
        if layout.estimate_ns(threshold, entries) < best.estimate_ns(threshold, entries):
            best = layout
    return best


@lru_cache(maxsize=64)
def _masks(bits: int, radius: int) -> NDArray[np.int64]:
    """Every ``bits``-bit XOR mask with at most ``radius`` bits set, fewest bits first."""
    if radius < 0:
        return np.empty(0, dtype=np.int64)
    values = np.arange(1 << bits, dtype=np.int64)
    weights = np.bitwise_count(values)
    masks = values[weights <= radius]
    order = np.argsort(weights[masks], kind="stable")
    out = masks[order]
    out.setflags(write=False)
    return out


@dataclass(frozen=True)
class ProbePlan:
    """Every (table, XOR mask) pair a query probes, flattened for vectorised lookups."""

    tables: NDArray[np.intp]  # the table of each probe
    #: the probe's XOR mask, with its table number above the key bits: ``key ^ xmask`` is
    #: where the probed key's list starts in the flattened offsets (``table * 2**b + key``)
    xmasks: NDArray[np.int64]


@lru_cache(maxsize=128)
def probe_plan(layout: Layout, threshold: int) -> ProbePlan | None:
    """The probes that find every entry within ``threshold``; None if no radii reach it."""
    radii = layout.radii(threshold)
    if radii is None:
        return None
    masks = [_masks(layout.key_bits, r) for r in radii]
    tables = np.repeat(np.arange(layout.tables, dtype=np.intp), [m.size for m in masks])
    plan = ProbePlan(
        tables=tables, xmasks=np.concatenate(masks) | (tables.astype(np.int64) << layout.key_bits)
    )
    for array in (plan.tables, plan.xmasks):
        array.setflags(write=False)
    return plan
