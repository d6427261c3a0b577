"""The published JSON Schema of transparency reports, shipped inside the package.

``schemas/transparency-report.schema.json`` at the top of the repository is the published
file; the package carries an identical copy (a test keeps them equal) so an installed
shieldwall can validate reports without the source tree.
"""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources
from typing import Any

SCHEMA_FILE = "transparency-report.schema.json"


@lru_cache(maxsize=1)
def schema() -> dict[str, Any]:
    text = (resources.files("shieldwall.transparency") / "schema" / SCHEMA_FILE).read_text(
        encoding="utf-8"
    )
    loaded: dict[str, Any] = json.loads(text)
    return loaded


def problems(document: Any) -> list[str]:
    """Why ``document`` does not validate (empty: it does)."""
    import jsonschema

    validator = jsonschema.Draft202012Validator(
        schema(), format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )
    return [
        f"{'/'.join(str(p) for p in error.path) or '(top level)'}: {error.message[:300]}"
        for error in sorted(validator.iter_errors(document), key=lambda e: list(e.path))
    ]
