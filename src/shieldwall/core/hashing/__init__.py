"""Hashing media: exact hashes of the bytes, PDQ for photos, vPDQ for videos.

::

    from shieldwall.core.hashing import HashOptions, hash_bytes, hash_file, vpdq_match

    result = hash_bytes(upload, declared_type="image/jpeg")
    result.md5, result.sha256, result.pdq, result.low_quality, result.signals()

Formats are sniffed from the bytes (JPEG, PNG, GIF, WebP, BMP, TIFF, AVIF; MP4/MOV/3GP,
WebM/MKV, AVI, FLV, MPEG-TS/PS, ASF); anything else is kind ``other`` and gets exact hashes
only. See docs/hashing.md for the decode pipeline, the fast path and the limits.

Errors (all from :mod:`shieldwall.core.errors`)::

    InvalidInput (422)
    └── MediaError              reason: empty, too_many_pixels, too_long, too_small, uniform,
        │                               truncated, corrupt, unsupported_format, type_mismatch,
        │                               no_frames
        └── MediaTooLarge (413) reason: too_large   (also a PayloadTooLarge)
"""

from shieldwall.core.hashing._detect import DetectedMedia, detect_media
from shieldwall.core.hashing._errors import MediaError, MediaErrorReason, MediaTooLarge
from shieldwall.core.hashing._exact import ExactHashes, exact_hashes
from shieldwall.core.hashing._media import MediaHashes, hash_bytes, hash_file
from shieldwall.core.hashing._options import REFERENCE_OPTIONS, DihedralMethod, HashOptions
from shieldwall.core.hashing._photo import PdqVariant
from shieldwall.core.hashing._vpdq_match import VpdqMatch, vpdq_match

__all__ = [
    "REFERENCE_OPTIONS",
    "DetectedMedia",
    "DihedralMethod",
    "ExactHashes",
    "HashOptions",
    "MediaError",
    "MediaErrorReason",
    "MediaHashes",
    "MediaTooLarge",
    "PdqVariant",
    "VpdqMatch",
    "detect_media",
    "exact_hashes",
    "hash_bytes",
    "hash_file",
    "vpdq_match",
]
