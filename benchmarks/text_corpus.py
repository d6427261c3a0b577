"""Corpora for the text benchmarks: the project's labelled evaluation set and a benign
corpus of ordinary dialogue shipped by the ``chatterbot-corpus`` package (a dev dependency:
``pip install -e .[dev]``), and a synthetic 10,000-entry term list of made-up words."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from shieldwall.core.text import term_hash
from shieldwall.core.text_match import EntryKind, MatchEntry, Severity

EVAL = Path(__file__).resolve().parent / "data" / "text_eval_messages.jsonl"


def eval_rows() -> list[dict[str, Any]]:
    return [json.loads(line) for line in EVAL.read_text("utf-8").splitlines() if line.strip()]


@dataclass(frozen=True)
class Dialogue:
    source: str  # language/file inside the package
    messages: list[str]


def benign_dialogues() -> Iterator[Dialogue]:
    """Every conversation in chatterbot-corpus (all languages), in file order."""
    try:
        import yaml

        root = resources.files("chatterbot_corpus").joinpath("data")
    except ModuleNotFoundError as exc:  # pragma: no cover - a friendly message
        raise SystemExit(
            f"the benign corpus needs the dev extras ({exc.name} is missing): "
            "pip install -e '.[dev]'"
        ) from None
    for folder in sorted(root.iterdir(), key=lambda p: p.name):
        if not folder.is_dir():
            continue
        for item in sorted(folder.iterdir(), key=lambda p: p.name):
            if not item.name.endswith((".yml", ".yaml")):
                continue
            try:
                data = yaml.safe_load(item.read_text("utf-8"))
            except (yaml.YAMLError, UnicodeDecodeError):
                continue
            for conv in (data or {}).get("conversations") or []:
                texts = [m for m in conv if isinstance(m, str)]
                if texts:
                    yield Dialogue(f"{folder.name}/{item.name}", texts)


def synthetic_entries(n: int = 10_000, seed: int = 7) -> list[MatchEntry]:
    """``n`` entries of made-up words: 80% terms, 15% two-word phrases, 4% hashed terms,
    0.2% regular expressions, the rest URLs and domains. None is a real word list."""
    rnd = random.Random(seed)
    letters = "bcdfghjklmnpqrstvwxz"
    vowels = "aeiouy"

    def word() -> str:
        return "".join(rnd.choice(letters) + rnd.choice(vowels) for _ in range(rnd.randint(3, 5)))

    out: list[MatchEntry] = []
    cats = ["csam_seeking", "solicitation", "advertising", "grooming_indicator"]
    for i in range(n):
        r = i / n
        sev = rnd.choice(list(Severity))
        cat = rnd.choice(cats)
        if r < 0.80:
            out.append(MatchEntry(i + 1, "bench", EntryKind.TERM, word(), cat, sev))
        elif r < 0.95:
            out.append(MatchEntry(i + 1, "bench", EntryKind.PHRASE, f"{word()} {word()}", cat, sev))
        elif r < 0.99:
            words = rnd.choice([1, 2])
            value = term_hash(" ".join(word() for _ in range(words)))
            out.append(MatchEntry(i + 1, "bench", EntryKind.HASHED, value, cat, sev, "", words))
        elif r < 0.992:
            out.append(
                MatchEntry(i + 1, "bench", EntryKind.REGEX, rf"\b{word()}\w* {word()}\b", cat, sev)
            )
        elif r < 0.996:
            out.append(
                MatchEntry(
                    i + 1, "bench", EntryKind.URL, f"{word()}.example/{word()}", "csam_url", sev
                )
            )
        else:
            out.append(
                MatchEntry(i + 1, "bench", EntryKind.DOMAIN, f"{word()}.example", "csam_url", sev)
            )
    return out
