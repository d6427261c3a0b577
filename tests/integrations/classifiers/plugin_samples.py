"""Plug-ins as a third-party package would write them, for the discovery tests."""

from __future__ import annotations

from shieldwall.integrations.classifiers import ClassifierConfig, ClassifierInput


class SizeClassifier:
    """Scores the size of the content (a benign, deterministic property)."""

    def __init__(self, config: ClassifierConfig) -> None:
        self.name = config.name
        self.per_byte = float(config.options.get("per_byte", 0.01))

    def classify(self, content: ClassifierInput) -> dict[str, float]:
        return {"size": min(1.0, len(content.data or b"") * self.per_byte)}


def failing_factory(config: ClassifierConfig) -> SizeClassifier:
    raise RuntimeError("the model file is missing")


def not_a_classifier(config: ClassifierConfig) -> object:
    return object()


class Raises:
    def __init__(self, config: ClassifierConfig) -> None:
        self.name = config.name

    def classify(self, content: ClassifierInput) -> dict[str, float]:
        raise ValueError("internal detail that is not for users")


class Garbage:
    def __init__(self, config: ClassifierConfig) -> None:
        self.name = config.name
        self.reply = config.options["reply"]

    def classify(self, content: ClassifierInput) -> dict[str, float]:
        return self.reply  # type: ignore[no-any-return]
