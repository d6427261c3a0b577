"""Bad media never crashes: each case is a MediaError with a reason code and a clear message,
and neither Pillow nor FFmpeg prints or warns anything."""

from __future__ import annotations

import random
import warnings
from collections.abc import Callable

import pytest

from shieldwall.core.errors import InvalidInput, PayloadTooLarge
from shieldwall.core.hashing import (
    HashOptions,
    MediaError,
    MediaErrorReason,
    MediaTooLarge,
    hash_bytes,
)
from shieldwall.core.signals import MediaKind

from . import media_samples as samples
from .conftest import PDQ_REF, VPDQ_REF, encode, needs_pdq_reference, needs_vpdq_reference
from .conftest import synthetic_photo as photo

R = MediaErrorReason
NOISE = random.Random(2).randbytes(4000)  # fixed: some noise after a JPEG marker reads as EOF
JPEG = encode(photo(400, 300), "JPEG", quality=90)
PNG = encode(photo(400, 300), "PNG")

CASES: dict[str, tuple[Callable[[], bytes], str | None, HashOptions, MediaErrorReason, str]] = {
    "zero bytes": (lambda: b"", None, HashOptions(), R.EMPTY, "empty"),
    "truncated jpeg": (
        lambda: JPEG[: len(JPEG) // 2],
        None,
        HashOptions(),
        R.TRUNCATED,
        "jpeg image is truncated",
    ),
    "truncated png": (
        lambda: PNG[: len(PNG) // 2],
        None,
        HashOptions(),
        R.TRUNCATED,
        "png image is truncated",
    ),
    "jpeg magic then noise": (
        lambda: b"\xff\xd8\xff" + NOISE,
        None,
        HashOptions(),
        R.CORRUPT,
        "look like jpeg but cannot be decoded",
    ),
    "random bytes declared png": (
        lambda: NOISE,
        "image/png",
        HashOptions(),
        R.TYPE_MISMATCH,
        "declared image/png (photo)",
    ),
    "png claiming 100000x100000": (
        lambda: samples.png_claiming(100_000, 100_000),
        None,
        HashOptions(),
        R.TOO_MANY_PIXELS,
        "too many pixels",
    ),
    "png claiming 8000x8000": (
        lambda: samples.png_claiming(8000, 8000),
        None,
        HashOptions(),
        R.TOO_MANY_PIXELS,
        "8000x8000 pixels, more than the limit",
    ),
    "gif bomb header": (
        lambda: samples.gif_claiming(65535, 65535),
        None,
        HashOptions(),
        R.TOO_MANY_PIXELS,
        "too many pixels",
    ),
    "gif bomb, real pixels": (
        lambda: samples.solid_gif(3000, 3000),
        None,
        HashOptions(max_pixels=1_000_000),
        R.TOO_MANY_PIXELS,
        "3000x3000 pixels",
    ),
    "animated gif, too many frames": (
        lambda: samples.animated_gif(6),
        None,
        HashOptions(gif_all_frames=True, max_frames=3),
        R.TOO_LONG,
        "more than 3 frames",
    ),
    "animated gif, too many pixels": (
        lambda: samples.animated_gif(6),
        None,
        HashOptions(gif_all_frames=True, max_total_pixels=10_000),
        R.TOO_MANY_PIXELS,
        "every frame would exceed",
    ),
    "mp4 header only": (
        lambda: b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom",
        None,
        HashOptions(),
        R.CORRUPT,
        "mp4 container cannot be read",
    ),
    "audio-only mp4": (samples.audio_only_mp4, None, HashOptions(), R.NO_FRAMES, "no video stream"),
    "mp4 with an empty video track": (
        samples.mp4_without_frames,
        None,
        HashOptions(),
        R.NO_FRAMES,
        "no video stream",
    ),
    "image declared as video": (
        lambda: JPEG,
        "video",
        HashOptions(),
        R.TYPE_MISMATCH,
        "declared video (video) but the bytes are jpeg (photo)",
    ),
    "video declared as photo": (
        lambda: samples.small_video(),
        "image/jpeg",
        HashOptions(),
        R.TYPE_MISMATCH,
        "bytes are mp4 (video)",
    ),
    "1x1 image": (
        lambda: encode(photo(1, 1), "PNG"),
        None,
        HashOptions(),
        R.TOO_SMALL,
        "1x1 pixels; PDQ needs at least 5",
    ),
    "4x300 image": (
        lambda: encode(photo(4, 300), "PNG"),
        None,
        HashOptions(),
        R.TOO_SMALL,
        "4x300",
    ),
    "every pixel identical": (samples.uniform_png, None, HashOptions(), R.UNIFORM, "same colour"),
    "uniform gif": (
        lambda: samples.solid_gif(300, 200),
        None,
        HashOptions(),
        R.UNIFORM,
        "same colour",
    ),
    "heic": (
        lambda: b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + b"\x00" * 64,
        None,
        HashOptions(),
        R.UNSUPPORTED_FORMAT,
        "heic images cannot be decoded",
    ),
    "svg declared as image": (
        lambda: b"<svg xmlns='http://www.w3.org/2000/svg'/>",
        "image/svg+xml",
        HashOptions(),
        R.UNSUPPORTED_FORMAT,
        "image/svg+xml is not a format",
    ),
    "video too long": (
        lambda: samples.small_video(frames=12, fps=4),
        None,
        HashOptions(vpdq_max_seconds=1.5),
        R.TOO_LONG,
        "more than the limit",
    ),
    "video with too many frames": (
        lambda: samples.small_video(frames=12, fps=4),
        None,
        HashOptions(max_frames=5),
        R.TOO_LONG,
        "more than 5 frames",
    ),
    "video frames too large": (
        lambda: samples.small_video(frames=4),
        None,
        HashOptions(max_pixels=1000),
        R.TOO_MANY_PIXELS,
        "96x64",
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_is_a_media_error(case: str, capfd: pytest.CaptureFixture[str]) -> None:
    make, declared, options, reason, message = CASES[case]
    data = make()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(MediaError) as raised:
            hash_bytes(data, declared_type=declared, options=options)
    error = raised.value
    assert error.reason is reason
    assert error.context["reason"] == reason.value
    assert message in error.message
    assert isinstance(error, InvalidInput)
    assert error.status in (413, 422)
    if reason is R.EMPTY:
        assert error.exact is None
    else:
        assert error.exact is not None
        assert error.exact.size == len(data)
        assert error.exact.sha256 not in str(error.context)
    assert [str(w.message) for w in caught] == []
    out, err = capfd.readouterr()
    assert (out, err) == ("", "")


def test_too_large_is_a_413() -> None:
    with pytest.raises(MediaTooLarge) as raised:
        hash_bytes(JPEG, options=HashOptions(max_bytes=1000))
    assert isinstance(raised.value, PayloadTooLarge)
    assert raised.value.status == 413
    assert raised.value.slug == "payload-too-large"
    assert raised.value.reason is R.TOO_LARGE
    assert "more than the limit of 1,000" in raised.value.message


def test_random_bytes_are_kind_other_with_exact_hashes() -> None:
    result = hash_bytes(NOISE)
    assert result.kind is MediaKind.OTHER
    assert result.format is None
    assert result.pdq == ()
    assert result.vpdq is None
    assert [t.value for t, _ in result.signals()] == ["md5", "sha1", "sha256"]


def test_a_broken_exif_block_warns_nothing_and_still_hashes(
    capfd: pytest.CaptureFixture[str],
) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = hash_bytes(samples.jpeg_with_broken_exif())
    assert result.primary_pdq is not None
    assert result.exif_orientation is None
    assert caught == []
    assert capfd.readouterr() == ("", "")


def test_wrong_data_type_and_declared_type() -> None:
    with pytest.raises(InvalidInput, match="data must be bytes, got str"):
        hash_bytes("not bytes")  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="neither a MIME type"):
        hash_bytes(JPEG, declared_type="banana")


@needs_pdq_reference
@pytest.mark.parametrize("name", ["misc-images/b.jpg", "misc-images/c.png"])
def test_shared_images_cut_in_half_are_truncated(name: str) -> None:
    data = (PDQ_REF / name).read_bytes()
    with pytest.raises(MediaError) as raised:
        hash_bytes(data[: len(data) // 2])
    assert raised.value.reason is R.TRUNCATED


@needs_vpdq_reference
def test_a_video_cut_in_half_hashes_what_is_there() -> None:
    data = (VPDQ_REF / "sample-videos/chair-19-sd-bar.mp4").read_bytes()
    result = hash_bytes(data[: len(data) // 2])
    assert result.truncated
    assert result.vpdq_hash is not None
    assert 3 <= len(result.vpdq_hash) < 19
    assert not hash_bytes(samples.small_video()).truncated
