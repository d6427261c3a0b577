"""An exact PDQ index: every entry within the threshold, found fast, kept current cheaply.

::

    index = PdqIndex.build(ids, hashes)            # or PdqIndex() and add()
    index.add([42], ["f8f8...64 hex..."])           # visible to the next query; replaces id 42
    index.remove([7])
    index.query(some_hash)                          # [(id, distance), ...] nearest first
    index.compact()                                 # fold pending changes in (background-safe)
    index.save(path, watermark=seq)                 # atomic, checksummed; PdqIndex.load(path)

Queries are exact: the result is the same set, with the same distances, as comparing the
query with every entry (:meth:`PdqIndex.brute_force`). See ``docs/index.md`` for the proof
sketch and the measured figures.

Thread safety: queries read an immutable snapshot and take no lock; changes are serialised
by a lock and publish a new snapshot; :meth:`compact` builds without holding the lock, so it
may run in a background thread while queries and changes continue.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from shieldwall.core.errors import InvalidInput
from shieldwall.core.index._file import read_index, write_index
from shieldwall.core.index._hashes import (
    IdsLike,
    PdqHashesLike,
    PdqHashLike,
    Words,
    parse_ids,
    pdq_word,
    pdq_words,
)
from shieldwall.core.index._layout import KEY_BITS_CHOICES, Layout
from shieldwall.core.index._segment import Segment, offsets_dtype
from shieldwall.core.index._state import Ids, State, last_of_each

#: Meta's guidance: PDQ hashes within 31 bits are a match.
DEFAULT_THRESHOLD = 31
MAX_DISTANCE = 256
#: A compaction is due once pending changes pass this many, or 1/512 of the entries.
COMPACT_AFTER = 1024
_KIND = "pdq"

Match = tuple[int, int]


def _watermark(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise InvalidInput("a watermark is an integer (e.g. a database change sequence)")
    return int(value)


def _threshold(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise InvalidInput("a threshold is an integer number of bits")
    if not 0 <= int(value) <= MAX_DISTANCE:
        raise InvalidInput(f"a PDQ threshold is between 0 and {MAX_DISTANCE} bits, got {value}")
    return int(value)


def _pairs(ids: Ids, dist: np.ndarray[Any, Any]) -> list[Match]:
    if ids.size <= 1:
        return list(zip(ids.tolist(), dist.tolist(), strict=True))
    order = np.lexsort((ids, dist))
    return list(zip(ids[order].tolist(), dist[order].tolist(), strict=True))


class PdqIndex:
    """Exact Hamming-distance index of PDQ hashes under caller-chosen ``int64`` ids.

    ``threshold`` is the default for queries (and what the layout is tuned for);
    ``watermark`` is an opaque integer the caller uses to record what the index reflects
    (e.g. a database change sequence) and ``metadata`` any JSON object; both are saved.
    """

    def __init__(
        self,
        *,
        threshold: int = DEFAULT_THRESHOLD,
        watermark: int = 0,
        metadata: Mapping[str, Any] | None = None,
    ) -> None:
        self.threshold = _threshold(threshold)
        self.watermark = _watermark(watermark)
        self.metadata: dict[str, Any] = dict(metadata or {})
        self._state = State.of(Segment.empty())
        self._lock = threading.Lock()
        self._compacting = threading.Lock()
        self._journal: list[tuple[bool, Ids, Words]] | None = None

    @classmethod
    def build(
        cls,
        ids: IdsLike | Iterable[int],
        hashes: PdqHashesLike | Iterable[PdqHashLike],
        *,
        threshold: int = DEFAULT_THRESHOLD,
        watermark: int = 0,
        metadata: Mapping[str, Any] | None = None,
    ) -> PdqIndex:
        """A compacted index of ``hashes`` under ``ids`` (a repeated id keeps its last hash)."""
        index = cls(threshold=threshold, watermark=watermark, metadata=metadata)
        words = pdq_words(hashes)
        unique, words = last_of_each(parse_ids(ids, expected=len(words)), words)
        index._state = State.of(Segment.build(unique, words, index.threshold))
        return index

    # -- reading ------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._state)

    def __contains__(self, entry_id: object) -> bool:
        if isinstance(entry_id, bool) or not isinstance(entry_id, int | np.integer):
            return False
        if not -(2**63) <= int(entry_id) < 2**63:
            return False
        return bool(self._state.contains(np.array([entry_id], dtype=np.int64))[0])

    def query(self, hash: PdqHashLike, threshold: int | None = None) -> list[Match]:
        """Every ``(id, distance)`` with distance <= ``threshold``, nearest first, then by id."""
        query = pdq_word(hash)
        limit = self.threshold if threshold is None else _threshold(threshold)
        state = self._state
        ids, dist = state.match(*state.segment.search(query, limit))
        extra_ids, extra_dist = state.match_delta(query, limit)
        if extra_ids.size:
            ids, dist = np.concatenate([ids, extra_ids]), np.concatenate([dist, extra_dist])
        return _pairs(ids, dist)

    def query_many(
        self, hashes: PdqHashesLike | Iterable[PdqHashLike], threshold: int | None = None
    ) -> list[list[Match]]:
        """:meth:`query` for each hash, answered together (faster per hash for large batches)."""
        queries = pdq_words(hashes)
        limit = self.threshold if threshold is None else _threshold(threshold)
        state = self._state
        which, rows, dist = state.segment.search_many(queries, limit)
        if state.dead.size:
            live = state.alive(rows)
            which, rows, dist = which[live], rows[live], dist[live]
        ids = state.segment.ids[rows]
        bounds = np.searchsorted(which, np.arange(len(queries) + 1))
        out: list[list[Match]] = []
        for i, query in enumerate(queries):
            a, b = bounds[i], bounds[i + 1]
            q_ids, q_dist = ids[a:b], dist[a:b]
            extra_ids, extra_dist = state.match_delta(query, limit)
            if extra_ids.size:
                q_ids = np.concatenate([q_ids, extra_ids])
                q_dist = np.concatenate([q_dist, extra_dist])
            out.append(_pairs(q_ids, q_dist))
        return out

    def brute_force(self, hash: PdqHashLike, threshold: int | None = None) -> list[Match]:
        """The same answer as :meth:`query`, by comparing with every entry (slow; a reference)."""
        query = pdq_word(hash)
        limit = self.threshold if threshold is None else _threshold(threshold)
        state = self._state
        ids, dist = state.match(*state.segment.scan(query, limit))
        extra_ids, extra_dist = state.match_delta(query, limit)
        return _pairs(np.concatenate([ids, extra_ids]), np.concatenate([dist, extra_dist]))

    # -- changing -----------------------------------------------------------------------

    def add(
        self, ids: IdsLike | Iterable[int], hashes: PdqHashesLike | Iterable[PdqHashLike]
    ) -> None:
        """Add entries, replacing any with the same id; visible to the next query.

        Cost is proportional to the pending changes, not to the index size. If the pending
        part grows larger than the compacted part (as when filling an empty index with
        ``add``), the index compacts before returning; prefer :meth:`build` for bulk loads.
        """
        words = pdq_words(hashes)
        unique, words = last_of_each(parse_ids(ids, expected=len(words)), words)
        if not unique.size:
            return
        with self._lock:
            self._state = self._state.with_added(unique, words)
            if self._journal is not None:
                self._journal.append((True, unique, words))
            state = self._state
        grown = state.delta_ids.shape[0] > max(COMPACT_AFTER, len(state.segment))
        if grown and not self._compacting.locked():
            self.compact()

    def remove(self, ids: IdsLike | Iterable[int]) -> int:
        """Remove entries by id (unknown ids are ignored); returns how many were present."""
        unique = np.unique(parse_ids(ids))
        if not unique.size:
            return 0
        with self._lock:
            self._state, removed = self._state.without(unique)
            if self._journal is not None:
                self._journal.append((False, unique, np.empty((0, 4), np.uint64)))
        return removed

    def needs_compaction(self) -> bool:
        """True once pending changes are many enough to slow queries; then call :meth:`compact`."""
        state = self._state
        return state.pending > max(COMPACT_AFTER, len(state.segment) // 512)

    def compact(self) -> None:
        """Fold pending changes into a freshly built segment.

        Safe to run in a background thread: queries and changes carry on meanwhile (they
        see the old snapshot) and changes made during the build are replayed onto the new
        one. One compaction runs at a time.
        """
        with self._compacting:
            with self._lock:
                start = self._state
                if not start.pending:
                    return
                self._journal = []
            try:
                ids, words = start.live()
                fresh = State.of(Segment.build(ids, words, self.threshold))
            except BaseException:
                with self._lock:
                    self._journal = None
                raise
            with self._lock:  # replay and swap in one step: no change can slip between
                for added, op_ids, op_words in self._journal:
                    if added:
                        fresh = fresh.with_added(op_ids, op_words)
                    else:
                        fresh = fresh.without(op_ids)[0]
                self._journal = None
                self._state = fresh

    # -- persistence --------------------------------------------------------------------

    def save(
        self,
        path: str | os.PathLike[str],
        *,
        watermark: int | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> None:
        """Write the index (pending changes included) atomically to ``path``.

        ``watermark`` and ``metadata``, when given, replace the index's own first.
        """
        if watermark is not None:
            self.watermark = _watermark(watermark)
        if metadata is not None:
            self.metadata = dict(metadata)
        state = self._state
        segment = state.segment
        fields = {
            "threshold": self.threshold,
            "watermark": self.watermark,
            "metadata": self.metadata,
            "key_bits": segment.layout.key_bits,
            "entries": len(state),
        }
        arrays: dict[str, np.ndarray[Any, Any]] = {
            "ids": segment.ids,
            "words": segment.words,
            "positions": segment.positions,
            "offsets": segment.offsets,
            "dead": state.dead,
            "delta_ids": state.delta_ids,
            "delta_words": state.delta_words,
        }
        write_index(path, _KIND, fields, arrays)

    @classmethod
    def load(cls, path: str | os.PathLike[str], *, mmap: bool = False) -> PdqIndex:
        """Read a file written by :meth:`save`; :class:`InvalidInput` if it is damaged.

        Nothing is rebuilt: the arrays are used as stored (``mmap`` maps them read-only).
        """
        fields, arrays = read_index(path, _KIND, mmap=mmap)
        try:
            state = _checked_state(fields, arrays)
            index = cls(
                threshold=fields["threshold"],
                watermark=fields["watermark"],
                metadata=fields["metadata"],
            )
        except (KeyError, TypeError, ValueError, InvalidInput) as exc:
            reason = exc.message if isinstance(exc, InvalidInput) else repr(exc)
            raise InvalidInput(f"{path} is not a consistent PDQ index: {reason}") from exc
        index._state = state
        return index


def _checked_state(fields: Mapping[str, Any], arrays: Mapping[str, np.ndarray[Any, Any]]) -> State:
    """Cheap structural checks, so a well-checksummed but inconsistent file is refused too."""
    key_bits = int(fields["key_bits"])
    if key_bits not in KEY_BITS_CHOICES:
        raise ValueError(f"unknown key width {key_bits}")
    if not isinstance(fields["metadata"], dict) or not isinstance(fields["watermark"], int):
        raise ValueError("metadata must be an object and watermark an integer")
    layout = Layout(key_bits)
    ids, words = arrays["ids"], arrays["words"]
    positions, offsets = arrays["positions"], arrays["offsets"]
    dead, delta_ids, delta_words = arrays["dead"], arrays["delta_ids"], arrays["delta_words"]
    n = ids.shape[0]
    expect = {
        "ids": (ids, np.int64, (n,)),
        "words": (words, np.uint64, (n, 4)),
        "positions": (positions, np.uint32, (layout.tables * n,)),
        "dead": (dead, np.int64, dead.shape[:1]),
        "delta_ids": (delta_ids, np.int64, delta_ids.shape[:1]),
        "delta_words": (delta_words, np.uint64, (delta_ids.shape[0], 4)),
    }
    for name, (array, dtype, shape) in expect.items():
        if array.dtype != dtype or array.shape != shape:
            raise ValueError(f"{name} is {array.dtype}{array.shape}, expected {shape}")
    if n == 0:
        segment = Segment.empty()
    else:
        size = layout.tables * layout.buckets + 1
        if offsets.dtype != offsets_dtype(layout, n) or offsets.shape != (size,):
            raise ValueError("offsets have the wrong type or shape")
        anchors = offsets[:: layout.buckets].astype(np.int64)  # each table's start, then m*n
        if (anchors != np.arange(layout.tables + 1, dtype=np.int64) * n).any():
            raise ValueError("offsets do not cover the positions")
        if (offsets[1:] < offsets[:-1]).any() or int(positions.max()) >= n:
            raise ValueError("offsets or positions out of order")
        segment = Segment(ids, words, layout, positions, offsets)
    if fields["entries"] != n - dead.shape[0] + delta_ids.shape[0]:
        raise ValueError("entry count does not match the arrays")
    for name, array in (("ids", ids), ("dead", dead), ("delta_ids", delta_ids)):
        if array.size > 1 and not bool((array[1:] > array[:-1]).all()):
            raise ValueError(f"{name} are not strictly ascending")
    if dead.size and (dead[0] < 0 or dead[-1] >= n):
        raise ValueError("tombstones point outside the entries")
    return State(segment, dead, delta_ids, delta_words)
