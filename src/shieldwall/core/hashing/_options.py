"""How to hash: limits, decode choices and which PDQ variants to compute."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from shieldwall.core.errors import InvalidInput
from shieldwall.core.signals import PDQ_QUALITY_FLOOR


class DihedralMethod(StrEnum):
    """How the 8 rotation/flip variants are computed.

    ``transpose`` (the default): rotate/flip the pixels and hash each (3-4x the time of the
    plain hash); bit-exact with python-threatexchange's ``--photo-preprocess=rotations``, so
    the variant that turns an upload back is the hash of the upright picture.
    ``dct``: ``pdqhash.compute_dihedral`` (one decode, one DCT; Meta's C++ way). Exact only
    when PDQ's downsampling is symmetric under flips, which depends on the image's size:
    a photo of 300 or 257 px turned by 90 degrees is found, the same photo at 256, 512 or
    1024 px can be 24-66 bits off and is missed (docs/hashing.md).
    """

    DCT = "dct"
    TRANSPOSE = "transpose"


@dataclass(frozen=True, slots=True)
class HashOptions:
    """Every knob of :func:`~shieldwall.core.hashing.hash_bytes`; the defaults are the
    recommended production settings (see docs/hashing.md for why)."""

    #: Refuse images whose header claims more pixels than this, before decoding (bomb guard).
    max_pixels: int = 50_000_000
    #: Refuse inputs larger than this many bytes (reason ``too_large``).
    max_bytes: int = 1024 * 1024 * 1024
    #: Pixels decoded across all frames of an animated image (``gif_all_frames``).
    max_total_pixels: int = 1_000_000_000
    #: Hash every frame of an animated GIF/WebP/PNG; otherwise only the first (as pytx does).
    gif_all_frames: bool = False
    #: Apply the EXIF orientation before hashing. Off by default: python-threatexchange,
    #: Meta's C++/Java/PHP hashers and the lists they made all hash the stored pixel order.
    #: When the tag is not "normal", the other orientation is added as a variant either way.
    exif_transpose: bool = False
    #: Mirror python-threatexchange's pixel handling exactly (palette indices for P images,
    #: C/M/Y as R/G/B for CMYK, ...). When off, every image is converted to true RGB first.
    #: When on and the two differ, the true-colour hash is added as a variant.
    pytx_compatible: bool = True
    #: Fast path: JPEG DCT-domain downscaling and a box downscale of very large images.
    fast: bool = True
    #: Also compute the 8 rotation/flip variants.
    dihedral: bool = False
    dihedral_method: DihedralMethod = DihedralMethod.TRANSPOSE
    #: Also hash the image with uniform borders (letterbox/pillarbox bars) trimmed.
    letterbox: bool = False
    #: How far (0-255, per channel) a bar's pixels may be from the bar's colour (the edge
    #: line's median); 95% of a row/column's pixels must be that close for it to count as bar.
    letterbox_tolerance: int = 24
    #: One vPDQ frame per this many seconds of video; 0 hashes every frame.
    vpdq_seconds_per_hash: float = 1.0
    #: Refuse videos longer than this (reason ``too_long``).
    vpdq_max_seconds: float = 2 * 60 * 60.0
    #: Refuse videos/animations with more decoded frames than this (reason ``too_long``).
    max_frames: int = 500_000
    #: PDQ hashes below this quality are reported but flagged ``low_quality``.
    quality_floor: int = PDQ_QUALITY_FLOOR

    def __post_init__(self) -> None:
        positive = {
            "max_pixels": self.max_pixels,
            "max_bytes": self.max_bytes,
            "max_total_pixels": self.max_total_pixels,
            "max_frames": self.max_frames,
        }
        for name, value in positive.items():
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise InvalidInput(f"{name} must be a positive integer, got {value!r}")
        if not 0 <= self.vpdq_seconds_per_hash <= 3600:
            raise InvalidInput(
                "vpdq_seconds_per_hash must be from 0 (every frame) to 3600, "
                f"got {self.vpdq_seconds_per_hash!r}"
            )
        if not self.vpdq_max_seconds > 0:
            raise InvalidInput(f"vpdq_max_seconds must be > 0, got {self.vpdq_max_seconds!r}")
        if not 0 <= self.letterbox_tolerance <= 255:
            raise InvalidInput(
                f"letterbox_tolerance must be from 0 to 255, got {self.letterbox_tolerance!r}"
            )
        if not 0 <= self.quality_floor <= 100:
            raise InvalidInput(f"quality_floor must be from 0 to 100, got {self.quality_floor!r}")
        if not isinstance(self.dihedral_method, DihedralMethod):
            object.__setattr__(self, "dihedral_method", DihedralMethod(self.dihedral_method))


#: pytx's decode: no fast path, no EXIF, its pixel handling. ``hash_bytes`` with these
#: options gives the same PDQ as ``threatexchange...pdq_hasher.pdq_from_bytes``, bit for bit.
REFERENCE_OPTIONS = HashOptions(fast=False, exif_transpose=False, pytx_compatible=True)
