"""From a scan to a case (principles 1 and 2).

After ``/v1/scan`` or ``/v1/lookup`` has a verdict, :func:`after_scan`:

1. asks the configured classifiers about the bytes (uploads and fetched URLs), unless the
   verdict is already ``block`` or an allow bank matched (a known false positive); a score
   over its threshold turns an ``allow`` into ``review``;
2. for a ``review`` verdict, keeps the media (sealed, for the reviewer, when
   ``scan_review_media``) and attaches a ``hash_match`` signal (the review-bank matches'
   labels, bank names and entry ids) and/or a ``classifier`` signal (the scores) to the
   subject's case — the platform's ``content_id``, or ``scan:<scan id>`` when none was given;
3. for a ``block`` verdict, asks the platform for ``content.block`` when
   ``webhook_on_block_verdict`` is on and the caller named the content;
4. keeps a :class:`~shieldwall.cases.models.ScanRecord` of every scan.

Slow work (classifiers, sealing media) happens before the case is touched, so the case
step holds its locks only briefly.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from sqlalchemy.orm import Session

from shieldwall.actions.service import ActionType, request_action
from shieldwall.cases import history, service
from shieldwall.cases.models import Case
from shieldwall.cases.schemas import CaseSource, SignalIn, Subject, SubjectKind
from shieldwall.config import Settings
from shieldwall.core.access import Principal
from shieldwall.core.errors import InvalidInput
from shieldwall.core.taxonomy import DecisionLabel
from shieldwall.integrations.classifiers import ClassifierInput, ClassifierOutcome, ClassifierSet
from shieldwall.matching.schemas import ClassifierScoreOut, ScanResult, Verdict

_LABEL = re.compile(r"^[A-Za-z0-9_.:-]{1,40}$")
#: Bank names a signal's summary lists (the rest are counted): the summary has a size cap.
_SUMMARY_BANKS = 20
_KNOWN_LABELS = frozenset(label.value for label in DecisionLabel)


def _signal_labels(labels: set[str]) -> list[str]:
    """At most what a signal holds, the taxonomy's labels (which set the priority) first."""
    ordered = sorted(labels, key=lambda label: (label not in _KNOWN_LABELS, label))
    return sorted(ordered[: service.MAX_SIGNAL_LABELS])


#: Signal types kept on a case for hash-on-confirm.
CASE_HASH_TYPES = frozenset({"md5", "sha1", "sha256", "video_md5", "pdq", "vpdq"})


@dataclass(frozen=True)
class ScanRefs:
    """The platform's references for what was scanned (both optional)."""

    content_ref: str | None = None
    account_ref: str | None = None


def classify(
    classifiers: ClassifierSet | None,
    result: ScanResult,
    *,
    data: bytes | None,
    media_type: str | None,
    url: str | None = None,
) -> ClassifierOutcome | None:
    """Scores for ``data`` when classifiers are configured and worth asking: not for a
    ``block`` verdict, not when an allow bank matched, not without bytes."""
    if not classifiers or data is None or not data:
        return None
    if result.verdict is Verdict.BLOCK or any(m.bank_kind == "allow" for m in result.matches):
        return None
    return classifiers.classify(ClassifierInput(data=data, media_type=media_type, url=url))


def _case_hashes(result: ScanResult) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for h in result.hashes:
        if h.signal_type not in CASE_HASH_TYPES or h.low_quality:
            continue
        if h.variant != "original":
            continue
        if (h.signal_type, h.value) not in out:
            out.append((h.signal_type, h.value))
    return out


def _store_media(
    session: Session,
    settings: Settings,
    data: bytes | None,
    media_type: str | None,
    actor: Principal | str,
) -> int | None:
    if data is None or not data or not settings.scan_review_media:
        return None
    from shieldwall.media import service as media

    try:
        stored = media.store(
            session, settings, data, media_type=media_type, actor=actor, principles=(1, 2)
        )
    except InvalidInput:
        # An odd declared type must not cost the reviewer the media.
        stored = media.store(
            session, settings, data, media_type=None, actor=actor, principles=(1, 2)
        )
    return stored.id


