"""How one classifier is configured: an entry of the ``classifiers`` setting.

Kept free of HTTP and database imports so :mod:`shieldwall.config` can import it cheaply.
In TOML each classifier is one ``[[classifiers]]`` table; in the environment the whole list is
JSON in ``SHIELDWALL_CLASSIFIERS``. See docs/classifiers.md.
"""

from __future__ import annotations

import math
import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

#: A classifier's name: short, lower-case, safe in logs, events and metric names.
NAME_PATTERN = r"^[a-z0-9][a-z0-9_.-]{0,39}$"
#: A score label, e.g. ``csam``, ``nudity``, ``marker``; ``*`` reads an object of labels.
LABEL_PATTERN = r"^(\*|[A-Za-z0-9_.:-]{1,40})$"
#: Built-in kinds; any other kind names an entry point in the ``shieldwall.classifiers`` group.
BUILTIN_KINDS = ("http", "stand-in")
_PATH_SEGMENT = re.compile(r"^[^.]+$")
#: The placeholder a json_template must hold for each send mode (a whole JSON string value).
TEMPLATE_SLOTS = {"url": "{{url}}", "base64": "{{base64}}"}


class ClassifierConfig(BaseModel):
    """One classifier. Fields an adapter does not use are ignored by it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=NAME_PATTERN, description="Name in scores, events and errors.")
    kind: str = Field(
        "http",
        min_length=1,
        max_length=100,
        description="'http', 'stand-in' (tests only) or the name of an entry point in the "
        "'shieldwall.classifiers' group.",
    )
    enabled: bool = Field(True, description="A disabled classifier is not loaded.")
    url: str | None = Field(None, description="http: the endpoint that is POSTed to.")
    send: Literal["bytes", "url", "base64"] = Field(
        "bytes",
        description="http: 'bytes' posts the media as multipart/form-data; 'url' posts "
        "{url_field: <url>} as JSON; 'base64' posts {data_field: <base64 of the bytes>} as JSON.",
    )
    file_field: str = Field("file", min_length=1, description="http: multipart field name.")
    url_field: str = Field("url", min_length=1, description="http: JSON key for the URL.")
    data_field: str = Field("data", min_length=1, description="http: JSON key for base64 bytes.")
    extra_json: dict[str, Any] = Field(
        default_factory=dict,
        description="http: extra members merged into a JSON body (send 'url' or 'base64').",
    )
    json_template: dict[str, Any] | None = Field(
        None,
        description="http: the whole JSON body for send 'url' or 'base64', where the strings "
        "'{{url}}', '{{base64}}' and '{{media_type}}' are replaced, at any depth "
        "(e.g. {images = ['{{base64}}']}). Overrides url_field, data_field and extra_json.",
    )
    score_paths: dict[str, str] = Field(
        default_factory=lambda: {"score": "score"},
        description="http: label -> dotted path of a number in the JSON reply "
        "(e.g. 'result.scores.0.value'). Label '*' reads an object of label -> number.",
    )
    value_map: dict[str, float] = Field(
        default_factory=dict,
        description="http: scores for services that answer words, e.g. "
        "{VERY_LOW = 0.0, LOW = 0.25, MEDIUM = 0.5, HIGH = 0.75, VERY_HIGH = 1.0}.",
    )
    headers: dict[str, SecretStr] = Field(
        default_factory=dict,
        description="http: request headers, e.g. Authorization (kept secret in displays).",
    )
    thresholds: dict[str, float] = Field(
        default_factory=dict,
        description="label -> score at or above which content goes to review. A label "
        "without a threshold is recorded but never routes anything to review.",
    )
    timeout_seconds: float = Field(10.0, gt=0, le=300, description="http: per attempt.")
    retries: int = Field(2, ge=0, le=10, description="http: extra attempts after a failure.")
    backoff_seconds: float = Field(
        0.5, ge=0, le=60, description="http: first wait before a retry; doubles each time."
    )
    max_reply_bytes: int = Field(
        1_048_576, ge=256, description="http: longest JSON reply read; longer is a failure."
    )
    breaker_failures: int = Field(
        5, ge=1, le=1000, description="Failed calls in a row that open the circuit breaker."
    )
    breaker_open_seconds: float = Field(
        60.0, gt=0, le=86_400, description="How long an open breaker refuses calls."
    )
    options: dict[str, Any] = Field(
        default_factory=dict, description="Anything else a plug-in kind reads."
    )

    @field_validator("score_paths")
    @classmethod
    def _check_paths(cls, value: dict[str, str]) -> dict[str, str]:
        if not value:
            raise ValueError("score_paths needs at least one label -> path")
        for label, path in value.items():
            if not re.match(LABEL_PATTERN, label):
                raise ValueError(f"score label {label[:40]!r} must match {LABEL_PATTERN}")
            if not path or not all(_PATH_SEGMENT.match(p) for p in path.split(".")):
                raise ValueError(f"score path {path[:80]!r} must be dotted names, e.g. a.b.0")
        return value

    @field_validator("value_map")
    @classmethod
    def _check_value_map(cls, value: dict[str, float]) -> dict[str, float]:
        for word, number in value.items():
            if not math.isfinite(number):
                raise ValueError(f"value_map[{word[:40]!r}] must be a finite number")
        return value

    @field_validator("thresholds")
    @classmethod
    def _check_thresholds(cls, value: dict[str, float]) -> dict[str, float]:
        for label, threshold in value.items():
            if not re.match(LABEL_PATTERN, label) or label == "*":
                raise ValueError(f"threshold label {label[:40]!r} must match {LABEL_PATTERN}")
            if not math.isfinite(threshold):
                raise ValueError(f"threshold for {label!r} must be a finite number")
        return value

    @model_validator(mode="after")
    def _check_http(self) -> ClassifierConfig:
        if self.kind == "http" and (not self.url or not re.match(r"^https?://[^\s/]+", self.url)):
            raise ValueError(f"classifier {self.name!r}: kind 'http' needs an http(s) url")
        if self.json_template is not None:
            if self.send == "bytes":
                raise ValueError(
                    f"classifier {self.name!r}: json_template needs send 'url' or 'base64'"
                )
            slot = TEMPLATE_SLOTS[self.send]
            if not _contains(self.json_template, slot):
                raise ValueError(
                    f"classifier {self.name!r}: json_template must contain {slot!r} as a "
                    "string value somewhere, or the content would never be sent"
                )
        return self


def _contains(template: Any, slot: str) -> bool:
    if isinstance(template, dict):
        return any(_contains(v, slot) for v in template.values())
    if isinstance(template, list):
        return any(_contains(v, slot) for v in template)
    return isinstance(template, str) and template == slot


def check_unique_names(configs: list[ClassifierConfig]) -> list[ClassifierConfig]:
    """The list unchanged; ``ValueError`` when two classifiers share a name."""
    seen: set[str] = set()
    for config in configs:
        if config.name in seen:
            raise ValueError(f"two classifiers are called {config.name!r}; names must differ")
        seen.add(config.name)
    return configs
