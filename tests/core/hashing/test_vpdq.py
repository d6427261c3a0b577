"""vPDQ: frame selection and hashes against Meta's sample hashes, and the match algorithm
against python-threatexchange's brute-force matcher.

Every frame of all 11 sample videos is re-hashed (over a minute of CPU on a small machine).
"""

from __future__ import annotations

import csv
import types

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shieldwall.core.hashing import HashOptions, VpdqMatch, hash_bytes, hash_file, vpdq_match
from shieldwall.core.signals import VpdqFrame, VpdqHash

from . import media_samples as samples
from .conftest import VPDQ_REF, needs_vpdq_reference

EVERY_FRAME = HashOptions(vpdq_seconds_per_hash=0)
DEFAULT_VIDEOS = ["pattern-sd-grey-bar", "pattern-sd-with-small-logo-bar"]
ALL_VIDEOS = (
    sorted(p.stem for p in (VPDQ_REF / "sample-videos").glob("*.mp4")) if VPDQ_REF.is_dir() else []
)


def expected(name: str) -> VpdqHash:
    return VpdqHash.parse((VPDQ_REF / "sample-hashes" / f"{name}.txt").read_text())


@needs_vpdq_reference
def test_eleven_sample_videos() -> None:
    assert len(ALL_VIDEOS) == 11
    assert set(DEFAULT_VIDEOS) <= set(ALL_VIDEOS)


@needs_vpdq_reference
@pytest.mark.parametrize("name", ALL_VIDEOS)
def test_every_frame_matches_the_sample_hashes(name: str) -> None:
    ours = hash_file(VPDQ_REF / "sample-videos" / f"{name}.mp4", options=EVERY_FRAME).vpdq_hash
    theirs = expected(name)
    assert ours is not None
    # vpdq/cpp/regtest.py: same line count, frame numbers contiguous from 0 ...
    assert len(ours) == len(theirs)
    assert [f.frame_number for f in ours.frames] == list(range(len(theirs)))
    for mine, ref in zip(ours.frames, theirs.frames, strict=True):
        assert f"{mine.timestamp:.3f}" == f"{ref.timestamp:.3f}"
    # ... and every line pair with both qualities >= 50 closer than 31 bits
    compared = [
        (m.pdq.distance(r.pdq), m, r)
        for m, r in zip(ours.frames, theirs.frames, strict=True)
        if m.quality >= 50 and r.quality >= 50
    ]
    assert compared
    assert all(d < 31 for d, _, _ in compared)
    same_quality = sum(
        m.quality == r.quality for m, r in zip(ours.frames, theirs.frames, strict=True)
    )
    assert same_quality >= 0.85 * len(theirs)
    assert vpdq_match(ours, theirs) == VpdqMatch(100.0, 100.0)


@needs_vpdq_reference
def test_pytx_chair_20_one_frame_per_second(pytx_vpdq: types.SimpleNamespace) -> None:
    result = hash_file(VPDQ_REF / "sample-videos/chair-20-sd-bar.mp4")
    with (VPDQ_REF / "expected-pytx-chair-20-sd-bar.csv").open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert result.vpdq_hash is not None
    assert len(result.vpdq_hash) == len(rows) == 21
    for frame, row in zip(result.vpdq_hash.frames, rows, strict=True):
        assert frame.timestamp == float(row["timestamp_sec"])
        assert frame.frame_number == 30 * int(float(row["timestamp_sec"]))
        assert frame.quality == int(row["quality"]) == 100
        assert frame.pdq.distance(row["pdq_hex"]) <= 8
    reference = VpdqHash(
        tuple(VpdqFrame(r["pdq_hex"], int(r["quality"]), float(r["timestamp_sec"])) for r in rows)
    )
    assert vpdq_match(result.vpdq_hash, reference) == (100.0, 100.0)
    # pytx's own signal comparison accepts our serialisation and agrees
    util, brute = pytx_vpdq.util, pytx_vpdq.brute
    theirs = brute.match_VPDQ_hash_brute(
        util.json_to_vpdq(result.vpdq), util.json_to_vpdq(reference.to_signal_str()), 50, 31
    )
    assert (theirs.query_match_percent, theirs.compared_match_percent) == (100.0, 100.0)


@needs_vpdq_reference
def test_video_md5_from_the_wasm_data() -> None:
    result = hash_bytes(
        (VPDQ_REF / "sample-videos/chair-19-sd-bar.mp4").read_bytes(),
        options=HashOptions(vpdq_seconds_per_hash=10),
    )
    assert result.video_md5 == "0a21c8f85a55a9e276ffc2c53f6887c4"
    assert result.vpdq_hash is not None
    assert [f.frame_number for f in result.vpdq_hash.frames] == [0, 300]


