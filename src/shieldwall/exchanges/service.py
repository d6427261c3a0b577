"""Rules for exchanges: creating and changing them, their sealed credentials, status, and
the banks shared with partners. Flushes, never commits.

Credentials are checked against the type's model, sealed with the master keyring
(:mod:`shieldwall.core.sealing`, bound to ``exchange:<id>``) and never returned, logged or
put in an event: the API only says whether they are set. Every change writes one event
with subject ``exchange:<id>`` (or ``bank:<id>`` for sharing) for principle 10.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from pydantic import BaseModel, SecretStr, ValidationError
from sqlalchemy.orm import Session

from shieldwall.audit import service as audit
from shieldwall.banks import service as banks
from shieldwall.banks.models import Bank
from shieldwall.config import Settings
from shieldwall.core.access import Principal
from shieldwall.core.errors import Conflict, InvalidInput, NotFound
from shieldwall.core.sealing import SealError, seal, unseal
from shieldwall.db.base import utcnow
from shieldwall.exchanges import repository, withdraw
from shieldwall.exchanges.models import Exchange, ExchangeRun, ExchangeShare
from shieldwall.exchanges.schemas import (
    CREDENTIAL_MODELS,
    NEEDS_CREDENTIALS,
    SETTINGS_MODELS,
    ExchangeCreate,
    ExchangeOut,
    ExchangeStatus,
    ExchangeType,
    ExchangeUpdate,
    QuarantineOut,
    RunOut,
    ShareOut,
)
from shieldwall.exchanges.sources import require_pytx
from shieldwall.integrations.exchanges.base import SourceError
from shieldwall.integrations.url_fetch import UrlRefused, split_url

PRINCIPLES = (10,)


def _record(
    session: Session,
    kind: str,
    exchange: Exchange,
    actor: Principal | str,
    payload: dict[str, Any],
) -> None:
    audit.record(
        session,
        kind,
        actor=actor,
        subject=f"exchange:{exchange.id}",
        principles=PRINCIPLES,
        payload=payload,
    )


def _validation_message(prefix: str, exc: ValidationError) -> str:
    parts = []
    for error in exc.errors(include_input=False, include_url=False):
        where = ".".join(str(p) for p in error.get("loc", ()))
        parts.append(f"{prefix}.{where}: {error.get('msg')}" if where else f"{prefix}: {error}")
    return "; ".join(parts)


def _storable(value: Any, where: str) -> None:
    """Refuse text a database cannot store or a page should not show (NUL, control and
    format characters) anywhere in a settings object, however deeply nested (no recursion)."""
    pending: list[tuple[Any, str]] = [(value, where)]
    while pending:
        item, path = pending.pop()
        if isinstance(item, str):
            if not item.isprintable():
                raise InvalidInput(f"{path} holds control or unprintable characters", field=where)
        elif isinstance(item, dict):
            for key, inner in item.items():
                pending.append((key, path))
                pending.append((inner, f"{path}.{str(key)[:40]}"))
        elif isinstance(item, list):
            pending.extend((inner, path) for inner in item)


def check_settings(kind: ExchangeType, values: dict[str, Any]) -> dict[str, Any]:
    """The type's settings, checked and with defaults; :class:`InvalidInput` names the field."""
    _storable(values, "settings")
    try:
        require_pytx(kind)
    except SourceError as exc:
        raise InvalidInput(str(exc), field="type") from None
    model = SETTINGS_MODELS[kind]
    try:
        parsed = model.model_validate(values)
    except ValidationError as exc:
        raise InvalidInput(_validation_message("settings", exc), field="settings") from None
    if kind is ExchangeType.NCMEC:
        from shieldwall.integrations.exchanges.ncmec import environment_named

        try:
            environment_named(parsed.environment)  # type: ignore[attr-defined]
        except ValueError as exc:
            raise InvalidInput(f"settings.environment: {exc}", field="settings") from None
    if kind is ExchangeType.SHIELDWALL:
        from shieldwall.integrations.exchanges.signing import parse_public_key

        try:
            parse_public_key(parsed.public_key)  # type: ignore[attr-defined]
        except ValueError as exc:
            raise InvalidInput(f"settings.public_key: {exc}", field="settings") from None
    for name in ("base_url", "url"):
        address = getattr(parsed, name, None)
        if address is None:
            continue
        try:  # the form every fetch checks first (http or https, an empty or long label ...)
            split_url(str(address))
        except UrlRefused as exc:
            raise InvalidInput(f"settings.{name}: {exc.message}", field="settings") from None
    return parsed.model_dump(mode="json")


def check_credentials(kind: ExchangeType, values: dict[str, Any]) -> dict[str, Any]:
    model = CREDENTIAL_MODELS[kind]
    try:
        parsed = model.model_validate(values)
    except ValidationError as exc:
        raise InvalidInput(_validation_message("credentials", exc), field="credentials") from None
    return _reveal(parsed)


def _reveal(model: BaseModel) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in type(model).model_fields:
        value = getattr(model, name)
        out[name] = value.get_secret_value() if isinstance(value, SecretStr) else value
    return {k: v for k, v in out.items() if v is not None}


