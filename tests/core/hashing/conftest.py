"""Shared data, pytx loaders and benign synthetic images for the hashing tests.

The reference data lives in ``shared/`` beside the repository (``/work/shared`` next to
``/work/main``; in CI the clone has ``shared/`` beside it). Tests that need it skip, saying
why, when the folder is absent.
"""

from __future__ import annotations

import csv
import io
import sys
import types
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

SHARED = Path(__file__).resolve().parents[4] / "shared" / "data"
PDQ_REF = SHARED / "pdq-reference"
VPDQ_REF = SHARED / "vpdq-reference"
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".gif", ".bmp", ".tif", ".tiff")

needs_pdq_reference = pytest.mark.skipif(
    not PDQ_REF.is_dir(), reason=f"shared PDQ reference data not found at {PDQ_REF}"
)
needs_vpdq_reference = pytest.mark.skipif(
    not VPDQ_REF.is_dir(), reason=f"shared vPDQ reference data not found at {VPDQ_REF}"
)


def reference_images() -> list[str]:
    """Every image in the PDQ reference folder, relative to it (empty when absent)."""
    if not PDQ_REF.is_dir():
        return []
    return sorted(
        str(p.relative_to(PDQ_REF))
        for p in PDQ_REF.rglob("*")
        if p.suffix.lower() in IMAGE_SUFFIXES
    )


def expected_rows(name: str = "expected.csv") -> list[dict[str, str]]:
    if not PDQ_REF.is_dir():
        return []
    with (PDQ_REF / name).open(newline="") as fh:
        return list(csv.DictReader(fh))


def distance(a: str, b: str) -> int:
    return (int(a, 16) ^ int(b, 16)).bit_count()


@pytest.fixture(scope="session")
def pytx_pdq() -> types.ModuleType:
    """python-threatexchange's PDQ hasher (the dev extra installs it)."""
    module: types.ModuleType = pytest.importorskip(
        "threatexchange.signal_type.pdq.pdq_hasher",
        reason="python-threatexchange is not installed (pip install -e '.[dev]')",
    )
    return module


@pytest.fixture(scope="session")
def pytx_vpdq() -> Iterator[types.SimpleNamespace]:
    """pytx's vPDQ serialisation and brute-force matcher.

    They import the ``vpdq`` C++ bindings at module level only for type names and the
    hasher; neither is needed here, so a stand-in module is used when they are missing.
    """
    pytest.importorskip("threatexchange", reason="python-threatexchange is not installed")
    stub_added = False
    if "vpdq" not in sys.modules:
        try:
            import vpdq  # noqa: F401
        except ImportError:
            stub = types.ModuleType("vpdq")
            stub.VpdqFeature = object  # type: ignore[attr-defined]
            sys.modules["vpdq"] = stub
            stub_added = True
    from threatexchange.extensions.vpdq import vpdq_brute_matcher, vpdq_util

    yield types.SimpleNamespace(util=vpdq_util, brute=vpdq_brute_matcher)
    if stub_added:
        for name in [m for m in sys.modules if m == "vpdq" or ".extensions.vpdq" in m]:
            del sys.modules[name]


def synthetic_photo(width: int, height: int, seed: int = 0) -> Image.Image:
    """A benign photo-like picture: gradients, soft noise and a few shapes."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    base = np.stack(
        [
            255 * x / max(width - 1, 1),
            255 * y / max(height - 1, 1),
            127 + 100 * np.sin((x + y) / max(width, height) * 6.0),
        ],
        axis=2,
    )
    base += rng.normal(0, 12, base.shape)
    image = Image.fromarray(np.clip(base, 0, 255).astype(np.uint8), "RGB")
    draw = ImageDraw.Draw(image)
    for _ in range(8):
        cx, cy = int(rng.integers(0, width)), int(rng.integers(0, height))
        r = int(rng.integers(max(2, width // 20), max(3, width // 5)))
        colour = tuple(int(v) for v in rng.integers(0, 256, 3))
        if rng.random() < 0.5:
            draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=colour)
        else:
            draw.rectangle((cx - r, cy - r // 2, cx + r, cy + r // 2), fill=colour)
    return image


def encode(image: Image.Image, fmt: str = "JPEG", **params: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **params)
    return buffer.getvalue()


@pytest.fixture(scope="session")
def photo_jpeg() -> bytes:
    return encode(synthetic_photo(640, 480), "JPEG", quality=90)


@pytest.fixture(scope="session")
def big_jpeg() -> bytes:
    """A 3000 x 2000 photo-like JPEG, quality 90."""
    return encode(synthetic_photo(3000, 2000, seed=3), "JPEG", quality=90)
