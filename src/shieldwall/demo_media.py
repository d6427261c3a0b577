"""Benign stand-in pictures for the demo bank: generated shapes and gradients, nothing else.

"Known" material in the demo is stood in for by these pictures and their hashes, so a new
user can see a block verdict without any real abuse imagery existing anywhere.
"""

from __future__ import annotations

import io
import random
from pathlib import Path

from PIL import Image, ImageDraw, ImageFilter

SIZE = (640, 480)


def stand_in(seed: int) -> Image.Image:
    """A deterministic abstract picture: a two-colour gradient with a few shapes."""
    rng = random.Random(seed)  # noqa: S311 - pictures, not secrets
    top = tuple(rng.randrange(256) for _ in range(3))
    bottom = tuple(rng.randrange(256) for _ in range(3))
    image = Image.new("RGB", SIZE)
    draw = ImageDraw.Draw(image)
    for y in range(SIZE[1]):
        t = y / (SIZE[1] - 1)
        draw.line(
            [(0, y), (SIZE[0], y)],
            fill=tuple(int(a + (b - a) * t) for a, b in zip(top, bottom, strict=True)),
        )
    for _ in range(6):
        x0, y0 = rng.randrange(SIZE[0] - 100), rng.randrange(SIZE[1] - 100)
        x1, y1 = x0 + rng.randrange(40, 200), y0 + rng.randrange(40, 200)
        colour = tuple(rng.randrange(256) for _ in range(3))
        if rng.random() < 0.5:
            draw.ellipse([x0, y0, x1, y1], fill=colour)
        else:
            draw.rectangle([x0, y0, x1, y1], fill=colour)
    return image


def jpeg(image: Image.Image, quality: int = 90) -> bytes:
    out = io.BytesIO()
    image.save(out, "JPEG", quality=quality)
    return out.getvalue()


def write_demo_images(folder: Path) -> dict[str, bytes]:
    """Write the demo pictures; returns name -> bytes.

    ``known-*.jpg`` go into the demo bank; ``known-1-edited.jpg`` is known-1 shrunk, blurred
    and recompressed (a near-duplicate the PDQ index still matches); ``unknown.jpg`` is in no
    bank.
    """
    folder.mkdir(parents=True, exist_ok=True)
    files = {f"known-{n}.jpg": jpeg(stand_in(n)) for n in (1, 2, 3)}
    edited = stand_in(1).resize((480, 360)).filter(ImageFilter.GaussianBlur(1.2))
    files["known-1-edited.jpg"] = jpeg(edited, quality=60)
    files["unknown.jpg"] = jpeg(stand_in(99))
    for name, data in files.items():
        (folder / name).write_bytes(data)
    return files
