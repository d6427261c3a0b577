"""Signal types: the names and string formats of the hashes shieldwall stores and exchanges.

Names and formats follow Meta's python-threatexchange ("pytx") so hash lists and clients
interoperate:

=============  ==========  ======  ==========================================================
name           kind        media   value
=============  ==========  ======  ==========================================================
md5            exact       any     32 lowercase hex characters (MD5 of the file bytes)
sha1           exact       any     40 lowercase hex characters
sha256         exact       any     64 lowercase hex characters
video_md5      exact       video   32 lowercase hex characters (pytx ``VideoMD5Signal``)
pdq            perceptual  photo   64 lowercase hex characters; the quality (0-100) travels
                                   separately (:class:`PdqHash`)
vpdq           perceptual  video   pytx's serialisation: a JSON list of
                                   ``"<pdq hex>,<quality>,<timestamp>"`` strings
                                   (:class:`VpdqHash`)
=============  ==========  ======  ==========================================================

Each signal type is a small class built from capabilities (:class:`BytesHasher`,
:class:`DistanceMatcher`) on top of :class:`SignalSpec`; every one ships ``get_examples()``
with real values that the tests check. :func:`normalise` validates and canonicalises a value
(strip, lowercase) and raises :class:`~shieldwall.core.errors.InvalidInput` naming the problem.
"""

from __future__ import annotations

import hashlib
import json
import math
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import ClassVar

from shieldwall.core import jsondoc
from shieldwall.core.errors import InvalidInput

__all__ = [
    "PDQ_DISTANCE_THRESHOLD",
    "PDQ_QUALITY_FLOOR",
    "SIGNAL_TYPES",
    "VPDQ_INDEX_MATCH_PERCENT",
    "VPDQ_QUERY_MATCH_PERCENT",
    "BytesHasher",
    "DistanceMatcher",
    "Md5Signal",
    "MediaKind",
    "PdqHash",
    "PdqSignal",
    "Sha1Signal",
    "Sha256Signal",
    "SignalKind",
    "SignalSpec",
    "SignalType",
    "VideoMd5Signal",
    "VpdqFrame",
    "VpdqHash",
    "VpdqSignal",
    "get_signal_type",
    "normalise",
    "parse_vpdq",
]

#: Meta's guidance (pdq/README.md, pytx ``PdqSignal``): distance <= 31 is a match.
PDQ_DISTANCE_THRESHOLD = 31
#: Hashes with quality below this are too unreliable to match on (pytx ``QUALITY_THRESHOLD``).
PDQ_QUALITY_FLOOR = 50
#: pytx's vPDQ defaults: a match needs 80 % of the query's frames and 0 % of the indexed video's.
VPDQ_QUERY_MATCH_PERCENT = 80.0
VPDQ_INDEX_MATCH_PERCENT = 0.0

_HEX = frozenset("0123456789abcdef")
_PDQ_HEX_LEN = 64


class SignalType(StrEnum):
    """The signal type names; the values are python-threatexchange's names."""

    MD5 = "md5"
    SHA1 = "sha1"
    SHA256 = "sha256"
    VIDEO_MD5 = "video_md5"
    PDQ = "pdq"
    VPDQ = "vpdq"


class SignalKind(StrEnum):
    EXACT = "exact"
    PERCEPTUAL = "perceptual"


class MediaKind(StrEnum):
    PHOTO = "photo"
    VIDEO = "video"
    OTHER = "other"


def _normalise_hex(value: object, *, label: str, length: int, signal_type: str) -> str:
    if not isinstance(value, str):
        raise InvalidInput(
            f"{label} must be a string, got {type(value).__name__}", signal_type=signal_type
        )
    text = value.strip().lower()
    if not text:
        raise InvalidInput(f"{label} is empty", signal_type=signal_type)
    bad = sorted(set(text) - _HEX)
    if bad:
        shown = ", ".join(repr(c) for c in bad[:5])
        raise InvalidInput(f"{label} has non-hex characters: {shown}", signal_type=signal_type)
    if len(text) != length:
        raise InvalidInput(
            f"{label} must be {length} hex characters, got {len(text)}",
            signal_type=signal_type,
        )
    return text


