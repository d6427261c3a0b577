"""PdqIndex semantics: add, replace, remove, compact (also in the background), inputs."""

from __future__ import annotations

import random
import threading

import numpy as np
import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

import shieldwall.core.index as index_api
from shieldwall.core.errors import InvalidInput
from shieldwall.core.index import PdqIndex, _segment

from .samples import flip, random_hash, reference

RNG = random.Random(1)
A, B, C = (random_hash(RNG) for _ in range(3))


def test_public_surface() -> None:
    for name in index_api.__all__:
        assert hasattr(index_api, name), name
    assert index_api.DEFAULT_THRESHOLD == 31


def test_empty_index_answers_nothing() -> None:
    index = PdqIndex()
    assert len(index) == 0
    assert index.query(A) == []
    assert index.query_many([A, B]) == [[], []]
    assert not index.needs_compaction()
    index.compact()
    assert index.query(A) == []


def test_add_is_visible_at_once_and_replaces() -> None:
    index = PdqIndex.build([1, 2], [A, B])
    near = flip(A, 5, RNG)
    index.add([3], [near])
    assert index.query(A) == [(1, 0), (3, 5)]
    index.add([1], [C])  # id 1 now means C
    assert index.query(A) == [(3, 5)]
    assert index.query(C) == [(1, 0)]
    assert len(index) == 3
    assert 1 in index
    assert 4 not in index
    assert "1" not in index


def test_last_hash_wins_within_one_batch() -> None:
    index = PdqIndex.build([5, 5, 6], [A, B, C])
    assert index.query(A) == []
    assert index.query(B) == [(5, 0)]
    index.add([7, 7], [A, C])
    assert index.query(C) == [(6, 0), (7, 0)]
    assert len(index) == 3


def test_remove_counts_only_present_ids() -> None:
    index = PdqIndex.build([1, 2, 3], [A, B, C])
    index.add([4], [A])
    assert index.remove([1, 4, 99]) == 2
    assert index.remove([1]) == 0
    assert index.query(A) == []
    assert len(index) == 2
    index.add([1], [A])  # an id may come back
    assert index.query(A) == [(1, 0)]


def test_compact_keeps_every_answer() -> None:
    rng = random.Random(2)
    entries = {i: random_hash(rng) for i in range(400)}
    index = PdqIndex.build(list(entries), list(entries.values()))
    for i in range(0, 400, 3):
        entries[i] = flip(entries[i], 3, rng)
        index.add([i], [entries[i]])
    index.remove(list(range(1, 400, 7)))
    for i in range(1, 400, 7):
        entries.pop(i, None)
    queries = [flip(h, rng.randint(0, 33), rng) for h in list(entries.values())[:50]]
    before = [index.query(q) for q in queries]
    assert before == [reference(entries, q, 31) for q in queries]
    assert index.needs_compaction() is False  # 190 pending < 1024
    index.compact()
    assert [index.query(q) for q in queries] == before
    assert index._state.pending == 0


def test_needs_compaction_after_many_changes() -> None:
    rng = random.Random(3)
    index = PdqIndex.build(range(2000), [random_hash(rng) for _ in range(2000)])
    index.add(range(5000, 5000 + 1100), [random_hash(rng) for _ in range(1100)])
    assert index.needs_compaction()
    index.compact()
    assert not index.needs_compaction()
    assert len(index) == 3100


def test_filling_an_empty_index_by_add_compacts_as_it_grows() -> None:
    rng = random.Random(4)
    index = PdqIndex()
    values = [random_hash(rng) for _ in range(6000)]
    for start in range(0, 6000, 1500):
        index.add(range(start, start + 1500), values[start : start + 1500])
    state = index._state
    assert len(state.segment) >= 3000
    assert state.delta_ids.size <= len(state.segment)
    assert index.query(values[4321]) == [(4321, 0)]


