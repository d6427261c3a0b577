"""PDQ against the shared reference data: pytx bit for bit, the published hashes, the
dihedral and letterbox rows, qualities, and the fast path's tolerance."""

from __future__ import annotations

import types
from collections import defaultdict
from functools import cache

import pytest

from shieldwall.core.hashing import (
    REFERENCE_OPTIONS,
    DihedralMethod,
    HashOptions,
    MediaHashes,
    hash_bytes,
    hash_file,
)
from shieldwall.core.signals import PdqHash

from .conftest import (
    PDQ_REF,
    distance,
    encode,
    expected_rows,
    needs_pdq_reference,
    reference_images,
)

pytestmark = needs_pdq_reference
IMAGES = reference_images()
FAST = HashOptions()
SAMPLE_B = "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22"


@cache
def _hashed(name: str, options: HashOptions) -> MediaHashes:
    return hash_bytes((PDQ_REF / name).read_bytes(), options=options)


def hashed(name: str, options: HashOptions = REFERENCE_OPTIONS) -> MediaHashes:
    return _hashed(name, options)


def primary(name: str, options: HashOptions = REFERENCE_OPTIONS) -> PdqHash:
    found = hashed(name, options).primary_pdq
    assert found is not None
    return found


def variant(result: MediaHashes, name: str) -> PdqHash:
    return next(v.hash for v in result.pdq if v.variant == name)


def test_the_reference_folder_has_its_images() -> None:
    assert len(IMAGES) == 52


@pytest.mark.parametrize("name", IMAGES)
def test_reference_path_equals_pytx_bit_for_bit(name: str, pytx_pdq: types.ModuleType) -> None:
    pytx_hex, pytx_quality = pytx_pdq.pdq_from_bytes((PDQ_REF / name).read_bytes())
    ours = primary(name)
    assert (ours.hex, ours.quality) == (pytx_hex, pytx_quality)


def test_hash_file_equals_hash_bytes() -> None:
    for name in ("misc-images/b.jpg", "misc-images/c.png", "misc-images/modes/P.png"):
        from_file = hash_file(PDQ_REF / name, options=REFERENCE_OPTIONS)
        assert from_file == hashed(name)


def _groups() -> dict[str, list[dict[str, str]]]:
    groups: dict[str, list[dict[str, str]]] = defaultdict(list)
    for row in expected_rows():
        source = row["source"]
        if source.startswith("python-threatexchange"):
            groups["pytx"].append(row)
        elif source.startswith(("cpp ", "java pdq-photo-hasher-tool")):
            groups["cpp"].append(row)  # the Java tool's README output is identical to C++'s
        elif source.startswith("python pdqhashing"):
            groups["pure-python"].append(row)
        else:
            groups["other"].append(row)  # Java unit test (ImageIO), PHP, WASM
    return groups


GROUPS = _groups()


def test_expected_csv_groups() -> None:
    assert {k: len(v) for k, v in GROUPS.items()} == {
        "cpp": 16,
        "pure-python": 31,
        "other": 20,
        "pytx": 23,
    }


@pytest.mark.parametrize("row", GROUPS["pytx"], ids=lambda r: r["file"])
def test_pytx_published_hashes_reproduce_exactly(row: dict[str, str]) -> None:
    assert primary(row["file"]).hex == row["pdq_hex"]


@pytest.mark.parametrize("row", GROUPS["cpp"], ids=lambda r: r["file"])
def test_meta_rule_within_10_bits_of_cpp_at_quality_80(row: dict[str, str]) -> None:
    """pdq/README.md: an implementation is correct if, at quality >= 80, it is within 10
    bits of the C++ reference. Every C++ row is quality 100 here, so the rule applies to
    all 16 (8 C++ + the identical 8 of the Java tool). The fast path adds its own few bits
    on top: it is within 10 on 12 rows and within 12 on the bridge-2/bridge-6 rows (see
    docs/hashing.md)."""
    ours = primary(row["file"])
    assert ours.quality is not None
    assert ours.quality >= 80
    assert distance(ours.hex, row["pdq_hex"]) <= 10
    fast_bound = 12 if "bridge-2" in row["file"] or "bridge-6" in row["file"] else 10
    assert distance(primary(row["file"], FAST).hex, row["pdq_hex"]) <= fast_bound


@pytest.mark.parametrize("row", GROUPS["other"], ids=lambda r: f"{r['source'][:10]}:{r['file']}")
def test_other_implementations_within_10_bits_at_quality_80(row: dict[str, str]) -> None:
    ours = primary(row["file"])
    if ours.quality is not None and ours.quality < 80:
        # The rule does not apply below quality 80; such hashes must not be matched at all.
        assert ours.quality < 50
        assert hashed(row["file"]).low_quality
        return
    assert distance(ours.hex, row["pdq_hex"]) <= 10
    assert distance(primary(row["file"], FAST).hex, row["pdq_hex"]) <= 10