# ---------------------------------------------------------------- value objects


@dataclass(frozen=True, slots=True)
class PdqHash:
    """A 256-bit PDQ hash and, when known, its quality (0-100).

    ``hex`` is always 64 lowercase hex characters (the constructor strips and lowercases).
    ``quality`` is ``None`` for hashes imported from lists that do not carry it.
    """

    hex: str
    quality: int | None = None

    def __post_init__(self) -> None:
        canonical = _normalise_hex(
            self.hex, label="pdq hash", length=_PDQ_HEX_LEN, signal_type=SignalType.PDQ
        )
        object.__setattr__(self, "hex", canonical)
        if self.quality is not None and (
            isinstance(self.quality, bool)
            or not isinstance(self.quality, int)
            or not 0 <= self.quality <= 100
        ):
            raise InvalidInput(
                f"pdq quality must be an integer from 0 to 100, got {self.quality!r}",
                signal_type=SignalType.PDQ,
            )

    @classmethod
    def from_bits(cls, bits: bytes, quality: int | None = None) -> PdqHash:
        if len(bits) != 32:
            raise InvalidInput(
                f"pdq hash must be 32 bytes, got {len(bits)}", signal_type=SignalType.PDQ
            )
        return cls(bits.hex(), quality)

    @property
    def bits(self) -> bytes:
        """The hash as 32 bytes, most significant bit first (the order of the hex)."""
        return bytes.fromhex(self.hex)

    def distance(self, other: PdqHash | str) -> int:
        """Hamming distance (0-256) to another hash (a :class:`PdqHash` or hex string)."""
        other_hex = other.hex if isinstance(other, PdqHash) else PdqHash(other).hex
        return (int(self.hex, 16) ^ int(other_hex, 16)).bit_count()

    def is_low_quality(self, floor: int = PDQ_QUALITY_FLOOR) -> bool:
        """True when the quality is known and below ``floor``."""
        return self.quality is not None and self.quality < floor

    def __str__(self) -> str:
        return self.hex


def _pytx_timestamp(seconds: float) -> str:
    # pytx writes f"{timestamp:.3}": three *significant* digits, general format
    # (12.345 -> "12.3", 123.4 -> "1.23e+02"). Copied as is so strings round-trip.
    return f"{seconds:.3}"


@dataclass(frozen=True, slots=True)
class VpdqFrame:
    """One hashed video frame.

    ``frame_number`` is ``None`` when the source (pytx's serialisation) did not carry it.
    """

    pdq_hex: str
    quality: int
    timestamp: float
    frame_number: int | None = None

    def __post_init__(self) -> None:
        try:
            pdq = PdqHash(self.pdq_hex, self.quality)  # validates hex and quality
        except InvalidInput as exc:
            raise InvalidInput(f"vpdq frame: {exc.message}", signal_type=SignalType.VPDQ) from None
        object.__setattr__(self, "pdq_hex", pdq.hex)
        if not isinstance(self.timestamp, int | float) or isinstance(self.timestamp, bool):
            raise InvalidInput("vpdq timestamp must be a number", signal_type=SignalType.VPDQ)
        if not math.isfinite(self.timestamp) or self.timestamp < 0:
            raise InvalidInput(
                f"vpdq timestamp must be a finite number >= 0, got {self.timestamp!r}",
                signal_type=SignalType.VPDQ,
            )
        if self.frame_number is not None and (
            isinstance(self.frame_number, bool)
            or not isinstance(self.frame_number, int)
            or self.frame_number < 0
        ):
            raise InvalidInput(
                f"vpdq frame number must be an integer >= 0, got {self.frame_number!r}",
                signal_type=SignalType.VPDQ,
            )

    @property
    def pdq(self) -> PdqHash:
        return PdqHash(self.pdq_hex, self.quality)

    def to_pytx(self) -> str:
        """``"<hex>,<quality>,<timestamp>"`` exactly as pytx's ``VpdqCompactFeature`` writes it."""
        return f"{self.pdq_hex},{self.quality},{_pytx_timestamp(self.timestamp)}"

    def to_line(self, position: int = 0) -> str:
        """``frame_number,quality,pdq_hex,timestamp_sec`` as in Meta's sample-hashes files."""
        number = self.frame_number if self.frame_number is not None else position
        return f"{number},{self.quality},{self.pdq_hex},{self.timestamp:.3f}"

    @classmethod
    def from_pytx(cls, text: str) -> VpdqFrame:
        parts = text.strip().split(",")
        if len(parts) != 3:
            raise InvalidInput(
                f"vpdq frame must read '<pdq hex>,<quality>,<timestamp>', got {len(parts)} fields",
                signal_type=SignalType.VPDQ,
            )
        hex_, quality, timestamp = parts
        return cls(hex_, _parse_int(quality, "quality"), _parse_float(timestamp))

    @classmethod
    def from_line(cls, text: str) -> VpdqFrame:
        parts = text.strip().split(",")
        if len(parts) != 4:
            raise InvalidInput(
                "vpdq line must read 'frame_number,quality,pdq_hex,timestamp_sec', "
                f"got {len(parts)} fields",
                signal_type=SignalType.VPDQ,
            )
        number, quality, hex_, timestamp = parts
        return cls(
            hex_,
            _parse_int(quality, "quality"),
            _parse_float(timestamp),
            _parse_int(number, "frame number"),
        )


