"""Photo hashing: Pillow decode (with limits), pixel conversion, PDQ and its variants."""

from __future__ import annotations

import io
from dataclasses import dataclass

from PIL import Image, UnidentifiedImageError, features

from shieldwall.core.hashing._errors import MediaError as _MediaError
from shieldwall.core.hashing._errors import MediaErrorReason, media_error
from shieldwall.core.hashing._options import HashOptions
from shieldwall.core.hashing._pdq import (
    DIHEDRAL_NAMES,
    EXIF_UPRIGHT,
    MIN_HASHABLE_SIDE,
    TRANSFORMS,
    dihedral_of,
    pdq_of,
    trim_borders,
)
from shieldwall.core.hashing._pixels import (
    PYTX_QUIRK_MODES,
    PixelArray,
    draft_jpeg,
    is_uniform,
    pytx_array,
    rgb_array,
    shrink_array,
    shrink_image,
    silence_library_warnings,
)
from shieldwall.core.signals import PdqHash

#: Our format name -> the Pillow plugins allowed to open it (never let Pillow guess).
PILLOW_FORMATS: dict[str, tuple[str, ...]] = {
    "jpeg": ("JPEG",),
    "png": ("PNG",),
    "gif": ("GIF",),
    "webp": ("WEBP",),
    "bmp": ("BMP",),
    "tiff": ("TIFF",),
    "avif": ("AVIF",),
}
_EXIF_ORIENTATION = 0x0112


@dataclass(frozen=True, slots=True)
class PdqVariant:
    """One PDQ hash of an image, and which view of the image it hashes.

    ``variant`` is ``original`` for the primary hash; the others are ``rotate90`` ...
    ``flipminus1`` (dihedral; python-threatexchange's names), ``letterbox`` (uniform borders
    trimmed), ``true_color`` (true-RGB pixels where pytx's differ), ``exif_oriented`` /
    ``exif_stored`` (the other EXIF orientation) and ``frame:N`` (frame N of an animation).
    """

    variant: str
    hash: PdqHash

    @property
    def hex(self) -> str:
        return self.hash.hex

    @property
    def quality(self) -> int:
        return self.hash.quality or 0

    def is_low_quality(self, floor: int) -> bool:
        return self.quality < floor


@dataclass(frozen=True, slots=True)
class PhotoHashes:
    pdq: PdqHash
    variants: tuple[PdqVariant, ...]
    width: int
    height: int
    exif_orientation: int | None
    frames: int


@dataclass(frozen=True, slots=True)
class _Frame:
    pixels: PixelArray
    true_color: PixelArray | None


@dataclass(frozen=True, slots=True)
class _Decoded:
    frames: list[_Frame]
    width: int
    height: int
    orientation: int | None


def _failure(exc: Exception, fmt: str) -> _MediaError:
    if isinstance(exc, _MediaError):
        return exc
    if isinstance(exc, Image.DecompressionBombError):
        return media_error(
            MediaErrorReason.TOO_MANY_PIXELS, f"the {fmt} image has too many pixels to decode"
        )
    text = str(exc)
    if isinstance(exc, EOFError) or "truncated" in text.lower():
        return media_error(
            MediaErrorReason.TRUNCATED, f"the {fmt} image is truncated: the file ends early"
        )
    if isinstance(exc, UnidentifiedImageError):
        detail = "its header is not valid"
    else:
        detail = f"{type(exc).__name__}: {text[:160]}" if text else type(exc).__name__
    return media_error(
        MediaErrorReason.CORRUPT, f"the bytes look like {fmt} but cannot be decoded ({detail})"
    )


def _check_size(width: int, height: int, fmt: str, options: HashOptions) -> None:
    if width * height > options.max_pixels:
        raise media_error(
            MediaErrorReason.TOO_MANY_PIXELS,
            f"the {fmt} image claims {width}x{height} pixels, more than the limit of "
            f"{options.max_pixels:,}; refused before decoding",
            width=width,
            height=height,
        )
    if min(width, height) < MIN_HASHABLE_SIDE:
        raise media_error(
            MediaErrorReason.TOO_SMALL,
            f"the image is {width}x{height} pixels; PDQ needs at least "
            f"{MIN_HASHABLE_SIDE} on each side",
            width=width,
            height=height,
        )


def _orientation(image: Image.Image) -> int | None:
    try:
        value = image.getexif().get(_EXIF_ORIENTATION)
    except Exception:  # a broken EXIF block must not fail the hash
        return None
    return value if isinstance(value, int) and 1 <= value <= 8 else None


