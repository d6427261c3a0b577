"""Classifier plug-ins (principle 2): find new material by sending it to a classifier.

::

    from shieldwall.integrations.classifiers import ClassifierInput, ClassifierSet

    classifiers = ClassifierSet.from_settings(settings)
    if classifiers:
        outcome = classifiers.classify(ClassifierInput(data=upload, media_type="image/jpeg"))
        outcome.needs_review, outcome.scores, outcome.errors

A classifier is anything with ``name`` and ``classify(content) -> {label: score}``. Built-in
kinds: ``http`` (a generic adapter for a scoring service) and ``stand-in`` (deterministic,
for tests: it measures a colour and claims nothing about abuse). Others are found through the
``shieldwall.classifiers`` entry point group. See docs/classifiers.md.
"""

from shieldwall.integrations.classifiers.base import (
    CircuitOpen,
    Classifier,
    ClassifierError,
    ClassifierInput,
    ClassifierOutcome,
    ClassifierScore,
)
from shieldwall.integrations.classifiers.config import ClassifierConfig
from shieldwall.integrations.classifiers.registry import (
    ENTRY_POINT_GROUP,
    ClassifierSet,
    build_classifier,
)

__all__ = [
    "ENTRY_POINT_GROUP",
    "CircuitOpen",
    "Classifier",
    "ClassifierConfig",
    "ClassifierError",
    "ClassifierInput",
    "ClassifierOutcome",
    "ClassifierScore",
    "ClassifierSet",
    "build_classifier",
]