def test_changes_during_a_compaction_are_replayed(monkeypatch: pytest.MonkeyPatch) -> None:
    index = PdqIndex.build([1, 2], [A, B])
    index.add([3], [C])
    real_build = _segment.Segment.build

    def build_while_changing(*args: object, **kwargs: object) -> _segment.Segment:
        index.add([4], [A])  # lands while the new segment is being built
        index.remove([2])
        index.add([1], [C])
        return real_build(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(_segment.Segment, "build", staticmethod(build_while_changing))
    index.compact()
    assert index.query(A) == [(4, 0)]
    assert index.query(B) == []
    assert index.query(C) == [(1, 0), (3, 0)]
    assert len(index) == 3


def test_background_compaction_with_concurrent_changes() -> None:
    rng = random.Random(5)
    entries = {i: random_hash(rng) for i in range(20_000)}
    index = PdqIndex.build(list(entries), list(entries.values()))
    for i in range(30_000, 32_000):
        entries[i] = random_hash(rng)
    index.add(range(30_000, 32_000), [entries[i] for i in range(30_000, 32_000)])
    index.remove(range(0, 2000))
    for i in range(0, 2000):
        del entries[i]
    worker = threading.Thread(target=index.compact)
    worker.start()
    for i in range(10_000, 10_100):
        entries[i] = random_hash(rng)
        index.add([i], [entries[i]])
        assert index.remove([i + 5000]) == 1
        del entries[i + 5000]
        assert index.query(entries[i]) == [(i, 0)]
    worker.join()
    assert len(index) == len(entries)
    for i in list(range(10_000, 10_100)) + list(range(30_000, 30_100)):
        assert index.query(entries[i]) == [(i, 0)]
    for i in range(15_000, 15_100):
        assert i not in index
    queries = [flip(entries[i], rng.randint(0, 32), rng) for i in rng.sample(sorted(entries), 30)]
    assert [index.query(q) for q in queries] == [reference(entries, q, 31) for q in queries]


@pytest.mark.parametrize("bad", [-1, 257, True, 3.0, "31"])
def test_threshold_must_be_0_to_256(bad: object) -> None:
    with pytest.raises(InvalidInput):
        PdqIndex(threshold=bad)  # type: ignore[arg-type]
    with pytest.raises(InvalidInput):
        PdqIndex().query(A, bad)  # type: ignore[arg-type]


def test_every_hash_form_is_accepted() -> None:
    index = PdqIndex.build([1], [A.hex()])
    forms = [A, bytearray(A), memoryview(A), A.hex(), A.hex().upper(), np.frombuffer(A, np.uint8)]
    for form in forms:
        assert index.query(form) == [(1, 0)]  # type: ignore[arg-type]
    index.add(np.array([2], dtype=np.uint32), np.frombuffer(B, np.uint8).reshape(1, 32))
    assert index.query(B) == [(2, 0)]


def test_a_bad_hash_changes_nothing() -> None:
    index = PdqIndex.build([1], [A])
    with pytest.raises(InvalidInput):
        index.add([2, 3], [B, "zz" * 32])
    with pytest.raises(InvalidInput):
        index.add([2, 3], [B])
    assert len(index) == 1
    assert 2 not in index


class IndexMachine(RuleBasedStateMachine):
    """Random add / replace / remove / compact / save-and-load, checked against a dict."""

    def __init__(self) -> None:
        super().__init__()
        self.saved_scan = _segment.SCAN_NS
        _segment.SCAN_NS = float("inf")
        self.rng = random.Random(0)
        self.model: dict[int, bytes] = {}
        self.index = PdqIndex()

    @initialize(seed=st.integers(0, 2**32), count=st.integers(0, 60))
    def start(self, seed: int, count: int) -> None:
        self.rng = random.Random(seed)
        self.model = {i: random_hash(self.rng) for i in range(count)}
        self.index = PdqIndex.build(list(self.model), list(self.model.values()))

    @rule(ids=st.lists(st.integers(0, 80), max_size=5), near=st.booleans())
    def add(self, ids: list[int], near: bool) -> None:
        values = []
        for i in ids:
            pool = list(self.model.values())
            base = self.rng.choice(pool) if near and pool else random_hash(self.rng)
            values.append(flip(base, self.rng.randint(0, 35), self.rng))
            self.model[i] = values[-1]
        self.index.add(ids, values)

    @rule(ids=st.lists(st.integers(0, 80), max_size=5))
    def remove(self, ids: list[int]) -> None:
        present = {i for i in ids if i in self.model}
        assert self.index.remove(ids) == len(present)
        for i in present:
            del self.model[i]

    @rule()
    def compact(self) -> None:
        self.index.compact()

    @rule()
    def save_and_load(self) -> None:
        import tempfile
        from pathlib import Path

        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "pdq.swidx"
            self.index.save(path)
            self.index = PdqIndex.load(path)

    @rule(k=st.integers(0, 40), threshold=st.sampled_from([0, 8, 31, 40]))
    def query(self, k: int, threshold: int) -> None:
        pool = list(self.model.values()) or [random_hash(self.rng)]
        query = flip(self.rng.choice(pool), k, self.rng)
        assert self.index.query(query, threshold) == reference(self.model, query, threshold)

    @invariant()
    def same_size(self) -> None:
        assert len(self.index) == len(self.model)

    def teardown(self) -> None:
        _segment.SCAN_NS = self.saved_scan


TestIndexMachine = IndexMachine.TestCase
TestIndexMachine.settings = settings(max_examples=25, stateful_step_count=25, deadline=None)
