"""One still picture from stored media: the image itself, or the first frame of a video.

Formats are sniffed from the bytes (never trusted from a declared type). Pillow opens only
the format that was sniffed, and FFmpeg gets the demuxer for the sniffed container forced, so
neither can be steered into a reader that follows references to other files. Anything that
cannot be decoded within the limits gives ``None``; nothing here raises for bad media.
"""

from __future__ import annotations

import io
import logging
import warnings

import av
from PIL import Image, ImageOps

from shieldwall.core.hashing import detect_media
from shieldwall.core.hashing._photo import PILLOW_FORMATS
from shieldwall.core.hashing._video import DEMUXERS
from shieldwall.core.signals import MediaKind

log = logging.getLogger(__name__)

#: The long side pictures are brought down to before anything else looks at them.
WORKING_SIDE = 1024


def first_picture(data: bytes, *, max_pixels: int, side: int = WORKING_SIDE) -> Image.Image | None:
    """An RGB picture no larger than ``side`` a side, or ``None`` when there is none."""
    detected = detect_media(data)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if detected.kind is MediaKind.PHOTO and detected.format in PILLOW_FORMATS:
                return _photo(data, PILLOW_FORMATS[detected.format], max_pixels, side)
            if detected.kind is MediaKind.VIDEO and detected.format is not None:
                return _video(data, DEMUXERS.get(detected.format), max_pixels, side)
    except Exception as exc:  # decoders raise many types for bad input; none is fatal here
        log.info(
            "media.undecodable", extra={"format": detected.format, "error": type(exc).__name__}
        )
    return None


def _photo(data: bytes, formats: tuple[str, ...], max_pixels: int, side: int) -> Image.Image | None:
    with Image.open(io.BytesIO(data), formats=list(formats)) as image:
        width, height = image.size
        if width * height > max_pixels or width < 1 or height < 1:
            return None
        if image.format == "JPEG":
            image.draft("RGB", (side, side))
        image.seek(0)
        upright = ImageOps.exif_transpose(image)
        picture = upright.convert("RGB")
    picture.thumbnail((side, side))
    return picture


def _video(data: bytes, demuxer: str | None, max_pixels: int, side: int) -> Image.Image | None:
    with av.open(io.BytesIO(data), mode="r", format=demuxer) as container:
        if not container.streams.video:
            return None
        stream = container.streams.video[0]
        width, height = stream.codec_context.width, stream.codec_context.height
        if width * height > max_pixels:
            return None
        for frame in container.decode(stream):
            rgb = frame.to_ndarray(format="rgb24")
            picture = Image.fromarray(rgb, "RGB")
            picture.thumbnail((side, side))
            return picture
    return None
