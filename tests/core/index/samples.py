"""Test data for the index: random and clustered hashes, exact bit flips, and a reference.

The reference compares by Python integers and ``int.bit_count``, sharing no code with the
index, so agreeing with it means something.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping

Pairs = list[tuple[int, int]]


def random_hash(rng: random.Random) -> bytes:
    return rng.getrandbits(256).to_bytes(32, "little")


def flip(value: bytes, bits: int, rng: random.Random) -> bytes:
    """``value`` with exactly ``bits`` distinct bits flipped."""
    number = int.from_bytes(value, "little")
    for bit in rng.sample(range(256), bits):
        number ^= 1 << bit
    return number.to_bytes(32, "little")


def clustered(count: int, rng: random.Random, *, bases: int = 4, spread: int = 40) -> list[bytes]:
    """Hashes drawn from a few bases with 0..``spread`` bits flipped, as real lists cluster."""
    roots = [random_hash(rng) for _ in range(bases)]
    return [flip(rng.choice(roots), rng.randint(0, spread), rng) for _ in range(count)]


def distance(a: bytes, b: bytes) -> int:
    return (int.from_bytes(a, "little") ^ int.from_bytes(b, "little")).bit_count()


def reference(entries: Mapping[int, bytes], query: bytes, threshold: int) -> Pairs:
    """Every (id, distance) within ``threshold``, nearest first then by id: brute force."""
    found = [(i, distance(h, query)) for i, h in entries.items()]
    return sorted(((i, d) for i, d in found if d <= threshold), key=lambda p: (p[1], p[0]))


def neighbours(entries: Mapping[int, bytes], threshold: int, rng: random.Random) -> Iterable[bytes]:
    """For each k in 0..threshold+1 (a sample of them past 64), an entry (or a random hash)
    with exactly k bits flipped, then one unrelated hash."""
    pool = list(entries.values()) or [random_hash(rng)]
    top = min(threshold + 1, 256)
    ks = range(top + 1) if threshold <= 64 else sorted({*rng.sample(range(top), 12), top - 1, top})
    for k in ks:
        yield flip(rng.choice(pool), k, rng)
    yield random_hash(rng)
