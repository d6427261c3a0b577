"""What every RFC 9457 answer of the API must look like, checked in one place."""

from __future__ import annotations

import re
from typing import Any

import httpx

PROBLEM_MEDIA_TYPE = "application/problem+json"
PROBLEM_KEYS = {"type", "title", "status", "detail", "instance", "request_id"}
#: What the server generates when the caller sent no usable X-Request-ID.
GENERATED_ID = re.compile(r"^[0-9a-f]{16}$")


def assert_problem(
    response: httpx.Response, status: int, slug: str, *, path: str | None = None
) -> dict[str, Any]:
    """Assert ``response`` is a complete problem-details answer; return its body."""
    assert response.status_code == status, response.text
    content_type = response.headers.get("content-type", "")
    assert content_type.split(";")[0].strip() == PROBLEM_MEDIA_TYPE, content_type
    body: dict[str, Any] = response.json()
    missing = PROBLEM_KEYS - body.keys()
    assert not missing, f"problem body lacks {missing}: {body}"
    assert body["type"] == f"/problems/{slug}", body
    assert body["status"] == status
    assert isinstance(body["title"], str)
    assert body["title"]
    assert isinstance(body["detail"], str)
    assert body["detail"]
    expected_path = path if path is not None else response.request.url.path
    assert body["instance"] == expected_path
    assert body["request_id"], body
    assert response.headers.get("x-request-id") == body["request_id"]
    return body