@pytest.mark.parametrize("row", GROUPS["pure-python"], ids=lambda r: r["file"])
def test_pure_python_rows_within_their_own_16_bit_tolerance(row: dict[str, str]) -> None:
    """The pure-Python pdqhashing rows are the documented exception: 3 are 12 bits away
    (its own test allows 16), because its float rounding differs from C++."""
    ours = primary(row["file"])
    if ours.quality is not None and ours.quality < 80:
        assert ours.quality < 50  # below the floor: never matched, so no tolerance applies
        assert hashed(row["file"]).low_quality
        return
    assert distance(ours.hex, row["pdq_hex"]) <= 16


def test_published_qualities_are_reproduced() -> None:
    rows = [r for r in expected_rows() if r["quality"]]
    assert len(rows) == 25
    for row in rows:
        assert primary(row["file"]).quality == int(row["quality"]), row["file"]


def test_low_quality_is_reported_and_flagged() -> None:
    for name, quality in (
        ("misc-images/small.jpg", 0),
        ("pytx-resources/I16.png", 36),
        ("reg-test-input/labelme-subset/q0003.jpg", 3),
    ):
        result = hashed(name)
        assert result.primary_pdq is not None
        assert result.primary_pdq.quality == quality
        assert result.low_quality
        assert all(t != "pdq" for t, _ in result.signals())
        assert [v.variant for v in result.matchable_pdqs()] == (
            ["true_color"] if name.endswith("I16.png") else []
        )
    assert not hashed("misc-images/b.jpg").low_quality


def test_sixteen_bit_grey_is_scaled_not_clipped_in_true_colour() -> None:
    """pytx converts I;16 to RGB, which clips every value above 255: the image turns almost
    white (quality 36). The true-colour variant scales 16 bits to 8 and sees the picture."""
    result = hashed("pytx-resources/I16.png")
    assert variant(result, "true_color").quality == 100


@pytest.mark.parametrize("name", IMAGES)
def test_fast_path_within_10_bits_of_reference(name: str) -> None:
    reference, fast = primary(name), primary(name, FAST)
    assert hashed(name, FAST).fast
    if reference.quality is not None and reference.quality < 80:
        # Both paths must agree that such a picture is below the floor.
        assert reference.quality < 50
        assert fast.quality is not None
        assert fast.quality < 50
        return
    assert distance(reference.hex, fast.hex) <= 10


def test_small_images_take_the_same_path_in_fast_mode() -> None:
    for name in IMAGES:
        result = hashed(name)
        if result.width and result.height and max(result.width, result.height) < 1024:
            assert primary(name, FAST) == primary(name), name


def test_dihedral_rows_exact_with_transpose() -> None:
    rows = [r for r in expected_rows("expected-transforms.csv") if r["file"].endswith("LA.png")]
    assert len(rows) == 8
    options = HashOptions(fast=False, dihedral=True, dihedral_method=DihedralMethod.TRANSPOSE)
    result = hashed("pytx-resources/LA.png", options)
    for row in rows:
        name = "original" if row["transform"] == "ORIGINAL" else row["transform"].lower()
        assert variant(result, name).hex == row["pdq_hex"], name


def test_dct_dihedral_is_close_on_photos_and_exact_for_original() -> None:
    exact = hashed(
        "misc-images/b.jpg",
        HashOptions(fast=False, dihedral=True, dihedral_method=DihedralMethod.TRANSPOSE),
    )
    dct = hashed(
        "misc-images/b.jpg",
        HashOptions(fast=False, dihedral=True, dihedral_method=DihedralMethod.DCT),
    )
    assert [v.variant for v in dct.pdq] == [
        "original",
        "rotate90",
        "rotate180",
        "rotate270",
        "flipx",
        "flipy",
        "flipplus1",
        "flipminus1",
    ]
    assert dct.primary_pdq == exact.primary_pdq
    for item in dct.pdq[1:]:
        assert distance(item.hex, variant(exact, item.variant).hex) <= 10, item.variant


TURNED_PHOTOS = ["misc-images/b.jpg", "reg-test-input/labelme-subset/q0122.jpg"]


def _turned_distances(name: str, size: int, method: DihedralMethod | None = None) -> list[int]:
    """For a photo resized to ``size`` square: the upright picture's PDQ, against the
    nearest dihedral variant (``method``, or the default) of each of its 7 rotations/flips
    re-saved as JPEG."""
    from PIL import Image

    upright = Image.open(PDQ_REF / name).convert("RGB").resize((size, size))
    target = hash_bytes(encode(upright, quality=95)).primary_pdq
    assert target is not None
    out = []
    for turn in list(Image.Transpose)[:7]:
        result = hash_bytes(
            encode(upright.transpose(turn), quality=90),
            options=HashOptions(dihedral=True)
            if method is None
            else HashOptions(dihedral=True, dihedral_method=method),
        )
        out.append(min(distance(target.hex, item.hex) for item in result.pdq))
    return out


