"""A generic adapter for a classification service reached over HTTP.

One call: POST the media (``send="bytes"``: multipart/form-data; ``"base64"``: JSON) or its
URL (``send="url"``: JSON) to ``url`` with the configured headers, then read each label's
score from the JSON reply by a dotted path (``result.scores.0.value``; digits index lists).

Failures and retries: connection errors, time-outs, 429 and 5xx answers are retried up to
``retries`` times, waiting ``backoff_seconds`` x 2^n (with jitter, and at least a 429's
``Retry-After`` up to 30 s) between tries. Other 4xx answers, redirects, replies that are not
JSON, too long, or lack a score are failures at once (retrying would give the same answer).
Every failure is a :class:`ClassifierError` in plain words; the circuit breaker around each
classifier (:mod:`.breaker`) turns repeated failures into fast refusals.
"""

from __future__ import annotations

import base64
import random
import re
import time
from collections.abc import Callable
from typing import Any

import httpx

from shieldwall import __version__
from shieldwall.core import jsondoc
from shieldwall.integrations.classifiers.base import ClassifierError, ClassifierInput
from shieldwall.integrations.classifiers.config import ClassifierConfig

#: The longest wait a 429 ``Retry-After`` may ask of us inside one call.
MAX_RETRY_AFTER_SECONDS = 30.0
_MEDIA_TYPE = re.compile(r"^[a-z0-9][a-z0-9.+-]{0,63}/[a-z0-9][a-z0-9.+-]{0,63}$")
Sleep = Callable[[float], None]