def _parse_int(text: str, what: str) -> int:
    try:
        return int(text.strip())
    except ValueError:
        raise InvalidInput(
            f"vpdq {what} must be an integer, got {text.strip()!r}", signal_type=SignalType.VPDQ
        ) from None


def _parse_float(text: str) -> float:
    try:
        return float(text.strip())
    except ValueError:
        raise InvalidInput(
            f"vpdq timestamp must be a number, got {text.strip()!r}", signal_type=SignalType.VPDQ
        ) from None


@dataclass(frozen=True, slots=True)
class VpdqHash:
    """A video's vPDQ hash: its hashed frames in order."""

    frames: tuple[VpdqFrame, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "frames", tuple(self.frames))

    @classmethod
    def parse(cls, text: str) -> VpdqHash:
        """Read pytx's JSON serialisation or Meta's ``frame,quality,hex,timestamp`` lines."""
        if not isinstance(text, str):
            raise InvalidInput(
                f"vpdq hash must be a string, got {type(text).__name__}",
                signal_type=SignalType.VPDQ,
            )
        stripped = text.strip()
        if not stripped:
            raise InvalidInput("vpdq hash is empty", signal_type=SignalType.VPDQ)
        if stripped.startswith("["):
            return cls.from_pytx(stripped)
        return cls.from_lines(stripped)

    @classmethod
    def from_pytx(cls, text: str) -> VpdqHash:
        try:
            items = jsondoc.loads(text)
        except ValueError as exc:
            raise InvalidInput(
                f"vpdq hash is not valid JSON: {exc.args[0] if exc.args else exc}",
                signal_type=SignalType.VPDQ,
            ) from None
        if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
            raise InvalidInput(
                "vpdq hash must be a JSON list of '<pdq hex>,<quality>,<timestamp>' strings",
                signal_type=SignalType.VPDQ,
            )
        return cls._checked(VpdqFrame.from_pytx(i) for i in items)

    @classmethod
    def from_lines(cls, text: str) -> VpdqHash:
        frames = []
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            try:
                frames.append(VpdqFrame.from_line(line))
            except InvalidInput as exc:
                raise InvalidInput(
                    f"line {number}: {exc.message}", signal_type=SignalType.VPDQ
                ) from None
        return cls._checked(frames)

    @classmethod
    def _checked(cls, frames: Iterable[VpdqFrame]) -> VpdqHash:
        result = cls(tuple(frames))
        if not result.frames:
            raise InvalidInput("vpdq hash has no frames", signal_type=SignalType.VPDQ)
        return result

    def to_signal_str(self) -> str:
        """The canonical ``vpdq`` value: pytx's ``vpdq_to_json`` output, byte for byte."""
        return json.dumps([f.to_pytx() for f in self.frames])

    def to_lines(self) -> str:
        """Meta's sample-hashes format, one ``frame,quality,hex,timestamp`` line per frame."""
        return "".join(f.to_line(i) + "\n" for i, f in enumerate(self.frames))

    def __len__(self) -> int:
        return len(self.frames)


