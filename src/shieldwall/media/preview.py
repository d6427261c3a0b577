"""Previews that are safe to show by default: small, grayscale and heavily blurred.

The picture is brought down to about 1/16 of the preview's size (so the preview carries at
most a few hundred coarse grey values of information), scaled back up and blurred. What a
reviewer can make out is the overall layout and brightness, enough to decide whether to
reveal the original, which the review UI does only on a deliberate click (and logs).
"""

from __future__ import annotations

import io
from functools import lru_cache

from PIL import Image, ImageDraw, ImageFilter

from shieldwall.media.frames import first_picture

PREVIEW_SIDE = 480
#: The preview is made from a picture with this long side (then scaled up and blurred).
COARSE_SIDE = 30
BLUR_RADIUS = 6
JPEG_QUALITY = 70
PREVIEW_TYPE = "image/jpeg"


def blurred_preview(data: bytes, *, max_pixels: int) -> tuple[bytes, str]:
    """A blurred grayscale JPEG of ``data``, or the neutral placeholder when it is not a
    picture or video that decodes. Never raises for bad media."""
    picture = first_picture(data, max_pixels=max_pixels, side=PREVIEW_SIDE)
    if picture is None:
        return placeholder(), PREVIEW_TYPE
    return _encode(obscure(picture)), PREVIEW_TYPE


def obscure(picture: Image.Image) -> Image.Image:
    """Grayscale, coarse, blurred; at most ``PREVIEW_SIDE`` px on the long side."""
    grey = picture.convert("L")
    grey.thumbnail((PREVIEW_SIDE, PREVIEW_SIDE))
    width, height = grey.size
    scale = COARSE_SIDE / max(width, height)
    coarse = grey.resize(
        (max(1, round(width * scale)), max(1, round(height * scale))), Image.Resampling.BOX
    )
    return coarse.resize((width, height), Image.Resampling.BILINEAR).filter(
        ImageFilter.GaussianBlur(BLUR_RADIUS)
    )


def _encode(picture: Image.Image) -> bytes:
    out = io.BytesIO()
    picture.save(out, "JPEG", quality=JPEG_QUALITY)
    return out.getvalue()


@lru_cache(maxsize=1)
def placeholder() -> bytes:
    """A plain grey card with a faint frame: "there is something here we cannot show"."""
    width, height = PREVIEW_SIDE, PREVIEW_SIDE * 3 // 4
    card = Image.new("L", (width, height), 128)
    draw = ImageDraw.Draw(card)
    draw.rectangle([24, 24, width - 25, height - 25], outline=112, width=4)
    draw.line([24, 24, width - 25, height - 25], fill=112, width=4)
    draw.line([24, height - 25, width - 25, 24], fill=112, width=4)
    return _encode(card)
