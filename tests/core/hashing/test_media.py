"""Type detection, declared types, hash_file, EXIF orientation, animations and options."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import shieldwall.core.hashing as hashing
from shieldwall.core.errors import InvalidInput
from shieldwall.core.hashing import (
    REFERENCE_OPTIONS,
    HashOptions,
    MediaError,
    MediaErrorReason,
    detect_media,
    hash_bytes,
    hash_file,
)
from shieldwall.core.hashing._pdq import pdq_of
from shieldwall.core.hashing._pixels import draft_jpeg
from shieldwall.core.signals import MediaKind, SignalType

from . import media_samples as samples
from .conftest import distance, encode, synthetic_photo


@pytest.mark.parametrize(
    ("fmt", "save_as", "mime"),
    [
        ("jpeg", "JPEG", "image/jpeg"),
        ("png", "PNG", "image/png"),
        ("gif", "GIF", "image/gif"),
        ("webp", "WEBP", "image/webp"),
        ("bmp", "BMP", "image/bmp"),
        ("tiff", "TIFF", "image/tiff"),
    ],
)
def test_image_formats_are_sniffed_and_hashed(fmt: str, save_as: str, mime: str) -> None:
    data = encode(synthetic_photo(120, 90), save_as)
    detected = detect_media(data)
    assert (detected.kind, detected.format, detected.mime_type) == (MediaKind.PHOTO, fmt, mime)
    result = hash_bytes(data)
    assert result.kind is MediaKind.PHOTO
    assert result.format == fmt
    assert result.primary_pdq is not None
    assert result.primary_pdq.quality == 100
    assert (result.width, result.height) == (120, 90)


@pytest.mark.parametrize(
    ("fmt", "expected"), [("mp4", "mp4"), ("matroska", "mkv"), ("avi", "avi"), ("webm", "webm")]
)
def test_video_containers_are_sniffed_and_hashed(fmt: str, expected: str) -> None:
    data = samples.small_video(frames=8, fps=4, fmt=fmt)
    assert detect_media(data).format == expected
    result = hash_bytes(data, declared_type="video/whatever")
    assert result.kind is MediaKind.VIDEO
    assert result.video_md5 == hashlib.md5(data, usedforsecurity=False).hexdigest()
    assert result.vpdq_hash is not None
    assert [f.frame_number for f in result.vpdq_hash.frames] == [0, 4]
    assert [f.timestamp for f in result.vpdq_hash.frames] == [0.0, 1.0]
    assert result.exact[SignalType.VIDEO_MD5] == result.md5
    assert (SignalType.VPDQ, result.vpdq) in result.signals()


def test_detection_edge_cases() -> None:
    assert detect_media(b"").kind is MediaKind.OTHER
    assert detect_media(b"BM" + b"\x00" * 40).kind is MediaKind.OTHER  # not a real BMP header
    assert detect_media(b"\x00\x00\x00\x18ftypM4A \x00\x00\x00\x00").kind is MediaKind.OTHER
    assert detect_media(b"\x00\x00\x00\x18ftypqt  \x00\x00\x00\x00").format == "mov"
    assert detect_media(b"\x00\x00\x00\x18ftypavif\x00\x00\x00\x00").format == "avif"
    assert detect_media(b"RIFF\x00\x00\x00\x00WAVEfmt ").kind is MediaKind.OTHER


@pytest.mark.parametrize(
    "declared",
    [
        None,
        "",
        "image/png",
        "IMAGE/JPEG; charset=binary",
        "photo",
        "image",
        "application/octet-stream",
        "image/gif",
    ],
)
def test_declared_types_that_fit_a_jpeg(declared: str | None, photo_jpeg: bytes) -> None:
    assert hash_bytes(photo_jpeg, declared_type=declared).format == "jpeg"


@pytest.mark.parametrize("declared", ["video", "video/mp4", "other", "text/plain"])
def test_declared_types_that_contradict_a_jpeg(declared: str, photo_jpeg: bytes) -> None:
    with pytest.raises(MediaError) as raised:
        hash_bytes(photo_jpeg, declared_type=declared)
    assert raised.value.reason is MediaErrorReason.TYPE_MISMATCH
    assert raised.value.exact is not None


def test_hash_file_streams_and_matches_hash_bytes(tmp_path: Path, photo_jpeg: bytes) -> None:
    blob = bytes(range(256)) * 9000  # ~2.3 MB of "other": streamed in 1 MiB chunks
    (tmp_path / "blob.bin").write_bytes(blob)
    other = hash_file(tmp_path / "blob.bin")
    assert other.kind is MediaKind.OTHER
    assert other.size == len(blob)
    assert other.sha256 == hashlib.sha256(blob).hexdigest()
    assert other.sha1 == hashlib.sha1(blob, usedforsecurity=False).hexdigest()
    (tmp_path / "p.jpg").write_bytes(photo_jpeg)
    assert hash_file(tmp_path / "p.jpg") == hash_bytes(photo_jpeg)
    video = samples.small_video()
    (tmp_path / "v.mp4").write_bytes(video)
    assert hash_file(str(tmp_path / "v.mp4")) == hash_bytes(video)
    with pytest.raises(InvalidInput, match=r"cannot read missing\.jpg"):
        hash_file(tmp_path / "missing.jpg")
    (tmp_path / "empty").write_bytes(b"")
    with pytest.raises(MediaError, match="empty"):
        hash_file(tmp_path / "empty")
    with pytest.raises(MediaError) as raised:
        hash_file(tmp_path / "p.jpg", declared_type="video")
    assert raised.value.exact is not None
    assert raised.value.exact.md5 == hashlib.md5(photo_jpeg, usedforsecurity=False).hexdigest()


def _stored_pixels(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))


@pytest.mark.parametrize("orientation", [3, 6, 8])
def test_exif_orientation_is_a_variant_by_default(orientation: int) -> None:
    data = samples.jpeg_with_orientation(orientation)
    pixels = _stored_pixels(data)
    upright = np.asarray(
        Image.open(io.BytesIO(data))
        .transpose(
            {
                3: Image.Transpose.ROTATE_180,
                6: Image.Transpose.ROTATE_270,
                8: Image.Transpose.ROTATE_90,
            }[orientation]
        )
        .convert("RGB")
    )
    default = hash_bytes(data, options=REFERENCE_OPTIONS)
    assert default.exif_orientation == orientation
    assert default.primary_pdq == pdq_of(pixels)  # stored order, as pytx and C++ hash it
    names = {v.variant: v.hash for v in default.pdq}
    assert names["exif_oriented"] == pdq_of(upright)
    assert distance(names["exif_oriented"].hex, default.pdq[0].hex) > 40

    turned = hash_bytes(data, options=HashOptions(fast=False, exif_transpose=True))
    assert turned.primary_pdq == pdq_of(upright)
    assert {v.variant: v.hash for v in turned.pdq}["exif_stored"] == pdq_of(pixels)


def test_orientation_1_adds_nothing() -> None:
    result = hash_bytes(samples.jpeg_with_orientation(1))
    assert result.exif_orientation == 1
    assert [v.variant for v in result.pdq] == ["original"]


def test_animated_gif_first_frame_or_all_frames() -> None:
    data = samples.animated_gif(4)
    first = hash_bytes(data)
    assert first.frames == 1
    assert [v.variant for v in first.pdq] == ["original", "true_color"]
    every = hash_bytes(data, options=HashOptions(gif_all_frames=True))
    assert every.frames == 4
    assert [v.variant for v in every.pdq] == [
        "original",
        "true_color",
        "frame:1",
        "frame:2",
        "frame:3",
    ]
    assert every.pdq[0] == first.pdq[0]
    frame_hashes = [v.hex for v in every.pdq if v.variant.startswith("frame:")]
    assert len(set(frame_hashes)) == 3


def test_fast_path_drafts_big_jpegs(big_jpeg: bytes) -> None:
    image = Image.open(io.BytesIO(big_jpeg))
    draft_jpeg(image)
    image.load()
    assert image.size == (750, 500)
    small = Image.open(io.BytesIO(encode(synthetic_photo(1000, 700), "JPEG")))
    draft_jpeg(small)
    assert small.size == (1000, 700)


def test_fast_and_reference_agree_on_a_big_synthetic_photo(big_jpeg: bytes) -> None:
    fast, reference = hash_bytes(big_jpeg), hash_bytes(big_jpeg, options=REFERENCE_OPTIONS)
    assert fast.fast
    assert not reference.fast
    assert fast.primary_pdq is not None
    assert reference.primary_pdq is not None
    assert fast.primary_pdq.distance(reference.primary_pdq) <= 10


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"max_pixels": 0}, "max_pixels must be a positive integer"),
        ({"max_bytes": -1}, "max_bytes must be a positive integer"),
        ({"max_frames": True}, "max_frames must be a positive integer"),
        ({"vpdq_seconds_per_hash": -1}, "vpdq_seconds_per_hash must be from 0"),
        ({"vpdq_max_seconds": 0}, "vpdq_max_seconds must be > 0"),
        ({"letterbox_tolerance": 300}, "letterbox_tolerance must be from 0 to 255"),
        ({"quality_floor": 101}, "quality_floor must be from 0 to 100"),
        ({"dihedral_method": "sideways"}, "sideways"),
    ],
)
def test_options_are_validated(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises((InvalidInput, ValueError), match=message):
        HashOptions(**kwargs)  # type: ignore[arg-type]


def test_defaults_are_the_documented_ones() -> None:
    options = HashOptions()
    assert (options.fast, options.exif_transpose, options.pytx_compatible) == (True, False, True)
    assert (options.max_pixels, options.quality_floor, options.vpdq_seconds_per_hash) == (
        50_000_000,
        50,
        1.0,
    )
    assert not REFERENCE_OPTIONS.fast


def test_public_surface() -> None:
    for name in hashing.__all__:
        assert hasattr(hashing, name), name
    assert len(set(hashing.__all__)) == len(hashing.__all__)
    from shieldwall.core import signals

    for name in signals.__all__:
        assert hasattr(signals, name), name
