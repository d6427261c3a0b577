"""Reviewers' decisions on hash matches, sent back to the sources that take feedback.

When a case holding a hash-match signal gets its final decision, :func:`on_decision` (a
``cases`` decision hook) finds the matched bank entries that came from an exchange with
``feedback`` on (NCMEC, StopNCII) and queues one outbox item per (exchange, source record,
signal type), in the deciding transaction:

* ``violating`` → confirmed: an NCMEC upvote, StopNCII ``Blocked``;
* ``not_violating`` → false positive: an NCMEC downvote (with the reason configured as
  ``negative_feedback_reason``, or NCMEC's only reason), StopNCII ``NotBlocked``.

The outbox worker calls :func:`feedback_handler`'s handler until the source accepts it:
429, 5xx and network errors are retried with backoff (``RetryLater``); any other refusal
ends the item as failed with the reason. The item key is stable (case, exchange, record,
signal type), so a decision queued twice sends once, and a repeat after a crash carries the
same request. Payloads hold ids only (the exchange, its provenance item, the bank entry):
the handler reads the record id and the hash from the database.
"""

from __future__ import annotations

import hashlib
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from shieldwall.audit import service as audit
from shieldwall.banks.models import BankEntry
from shieldwall.cases.models import Case, CaseSignal
from shieldwall.cases.schemas import CaseSource, Outcome
from shieldwall.cases.service import register_decision_hook
from shieldwall.config import Settings
from shieldwall.core.access import Principal
from shieldwall.db.engine import Database
from shieldwall.exchanges import repository, service
from shieldwall.exchanges.models import Exchange, ExchangeItem
from shieldwall.exchanges.schemas import FEEDBACK_TYPES, ExchangeType
from shieldwall.exchanges.sources import source_client
from shieldwall.integrations.exchanges.base import (
    Deadline,
    SourceBusy,
    SourceClient,
    SourceError,
    TimeLimitReached,
)
from shieldwall.jobs.models import OutboxItem
from shieldwall.jobs.outbox import Handler, PermanentFailure, RetryLater, enqueue

KIND = "exchange.feedback"
CONFIRMED = "confirmed"
FALSE_POSITIVE = "false_positive"
#: Seconds one delivery attempt may take.
ATTEMPT_SECONDS = 60.0
#: NCMEC's fingerprint type names for our signal types.
NCMEC_FINGERPRINTS = {"md5": "MD5", "video_md5": "MD5", "sha1": "SHA1", "pdq": "PDQ"}
STOPNCII_TYPES = {"pdq": "ImagePDQ", "video_md5": "VideoMD5"}


def _matched_entries(session: Session, case: Case) -> set[int]:
    summaries = session.scalars(
        select(CaseSignal.summary).where(
            CaseSignal.case_id == case.id, CaseSignal.source == CaseSource.HASH_MATCH.value
        )
    )
    found: set[int] = set()
    for summary in summaries:
        for entry_id in (summary or {}).get("entries", []) or []:
            if isinstance(entry_id, int) and not isinstance(entry_id, bool):
                found.add(entry_id)
    return found


def _key(case_id: int, exchange_id: int, record_id: str, signal_type: str) -> str:
    digest = hashlib.sha256(f"{record_id}\n{signal_type}".encode()).hexdigest()[:32]
    return f"{KIND}:{case_id}:{exchange_id}:{digest}"


def on_decision(session: Session, settings: Settings, case: Case, actor: Principal) -> None:
    """Queue feedback for a decided hash-match case (see the module docstring)."""
    if case.outcome == Outcome.VIOLATING.value:
        verdict = CONFIRMED
    elif case.outcome == Outcome.NOT_VIOLATING.value:
        verdict = FALSE_POSITIVE
    else:
        return
    entry_ids = _matched_entries(session, case)
    if not entry_ids:
        return
    signal_of = dict(
        session.execute(
            select(BankEntry.id, BankEntry.signal_type).where(BankEntry.id.in_(sorted(entry_ids)))
        ).all()
    )
    queued = 0
    exchanges: dict[int, Exchange | None] = {}
    # one lookup of the live provenance items, not one per matched entry
    for item_id, exchange_id, record_id, entry_id in repository.items_for_entries(
        session, signal_of
    ):
        signal_type = str(signal_of[entry_id])
        if exchange_id not in exchanges:
            exchanges[exchange_id] = repository.get_exchange(session, exchange_id)
        exchange = exchanges[exchange_id]
        if (
            exchange is None
            or not exchange.feedback
            or ExchangeType(exchange.type) not in FEEDBACK_TYPES
        ):
            continue
        key = _key(case.id, exchange_id, record_id, signal_type)
        if session.scalar(select(OutboxItem.id).where(OutboxItem.key == key)) is not None:
            continue  # queued before (a retried decision): sent once
        enqueue(
            session,
            kind=KIND,
            key=key,
            payload={
                "exchange_id": exchange_id,
                "item_id": item_id,
                "entry_id": entry_id,
                "signal_type": signal_type,
                "verdict": verdict,
                "case_id": case.id,
            },
            subject=f"exchange:{exchange_id}",
            principles=(10,),
        )
        queued += 1
    if queued:
        audit.record(
            session,
            "exchange.feedback_queued",
            actor=actor,
            subject=f"case:{case.id}",
            principles=(10,),
            payload={"case_id": case.id, "verdict": verdict, "items": queued},
        )


