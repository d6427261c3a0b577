"""Signal types: names, formats, normalisation and the value objects."""

from __future__ import annotations

import hashlib
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shieldwall.core import signals
from shieldwall.core.errors import InvalidInput
from shieldwall.core.signals import (
    SIGNAL_TYPES,
    MediaKind,
    PdqHash,
    SignalKind,
    SignalType,
    VpdqFrame,
    VpdqHash,
    get_signal_type,
    normalise,
    parse_vpdq,
)

from .conftest import PDQ_REF, VPDQ_REF, expected_rows, needs_pdq_reference, needs_vpdq_reference

PDQ = "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22"


def test_names_are_python_threatexchanges() -> None:
    assert [t.value for t in SignalType] == ["md5", "sha1", "sha256", "video_md5", "pdq", "vpdq"]
    assert set(SIGNAL_TYPES) == set(SignalType)
    for signal_type, spec in SIGNAL_TYPES.items():
        assert spec.type is signal_type


def test_pytx_agrees_on_the_shared_names() -> None:
    pytest.importorskip("threatexchange")
    from threatexchange.signal_type.md5 import VideoMD5Signal
    from threatexchange.signal_type.pdq.signal import PdqSignal

    assert VideoMD5Signal.get_name() == SignalType.VIDEO_MD5
    assert PdqSignal.get_name() == SignalType.PDQ


def test_kinds_and_media() -> None:
    assert get_signal_type("pdq").kind is SignalKind.PERCEPTUAL
    assert get_signal_type("vpdq").media == frozenset({MediaKind.VIDEO})
    assert get_signal_type("md5").media == frozenset(MediaKind)
    assert get_signal_type(" SHA256 ").kind is SignalKind.EXACT


@pytest.mark.parametrize("spec", list(SIGNAL_TYPES.values()), ids=lambda s: s.type.value)
def test_every_example_is_canonical(spec: type[signals.SignalSpec]) -> None:
    examples = spec.get_examples()
    assert examples
    for value in examples:
        assert spec.normalise(value) == value
        assert normalise(spec.type, value) == value


def test_exact_examples_are_real_digests() -> None:
    for spec, algorithm in (
        (signals.Md5Signal, "md5"),
        (signals.Sha1Signal, "sha1"),
        (signals.Sha256Signal, "sha256"),
    ):
        digests = {hashlib.new(algorithm, data).hexdigest() for data in (b"", b"abc")}
        assert set(spec.get_examples()) == digests
        assert spec.hash_bytes(b"abc") == hashlib.new(algorithm, b"abc").hexdigest()


@needs_pdq_reference
def test_pdq_examples_come_from_the_reference_data() -> None:
    published = {r["pdq_hex"] for r in expected_rows()}
    assert set(signals.PdqSignal.get_examples()) <= published


@needs_vpdq_reference
def test_video_examples_come_from_the_reference_data() -> None:
    md5 = hashlib.md5(
        (VPDQ_REF / "sample-videos/chair-19-sd-bar.mp4").read_bytes(), usedforsecurity=False
    ).hexdigest()
    assert signals.VideoMd5Signal.get_examples() == (md5,)
    rows = (VPDQ_REF / "expected-pytx-chair-20-sd-bar.csv").read_text().splitlines()[1:4]
    frames = parse_vpdq(signals.VpdqSignal.get_examples()[0])
    assert [(f.timestamp, f.quality, f.pdq_hex) for f in frames] == [
        (float(r.split(",")[1]), int(r.split(",")[2]), r.split(",")[3]) for r in rows
    ]


@pytest.mark.parametrize(
    ("signal_type", "raw", "canonical"),
    [
        ("pdq", f"  {PDQ.upper()}\n", PDQ),
        ("md5", "D41D8CD98F00B204E9800998ECF8427E", "d41d8cd98f00b204e9800998ecf8427e"),
        (
            "sha1",
            " da39a3ee5e6b4b0d3255bfef95601890afd80709 ",
            "da39a3ee5e6b4b0d3255bfef95601890afd80709",
        ),
        ("video_md5", "0A21C8F85A55A9E276FFC2C53F6887C4", "0a21c8f85a55a9e276ffc2c53f6887c4"),
        (
            SignalType.SHA256,
            "E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855",
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        ),
    ],
)
def test_normalise_strips_and_lowercases(signal_type: str, raw: str, canonical: str) -> None:
    assert normalise(signal_type, raw) == canonical