@pytest.mark.parametrize("name", TURNED_PHOTOS)
@pytest.mark.parametrize("size", [256, 300, 512, 1024])
def test_turned_photos_of_every_size_are_found_by_the_default_dihedral(
    name: str, size: int
) -> None:
    """Uploads come in every size. The default variants turn the pixels back, so the
    nearest one is the upright picture's hash up to JPEG noise, whatever the size."""
    assert max(_turned_distances(name, size)) <= 12


def test_the_dct_dihedral_misses_turned_photos_of_some_sizes() -> None:
    """Why the default is not ``dct``: at sizes where PDQ's downsampling is not symmetric
    under flips (256 px here) its variants are far from the turned file's hash; at 300 px
    they are exact. (If pdqhash ever fixes this, the default can go back to ``dct``.)"""
    assert max(_turned_distances(TURNED_PHOTOS[1], 256, DihedralMethod.DCT)) > 31
    assert max(_turned_distances(TURNED_PHOTOS[1], 300, DihedralMethod.DCT)) <= 12


def test_dihedral_variants_match_the_rotated_files() -> None:
    result = hashed("reg-test-input/dih/bridge-1-original.jpg", HashOptions(dihedral=True))
    files = {
        "rotate90": "bridge-2-rotate-90.jpg",
        "rotate180": "bridge-3-rotate-180.jpg",
        "rotate270": "bridge-4-rotate-270.jpg",
        "flipx": "bridge-5-flipx.jpg",
        "flipy": "bridge-6-flipy.jpg",
        "flipplus1": "bridge-7-flip-plus-1.jpg",
        "flipminus1": "bridge-8-flip-minus-1.jpg",
    }
    for name, file in files.items():
        other = primary(f"reg-test-input/dih/{file}", FAST)
        assert distance(variant(result, name).hex, other.hex) <= 16, name


@pytest.mark.parametrize("options", [FAST, REFERENCE_OPTIONS], ids=["fast", "reference"])
def test_letterbox_variant_recovers_sample_b(options: HashOptions) -> None:
    result = hashed(
        "pytx-resources/letterboxed_sample-b.jpg", HashOptions(letterbox=True, fast=options.fast)
    )
    assert distance(result.pdq[0].hex, SAMPLE_B) > 100  # the bars change the hash completely
    assert distance(variant(result, "letterbox").hex, SAMPLE_B) <= 6
    assert variant(result, "letterbox").quality == 100


@pytest.mark.parametrize("colour", [(0, 0, 0), (255, 255, 255)])
@pytest.mark.parametrize("name", ["q0291.jpg", "q1050.jpg", "q2821.jpg"])
def test_bars_smeared_by_jpeg_are_trimmed_to_the_picture(
    name: str, colour: tuple[int, int, int]
) -> None:
    """A small photo framed in bars and saved at JPEG quality 75: the blocks that straddle
    each bar's inner edge smear the picture into it, and a bar line left behind (257 px
    instead of 256) put the letterbox variant up to 32 bits from the picture."""
    from PIL import Image

    picture = Image.open(PDQ_REF / "reg-test-input/labelme-subset" / name).convert("RGB")
    framed = Image.new("RGB", (picture.width + 60, picture.height + 60), colour)
    framed.paste(picture, (30, 30))
    target = hash_bytes(encode(picture, quality=95)).primary_pdq
    assert target is not None
    result = hash_bytes(encode(framed, quality=75), options=HashOptions(letterbox=True))
    assert distance(variant(result, "letterbox").hex, target.hex) <= 6


def test_pytx_unletterbox_rows_are_near_ours() -> None:
    rows = {
        r["transform"]: r["pdq_hex"]
        for r in expected_rows("expected-transforms.csv")
        if r["file"].endswith("letterboxed_sample-b.jpg")
    }
    ours = variant(
        hashed("pytx-resources/letterboxed_sample-b.jpg", HashOptions(letterbox=True, fast=False)),
        "letterbox",
    )
    # pytx re-encodes the crop as JPEG before hashing; with threshold 25 it finds the bars
    # exactly and lands on the sample-b hash, as we do.
    assert distance(ours.hex, rows["unletterbox --black-threshold=25"]) == 0
    assert distance(ours.hex, rows["unletterbox (default black threshold)"]) <= 20


@pytest.mark.parametrize(
    "name", ["misc-images/modes/P.png", "misc-images/modes/CMYK.jpg", "misc-images/modes/1.png"]
)
def test_pytx_quirk_modes_get_a_true_colour_variant(name: str) -> None:
    compat = hashed(name, HashOptions(fast=False))
    true_colour = variant(compat, "true_color")
    assert distance(true_colour.hex, SAMPLE_B) <= 8
    assert true_colour.quality == 100
    plain = hashed(name, HashOptions(fast=False, pytx_compatible=False))
    assert plain.primary_pdq == true_colour
    assert [v.variant for v in plain.pdq] == ["original"]


def test_every_mode_hashes_close_to_the_original_in_true_colour() -> None:
    for path in sorted((PDQ_REF / "misc-images/modes").iterdir()):
        name = str(path.relative_to(PDQ_REF))
        ours = primary(name, HashOptions(pytx_compatible=False))
        assert distance(ours.hex, SAMPLE_B) <= 10, name
