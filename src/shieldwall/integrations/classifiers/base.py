"""The classifier protocol and the value objects a classification produces.

::

    ClassifierError           a classifier could not give scores (plain words, no content)
    └── CircuitOpen           the breaker refuses calls for now
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable


class ClassifierError(Exception):
    """A classifier failed; the message is plain words safe to store and show."""


class CircuitOpen(ClassifierError):
    """The classifier failed too often in a row; calls are refused until the breaker re-tries."""


@dataclass(frozen=True)
class ClassifierInput:
    """What a classifier looks at: the bytes, or a URL, or both. ``media_type`` is a hint."""

    data: bytes | None = None
    media_type: str | None = None
    url: str | None = None

    def __post_init__(self) -> None:
        if self.data is None and not self.url:
            raise ValueError("a classifier input needs the bytes or a URL")

    def __repr__(self) -> str:  # never put media (or a URL naming it) in a log line
        size = "none" if self.data is None else f"{len(self.data)} bytes"
        return f"ClassifierInput(data={size}, media_type={self.media_type!r}, url={bool(self.url)})"


@runtime_checkable
class Classifier(Protocol):
    """Anything with a ``name`` and ``classify`` returning label -> score.

    ``classify`` raises (preferably :class:`ClassifierError`) when it cannot give scores; it
    must not return made-up scores on failure.
    """

    name: str

    def classify(self, content: ClassifierInput) -> dict[str, float]: ...


@dataclass(frozen=True)
class ClassifierScore:
    classifier: str
    label: str
    score: float
    threshold: float | None
    over_threshold: bool


@dataclass(frozen=True)
class ClassifierOutcome:
    """Every score from every classifier that answered, and plain-words errors by name for
    the ones that did not. A failed classifier never sends content to review by itself."""

    scores: list[ClassifierScore] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)

    @property
    def needs_review(self) -> bool:
        return any(s.over_threshold for s in self.scores)

    @property
    def over_threshold(self) -> list[ClassifierScore]:
        return [s for s in self.scores if s.over_threshold]

    @property
    def top(self) -> ClassifierScore | None:
        """The highest score over its threshold, else the highest score (None when none)."""
        pool = self.over_threshold or self.scores
        return max(pool, key=lambda s: s.score, default=None)

    def summary(self) -> dict[str, object]:
        """Ids, labels and numbers only: fit for events and case signals."""
        return {
            "scores": [
                {
                    "classifier": s.classifier,
                    "label": s.label,
                    "score": s.score,
                    "threshold": s.threshold,
                    "over_threshold": s.over_threshold,
                }
                for s in self.scores
            ],
            "errors": dict(self.errors),
        }


def score_list(
    name: str, raw: Mapping[str, float], thresholds: Mapping[str, float]
) -> list[ClassifierScore]:
    """Checked scores in label order; ``ClassifierError`` for anything not a finite number."""
    scores = []
    for label in sorted(raw):
        value = raw[label]
        if not isinstance(label, str) or not label:
            raise ClassifierError("returned a score without a label")
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ClassifierError(f"returned a non-numeric score for {label[:40]!r}")
        score = float(value)
        if not math.isfinite(score):
            raise ClassifierError(f"returned a non-finite score for {label[:40]!r}")
        threshold = thresholds.get(label)
        scores.append(
            ClassifierScore(
                classifier=name,
                label=label,
                score=score,
                threshold=threshold,
                over_threshold=threshold is not None and score >= threshold,
            )
        )
    return scores
