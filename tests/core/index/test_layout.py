"""The pigeonhole plan: radii always add up, masks are complete, layouts fit the size."""

from __future__ import annotations

from math import comb

import numpy as np
import pytest

from shieldwall.core.index._layout import KEY_BITS_CHOICES, Layout, choose_layout, probe_plan


@pytest.mark.parametrize("bits", KEY_BITS_CHOICES)
def test_radii_cover_every_threshold(bits: int) -> None:
    layout = Layout(bits)
    for threshold in range(257):
        radii = layout.radii(threshold)
        if radii is None:
            assert layout.tables * (bits + 1) < threshold + 1
            continue
        assert len(radii) == layout.tables
        assert sum(r + 1 for r in radii) == threshold + 1  # the pigeonhole bound, tight
        assert max(radii) - min(radii) <= 1


@pytest.mark.parametrize(("bits", "threshold"), [(16, 31), (16, 40), (17, 31), (21, 31), (21, 5)])
def test_plan_probes_every_key_within_each_radius(bits: int, threshold: int) -> None:
    layout = Layout(bits)
    plan = probe_plan(layout, threshold)
    radii = layout.radii(threshold)
    assert plan is not None
    assert radii is not None
    for table, radius in enumerate(radii):
        masks = plan.xmasks[plan.tables == table] & (2**bits - 1)
        assert (plan.xmasks[plan.tables == table] >> bits == table).all()
        assert masks.size == sum(comb(bits, k) for k in range(radius + 1))
        assert len(set(masks.tolist())) == masks.size
        assert (np.bitwise_count(masks) <= radius).all()
        assert (masks < 2**bits).all()


def test_tables_cut_disjoint_bits() -> None:
    for bits in KEY_BITS_CHOICES:
        layout = Layout(bits)
        single = np.zeros((256, 4), dtype=np.uint64)
        for bit in range(256):
            single[bit, bit // 64] = np.uint64(1) << np.uint64(bit % 64)
        owners = np.array([layout.table_keys(single, t) != 0 for t in range(layout.tables)])
        assert owners.sum(axis=0).max() == 1  # no bit feeds two tables
        assert (owners.sum(axis=1) == bits).all()  # each table reads b bits


def test_layout_grows_with_the_index() -> None:
    assert choose_layout(1000, 31).key_bits == 16
    assert choose_layout(100_000, 31).key_bits == 16
    assert choose_layout(10_000_000, 31).key_bits == 21
