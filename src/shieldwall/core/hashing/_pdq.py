"""PDQ of a pixel array with ``pdqhash``; rotations/flips; border trimming."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

import numpy as np
import pdqhash

from shieldwall.core.hashing._options import DihedralMethod
from shieldwall.core.hashing._pixels import PixelArray
from shieldwall.core.signals import PdqHash

#: vPDQ's ``MIN_HASHABLE_DIM``: below this PDQ has nothing to work with (hash 0, quality 0).
MIN_HASHABLE_SIDE = 5

#: python-threatexchange's ``RotationType`` names (lowercase), in ``compute_dihedral``'s order.
DIHEDRAL_NAMES = (
    "original",
    "rotate90",
    "rotate180",
    "rotate270",
    "flipx",
    "flipy",
    "flipplus1",
    "flipminus1",
)

#: The pixel transform for each name; pytx's FLIPX is Pillow's FLIP_TOP_BOTTOM, FLIPY is
#: FLIP_LEFT_RIGHT, FLIPPLUS1 is TRANSPOSE, FLIPMINUS1 is TRANSVERSE, ROTATE90 is ROTATE_90.
TRANSFORMS: dict[str, Callable[[PixelArray], PixelArray]] = {
    "original": lambda a: a,
    "rotate90": lambda a: np.rot90(a, 1),
    "rotate180": lambda a: np.rot90(a, 2),
    "rotate270": lambda a: np.rot90(a, 3),
    "flipx": lambda a: a[::-1],
    "flipy": lambda a: a[:, ::-1],
    "flipplus1": lambda a: np.swapaxes(a, 0, 1),
    "flipminus1": lambda a: np.swapaxes(np.rot90(a, 2), 0, 1),
}

#: EXIF orientation tag value -> the transform that shows the image upright.
EXIF_UPRIGHT = {
    2: "flipy",
    3: "rotate180",
    4: "flipx",
    5: "flipplus1",
    6: "rotate270",
    7: "flipminus1",
    8: "rotate90",
}


def _to_hex(vector: Any) -> str:
    bits = np.asarray(vector, dtype=np.uint8)
    return np.packbits(bits).tobytes().hex()


def pdq_of(array: PixelArray) -> PdqHash:
    """The PDQ hash of an H x W x (3+) array, exactly as pytx's ``pdqhash.compute`` call.

    The array is made C-contiguous first: pdqhash reads the luma buffer as row-major, and a
    transposed view would otherwise be hashed as garbage.
    """
    vector, quality = pdqhash.compute(np.ascontiguousarray(array))
    return PdqHash(_to_hex(vector), int(quality))


def dihedral_of(array: PixelArray, method: DihedralMethod) -> dict[str, PdqHash]:
    """The 8 rotation/flip hashes, keyed by :data:`DIHEDRAL_NAMES`."""
    if method is DihedralMethod.TRANSPOSE:
        return {name: pdq_of(TRANSFORMS[name](array)) for name in DIHEDRAL_NAMES}
    vectors, quality = cast(
        "tuple[list[Any], int]", pdqhash.compute_dihedral(np.ascontiguousarray(array))
    )
    return {
        name: PdqHash(_to_hex(vector), int(quality))
        for name, vector in zip(DIHEDRAL_NAMES, vectors, strict=True)
    }


#: Share of a line's pixels that must be within the tolerance of the bar's colour for the
#: line to count as bar. Not all of them: JPEG blocks that straddle a bar's inner edge smear
#: the picture into its last lines, and a line left behind moves the hash (a 256 px photo
#: framed in black and saved at quality 75: 32 bits with every pixel asked, 2 with this).
BAR_SHARE = 0.95


def _bar_lines(lines: PixelArray, tolerance: int) -> int:
    """How many of ``lines`` (lines x pixels x channels, the edge first) are bar: the
    edge line's median colour, held by at least :data:`BAR_SHARE` of each line's pixels
    within ``tolerance`` in every channel. Walks in from the edge, one line at a time, so
    the cost is the bar's, not the picture's."""
    colour = np.median(lines[0], axis=0).astype(np.int16)
    need = BAR_SHARE * lines.shape[1]
    count = 0
    for line in lines:
        close = (np.abs(line.astype(np.int16) - colour) <= tolerance).all(axis=1)
        if np.count_nonzero(close) < need:
            break
        count += 1
    return count


def trim_borders(array: PixelArray, tolerance: int) -> PixelArray | None:
    """The array without bars of one colour at its edges, or ``None`` when there are none
    (or nothing hashable would be left).

    Rows are trimmed first and columns are judged within the remaining rows, so a black
    letterbox with white pillar bars is trimmed on all four sides.
    """
    channels = array[:, :, :3].view(np.uint8) if array.dtype == np.bool_ else array[:, :, :3]
    height, width = array.shape[:2]
    top = _bar_lines(channels, tolerance)
    if height - top < MIN_HASHABLE_SIDE:
        return None
    bottom = _bar_lines(channels[::-1], tolerance)
    if height - top - bottom < MIN_HASHABLE_SIDE:
        return None
    columns = channels[top : height - bottom].transpose(1, 0, 2)
    left = _bar_lines(columns, tolerance)
    right = _bar_lines(columns[::-1], tolerance)
    if top + bottom + left + right == 0 or width - left - right < MIN_HASHABLE_SIDE:
        return None
    return array[top : height - bottom, left : width - right]