# ---------------------------------------------------------------- signal type classes


class SignalSpec(ABC):
    """One signal type: its name, kind, the media it applies to, validation and examples."""

    type: ClassVar[SignalType]
    kind: ClassVar[SignalKind]
    media: ClassVar[frozenset[MediaKind]]
    summary: ClassVar[str]

    @classmethod
    @abstractmethod
    def normalise(cls, value: object) -> str:
        """The canonical string form; raises ``InvalidInput`` naming what is wrong."""

    @classmethod
    @abstractmethod
    def get_examples(cls) -> tuple[str, ...]:
        """Real, valid values (canonical form) that tests and demos may use."""


class BytesHasher(ABC):
    """Capability: computes the signal from raw bytes alone."""

    @classmethod
    @abstractmethod
    def hash_bytes(cls, data: bytes) -> str: ...


class DistanceMatcher(ABC):
    """Capability: values are compared by a distance; smaller is more alike."""

    distance_threshold: ClassVar[int]

    @classmethod
    @abstractmethod
    def distance(cls, a: str, b: str) -> int: ...

    @classmethod
    def matches(cls, a: str, b: str, threshold: int | None = None) -> bool:
        limit = cls.distance_threshold if threshold is None else threshold
        return cls.distance(a, b) <= limit


class _HexDigestSignal(SignalSpec, BytesHasher):
    kind = SignalKind.EXACT
    algorithm: ClassVar[str]
    hex_length: ClassVar[int]

    @classmethod
    def normalise(cls, value: object) -> str:
        return _normalise_hex(
            value, label=f"{cls.type} hash", length=cls.hex_length, signal_type=cls.type
        )

    @classmethod
    def hash_bytes(cls, data: bytes) -> str:
        return hashlib.new(cls.algorithm, data, usedforsecurity=False).hexdigest()


_ANY_MEDIA = frozenset(MediaKind)
_VIDEO = frozenset({MediaKind.VIDEO})


class Md5Signal(_HexDigestSignal):
    type = SignalType.MD5
    media = _ANY_MEDIA
    summary = "MD5 of the file bytes"
    algorithm = "md5"
    hex_length = 32

    @classmethod
    def get_examples(cls) -> tuple[str, ...]:
        # md5(b"") and md5(b"abc")
        return ("d41d8cd98f00b204e9800998ecf8427e", "900150983cd24fb0d6963f7d28e17f72")


class Sha1Signal(_HexDigestSignal):
    type = SignalType.SHA1
    media = _ANY_MEDIA
    summary = "SHA-1 of the file bytes"
    algorithm = "sha1"
    hex_length = 40

    @classmethod
    def get_examples(cls) -> tuple[str, ...]:
        return (
            "da39a3ee5e6b4b0d3255bfef95601890afd80709",
            "a9993e364706816aba3e25717850c26c9cd0d89d",
        )


class Sha256Signal(_HexDigestSignal):
    type = SignalType.SHA256
    media = _ANY_MEDIA
    summary = "SHA-256 of the file bytes"
    algorithm = "sha256"
    hex_length = 64

    @classmethod
    def get_examples(cls) -> tuple[str, ...]:
        return (
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
        )


class VideoMd5Signal(_HexDigestSignal):
    type = SignalType.VIDEO_MD5
    media = _VIDEO
    summary = "MD5 of a video file (python-threatexchange's video_md5)"
    algorithm = "md5"
    hex_length = 32

    @classmethod
    def get_examples(cls) -> tuple[str, ...]:
        # tmk/sample-videos/chair-19-sd-bar.mp4 (pdq/wasm/test/TestData/PDQMD5TestData.csv)
        return ("0a21c8f85a55a9e276ffc2c53f6887c4",)


