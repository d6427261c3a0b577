"""A response the browser saves as a file."""

from __future__ import annotations

import json
from typing import Any

from fastapi.responses import Response


def attachment(content: str | bytes, *, media_type: str, filename: str) -> Response:
    """``content`` served as a download named ``filename`` (our own names only: ids, dates)."""
    return Response(
        content,
        media_type=media_type,
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def json_attachment(document: Any, *, filename: str) -> Response:
    """A JSON document (indented, UTF-8 as is) as a download."""
    return attachment(
        json.dumps(document, indent=2, ensure_ascii=False),
        media_type="application/json",
        filename=filename,
    )