def _frame(image: Image.Image, options: HashOptions) -> _Frame:
    source = shrink_image(image) if options.fast else image
    true_color: PixelArray | None = None
    if options.pytx_compatible:
        pixels = pytx_array(source)
        if image.mode in PYTX_QUIRK_MODES:
            true_color = rgb_array(source)
    else:
        pixels = rgb_array(source)
    if options.fast:
        pixels = shrink_array(pixels)
        true_color = None if true_color is None else shrink_array(true_color)
    return _Frame(pixels, true_color)


def _decode(image: Image.Image, fmt: str, options: HashOptions) -> list[_Frame]:
    width, height = image.size
    if options.fast and fmt == "jpeg":
        draft_jpeg(image)
    image.load()
    frames = [_frame(image, options)]
    if not (options.gif_all_frames and getattr(image, "is_animated", False)):
        return frames
    pixels_left = options.max_total_pixels - width * height
    while True:
        try:
            image.seek(len(frames))
        except EOFError:
            return frames
        if len(frames) >= options.max_frames:
            raise media_error(
                MediaErrorReason.TOO_LONG,
                f"the animated image has more than {options.max_frames:,} frames",
            )
        pixels_left -= width * height
        if pixels_left < 0:
            raise media_error(
                MediaErrorReason.TOO_MANY_PIXELS,
                f"decoding every frame would exceed {options.max_total_pixels:,} pixels",
            )
        image.load()
        frames.append(_frame(image, options))


def _open(data: bytes, fmt: str, options: HashOptions) -> _Decoded:
    if fmt not in PILLOW_FORMATS or (fmt == "avif" and not features.check("avif")):
        raise media_error(
            MediaErrorReason.UNSUPPORTED_FORMAT,
            f"{fmt} images cannot be decoded here; only exact hashes apply",
        )
    silence_library_warnings()
    try:
        with Image.open(io.BytesIO(data), formats=PILLOW_FORMATS[fmt]) as image:
            width, height = image.size
            _check_size(width, height, fmt, options)
            frames = _decode(image, fmt, options)
            orientation = _orientation(image)
    except Exception as exc:  # decoders of untrusted bytes raise anything; map it
        raise _failure(exc, fmt) from None
    return _Decoded(frames, width, height, orientation)


def hash_photo(data: bytes, fmt: str, options: HashOptions) -> PhotoHashes:
    """PDQ hash (and requested variants) of an image whose format was sniffed as ``fmt``."""
    decoded = _open(data, fmt, options)
    frames = decoded.frames
    first = frames[0]
    pixels, true_color = first.pixels, first.true_color
    variants: list[PdqVariant] = []

    upright = EXIF_UPRIGHT.get(decoded.orientation or 1)
    if upright is not None:
        turned = TRANSFORMS[upright]
        if options.exif_transpose:
            variants.append(PdqVariant("exif_stored", pdq_of(pixels)))
            pixels = turned(pixels)
            true_color = None if true_color is None else turned(true_color)
        else:
            variants.append(PdqVariant("exif_oriented", pdq_of(turned(pixels))))

    primary = pdq_of(pixels)
    if primary.quality == 0 and is_uniform(pixels):
        raise media_error(
            MediaErrorReason.UNIFORM,
            "every pixel of the image has the same colour; there is nothing to hash perceptually",
        )
    if true_color is not None:
        variants.insert(0, PdqVariant("true_color", pdq_of(true_color)))
    if options.dihedral:
        dihedral = dihedral_of(pixels, options.dihedral_method)
        variants.extend(PdqVariant(name, dihedral[name]) for name in DIHEDRAL_NAMES[1:])
    if options.letterbox:
        trimmed = trim_borders(pixels, options.letterbox_tolerance)
        if trimmed is not None:
            variants.append(PdqVariant("letterbox", pdq_of(trimmed)))
    turn = TRANSFORMS[upright] if upright is not None and options.exif_transpose else None
    seen = {primary.hex}
    for number, frame in enumerate(frames[1:], start=1):
        frame_hash = pdq_of(frame.pixels if turn is None else turn(frame.pixels))
        if frame_hash.hex not in seen:  # animations repeat frames; report each hash once
            seen.add(frame_hash.hex)
            variants.append(PdqVariant(f"frame:{number}", frame_hash))
    return PhotoHashes(
        primary, tuple(variants), decoded.width, decoded.height, decoded.orientation, len(frames)
    )