class _Retryable(ClassifierError):
    """A failure that may pass on another try (after at least ``retry_after`` seconds)."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


def read_path(document: Any, path: str) -> Any:
    """The value at a dotted ``path`` (digits index lists); ``KeyError`` naming the step."""
    value = document
    for step in path.split("."):
        if isinstance(value, dict) and step in value:
            value = value[step]
        elif isinstance(value, list) and step.isdigit() and int(step) < len(value):
            value = value[int(step)]
        else:
            raise KeyError(step)
    return value


def fill_template(template: Any, slots: dict[str, str]) -> Any:
    """``template`` with every string equal to a slot name replaced by its value."""
    if isinstance(template, dict):
        return {key: fill_template(value, slots) for key, value in template.items()}
    if isinstance(template, list):
        return [fill_template(value, slots) for value in template]
    if isinstance(template, str) and template in slots:
        return slots[template]
    return template


def scores_from_reply(
    document: Any, score_paths: dict[str, str], value_map: dict[str, float] | None = None
) -> dict[str, float]:
    """label -> number read from a JSON reply; label ``*`` takes an object of label -> number.
    A string found where a number is expected is looked up in ``value_map``."""
    scores: dict[str, float] = {}
    for label, path in score_paths.items():
        try:
            value = read_path(document, path)
        except KeyError as exc:
            raise ClassifierError(
                f"the reply has no {path!r} (missing {str(exc.args[0])[:40]!r})"
            ) from None
        items = value.items() if label == "*" and isinstance(value, dict) else [(label, value)]
        if label == "*" and not isinstance(value, dict):
            raise ClassifierError(f"the reply's {path!r} is not an object of label -> score")
        for name, found in items:
            number = value_map.get(found, found) if value_map and isinstance(found, str) else found
            if isinstance(number, str) and value_map:
                raise ClassifierError(
                    f"the reply's {path!r} is {number[:40]!r}, which value_map does not list"
                )
            if isinstance(number, bool) or not isinstance(number, int | float):
                raise ClassifierError(f"the reply's {path!r} is not a number for {name[:40]!r}")
            scores[str(name)] = float(number)
    return scores


class HttpClassifier:
    """POSTs content to a scoring service. Thread-safe (one pooled httpx client)."""

    def __init__(
        self,
        config: ClassifierConfig,
        *,
        transport: httpx.BaseTransport | None = None,
        sleep: Sleep = time.sleep,
        rng: random.Random | None = None,
    ) -> None:
        if not config.url:
            raise ClassifierError("kind 'http' needs a url")
        self.name = config.name
        self.config = config
        self._sleep = sleep
        self._rng = rng or random.Random()  # noqa: S311 - jitter, not a secret
        headers = {"User-Agent": f"shieldwall/{__version__}", "Accept": "application/json"}
        headers.update({k: v.get_secret_value() for k, v in config.headers.items()})
        self._client = httpx.Client(
            transport=transport,
            headers=headers,
            timeout=httpx.Timeout(config.timeout_seconds),
            follow_redirects=False,
        )

    def close(self) -> None:
        self._client.close()

    def classify(self, content: ClassifierInput) -> dict[str, float]:
        request = self._request_kwargs(content)
        attempts = self.config.retries + 1
        for attempt in range(attempts):
            try:
                return self._attempt(request)
            except _Retryable as exc:
                if attempt + 1 >= attempts:
                    raise ClassifierError(
                        f"{exc} (gave up after {attempts} attempt{'s' if attempts > 1 else ''})"
                    ) from None
                self._sleep(self._wait(attempt, exc))
        raise AssertionError("unreachable")  # pragma: no cover

    def _wait(self, attempt: int, exc: _Retryable) -> float:
        base = self.config.backoff_seconds * float(2**attempt)
        wait: float = base / 2 + self._rng.uniform(0, base / 2)
        if exc.retry_after is not None:
            wait = max(wait, min(exc.retry_after, MAX_RETRY_AFTER_SECONDS))
        return wait

    def _request_kwargs(self, content: ClassifierInput) -> dict[str, Any]:
        config = self.config
        if config.send == "url":
            if not content.url:
                raise ClassifierError("sends URLs, and this content has no URL")
            return {"json": self._json(config.url_field, content.url, content)}
        if content.data is None:
            raise ClassifierError("sends the media itself, and only a URL was given")
        if config.send == "base64":
            encoded = base64.b64encode(content.data).decode("ascii")
            return {"json": self._json(config.data_field, encoded, content)}
        return {"files": {config.file_field: ("media", content.data, _part_type(content))}}

    def _json(self, field: str, value: str, content: ClassifierInput) -> Any:
        config = self.config
        if config.json_template is None:
            return {**config.extra_json, field: value}
        slots = {
            "{{url}}": content.url or "",
            "{{base64}}": value if config.send == "base64" else "",
            "{{media_type}}": content.media_type or "",
        }
        return fill_template(config.json_template, slots)

    def _attempt(self, request: dict[str, Any]) -> dict[str, float]:
        assert self.config.url is not None
        try:
            with self._client.stream("POST", self.config.url, **request) as response:
                status = response.status_code
                if status == 429 or status >= 500:
                    raise _Retryable(f"the service answered HTTP {status}", _retry_after(response))
                if status >= 300:
                    raise ClassifierError(f"the service answered HTTP {status}")
                body = _read_limited(response, self.config.max_reply_bytes)
        except httpx.TimeoutException:
            raise _Retryable(
                f"no answer within {self.config.timeout_seconds:g} s (time-out)"
            ) from None
        except httpx.TransportError as exc:
            raise _Retryable(f"could not connect ({type(exc).__name__})") from None
        try:
            document = jsondoc.loads(body)
        except (ValueError, UnicodeDecodeError):
            raise ClassifierError("the reply is not JSON") from None
        return scores_from_reply(document, self.config.score_paths, self.config.value_map)


def _part_type(content: ClassifierInput) -> str:
    """The declared media type when it is a plain ``type/subtype``, else octet-stream (a
    declared type comes from a platform's request and must not shape our request)."""
    declared = (content.media_type or "").strip().lower()
    return declared if _MEDIA_TYPE.fullmatch(declared) else "application/octet-stream"


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After", "").strip()
    # ASCII digits only: str.isdigit() also takes '²', which float() refuses
    if value.isdigit() and value.isascii() and len(value) <= 12:
        return float(value)
    return None


def _read_limited(response: httpx.Response, limit: int) -> bytes:
    declared = response.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > limit:
        raise ClassifierError(f"the reply is longer than {limit:,} bytes")
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_bytes():
        size += len(chunk)
        if size > limit:
            raise ClassifierError(f"the reply is longer than {limit:,} bytes")
        chunks.append(chunk)
    return b"".join(chunks)
