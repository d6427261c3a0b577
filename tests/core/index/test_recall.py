"""Exactness: the index returns exactly the brute-force answer, distances included.

Neighbours are made by flipping exactly k random bits of an indexed hash for every k from 0
to threshold + 1, over random and clustered lists, for thresholds from 0 to 256 and for each
table layout. The probing path is forced (no scan fallback) so that it is what is tested.
"""

from __future__ import annotations

import random

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shieldwall.core.index import PdqIndex, _segment
from shieldwall.core.index._layout import Layout

from .samples import clustered, flip, neighbours, random_hash, reference

THRESHOLDS = st.one_of(
    st.sampled_from([0, 1, 15, 16, 17, 31, 32, 40, 64]), st.integers(0, 70), st.just(256)
)
CHECKS = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@pytest.fixture
def probe_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """Never fall back to scanning, so the multi-index path answers every query."""
    monkeypatch.setattr(_segment, "SCAN_NS", float("inf"))


def _entries(seed: int, count: int, kind: str) -> dict[int, bytes]:
    rng = random.Random(seed)
    values = (
        clustered(count, rng) if kind == "clustered" else [random_hash(rng) for _ in range(count)]
    )
    ids = rng.sample(range(-(2**40), 2**40), count)
    return dict(zip(ids, values, strict=True))


def _build(entries: dict[int, bytes], threshold: int) -> PdqIndex:
    return PdqIndex.build(list(entries), list(entries.values()), threshold=threshold)


@CHECKS
@given(
    seed=st.integers(0, 2**32),
    count=st.integers(0, 300),
    kind=st.sampled_from(["random", "clustered"]),
    threshold=THRESHOLDS,
    bits=st.sampled_from([16, 17]),
)
def test_query_is_brute_force(
    probe_only: None,
    monkeypatch: pytest.MonkeyPatch,
    seed: int,
    count: int,
    kind: str,
    threshold: int,
    bits: int,
) -> None:
    monkeypatch.setattr(_segment, "choose_layout", lambda n, t: Layout(bits))
    if threshold > 64:
        count = min(count, 40)
    entries = _entries(seed, count, kind)
    index = _build(entries, threshold)
    rng = random.Random(seed + 1)
    for query in neighbours(entries, threshold, rng):
        assert index.query(query) == reference(entries, query, threshold)


@CHECKS
@given(
    seed=st.integers(0, 2**32),
    count=st.integers(1, 200),
    kind=st.sampled_from(["random", "clustered"]),
    threshold=st.integers(0, 64),
)
def test_query_many_and_brute_force_agree(
    probe_only: None, seed: int, count: int, kind: str, threshold: int
) -> None:
    entries = _entries(seed, count, kind)
    index = _build(entries, 31)
    queries = list(neighbours(entries, threshold, random.Random(seed)))
    expected = [reference(entries, q, threshold) for q in queries]
    assert index.query_many(queries, threshold) == expected
    assert [index.brute_force(q, threshold) for q in queries] == expected
    assert [index.query(q, threshold) for q in queries] == expected


@pytest.mark.parametrize("kind", ["random", "clustered"])
def test_twelve_wide_tables_at_default_threshold(
    probe_only: None, monkeypatch: pytest.MonkeyPatch, kind: str
) -> None:
    """The 12 x 21-bit layout chosen for millions of entries, with radius-2 probes."""
    monkeypatch.setattr(_segment, "choose_layout", lambda n, t: Layout(21))
    entries = _entries(7, 3000, kind)
    index = _build(entries, 31)
    rng = random.Random(8)
    for threshold in (0, 23, 31, 35):
        for query in neighbours(entries, threshold, rng):
            assert index.query(query, threshold) == reference(entries, query, threshold)


@pytest.mark.parametrize("kind", ["random", "clustered"])
def test_fifty_thousand_entries_smoke(kind: str) -> None:
    """A larger index on its own chosen layout and fallbacks, against numpy brute force."""
    rng = np.random.default_rng(5)
    count = 50_000
    if kind == "random":
        raw = rng.integers(0, 256, size=(count, 32), dtype=np.uint8)
    else:
        bases = rng.integers(0, 256, size=(200, 32), dtype=np.uint8)
        raw = bases[rng.integers(0, 200, count)]
        flips = rng.random((count, 256)) < rng.integers(0, 41, (count, 1)) / 256
        raw ^= np.packbits(flips, axis=1)
    ids = rng.permutation(count * 3)[:count].astype(np.int64)
    index = PdqIndex.build(ids, raw)
    bits = np.unpackbits(raw, axis=1).astype(np.int16)
    py = random.Random(6)
    for k in [*range(33), 40, 64]:
        query = flip(raw[py.randrange(count)].tobytes(), k, py)
        qbits = np.unpackbits(np.frombuffer(query, np.uint8)).astype(np.int16)
        dist = np.abs(bits - qbits).sum(axis=1)
        for threshold in (31, k):
            hit = np.flatnonzero(dist <= threshold)
            expected = sorted(
                zip(ids[hit].tolist(), dist[hit].tolist(), strict=True), key=lambda p: (p[1], p[0])
            )
            assert index.query(query, threshold) == expected