@pytest.mark.parametrize(
    ("signal_type", "value", "message"),
    [
        ("pdq", PDQ[:32], "pdq hash must be 64 hex characters, got 32"),
        ("pdq", PDQ[:-1] + "g", "pdq hash has non-hex characters: 'g'"),
        ("pdq", "0x" + PDQ[2:], "pdq hash has non-hex characters: 'x'"),
        ("pdq", "   ", "pdq hash is empty"),
        ("pdq", 12345, "pdq hash must be a string, got int"),
        ("md5", "d41d8cd98f00b204e9800998ecf8427", "md5 hash must be 32 hex characters, got 31"),
        ("sha1", "z" * 40, "sha1 hash has non-hex characters: 'z'"),
        ("sha256", "ab" * 16, "sha256 hash must be 64 hex characters, got 32"),
        ("video_md5", PDQ, "video_md5 hash must be 32 hex characters, got 64"),
        ("vpdq", "", "vpdq hash is empty"),
        ("vpdq", "[]", "vpdq hash has no frames"),
        ("vpdq", "[1, 2]", "JSON list of"),
        ("vpdq", "[nope", "not valid JSON"),
        ("vpdq", json.dumps([f"{PDQ},100"]), "got 2 fields"),
        ("vpdq", json.dumps([f"{PDQ},101,0.0"]), "quality must be an integer from 0 to 100"),
        ("vpdq", json.dumps([f"{PDQ},100,-1.0"]), "timestamp must be a finite number >= 0"),
        ("vpdq", json.dumps([f"{PDQ},100,nan"]), "timestamp must be a finite number >= 0"),
        (
            "vpdq",
            f"0,100,{PDQ},0.000\n1,100,{PDQ[:10]},0.033",
            "line 2: vpdq frame: pdq hash must be 64",
        ),
        ("vpdq", f"x,100,{PDQ},0.000", "frame number must be an integer"),
    ],
)
def test_normalise_names_the_problem(signal_type: str, value: object, message: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        normalise(signal_type, value)
    assert message in caught.value.message
    assert caught.value.context["signal_type"] == signal_type


def test_unknown_type_lists_the_known_ones() -> None:
    with pytest.raises(InvalidInput) as caught:
        normalise("photodna", "00")
    assert caught.value.message == (
        "unknown signal type 'photodna'; known types: md5, pdq, sha1, sha256, video_md5, vpdq"
    )


def test_pdq_hash_value_object() -> None:
    a = PdqHash(PDQ.upper(), 100)
    assert a.hex == PDQ
    assert str(a) == PDQ
    assert a.bits == bytes.fromhex(PDQ)
    assert len(a.bits) == 32
    assert PdqHash.from_bits(a.bits, 100) == a
    flipped = PdqHash(f"{int(PDQ, 16) ^ 0b1011:064x}")
    assert a.distance(flipped) == 3 == flipped.distance(PDQ)
    assert a.distance(a) == 0
    assert PdqHash(PDQ, 49).is_low_quality()
    assert not PdqHash(PDQ, 50).is_low_quality()
    assert not PdqHash(PDQ).is_low_quality()
    for bad_quality in (-1, 101, True, 1.5):
        with pytest.raises(InvalidInput, match="quality"):
            PdqHash(PDQ, bad_quality)  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="32 bytes"):
        PdqHash.from_bits(b"\x00" * 31)


@given(st.binary(min_size=32, max_size=32), st.binary(min_size=32, max_size=32))
def test_distance_is_the_popcount_of_xor(a: bytes, b: bytes) -> None:
    expected = sum(bin(x ^ y).count("1") for x, y in zip(a, b, strict=True))
    assert PdqHash.from_bits(a).distance(PdqHash.from_bits(b)) == expected
    assert signals.PdqSignal.distance(a.hex(), b.hex()) == expected
    assert signals.PdqSignal.matches(a.hex(), b.hex()) == (expected <= 31)


def test_vpdq_line_and_pytx_forms_round_trip() -> None:
    text = f"0,100,{PDQ},0.000\n30,87,{PDQ},1.000\n"
    parsed = VpdqHash.parse(text)
    assert parsed.frames[1] == VpdqFrame(PDQ, 87, 1.0, 30)
    assert parsed.to_lines() == text
    as_pytx = parsed.to_signal_str()
    assert as_pytx == json.dumps([f"{PDQ},100,0.0", f"{PDQ},87,1.0"])
    again = VpdqHash.parse(as_pytx)
    assert [f.frame_number for f in again.frames] == [None, None]
    assert again.to_signal_str() == as_pytx
    assert normalise("vpdq", text) == as_pytx


@given(
    st.lists(
        st.tuples(
            st.binary(min_size=32, max_size=32),
            st.integers(0, 100),
            st.floats(0, 100_000, allow_nan=False),
        ),
        min_size=1,
        max_size=20,
    )
)
def test_vpdq_strings_are_byte_identical_to_pytx(
    pytx_vpdq: object, frames: list[tuple[bytes, int, float]]
) -> None:
    util = pytx_vpdq.util  # type: ignore[attr-defined]
    ours = VpdqHash(tuple(VpdqFrame(b.hex(), q, t) for b, q, t in frames)).to_signal_str()
    theirs = util.vpdq_to_json([util.VpdqCompactFeature(b.hex(), q, t) for b, q, t in frames])
    assert ours == theirs
    back = [(f.pdq_hex, f.quality, f.timestamp) for f in util.json_to_vpdq(ours)]
    assert back == [(f.pdq_hex, f.quality, f.timestamp) for f in parse_vpdq(ours)]


@needs_vpdq_reference
def test_every_sample_hash_file_parses() -> None:
    files = sorted((VPDQ_REF / "sample-hashes").glob("*.txt"))
    assert len(files) == 31
    for path in files:
        parsed = VpdqHash.parse(path.read_text())
        assert [f.frame_number for f in parsed.frames] == list(range(len(parsed)))
        assert VpdqHash.parse(parsed.to_lines()) == parsed


def test_reference_folder_constants_point_at_shared() -> None:
    assert PDQ_REF.parent.name == "data"
    assert PDQ_REF.parents[1].name == "shared"