class PdqSignal(SignalSpec, DistanceMatcher):
    type = SignalType.PDQ
    kind = SignalKind.PERCEPTUAL
    media = frozenset({MediaKind.PHOTO})
    summary = "PDQ perceptual photo hash, 64 hex characters; quality travels separately"
    distance_threshold = PDQ_DISTANCE_THRESHOLD
    quality_floor: ClassVar[int] = PDQ_QUALITY_FLOOR

    @classmethod
    def normalise(cls, value: object) -> str:
        return _normalise_hex(value, label="pdq hash", length=_PDQ_HEX_LEN, signal_type=cls.type)

    @classmethod
    def distance(cls, a: str, b: str) -> int:
        return PdqHash(a).distance(b)

    @classmethod
    def get_examples(cls) -> tuple[str, ...]:
        # From ../shared/data/pdq-reference/expected.csv (python-threatexchange rows):
        # sample-b.jpg, LA.png, rgb.jpeg, misc-images/wee.jpg, all quality 100.
        return (
            "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22",
            "accb6d39648035f8125c8ce6ba65007de7b54c67a2d93ef7b8f33b0611306715",
            "fb4eed46cb8a6c78819ca06b756c541f7b07ef6d02c82fccd00f862166272cda",
            "6227401f601ff4ccafcc9fad4b0d95d371a2eb7265a3285234d228ca94deeb2d",
        )


class VpdqSignal(SignalSpec):
    type = SignalType.VPDQ
    kind = SignalKind.PERCEPTUAL
    media = _VIDEO
    summary = "vPDQ: per-frame PDQ hashes of a video, in python-threatexchange's serialisation"

    @classmethod
    def normalise(cls, value: object) -> str:
        if not isinstance(value, str):
            raise InvalidInput(
                f"vpdq hash must be a string, got {type(value).__name__}", signal_type=cls.type
            )
        return VpdqHash.parse(value).to_signal_str()

    @classmethod
    def get_examples(cls) -> tuple[str, ...]:
        # The first three one-per-second frames of tmk/sample-videos/chair-20-sd-bar.mp4, from
        # ../shared/data/vpdq-reference/expected-pytx-chair-20-sd-bar.csv.
        frames = (
            VpdqFrame("e42926b9cb58d261383b699f0ff2e1076fe6183dff4986d82ca36da48034fc54", 100, 0.0),
            VpdqFrame("4ce949b11f1035e2f2eb0a5e76f68716870e70f97bd91d1049a3dbe1d164b454", 100, 1.0),
            VpdqFrame("643c8f9e5f0eb6866886355a4a4bdbe38343a4e924b969b41d321ba33a85f55e", 100, 2.0),
        )
        return (VpdqHash(frames).to_signal_str(),)


SIGNAL_TYPES: Mapping[SignalType, type[SignalSpec]] = {
    spec.type: spec
    for spec in (
        Md5Signal,
        Sha1Signal,
        Sha256Signal,
        VideoMd5Signal,
        PdqSignal,
        VpdqSignal,
    )
}


def get_signal_type(name: str | SignalType) -> type[SignalSpec]:
    """The signal type class for a name such as ``"pdq"`` (case and spaces ignored)."""
    key = name.strip().lower() if isinstance(name, str) else name
    try:
        return SIGNAL_TYPES[SignalType(key)]
    except ValueError:
        known = ", ".join(sorted(SIGNAL_TYPES))
        raise InvalidInput(
            f"unknown signal type {name!r}; known types: {known}", signal_type=str(name)
        ) from None


def normalise(signal_type: str | SignalType, value: object) -> str:
    """Validate ``value`` as a ``signal_type`` value and return its canonical string."""
    if not isinstance(signal_type, str):
        raise InvalidInput(f"signal type must be a string, got {type(signal_type).__name__}")
    return get_signal_type(signal_type).normalise(value)


def parse_vpdq(value: str) -> list[VpdqFrame]:
    """The frames of a ``vpdq`` value (pytx JSON or sample-hashes lines)."""
    return list(VpdqHash.parse(value).frames)