register_decision_hook(CaseSource.HASH_MATCH, on_decision)


# ---- delivery ------------------------------------------------------------------------------


def _send_ncmec(
    exchange: Exchange, credentials: dict[str, Any], http: SourceClient, payload: dict[str, Any]
) -> None:
    from threatexchange.exchanges.clients.ncmec import hash_api

    from shieldwall.integrations.exchanges.ncmec import NcmecClient, environment_named

    settings = dict(exchange.settings or {})
    member, _, entry = str(payload["record_id"]).partition("-")
    fingerprint = NCMEC_FINGERPRINTS.get(str(payload["signal_type"]))
    if not member.isdigit() or not entry or fingerprint is None:
        raise PermanentFailure("the record is not an NCMEC entry this feedback can name")
    client = NcmecClient(
        str(credentials.get("username", "")),
        str(credentials.get("password", "")),
        environment_named(str(settings.get("environment", "Industry"))),
        http=http,
        base_url=settings.get("base_url"),
    )
    kind = hash_api.FingerprintType(fingerprint)
    if payload["verdict"] == CONFIRMED:
        client.submit_feedback(int(member), entry, kind, hash_api.FeedbackType.upvote)
        return
    reason = settings.get("negative_feedback_reason") or None
    try:
        client.submit_feedback(
            int(member), entry, kind, hash_api.FeedbackType.downvote, negative_reason_guid=reason
        )
    except SourceError:
        raise
    except Exception as exc:  # pytx: several reasons and none configured
        raise PermanentFailure(
            "NCMEC offers several reasons for negative feedback; set the exchange's "
            f"negative_feedback_reason setting ({type(exc).__name__})"
        ) from None


def _send_stop_ncii(
    exchange: Exchange,
    credentials: dict[str, Any],
    http: SourceClient,
    payload: dict[str, Any],
    value: str,
) -> None:
    from threatexchange.exchanges.clients.stopncii import api

    from shieldwall.integrations.exchanges.stop_ncii import StopNciiClient

    if not credentials.get("feedback_function_key"):
        raise PermanentFailure(
            "the StopNCII exchange has no feedback_function_key; add it to its credentials"
        )
    kind = STOPNCII_TYPES.get(str(payload["signal_type"]))
    if kind is None:
        raise PermanentFailure("StopNCII takes feedback on PDQ and video MD5 hashes only")
    client = StopNciiClient(
        str(credentials.get("subscription_key", "")),
        str(credentials.get("fetch_function_key", "")),
        http=http,
        feedback_function_key=str(credentials["feedback_function_key"]),
        base_url=(exchange.settings or {}).get("base_url"),
    )
    value_feedback = (
        api.StopNCIICSPFeedbackValue.Blocked
        if payload["verdict"] == CONFIRMED
        else api.StopNCIICSPFeedbackValue.NotBlocked
    )
    client.submit_feedback(api.StopNCIISignalType(kind), value, value_feedback)


def deliver(db: Database, settings: Settings, item: OutboxItem) -> None:
    """Send one feedback item; raises RetryLater or PermanentFailure (outbox contract)."""
    payload = dict(item.payload or {})
    with db.session() as session:
        exchange = repository.get_exchange(session, int(payload.get("exchange_id", 0)))
        if exchange is None:
            raise PermanentFailure("the exchange was deleted; feedback not sent")
        if not exchange.feedback:
            raise PermanentFailure("feedback was turned off for this exchange; not sent")
        credentials = service.credentials_of(settings, exchange)
        entry = session.get(BankEntry, int(payload.get("entry_id", 0)))
        value = entry.value if entry is not None else ""
        source = session.get(ExchangeItem, int(payload.get("item_id", 0)))
        if source is None or source.exchange_id != exchange.id:
            raise PermanentFailure("the source record is gone; feedback not sent")
        payload["record_id"] = repository.record_id_of(
            exchange.type, source.record_id, entry.signal_type if entry else "", value
        )
    try:
        with source_client(settings, Deadline(ATTEMPT_SECONDS), max_attempts=1) as http:
            if ExchangeType(exchange.type) is ExchangeType.NCMEC:
                _send_ncmec(exchange, credentials, http, payload)
            elif ExchangeType(exchange.type) is ExchangeType.STOP_NCII:
                if not value:
                    raise PermanentFailure("the matched entry is gone; feedback not sent")
                _send_stop_ncii(exchange, credentials, http, payload, value)
            else:
                raise PermanentFailure(f"{exchange.type} exchanges take no feedback")
    except (SourceBusy, TimeLimitReached) as exc:
        raise RetryLater(str(exc)) from None
    except SourceError as exc:
        raise PermanentFailure(str(exc)) from None


def feedback_handler(db: Database, settings: Settings) -> Handler:
    """The outbox handler factory for ``exchange.feedback``."""

    def handle(item: OutboxItem) -> None:
        deliver(db, settings, item)

    return handle
