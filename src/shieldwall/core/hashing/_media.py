"""The entry points: hash some bytes or a file, whatever it turns out to be."""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path

from shieldwall.core.errors import InvalidInput
from shieldwall.core.hashing._detect import DetectedMedia, check_declared, detect_media
from shieldwall.core.hashing._errors import MediaError, MediaErrorReason, media_error
from shieldwall.core.hashing._exact import CHUNK_BYTES, ExactHasher, ExactHashes, exact_hashes
from shieldwall.core.hashing._options import HashOptions
from shieldwall.core.hashing._photo import PdqVariant, hash_photo
from shieldwall.core.hashing._video import hash_video
from shieldwall.core.signals import MediaKind, PdqHash, SignalType, VpdqHash

_DEFAULT = HashOptions()


@dataclass(frozen=True, slots=True)
class MediaHashes:
    """Everything hashed from one file.

    ``pdq`` lists the photo's PDQ hashes, the primary first (variant ``original``) and then
    the variants asked for (see :class:`PdqVariant`); it is empty for videos and other files.
    ``low_quality`` is true when the primary's quality is below ``quality_floor``: such
    hashes are reported but must not be used for perceptual matching. ``vpdq_hash`` holds a
    video's hashed frames; ``vpdq`` is the same as a pytx ``vpdq`` string; ``truncated``
    says the video stopped before the frame count its container declares (the frames that
    did decode are hashed). ``fast`` says the fast decode path made the PDQs (up to a few
    bits from pytx's; see docs/hashing.md). ``width``/``height`` are the stored size (before
    any EXIF rotation); ``frames`` counts the frames hashed (1 for a still photo).
    """

    kind: MediaKind
    format: str | None
    mime_type: str
    digests: ExactHashes
    pdq: tuple[PdqVariant, ...] = ()
    low_quality: bool = False
    vpdq_hash: VpdqHash | None = None
    width: int | None = None
    height: int | None = None
    frames: int | None = None
    exif_orientation: int | None = None
    truncated: bool = False
    fast: bool = False
    quality_floor: int = _DEFAULT.quality_floor

    @property
    def size(self) -> int:
        return self.digests.size

    @property
    def md5(self) -> str:
        return self.digests.md5

    @property
    def sha1(self) -> str:
        return self.digests.sha1

    @property
    def sha256(self) -> str:
        return self.digests.sha256

    @property
    def video_md5(self) -> str | None:
        return self.digests.md5 if self.kind is MediaKind.VIDEO else None

    @property
    def exact(self) -> dict[str, str]:
        """The exact signals by type (``SignalType`` keys): md5, sha1, sha256, and video_md5
        for a video."""
        found: dict[str, str] = {
            SignalType.MD5: self.digests.md5,
            SignalType.SHA1: self.digests.sha1,
            SignalType.SHA256: self.digests.sha256,
        }
        if self.kind is MediaKind.VIDEO:
            found[SignalType.VIDEO_MD5] = self.digests.md5
        return found

    @property
    def primary_pdq(self) -> PdqHash | None:
        return self.pdq[0].hash if self.pdq else None

    @property
    def vpdq(self) -> str | None:
        """The vPDQ hash as a pytx ``vpdq`` signal string."""
        return None if self.vpdq_hash is None else self.vpdq_hash.to_signal_str()

    def matchable_pdqs(self) -> tuple[PdqVariant, ...]:
        """The PDQ hashes whose quality reaches the floor (the ones to match with)."""
        return tuple(v for v in self.pdq if not v.is_low_quality(self.quality_floor))

    def signals(self) -> list[tuple[SignalType, str]]:
        """``(signal type, value)`` pairs in pytx's formats: the exact ones, the primary PDQ
        unless it is low quality, and the vPDQ string."""
        pairs = [(SignalType(name), value) for name, value in self.exact.items()]
        primary = self.primary_pdq
        if primary is not None and not self.low_quality:
            pairs.append((SignalType.PDQ, primary.hex))
        if self.vpdq_hash is not None:
            pairs.append((SignalType.VPDQ, self.vpdq_hash.to_signal_str()))
        return pairs


def _base(detected: DetectedMedia, exact: ExactHashes, options: HashOptions) -> MediaHashes:
    return MediaHashes(
        kind=detected.kind,
        format=detected.format,
        mime_type=detected.mime_type,
        digests=exact,
        quality_floor=options.quality_floor,
    )


