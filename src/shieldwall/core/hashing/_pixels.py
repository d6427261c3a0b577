"""From a decoded Pillow image to the pixel array PDQ hashes.

Two conversions:

* :func:`pytx_array` mirrors python-threatexchange's ``_convert_image_to_correct_array_dimension``
  exactly: only ``LA`` and ``I;16`` images are converted to RGB; everything else is handed to
  ``pdqhash`` as Pillow stores it (grey images are stacked to three channels). pdqhash reads
  the first three channels as R, G, B, so a palette (``P``) image is hashed by its palette
  indices, CMYK by C/M/Y, YCbCr by Y/Cb/Cr, and a bilevel (``1``) image as 0/1 values (which
  hashes the same picture at quality 0). Where pytx would crash (``I``, ``F``, ``PA`` ...) we
  fall back to :func:`rgb_array`.
* :func:`rgb_array` converts every mode to true 8-bit RGB (16-bit and float images are scaled,
  not clipped), which is what Meta's C++ and Java hashers effectively do.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
from numpy.typing import NDArray
from PIL import Image

PixelArray = NDArray[Any]

#: Modes where pytx's pixels differ from true colour, so the true-colour hash is a variant.
PYTX_QUIRK_MODES = frozenset({"1", "P", "CMYK", "YCbCr", "LAB", "HSV", "I;16"})
#: Fast path: images whose long side is larger than this are box-downscaled to it.
FAST_MAX_SIDE = 1024
#: Fast path: JPEGs are DCT-downscaled (1/2, 1/4, 1/8) while the long side stays >= this.
FAST_JPEG_DRAFT_SIDE = 512

_SIXTEEN_BIT = frozenset({"I;16", "I;16L", "I;16B", "I;16N"})


def silence_library_warnings() -> None:
    """Keep Pillow's (and PyAV's) warnings about odd files out of the caller's output.

    Installed per call rather than once: test runners and ``catch_warnings`` blocks reset the
    filter list, and ``filterwarnings`` replaces an identical entry, so repeating it is cheap
    and never grows the list. Unlike ``catch_warnings`` it is safe with threads.
    """
    warnings.filterwarnings("ignore", module=r"PIL(\.|$)")
    warnings.filterwarnings("ignore", module=r"av(\.|$)")
    warnings.filterwarnings("ignore", category=Image.DecompressionBombWarning)


def _stack_grey(array: PixelArray) -> PixelArray:
    if array.ndim == 2:
        return np.repeat(array[:, :, np.newaxis], 3, axis=2)
    return array


def pytx_array(image: Image.Image) -> PixelArray:
    """The array python-threatexchange would hash (see the module docstring)."""
    if image.mode in ("LA", "I;16"):
        image = image.convert("RGB")
    array = np.asarray(image)
    if array.ndim == 2:
        array = _stack_grey(array)
    if array.dtype not in (np.uint8, np.bool_) or array.ndim != 3 or array.shape[2] < 3:
        return rgb_array(image)
    return array


def rgb_array(image: Image.Image) -> PixelArray:
    """True 8-bit RGB pixels for any Pillow mode."""
    mode = image.mode
    if mode in _SIXTEEN_BIT:
        grey = (np.asarray(image).astype(np.uint16) >> 8).astype(np.uint8)
        return _stack_grey(grey)
    if mode in ("I", "F"):
        values = np.asarray(image, dtype=np.float64)
        low, high = float(values.min()), float(values.max())
        if low < 0 or high > 255:
            span = high - low or 1.0
            values = (values - low) * (255.0 / span)
        return _stack_grey(np.clip(np.rint(values), 0, 255).astype(np.uint8))
    if mode == "RGB":
        return np.asarray(image)
    if mode in ("La", "RGBa"):
        image = image.convert("RGBA")
    return np.asarray(image.convert("RGB"))


def fast_size(width: int, height: int, max_side: int) -> tuple[int, int]:
    """The size with the long side ``max_side`` and the same aspect ratio (never 0)."""
    scale = max_side / max(width, height)
    return max(1, round(width * scale)), max(1, round(height * scale))


def draft_jpeg(image: Image.Image) -> None:
    """Ask libjpeg to decode at 1/2, 1/4 or 1/8 scale, keeping the long side >= 512 px."""
    width, height = image.size
    if max(width, height) >= 2 * FAST_JPEG_DRAFT_SIDE:
        image.draft(None, fast_size(width, height, FAST_JPEG_DRAFT_SIDE))


def shrink_image(image: Image.Image) -> Image.Image:
    """Fast path, before conversion: box-downscale RGB/L images larger than 1024 px."""
    if image.mode in ("RGB", "L") and max(image.size) > FAST_MAX_SIDE:
        return image.resize(fast_size(*image.size, FAST_MAX_SIDE), Image.Resampling.BOX)
    return image


def shrink_array(array: PixelArray) -> PixelArray:
    """Fast path, after conversion: box-downscale any 8-bit array larger than 1024 px.

    Box filtering is linear per channel, so it keeps pytx's meaning of the channels (palette
    index, C/M/Y ...). Bilevel arrays (0/1 values) are left alone: rounding would erase them.
    """
    height, width = array.shape[:2]
    if array.dtype != np.uint8 or max(width, height) <= FAST_MAX_SIDE:
        return array
    rgb = Image.fromarray(np.ascontiguousarray(array[:, :, :3]), "RGB")
    return np.asarray(rgb.resize(fast_size(width, height, FAST_MAX_SIDE), Image.Resampling.BOX))


def is_uniform(array: PixelArray) -> bool:
    """Every pixel has the same value in the channels PDQ reads."""
    channels = array[:, :, :3]
    return bool((channels == channels[0, 0]).all())