def _aad(exchange: Exchange) -> bytes:
    return f"exchange:{exchange.id}".encode()


def _store_credentials(
    settings: Settings, exchange: Exchange, values: dict[str, Any] | None
) -> None:
    if not values:
        exchange.credentials = None
        return
    plain = json.dumps(values, sort_keys=True).encode()
    exchange.credentials = seal(plain, settings.resolved_keyring(), aad=_aad(exchange))


def credentials_of(settings: Settings, exchange: Exchange) -> dict[str, Any]:
    """The exchange's credentials in the clear (for its adapter only; never shown)."""
    if exchange.credentials is None:
        return {}
    try:
        plain = unseal(exchange.credentials, settings.resolved_keyring(), aad=_aad(exchange))
    except SealError as exc:
        raise InvalidInput(
            f"the credentials of exchange {exchange.name} cannot be decrypted ({exc}); set them "
            "again"
        ) from None
    value = json.loads(plain)
    return value if isinstance(value, dict) else {}


# ---- exchanges -----------------------------------------------------------------------------


def get_exchange(session: Session, name: str) -> Exchange:
    # a name with NUL or control characters names no exchange (and PostgreSQL refuses NUL)
    exchange = repository.get_exchange_by_name(session, name) if name.isprintable() else None
    if exchange is None:
        raise NotFound(
            f"no exchange named {name[:100]!r}; list them with GET /v1/exchanges",
            exchange=name,
        )
    return exchange


def create_exchange(
    session: Session, settings: Settings, data: ExchangeCreate, *, actor: Principal | str
) -> Exchange:
    bank = banks.get_bank(session, data.bank)
    if repository.get_exchange_by_name(session, data.name) is not None:
        raise Conflict(f"an exchange named {data.name} already exists", field="name")
    values = check_settings(data.type, data.settings)
    secrets = check_credentials(data.type, data.credentials or {})
    if data.type in NEEDS_CREDENTIALS and not secrets:
        raise InvalidInput(
            f"a {data.type.value} exchange needs credentials: "
            + ", ".join(
                n for n, f in CREDENTIAL_MODELS[data.type].model_fields.items() if f.is_required()
            ),
            field="credentials",
        )
    banks.check_labels(bank, data.labels)
    exchange = Exchange(
        name=data.name,
        type=data.type.value,
        bank_id=bank.id,
        settings=values,
        enabled=data.enabled,
        schedule_minutes=data.schedule_minutes,
        time_limit_seconds=data.time_limit_seconds,
        labels=list(data.labels),
        feedback=data.feedback,
        next_run_at=utcnow() if data.schedule_minutes else None,
    )
    session.add(exchange)
    session.flush()
    _store_credentials(settings, exchange, secrets)
    session.flush()
    _record(
        session,
        "exchange.created",
        exchange,
        actor,
        {
            "name": exchange.name,
            "type": exchange.type,
            "bank_id": bank.id,
            "credentials_set": bool(secrets),
            "enabled": exchange.enabled,
        },
    )
    return exchange


def update_exchange(
    session: Session,
    settings: Settings,
    name: str,
    data: ExchangeUpdate,
    *,
    actor: Principal | str,
) -> Exchange:
    exchange = get_exchange(session, name)
    kind = ExchangeType(exchange.type)
    changed: list[str] = []
    given = data.model_fields_set
    if "settings" in given and data.settings is not None:
        values = check_settings(kind, data.settings)
        if values != exchange.settings:
            exchange.settings = values
            exchange.checkpoint = None  # another source: start over
            changed.append("settings")
    if "credentials" in given and data.credentials is not None:
        secrets = check_credentials(kind, data.credentials)
        _store_credentials(settings, exchange, secrets)
        changed.append("credentials")
    if data.labels is not None and data.labels != exchange.labels:
        bank = bank_of(session, exchange)
        banks.check_labels(bank, data.labels)
        exchange.labels = list(data.labels)
        changed.append("labels")
    for field in ("enabled", "schedule_minutes", "time_limit_seconds", "feedback"):
        value = getattr(data, field)
        if value is not None and getattr(exchange, field) != value:
            setattr(exchange, field, value)
            changed.append(field)
    if "schedule_minutes" in changed:
        exchange.next_run_at = utcnow() if exchange.schedule_minutes else None
    if changed:
        exchange.updated_at = utcnow()
        session.flush()
        _record(session, "exchange.updated", exchange, actor, {"changed": changed})
    return exchange


def delete_exchange(
    session: Session, name: str, *, actor: Principal | str, keep_entries: bool = False
) -> Exchange:
    """Stop fetching, forget the credentials and withdraw what the exchange brought.

    The exchange is marked deleted and loses its fetch lease, so a fetch under way writes
    nothing more (its next batch fails to renew the lease) and no new one starts. Unless
    ``keep_entries``, an ``exchange.withdraw`` outbox item is queued in this transaction:
    the worker then marks the exchange's provenance items removed and withdraws the bank
    entries no other live item claims, a batch per transaction
    (:mod:`shieldwall.exchanges.withdraw`). With ``keep_entries`` the items and entries stay
    as they are (until the bank is cleaned or deleted)."""
    exchange = get_exchange(session, name)
    now = utcnow()
    original = exchange.name
    exchange.deleted_at = now
    exchange.enabled = False
    exchange.credentials = None
    exchange.name = f"{original[:60]}__deleted_{exchange.id}"
    exchange.next_run_at = None
    exchange.lease_owner = None
    exchange.lease_until = None
    session.flush()
    if not keep_entries:
        withdraw.queue_withdrawal(session, exchange)
    _record(
        session,
        "exchange.deleted",
        exchange,
        actor,
        {"name": original, "keep_entries": keep_entries},
    )
    return exchange