@pytest.mark.parametrize(
    ("seconds", "numbers"),
    [
        (0, list(range(12))),
        (0.5, [0, 2, 4, 6, 8, 10]),
        (1, [0, 4, 8]),
        (2.9, [0, 11]),
        (60, [0]),
    ],
)
def test_frame_selection(seconds: float, numbers: list[int]) -> None:
    data = samples.small_video(frames=12, fps=4)
    result = hash_bytes(data, options=HashOptions(vpdq_seconds_per_hash=seconds))
    assert result.vpdq_hash is not None
    assert [f.frame_number for f in result.vpdq_hash.frames] == numbers
    assert [f.timestamp for f in result.vpdq_hash.frames] == [n / 4 for n in numbers]


@needs_vpdq_reference
def test_sample_hash_files_match_each_other() -> None:
    """Hash-to-hash, including videos not shipped here. Against the original chair video:
    shorter cuts, grey/sepia versions, a small logo and the 128x128 hashes match under pytx's
    rule (80 % of the query); a large logo, other resolutions without the bar and the
    unrelated videos do not."""
    original = expected("chair-orig-22-sd-bar")
    matching = {
        "chair-19-sd-bar": (100.0, 85.3),
        "chair-22-sd-sepia-bar": (100.0, 100.0),
        "chair-22-sd-grey-bar": (100.0, 100.0),
        "chair-22-with-small-logo-bar": (95.1, 95.0),
        "chair-orig-22-sd-bar-128x128": (100.0, 100.0),
    }
    for name, (query_pct, target_pct) in matching.items():
        result = vpdq_match(expected(name), original)
        assert result.is_match(), name
        assert (round(result.query_pct, 1), round(result.target_pct, 1)) == (
            query_pct,
            target_pct,
        ), name
    for name in (
        "chair-22-with-large-logo-bar",
        "chair-orig-22-hd-no-bar",
        "pattern-sd-grey-bar",
        "doorknob-hd-no-bar",
    ):
        assert not vpdq_match(expected(name), original).is_match(), name


@needs_vpdq_reference
def test_our_match_equals_pytx_on_real_hash_files(pytx_vpdq: types.SimpleNamespace) -> None:
    util, brute = pytx_vpdq.util, pytx_vpdq.brute
    # pytx's pure-Python brute force is slow: a slice of each file keeps this under a second
    query = VpdqHash(expected("chair-22-with-small-logo-bar").frames[100:180])
    target = VpdqHash(expected("chair-19-sd-bar").frames[60:200])
    theirs = brute.match_VPDQ_hash_brute(
        util.json_to_vpdq(query.to_signal_str()),
        util.json_to_vpdq(target.to_signal_str()),
        50,
        31,
    )
    assert vpdq_match(query, target) == (theirs.query_match_percent, theirs.compared_match_percent)


def test_match_counts_unique_frames_and_drops_low_quality() -> None:
    a, b, c = "0" * 64, "f" * 64, "0" * 56 + "ffffffff"
    query = [
        VpdqFrame(a, 100, 0.0),
        VpdqFrame(a, 100, 1.0),
        VpdqFrame(b, 100, 2.0),
        VpdqFrame(c, 10, 3.0),
    ]
    target = [VpdqFrame(c, 100, 0.0)]
    # query after dedupe+filter: a, b. a is 32 bits from c: no match at 31, a match at 32.
    assert vpdq_match(query, target) == (0.0, 0.0)
    assert vpdq_match(query, target, distance=32) == (50.0, 100.0)
    assert vpdq_match(query, target, distance=32, quality_floor=101) == (0.0, 0.0)
    assert vpdq_match([], target) == (0.0, 0.0)
    assert VpdqMatch(80.0, 0.0).is_match()
    assert not VpdqMatch(79.9, 100.0).is_match()


_frames = st.lists(
    st.builds(
        VpdqFrame,
        st.sampled_from(
            [
                "0" * 64,
                "f" * 64,
                "0" * 48 + "f" * 16,
                "0" * 40 + "f" * 24,
                "5" * 64,
                "a" * 64,
                "0" * 60 + "ffff",
                "f" * 32 + "0" * 32,
            ]
        ),
        st.sampled_from([0, 49, 50, 100]),
        st.floats(0, 100, allow_nan=False),
    ),
    max_size=12,
)


@settings(max_examples=150, deadline=None)
@given(_frames, _frames, st.sampled_from([0, 16, 31, 32, 64]))
def test_match_equals_pytx_brute_force(
    pytx_vpdq: types.SimpleNamespace,
    query: list[VpdqFrame],
    target: list[VpdqFrame],
    distance: int,
) -> None:
    util, brute = pytx_vpdq.util, pytx_vpdq.brute

    def compact(frames: list[VpdqFrame]) -> list[object]:
        return [util.VpdqCompactFeature(f.pdq_hex, f.quality, f.timestamp) for f in frames]

    ours = vpdq_match(query, target, distance=distance)
    try:
        theirs = brute.match_VPDQ_hash_brute(compact(query), compact(target), 50, distance)
    except ZeroDivisionError:  # pytx divides by zero when a side has no usable frame
        assert ours == (0.0, 0.0)
        return
    assert ours == (theirs.query_match_percent, theirs.compared_match_percent)
