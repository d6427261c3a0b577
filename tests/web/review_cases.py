"""Cases for the review page tests: benign generated pictures kept as review media, and
signals of each kind, opened through the services the platform's signals go through."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from shieldwall.cases import service as cases
from shieldwall.cases.schemas import CaseSource, SignalIn, Subject
from shieldwall.config import Settings
from shieldwall.db.engine import Database
from shieldwall.demo_media import jpeg, stand_in
from shieldwall.media import service as media
from tests.conftest import SYSTEM


def picture(seed: int = 1) -> bytes:
    """A generated JPEG (gradient and shapes) standing in for reported media."""
    return jpeg(stand_in(seed))


@dataclass(frozen=True)
class MediaCase:
    case_id: int
    media_id: int
    original: bytes


def media_case(
    db: Database,
    settings: Settings,
    *,
    ref: str = "post-1",
    seed: int = 1,
    labels: tuple[str, ...] = ("A1",),
    media_type: str | None = "image/jpeg",
    data: bytes | None = None,
) -> MediaCase:
    """A hash-match case about content ``ref`` whose scan kept the picture for review."""
    original = data if data is not None else picture(seed)
    with db.session() as s:
        stored = media.store(s, settings, original, media_type=media_type)
        case = cases.attach_signal(
            s,
            settings,
            subject=Subject("content", ref, f"acct-{ref}"),
            signal=SignalIn(
                source=CaseSource.HASH_MATCH,
                principles=[1],
                summary={"scan_id": f"scan-{ref}", "banks": ["KNOWN"], "entries": [seed]},
                labels=labels,
                media_id=stored.id,
                hashes=[("sha256", hashlib.sha256(original).hexdigest())],
                ref=f"scan:{ref}",
            ),
            actor=SYSTEM,
        )
        return MediaCase(case.id, stored.id, original)


def signal_case(
    db: Database,
    settings: Settings,
    *,
    ref: str,
    source: CaseSource = CaseSource.CLASSIFIER,
    score: float | None = 0.5,
    labels: tuple[str, ...] = (),
    child_in_danger: bool = False,
) -> int:
    """A case without media (a classifier score, by default)."""
    with db.session() as s:
        case = cases.attach_signal(
            s,
            settings,
            subject=Subject("content", ref),
            signal=SignalIn(
                source=source,
                principles=[2] if source is CaseSource.CLASSIFIER else [8],
                summary={"classifier": "stand-in"} if source is CaseSource.CLASSIFIER else {},
                labels=labels,
                score=score,
                child_in_danger=child_in_danger,
                ref=f"{source.value}:{ref}",
            ),
            actor=SYSTEM,
        )
        return case.id
