"""What the bytes really are: magic-byte sniffing, and checking a declared type against it."""

from __future__ import annotations

from dataclasses import dataclass

from shieldwall.core.errors import InvalidInput
from shieldwall.core.hashing._errors import MediaErrorReason, media_error
from shieldwall.core.signals import MediaKind

#: Bytes needed to sniff every format below.
SNIFF_BYTES = 64


@dataclass(frozen=True, slots=True)
class DetectedMedia:
    """The real type of some bytes. ``format`` is ``None`` for kind ``other``."""

    kind: MediaKind
    format: str | None
    mime_type: str


_PHOTO_MIME = {
    "jpeg": "image/jpeg",
    "png": "image/png",
    "gif": "image/gif",
    "webp": "image/webp",
    "bmp": "image/bmp",
    "tiff": "image/tiff",
    "avif": "image/avif",
    "heic": "image/heic",
}
_VIDEO_MIME = {
    "mp4": "video/mp4",
    "mov": "video/quicktime",
    "3gp": "video/3gpp",
    "webm": "video/webm",
    "mkv": "video/x-matroska",
    "avi": "video/x-msvideo",
    "flv": "video/x-flv",
    "mpegts": "video/mp2t",
    "mpeg": "video/mpeg",
    "asf": "video/x-ms-asf",
}
_OTHER = DetectedMedia(MediaKind.OTHER, None, "application/octet-stream")

#: ISO-BMFF ``ftyp`` major brands that are still images or audio, not video.
_HEIF_BRANDS = {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1"}
_AVIF_BRANDS = {b"avif", b"avis"}
_AUDIO_BRANDS = {b"M4A ", b"M4B ", b"M4P ", b"F4A ", b"F4B "}
_BMP_DIB_SIZES = {12, 16, 40, 52, 56, 64, 108, 124}
_ASF_GUID = bytes.fromhex("3026b2758e66cf11a6d900aa0062ce6c")


def _photo(fmt: str) -> DetectedMedia:
    return DetectedMedia(MediaKind.PHOTO, fmt, _PHOTO_MIME[fmt])


def _video(fmt: str) -> DetectedMedia:
    return DetectedMedia(MediaKind.VIDEO, fmt, _VIDEO_MIME[fmt])


def _iso_bmff(head: bytes) -> DetectedMedia:
    brand = head[8:12]
    if brand in _AVIF_BRANDS:
        return _photo("avif")
    if brand in _HEIF_BRANDS:
        return _photo("heic")
    if brand in _AUDIO_BRANDS:
        return _OTHER
    if brand == b"qt  ":
        return _video("mov")
    if brand.startswith(b"3g"):
        return _video("3gp")
    return _video("mp4")


def detect_media(data: bytes | bytearray | memoryview) -> DetectedMedia:
    """Sniff the format from the first bytes. Anything unrecognised is kind ``other``."""
    head = bytes(data[:SNIFF_BYTES])
    if head.startswith(b"\xff\xd8\xff"):
        return _photo("jpeg")
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return _photo("png")
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return _photo("gif")
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return _photo("webp")
    if head[:4] == b"RIFF" and head[8:12] == b"AVI ":
        return _video("avi")
    if (
        head[:2] == b"BM"
        and len(head) >= 18
        and int.from_bytes(head[14:18], "little") in (_BMP_DIB_SIZES)
    ):
        return _photo("bmp")
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        return _photo("tiff")
    if head[4:8] == b"ftyp":
        return _iso_bmff(head)
    if head[4:8] in (b"moov", b"mdat", b"wide", b"free", b"skip", b"pnot"):
        return _video("mov")
    if head[:4] == b"\x1a\x45\xdf\xa3":
        return _video("webm" if b"webm" in head else "mkv")
    if head[:4] == b"FLV\x01":
        return _video("flv")
    if head[:4] in (b"\x00\x00\x01\xba", b"\x00\x00\x01\xb3"):
        return _video("mpeg")
    if len(data) >= 5 * 188 and all(data[i * 188] == 0x47 for i in range(5)):
        return _video("mpegts")  # five 188-byte transport packets in a row
    if head[:16] == _ASF_GUID:
        return _video("asf")
    return _OTHER


_NO_CLAIM = {"application/octet-stream", "binary/octet-stream", "application/unknown"}
_KIND_WORDS = {
    "photo": MediaKind.PHOTO,
    "image": MediaKind.PHOTO,
    "video": MediaKind.VIDEO,
    "other": MediaKind.OTHER,
}
_VIDEO_APPLICATION = {"application/mp4", "application/vnd.rn-realmedia"}
_SUPPORTED_MIME = (
    set(_PHOTO_MIME.values()) - {"image/heic"}
    | set(_VIDEO_MIME.values())
    | {"image/jpg", "image/pjpeg", "image/x-png", "image/x-ms-bmp", "image/tif", "video/x-m4v"}
)


def _claimed_kind(declared: str) -> tuple[MediaKind | None, str]:
    """The kind a declared MIME type or kind word claims; ``None`` for no claim."""
    text = declared.split(";", 1)[0].strip().lower()
    if not text or text in _NO_CLAIM:
        return None, text
    if text in _KIND_WORDS:
        return _KIND_WORDS[text], text
    top, slash, sub = text.partition("/")
    if not slash or not top or not sub:
        raise InvalidInput(
            f"declared type {declared!r} is neither a MIME type (like image/png) nor one of "
            "photo, video, other",
            field="declared_type",
        )
    if top == "image":
        return MediaKind.PHOTO, text
    if top == "video" or text in _VIDEO_APPLICATION:
        return MediaKind.VIDEO, text
    return MediaKind.OTHER, text


def check_declared(declared: str | None, detected: DetectedMedia) -> None:
    """Raise ``MediaError(type_mismatch)`` when the declared kind contradicts the bytes.

    Only the kind is enforced: a PNG sent as ``image/jpeg`` is accepted (clients mislabel
    images all the time) and the result reports the real format; a video sent as a photo,
    or random bytes sent as an image, is refused.
    """
    if declared is None:
        return
    claimed, mime = _claimed_kind(declared)
    if claimed is None or claimed is detected.kind:
        return
    if (
        claimed is not MediaKind.OTHER
        and detected.kind is MediaKind.OTHER
        and "/" in mime
        and mime not in _SUPPORTED_MIME
    ):
        raise media_error(
            MediaErrorReason.UNSUPPORTED_FORMAT,
            f"{mime} is not a format shieldwall can hash perceptually; only exact hashes apply",
            declared_type=mime,
        )
    what = detected.format or "not a recognised image or video"
    raise media_error(
        MediaErrorReason.TYPE_MISMATCH,
        f"declared {mime} ({claimed}) but the bytes are {what} ({detected.kind})",
        declared_type=mime,
        detected_kind=str(detected.kind),
    )
