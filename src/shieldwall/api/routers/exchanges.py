"""Hash exchanges (principle 10): sources fetched into banks, their runs and quarantine,
and banks shared with partners as a signed feed."""

from __future__ import annotations

import logging
import threading
from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Path, Query, Request, Response, status
from pydantic import BaseModel

from shieldwall.api.deps import DbSession, SettingsDep, get_database, require
from shieldwall.core.access import Principal, Scope
from shieldwall.exchanges import feed, repository, runner, service
from shieldwall.exchanges.schemas import (
    ExchangeCreate,
    ExchangeOut,
    ExchangeStatus,
    ExchangeUpdate,
    QuarantineOut,
    RunTrigger,
    ShareOut,
)
from shieldwall.integrations.exchanges import signing

log = logging.getLogger(__name__)
router = APIRouter(tags=["exchanges"])
Reader = Annotated[Principal, require(Scope.BANKS_READ)]
Manager = Annotated[Principal, require(Scope.EXCHANGES_MANAGE)]
Partner = Annotated[Principal, require(Scope.EXCHANGE_READ)]
Name = Annotated[str, Path(max_length=100, description="The exchange's name.")]
BankName = Annotated[str, Path(max_length=120, description="The bank's name.")]


class FetchStarted(BaseModel):
    exchange: str
    run_id: int
    detail: str


class SigningKey(BaseModel):
    signing_key: str
    header: str = signing.HEADER


@router.get("/v1/exchanges", summary="List exchanges with their last run")
def list_exchanges(db: DbSession, _: Reader) -> list[ExchangeOut]:
    return service.describe(db, repository.list_exchanges(db))


@router.post("/v1/exchanges", status_code=status.HTTP_201_CREATED, summary="Add an exchange")
def create_exchange(
    body: ExchangeCreate, db: DbSession, settings: SettingsDep, actor: Manager
) -> ExchangeOut:
    """Credentials are stored encrypted and never shown again (``credentials_set`` says
    whether there are some)."""
    return service.describe(db, [service.create_exchange(db, settings, body, actor=actor)])[0]


@router.get(
    "/v1/exchanges/{name}",
    summary="An exchange's status: last runs (counts, errors) and quarantined records",
)
def get_exchange(name: Name, db: DbSession, _: Reader) -> ExchangeStatus:
    return service.status(db, name)


@router.patch("/v1/exchanges/{name}", summary="Change settings, credentials, schedule")
def update_exchange(
    name: Name, body: ExchangeUpdate, db: DbSession, settings: SettingsDep, actor: Manager
) -> ExchangeOut:
    exchange = service.update_exchange(db, settings, name, body, actor=actor)
    return service.describe(db, [exchange])[0]


@router.delete(
    "/v1/exchanges/{name}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete an exchange and withdraw the entries only it brought (in the background)",
)
def delete_exchange(
    name: Name,
    db: DbSession,
    actor: Manager,
    keep_entries: Annotated[
        bool,
        Query(
            description="Keep the entries the exchange brought in the bank (by default they "
            "are withdrawn in the background, unless another exchange also brought them or "
            "they were added by hand)."
        ),
    ] = False,
) -> Response:
    """Stops fetching (a fetch under way writes nothing more) and forgets the credentials.
    Unless ``keep_entries``, an ``exchange.withdraw`` job removes the exchange's entries a
    batch at a time; follow it with ``exchange.withdrawn`` events or the job list."""
    service.delete_exchange(db, name, actor=actor, keep_entries=keep_entries)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/v1/exchanges/{name}/fetch",
    status_code=status.HTTP_202_ACCEPTED,
    summary="Fetch now (in the background); 409 while another fetch holds the exchange",
)
def fetch_now(
    name: Name,
    request: Request,
    db: DbSession,
    settings: SettingsDep,
    tasks: BackgroundTasks,
    _: Manager,
) -> FetchStarted:
    database = get_database(request)
    run = runner.FetchRun(database, settings, name, runner.RunOptions(trigger=RunTrigger.MANUAL))
    # The lease and the run row are taken in the request's transaction (FetchBusy: 409);
    # the fetch itself starts once that is committed, on its own thread.
    run.start(db)

    def go() -> None:
        try:
            run.run_started()
        except Exception:
            log.exception("exchange.fetch_crashed", extra={"exchange_id": run.exchange_id})

    def launch() -> None:
        name = f"shieldwall-fetch-{run.exchange_id}"
        threading.Thread(target=go, name=name, daemon=True).start()

    tasks.add_task(launch)
    return FetchStarted(
        exchange=name,
        run_id=run.run_id,
        detail="fetching in the background; GET /v1/exchanges/{name} shows progress",
    )


@router.get("/v1/exchanges/{name}/quarantine", summary="Records set aside, newest first")
def list_quarantine(
    name: Name,
    db: DbSession,
    _: Reader,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[QuarantineOut]:
    exchange = service.get_exchange(db, name)
    rows = repository.list_quarantine(db, exchange.id, limit=limit)
    return [QuarantineOut.model_validate(q) for q in rows]


# ---- sharing -------------------------------------------------------------------------------


@router.get("/v1/exchange/shares", summary="Banks shared with partners")
def list_shares(db: DbSession, settings: SettingsDep, _: Reader) -> list[ShareOut]:
    return service.list_shares(db, settings)


@router.put("/v1/exchange/shares/{bank}", summary="Share a bank with partners (a signed feed)")
def share_bank(bank: BankName, db: DbSession, settings: SettingsDep, actor: Manager) -> ShareOut:
    return service.share_bank(db, settings, bank, actor=actor)


@router.delete(
    "/v1/exchange/shares/{bank}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Stop sharing a bank",
)
def unshare_bank(bank: BankName, db: DbSession, actor: Manager) -> Response:
    service.unshare_bank(db, bank, actor=actor)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get(
    "/v1/exchange/signing-key",
    summary="The key partners verify our feed with (also shown on the exchanges page)",
)
def signing_key(settings: SettingsDep, _: Partner) -> SigningKey:
    return SigningKey(signing_key=service.signing_key_text(settings))


@router.get(
    "/v1/exchange/feeds/{bank}",
    summary="A shared bank's signed feed: entries changed after the cursor, removals included",
    response_model=None,
    responses={200: {"content": {"application/json": {}}}},
)
def partner_feed(
    bank: BankName,
    db: DbSession,
    settings: SettingsDep,
    actor: Partner,
    cursor: Annotated[str, Query(max_length=50)] = "0",
    limit: Annotated[int, Query(ge=1, le=feed.MAX_LIMIT)] = 1000,
) -> Response:
    """The body is a FeedPage (version 1). The ``Shieldwall-Feed-Signature`` header signs
    the exact body bytes with Ed25519 (see docs/exchanges.md): verify before parsing."""
    body, signature = feed.feed_page(db, settings, bank, cursor=cursor, limit=limit, actor=actor)
    return Response(
        content=body,
        media_type="application/json",
        headers={signing.HEADER: signature, "Cache-Control": "no-store"},
    )
