"""Building the configured classifiers and running them together.

Kinds ``http`` and ``stand-in`` are built in; any other kind names an entry point in the
``shieldwall.classifiers`` group whose object is called with the :class:`ClassifierConfig`
and returns a :class:`Classifier`. A plug-in that cannot be loaded is reported (log line,
:attr:`ClassifierSet.problems`, and an error in every outcome) and never stops start-up.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from importlib.metadata import EntryPoint, entry_points
from typing import TYPE_CHECKING, Any

import httpx

from shieldwall.integrations.classifiers.base import (
    Classifier,
    ClassifierError,
    ClassifierInput,
    ClassifierOutcome,
    ClassifierScore,
    score_list,
)
from shieldwall.integrations.classifiers.breaker import CircuitBreaker, Clock
from shieldwall.integrations.classifiers.config import ClassifierConfig

if TYPE_CHECKING:
    from shieldwall.config import Settings

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "shieldwall.classifiers"
Factory = Callable[[ClassifierConfig], Classifier]


def _builtin(kind: str, transport: httpx.BaseTransport | None) -> Factory | None:
    if kind == "http":
        from shieldwall.integrations.classifiers.http import HttpClassifier

        return lambda config: HttpClassifier(config, transport=transport)
    if kind == "stand-in":
        from shieldwall.integrations.classifiers.standin import StandInClassifier

        return StandInClassifier
    return None


def _entry_point(kind: str, found: Iterable[EntryPoint] | None) -> Factory:
    points = list(found if found is not None else entry_points(group=ENTRY_POINT_GROUP))
    matching = [p for p in points if p.name == kind]
    if not matching:
        known = sorted({"http", "stand-in", *(p.name for p in points)})
        raise ClassifierError(f"unknown kind {kind!r}; installed kinds: {', '.join(known)}")
    if len({p.value for p in matching}) > 1:
        log.warning(
            "classifier.kind_ambiguous",
            extra={"kind": kind, "targets": ",".join(sorted(p.value for p in matching))},
        )
    loaded = matching[0].load()
    if not callable(loaded):
        raise ClassifierError(f"entry point {kind!r} does not name a class or function")
    factory: Factory = loaded
    return factory


def build_classifier(
    config: ClassifierConfig,
    *,
    transport: httpx.BaseTransport | None = None,
    found: Iterable[EntryPoint] | None = None,
) -> Classifier:
    """The classifier ``config`` describes; ``ClassifierError`` in plain words when it cannot
    be built (unknown kind, import error, a factory that fails or returns the wrong thing)."""
    try:
        factory = _builtin(config.kind, transport) or _entry_point(config.kind, found)
        classifier = factory(config)
    except ClassifierError:
        raise
    except Exception as exc:
        raise ClassifierError(
            f"kind {config.kind!r} could not be loaded ({type(exc).__name__}: {str(exc)[:200]})"
        ) from exc
    if not isinstance(classifier, Classifier):
        raise ClassifierError(
            f"kind {config.kind!r} built a {type(classifier).__name__}, which has no "
            "'name' and 'classify(content)'"
        )
    return classifier


class ClassifierSet:
    """The configured classifiers, each behind its own circuit breaker.

    :meth:`classify` runs them side by side and never raises for a classifier's failure: the
    failure is an entry in :attr:`ClassifierOutcome.errors`.
    """

    def __init__(
        self,
        classifiers: Mapping[str, tuple[Classifier, ClassifierConfig]],
        *,
        problems: Mapping[str, str] | None = None,
        clock: Clock | None = None,
    ) -> None:
        self._members = dict(classifiers)
        self.problems: dict[str, str] = dict(problems or {})
        kwargs: dict[str, Any] = {} if clock is None else {"clock": clock}
        self.breakers = {
            name: CircuitBreaker(
                failures=config.breaker_failures, open_seconds=config.breaker_open_seconds, **kwargs
            )
            for name, (_, config) in self._members.items()
        }
        self._pool: ThreadPoolExecutor | None = None
        self._pool_lock = threading.Lock()

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        transport: httpx.BaseTransport | None = None,
        entry_points_found: Iterable[EntryPoint] | None = None,
        clock: Clock | None = None,
    ) -> ClassifierSet:
        """Every enabled classifier of ``settings.classifiers``. Ones that cannot be built are
        logged and listed in :attr:`problems`; this never raises for them."""
        found = None if entry_points_found is None else list(entry_points_found)
        members: dict[str, tuple[Classifier, ClassifierConfig]] = {}
        problems: dict[str, str] = {}
        for config in settings.classifiers:
            if not config.enabled:
                continue
            try:
                members[config.name] = (
                    build_classifier(config, transport=transport, found=found),
                    config,
                )
            except ClassifierError as exc:
                problems[config.name] = str(exc)
                log.error(
                    "classifier.not_loaded",
                    extra={"classifier": config.name, "kind": config.kind, "reason": str(exc)},
                )
        return cls(members, problems=problems, clock=clock)

    def __bool__(self) -> bool:
        return bool(self._members) or bool(self.problems)

    def __len__(self) -> int:
        return len(self._members)

    @property
    def names(self) -> list[str]:
        return sorted(self._members)

    def classify(self, content: ClassifierInput) -> ClassifierOutcome:
        """Scores from every classifier; failures (and plug-ins that never loaded) are listed
        in ``errors`` by name. Never raises for a classifier's failure."""
        errors = {name: f"not loaded: {why}" for name, why in self.problems.items()}
        names = self.names
        if len(names) == 1:
            results = [self._run(names[0], content)]
        else:
            results = list(self._executor().map(lambda n: self._run(n, content), names))
        scores: list[ClassifierScore] = []
        for name, result in zip(names, results, strict=True):
            if isinstance(result, str):
                errors[name] = result
            else:
                scores.extend(result)
        return ClassifierOutcome(scores=scores, errors=dict(sorted(errors.items())))

    def _run(self, name: str, content: ClassifierInput) -> list[ClassifierScore] | str:
        classifier, config = self._members[name]
        try:
            raw = self.breakers[name].call(lambda: _checked(classifier, config, content))
        except ClassifierError as exc:
            log.warning("classifier.failed", extra={"classifier": name, "reason": str(exc)})
            return str(exc)
        except Exception as exc:
            log.warning(
                "classifier.failed", extra={"classifier": name, "reason": type(exc).__name__}
            )
            return f"failed unexpectedly ({type(exc).__name__})"
        return raw

    def _executor(self) -> ThreadPoolExecutor:
        with self._pool_lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(
                    max_workers=min(8, max(1, len(self._members))),
                    thread_name_prefix="classifier",
                )
            return self._pool

    def close(self) -> None:
        """Close HTTP connections and worker threads (safe to call twice)."""
        with self._pool_lock:
            if self._pool is not None:
                self._pool.shutdown(wait=False)
                self._pool = None
        for classifier, _ in self._members.values():
            close = getattr(classifier, "close", None)
            if callable(close):
                close()


def _checked(
    classifier: Classifier, config: ClassifierConfig, content: ClassifierInput
) -> list[ClassifierScore]:
    # Validation happens inside the breaker: a classifier answering garbage is failing.
    raw = classifier.classify(content)
    if not isinstance(raw, Mapping):
        raise ClassifierError(f"returned {type(raw).__name__}, not label -> score")
    return score_list(config.name, raw, config.thresholds)
