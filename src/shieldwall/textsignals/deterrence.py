"""Localised deterrence messages shown on warned or blocked searches (principle 6).

Messages are data: one ``<locale>.json`` file per language with ``title``, ``body`` and
``resources`` (name, description, url, phone). English and French ship in
``data/deterrence/``; the ``deterrence_messages_dir`` setting names a folder whose files
replace a shipped language or add new ones. A request's locale is matched exactly
(``fr-ca``), then by language (``fr``), then falls back to ``deterrence_default_locale``,
then English.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from importlib import resources
from pathlib import Path

from pydantic import ValidationError

from shieldwall.textsignals.schemas import DeterrenceMessage

_LOCALE = re.compile(r"^[a-z]{2,3}(-[a-z0-9]{2,8})*$")


def _shipped() -> dict[str, DeterrenceMessage]:
    out: dict[str, DeterrenceMessage] = {}
    folder = resources.files("shieldwall.textsignals").joinpath("data/deterrence")
    for item in folder.iterdir():
        if item.name.endswith(".json"):
            msg = DeterrenceMessage.model_validate(json.loads(item.read_text("utf-8")))
            out[item.name.removesuffix(".json").lower()] = msg
    return out


@lru_cache(maxsize=8)
def catalogue(folder: Path | None) -> dict[str, DeterrenceMessage]:
    """Every available message by lower-case locale; raises ``ValueError`` naming a bad file."""
    messages = _shipped()
    if folder is not None:
        for path in sorted(Path(folder).glob("*.json")):
            locale = path.stem.lower()
            if not _LOCALE.fullmatch(locale):
                raise ValueError(
                    f"{path}: the file name must be a locale, e.g. de.json or pt-br.json"
                )
            try:
                messages[locale] = DeterrenceMessage.model_validate(
                    json.loads(path.read_text("utf-8"))
                )
            except (OSError, UnicodeDecodeError, json.JSONDecodeError, ValidationError) as exc:
                raise ValueError(f"deterrence message {path}: {exc}") from None
    return messages


def message_for(locale: str, *, folder: Path | None, default: str = "en") -> DeterrenceMessage:
    messages = catalogue(folder)
    wanted = locale.strip().lower().replace("_", "-")
    candidates = [wanted, wanted.split("-", 1)[0], default.lower(), "en"]
    for candidate in candidates:
        if candidate in messages:
            return messages[candidate]
    return next(iter(messages.values()))