def bank_of(session: Session, exchange: Exchange) -> Bank:
    """The exchange's bank; :class:`Conflict` when it was deleted."""
    bank = session.get(Bank, exchange.bank_id)
    if bank is None or bank.deleted_at is not None:
        raise Conflict(
            f"the bank of exchange {exchange.name} was deleted; point the exchange at another "
            "bank or delete it"
        )
    return bank


def describe(session: Session, exchanges: Sequence[Exchange]) -> list[ExchangeOut]:
    """Exchanges as the API shows them (never their credentials), with counts."""
    ids = [e.id for e in exchanges]
    names = repository.bank_names(session, [e.bank_id for e in exchanges])
    runs = repository.runs_by_id(session, [e.last_run_id or 0 for e in exchanges])
    records = repository.count_live_records(session, ids)
    quarantined = repository.quarantine_counts(session, ids)
    now = utcnow()
    out = []
    for e in exchanges:
        last = runs.get(e.last_run_id or 0)
        out.append(
            ExchangeOut(
                id=e.id,
                name=e.name,
                type=ExchangeType(e.type),
                bank=names.get(e.bank_id, "?"),
                settings=dict(e.settings or {}),
                credentials_set=e.credentials is not None,
                enabled=e.enabled,
                schedule_minutes=e.schedule_minutes,
                time_limit_seconds=e.time_limit_seconds,
                labels=list(e.labels or []),
                feedback=e.feedback,
                created_at=e.created_at,
                updated_at=e.updated_at,
                next_run_at=e.next_run_at,
                fetching=e.lease_until is not None and e.lease_until > now,
                records=records.get(e.id, 0),
                quarantined=quarantined.get(e.id, 0),
                last_run=RunOut.model_validate(last) if last is not None else None,
            )
        )
    return out


def status(session: Session, name: str, *, runs: int = 20, quarantine: int = 100) -> ExchangeStatus:
    exchange = get_exchange(session, name)
    return ExchangeStatus(
        exchange=describe(session, [exchange])[0],
        runs=[RunOut.model_validate(r) for r in repository.recent_runs(session, exchange.id, runs)],
        quarantine=[
            QuarantineOut.model_validate(q)
            for q in repository.list_quarantine(session, exchange.id, limit=quarantine)
        ],
    )


def schedule_next(exchange: Exchange) -> None:
    exchange.next_run_at = (
        utcnow() + timedelta(minutes=exchange.schedule_minutes)
        if exchange.schedule_minutes
        else None
    )


def last_run(session: Session, exchange: Exchange) -> ExchangeRun | None:
    return repository.runs_by_id(session, [exchange.last_run_id or 0]).get(
        exchange.last_run_id or 0
    )


# ---- sharing -------------------------------------------------------------------------------


def signing_key_text(settings: Settings) -> str:
    from shieldwall.integrations.exchanges import signing

    return signing.public_key_text(signing.signing_key(settings.resolved_keyring().current))


def share_bank(
    session: Session, settings: Settings, bank_name: str, *, actor: Principal | str
) -> ShareOut:
    bank = banks.get_bank(session, bank_name)
    share = repository.get_share(session, bank.id)
    if share is None:
        share = ExchangeShare(bank_id=bank.id, created_by=banks.actor_ref(actor))
        session.add(share)
        session.flush()
        audit.record(
            session,
            "exchange.bank_shared",
            actor=actor,
            subject=f"bank:{bank.id}",
            principles=PRINCIPLES,
            payload={"bank_id": bank.id},
        )
    return _share_out(settings, share, bank.name)


def unshare_bank(session: Session, bank_name: str, *, actor: Principal | str) -> None:
    bank = banks.get_bank(session, bank_name)
    share = repository.get_share(session, bank.id)
    if share is None:
        raise NotFound(f"bank {bank.name} is not shared")
    session.delete(share)
    session.flush()
    audit.record(
        session,
        "exchange.bank_unshared",
        actor=actor,
        subject=f"bank:{bank.id}",
        principles=PRINCIPLES,
        payload={"bank_id": bank.id},
    )


def list_shares(session: Session, settings: Settings) -> list[ShareOut]:
    return [_share_out(settings, s, name) for s, name in repository.list_shares(session)]


def _share_out(settings: Settings, share: ExchangeShare, bank_name: str) -> ShareOut:
    return ShareOut(
        bank=bank_name,
        shared_since=share.created_at,
        feed_path=f"/v1/exchange/feeds/{bank_name}",
        signing_key=signing_key_text(settings),
    )