def _open_review_case(
    session: Session,
    settings: Settings,
    result: ScanResult,
    refs: ScanRefs,
    outcome: ClassifierOutcome | None,
    media_id: int | None,
    actor: Principal | str,
) -> Case | None:
    subject = Subject(
        SubjectKind.CONTENT.value,
        refs.content_ref or f"scan:{result.scan_id}",
        refs.account_ref,
    )
    hashes = _case_hashes(result)
    case: Case | None = None
    review_matches = [m for m in result.matches if m.bank_kind != "allow"]
    if review_matches:
        labels = _signal_labels(
            {label for m in review_matches for label in m.labels if _LABEL.fullmatch(label)}
        )
        banks = sorted({m.bank for m in review_matches})
        case = service.attach_signal(
            session,
            settings,
            subject=subject,
            signal=SignalIn(
                source=CaseSource.HASH_MATCH,
                principles=[1],
                summary={
                    "scan_id": result.scan_id,
                    "verdict": result.verdict.value,
                    "banks": banks[:_SUMMARY_BANKS],
                    "bank_count": len(banks),
                    "entries": sorted({m.entry_id for m in review_matches})[:50],
                    "best_distance": min(m.distance for m in review_matches),
                },
                labels=labels,
                media_id=media_id,
                hashes=hashes,
                ref=f"scan:{result.scan_id}:hash_match",
            ),
            actor=actor,
        )
    if outcome is not None and outcome.needs_review:
        over = outcome.over_threshold
        labels = _signal_labels({s.label for s in over if _LABEL.fullmatch(s.label)})
        case = service.attach_signal(
            session,
            settings,
            subject=subject,
            signal=SignalIn(
                source=CaseSource.CLASSIFIER,
                principles=[2],
                summary={
                    "scan_id": result.scan_id,
                    "scores": [
                        {
                            "classifier": s.classifier[:60],
                            "label": s.label[:60],
                            "score": round(s.score, 4),
                            "threshold": s.threshold,
                        }
                        for s in over[:20]
                    ],
                },
                labels=labels,
                score=min(1.0, max(0.0, max(s.score for s in over))),
                media_id=media_id,
                hashes=hashes,
                ref=f"scan:{result.scan_id}:classifier",
            ),
            actor=actor,
        )
    return case


def _block_key(refs: ScanRefs, result: ScanResult) -> str:
    """One block action per piece of content and media: a re-scan of the same upload under
    the same content id asks nothing new."""
    digest = next((h.value for h in result.hashes if h.signal_type == "sha256"), result.scan_id)
    material = f"{refs.content_ref}\n{digest}".encode()
    return f"scan-block:{hashlib.sha256(material).hexdigest()}"


def after_scan(
    session: Session,
    settings: Settings,
    result: ScanResult,
    *,
    source: str,
    actor: Principal | str,
    refs: ScanRefs,
    data: bytes | None = None,
    media_type: str | None = None,
    outcome: ClassifierOutcome | None = None,
) -> ScanResult:
    """Apply a scan's consequences (see the module docstring); returns the result with the
    final verdict, classifier scores and the case id filled in. Flushes, never commits."""
    if outcome is not None:
        result.classifier_scores = [
            ClassifierScoreOut(
                classifier=s.classifier,
                label=s.label,
                score=s.score,
                threshold=s.threshold,
                over_threshold=s.over_threshold,
            )
            for s in outcome.scores
        ]
        result.classifier_errors = dict(outcome.errors)
        if outcome.needs_review and result.verdict is Verdict.ALLOW:
            result.verdict = Verdict.REVIEW
    case = None
    if result.verdict is Verdict.REVIEW:
        media_id = _store_media(session, settings, data, media_type, actor)
        case = _open_review_case(session, settings, result, refs, outcome, media_id, actor)
        result.case_id = case.id if case is not None else None
    elif (
        result.verdict is Verdict.BLOCK
        and settings.webhook_on_block_verdict
        and refs.content_ref is not None
    ):
        block = [m for m in result.matches if m.bank_kind != "allow" and m.action == "block"]
        request_action(
            session,
            settings,
            ActionType.CONTENT_BLOCK,
            subject_kind=SubjectKind.CONTENT.value,
            subject_ref=refs.content_ref,
            case_id=None,
            labels=sorted({label for m in block for label in m.labels if _LABEL.fullmatch(label)})[
                :50
            ],
            reason="matched a block bank",
            key=_block_key(refs, result),
            actor=actor,
            principles=[1],
        )
    history.record_scan(
        session,
        settings,
        scan_id=result.scan_id,
        actor=actor,
        source=source,
        media_kind=result.media_kind,
        verdict=result.verdict.value,
        hashes=((h.signal_type, h.value, h.variant) for h in result.hashes),
        content_ref=refs.content_ref,
        account_ref=refs.account_ref,
        case_id=case.id if case is not None else None,
    )
    return result
