"""The stand-in classifier: deterministic, for tests and demos only. **It detects a colour.**

It claims nothing about abuse, nudity or anything else in a picture. Its one score, label
``marker`` (configurable), is the share of pixels (0.0-1.0) within ``tolerance`` (Euclidean
distance in RGB, default 60) of a marker colour (default ``#ff00ff``, magenta). Tests paint a
magenta patch on a generated picture to make content "score" and route it to review without
any real classifier or any real material.

Options (``options = {...}`` in the classifier's table): ``colour`` ("#rrggbb"),
``tolerance`` (0-442), ``label``. Videos are scored on their first frame. Content that is not
a picture raises :class:`ClassifierError` (it is not given a score it did not earn).
"""

from __future__ import annotations

import re

import numpy as np

from shieldwall.integrations.classifiers.base import ClassifierError, ClassifierInput
from shieldwall.integrations.classifiers.config import ClassifierConfig

DEFAULT_COLOUR = "#ff00ff"
DEFAULT_TOLERANCE = 60.0
DEFAULT_LABEL = "marker"
#: Pictures are scored at this long side: enough for a share of pixels, quick to compute.
SCORE_SIDE = 256
#: Largest picture decoded (width x height).
MAX_PIXELS = 50_000_000


def parse_colour(text: str) -> tuple[int, int, int]:
    match = re.fullmatch(r"#?([0-9a-fA-F]{6})", text.strip())
    if not match:
        raise ClassifierError(f"stand-in colour {text[:20]!r} must look like '#ff00ff'")
    raw = bytes.fromhex(match.group(1))
    return raw[0], raw[1], raw[2]


class StandInClassifier:
    """Share of pixels close to a marker colour. Not a content classifier."""

    def __init__(self, config: ClassifierConfig) -> None:
        options = config.options
        unknown = set(options) - {"colour", "tolerance", "label"}
        if unknown:
            raise ClassifierError(f"stand-in options {sorted(unknown)} are not known")
        self.name = config.name
        self.colour = parse_colour(str(options.get("colour", DEFAULT_COLOUR)))
        tolerance = options.get("tolerance", DEFAULT_TOLERANCE)
        if isinstance(tolerance, bool) or not isinstance(tolerance, int | float):
            raise ClassifierError("stand-in tolerance must be a number")
        if not 0 <= tolerance <= 442:
            raise ClassifierError("stand-in tolerance must be between 0 and 442")
        self.tolerance = float(tolerance)
        self.label = str(options.get("label", DEFAULT_LABEL))

    def classify(self, content: ClassifierInput) -> dict[str, float]:
        from shieldwall.media.frames import first_picture

        if content.data is None:
            raise ClassifierError("the stand-in needs the media bytes, not a URL")
        picture = first_picture(content.data, max_pixels=MAX_PIXELS, side=SCORE_SIDE)
        if picture is None:
            raise ClassifierError("the content is not a picture or video it can decode")
        pixels = np.asarray(picture, dtype=np.float32).reshape(-1, 3)
        distance = np.sqrt(((pixels - np.asarray(self.colour, dtype=np.float32)) ** 2).sum(axis=1))
        share = float((distance <= self.tolerance).mean())
        return {self.label: round(share, 6)}