def _with_photo(base: MediaHashes, data: bytes, options: HashOptions) -> MediaHashes:
    assert base.format is not None
    photo = hash_photo(data, base.format, options)
    return replace(
        base,
        pdq=(PdqVariant("original", photo.pdq), *photo.variants),
        low_quality=photo.pdq.is_low_quality(options.quality_floor),
        width=photo.width,
        height=photo.height,
        frames=photo.frames,
        exif_orientation=photo.exif_orientation,
        fast=options.fast,
    )


def _with_video(base: MediaHashes, source: bytes | Path, options: HashOptions) -> MediaHashes:
    assert base.format is not None
    video = hash_video(source, base.format, options)
    return replace(
        base,
        vpdq_hash=video.vpdq,
        width=video.width,
        height=video.height,
        frames=len(video.vpdq),
        truncated=video.truncated,
    )


def _check_bytes(size: int, options: HashOptions) -> None:
    if size == 0:
        raise media_error(MediaErrorReason.EMPTY, "the file is empty (0 bytes)")
    if size > options.max_bytes:
        raise media_error(
            MediaErrorReason.TOO_LARGE,
            f"the file is {size:,} bytes, more than the limit of {options.max_bytes:,}",
            size=size,
        )


def hash_bytes(
    data: bytes,
    *,
    declared_type: str | None = None,
    options: HashOptions = _DEFAULT,
) -> MediaHashes:
    """Hash ``data``: exact hashes always; PDQ for photos; vPDQ for videos.

    The real type is sniffed from the bytes. ``declared_type`` (a MIME type such as
    ``image/png`` or a kind: ``photo``, ``video``, ``other``) is checked against it.
    Raises :class:`MediaError` (with ``reason`` and, when computed, ``exact``) for bad media.
    """
    if not isinstance(data, bytes | bytearray | memoryview):
        raise InvalidInput(f"data must be bytes, got {type(data).__name__}")
    raw = bytes(data)
    _check_bytes(len(raw), options)
    exact = exact_hashes(raw)
    try:
        detected = detect_media(raw)
    except MediaError as exc:
        exc.exact = exact
        raise
    return _finish(detected, exact, declared_type, options, photo=raw, video=raw)


def _finish(
    detected: DetectedMedia,
    exact: ExactHashes,
    declared_type: str | None,
    options: HashOptions,
    *,
    photo: bytes | None,
    video: bytes | Path,
) -> MediaHashes:
    """Check the declared type and add the perceptual hashes; a :class:`MediaError` raised
    on the way carries the exact hashes, which still identify the bytes."""
    try:
        check_declared(declared_type, detected)
        base = _base(detected, exact, options)
        if detected.kind is MediaKind.PHOTO:
            assert photo is not None
            return _with_photo(base, photo, options)
        if detected.kind is MediaKind.VIDEO:
            return _with_video(base, video, options)
        return base
    except MediaError as exc:
        exc.exact = exact
        raise


def hash_file(
    path: str | os.PathLike[str],
    *,
    declared_type: str | None = None,
    options: HashOptions = _DEFAULT,
) -> MediaHashes:
    """Like :func:`hash_bytes` for a file on disk, reading it once where possible.

    Photos are read into memory once (exact hashes and decode share the bytes). Videos and
    other files are streamed through the exact hashers in 1 MiB chunks; the video decoder
    then reads the file itself.
    """
    file = Path(path)
    try:
        size = file.stat().st_size
        _check_bytes(size, options)
        with file.open("rb") as stream:
            head = stream.read(CHUNK_BYTES)
            detected = detect_media(head)
            if detected.kind is MediaKind.PHOTO:
                data = head + stream.read()
                exact = exact_hashes(data)
            else:
                hasher = ExactHasher()
                hasher.update(head)
                while chunk := stream.read(CHUNK_BYTES):
                    hasher.update(chunk)
                exact = hasher.result()
    except OSError as exc:
        raise InvalidInput(f"cannot read {file.name}: {exc.strerror or exc}") from None
    photo = data if detected.kind is MediaKind.PHOTO else None
    return _finish(detected, exact, declared_type, options, photo=photo, video=file)
