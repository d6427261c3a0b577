"""The stand-in classifier measures a marker colour, deterministically, and nothing else."""

from __future__ import annotations

import pytest

from shieldwall.integrations.classifiers import ClassifierConfig, ClassifierError, ClassifierInput
from shieldwall.integrations.classifiers.standin import StandInClassifier, parse_colour
from tests.media.samples import marked, picture, small_video


def stand_in(**options: object) -> StandInClassifier:
    return StandInClassifier(ClassifierConfig(name="marker", kind="stand-in", options=options))


@pytest.mark.parametrize("share", [0.0, 0.1, 0.25, 0.5, 0.9, 1.0])
def test_the_score_is_the_share_of_marker_pixels(share: float) -> None:
    score = stand_in().classify(ClassifierInput(data=marked(share)))["marker"]
    assert score == pytest.approx(share, abs=0.01)


def test_the_same_input_always_gives_the_same_score() -> None:
    data = marked(0.37)
    scores = {stand_in().classify(ClassifierInput(data=data))["marker"] for _ in range(3)}
    assert len(scores) == 1


def test_ordinary_generated_pictures_score_zero() -> None:
    for seed in range(1, 6):
        assert stand_in().classify(ClassifierInput(data=picture(seed))) == {"marker": 0.0}


def test_colour_tolerance_and_label_are_options() -> None:
    green = marked(0.5, colour=(0, 250, 0))
    assert stand_in().classify(ClassifierInput(data=green)) == {"marker": 0.0}
    scored = stand_in(colour="#00ff00", label="green").classify(ClassifierInput(data=green))
    assert scored["green"] == pytest.approx(0.5, abs=0.01)
    # a tolerance of zero needs the exact colour: (0, 250, 0) is 5 away from pure green
    exact = stand_in(colour="00ff00", tolerance=0).classify(ClassifierInput(data=green))
    assert exact == {"marker": 0.0}


def test_a_video_is_scored_on_its_first_frame() -> None:
    assert stand_in().classify(ClassifierInput(data=small_video()))["marker"] > 0.95
    grey_first = small_video(first=(128, 128, 128))
    assert stand_in().classify(ClassifierInput(data=grey_first))["marker"] < 0.05


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (ClassifierInput(url="https://cdn.example/a.png"), "needs the media bytes"),
        (ClassifierInput(data=b"plain text, not a picture"), "not a picture or video"),
        (ClassifierInput(data=marked(0.5)[:200]), "not a picture or video"),
    ],
)
def test_content_it_cannot_look_at_is_an_error_not_a_score(
    content: ClassifierInput, message: str
) -> None:
    with pytest.raises(ClassifierError, match=message):
        stand_in().classify(content)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"colour": "magenta"}, "must look like '#ff00ff'"),
        ({"tolerance": -1}, "between 0 and 442"),
        ({"tolerance": "wide"}, "must be a number"),
        ({"shade": 3}, "options \\['shade'\\] are not known"),
    ],
)
def test_bad_options_are_refused(options: dict[str, object], message: str) -> None:
    with pytest.raises(ClassifierError, match=message):
        stand_in(**options)


def test_parse_colour() -> None:
    assert parse_colour("#FF00ff") == (255, 0, 255)
    assert parse_colour(" 0a0b0c ") == (10, 11, 12)


def test_classifier_inputs_never_show_their_bytes() -> None:
    content = ClassifierInput(data=b"secret-bytes", url="https://cdn.example/private/1.jpg")
    assert "secret-bytes" not in repr(content)
    assert "private" not in repr(content)
    with pytest.raises(ValueError, match="needs the bytes or a URL"):
        ClassifierInput()
