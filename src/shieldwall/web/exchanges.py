"""Exchange pages (principle 10): the list with an add form and the banks we share, and one
exchange with its runs, quarantined records, a fetch-now button and an enable switch.

Credentials can be set or replaced here and are never shown back.
"""

from __future__ import annotations

import logging
import threading
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, BackgroundTasks, Form, Request
from fastapi.responses import Response
from pydantic import ValidationError

from shieldwall.api.deps import DbSession
from shieldwall.banks import repository as bank_repository
from shieldwall.core import jsondoc
from shieldwall.core.access import Scope
from shieldwall.core.errors import InvalidInput, ShieldwallError
from shieldwall.exchanges import repository, runner, service
from shieldwall.exchanges.schemas import ExchangeCreate, ExchangeType, ExchangeUpdate, RunTrigger
from shieldwall.web.render import form_error, render, see_other
from shieldwall.web.security import CsrfChecked, WebUser, page_requires

log = logging.getLogger(__name__)
router = APIRouter(include_in_schema=False)
Reader = Annotated[WebUser, page_requires(Scope.BANKS_READ)]
Manager = Annotated[WebUser, page_requires(Scope.EXCHANGES_MANAGE)]


def _path(name: str) -> str:
    return f"/exchanges/{quote(name, safe='')}"


def _json_object(text: str, what: str) -> dict[str, Any]:
    if not text.strip():
        return {}
    try:
        value = jsondoc.loads(text)
    except ValueError as exc:
        raise InvalidInput(f"{what} must be a JSON object ({exc.args[0]})") from None
    if not isinstance(value, dict):
        raise InvalidInput(f'{what} must be a JSON object, like {{"key": "value"}}')
    return value


def _list_page(
    request: Request,
    db: DbSession,
    user: WebUser,
    *,
    error: str | None = None,
    form: dict[str, Any] | None = None,
    status: int = 200,
) -> Response:
    settings = request.app.state.settings
    return render(
        request,
        "exchanges/list.html",
        {
            "exchanges": service.describe(db, repository.list_exchanges(db)),
            "banks": bank_repository.list_banks(db),
            "shares": service.list_shares(db, settings),
            "signing_key": service.signing_key_text(settings),
            "types": list(ExchangeType),
            "can_manage": user.can(Scope.EXCHANGES_MANAGE),
            "error": error,
            "form": form or {},
        },
        status=status,
    )


@router.get("/exchanges")
def exchanges_page(request: Request, db: DbSession, user: Reader) -> Response:
    return _list_page(request, db, user)


@router.post("/exchanges", dependencies=[CsrfChecked])
def exchanges_create(
    request: Request,
    db: DbSession,
    user: Manager,
    name: Annotated[str, Form(max_length=100)] = "",
    type: Annotated[str, Form(max_length=30)] = "",
    bank: Annotated[str, Form(max_length=120)] = "",
    settings_json: Annotated[str, Form(max_length=20_000)] = "",
    credentials_json: Annotated[str, Form(max_length=20_000)] = "",
    schedule_minutes: Annotated[str, Form(max_length=10)] = "60",
    time_limit_seconds: Annotated[str, Form(max_length=10)] = "600",
    labels: Annotated[str, Form(max_length=5000)] = "",
) -> Response:
    # the credentials are never echoed back into the form
    form = {
        "name": name,
        "type": type,
        "bank": bank,
        "settings_json": settings_json,
        "schedule_minutes": schedule_minutes,
        "time_limit_seconds": time_limit_seconds,
        "labels": labels,
    }
    try:
        data = ExchangeCreate.model_validate(
            {
                "name": name.strip(),
                "type": type,
                "bank": bank,
                "settings": _json_object(settings_json, "settings"),
                "credentials": _json_object(credentials_json, "credentials") or None,
                "schedule_minutes": schedule_minutes.strip() or "0",
                "time_limit_seconds": time_limit_seconds.strip() or "600",
                "labels": labels.replace(",", " ").split(),
            }
        )
        exchange = service.create_exchange(
            db, request.app.state.settings, data, actor=user.principal
        )
    except (ValidationError, ShieldwallError) as exc:
        db.rollback()
        status = exc.status if isinstance(exc, ShieldwallError) else 422
        return _list_page(request, db, user, error=form_error(exc), form=form, status=status)
    return see_other(request, _path(exchange.name))


@router.post("/exchanges/shares", dependencies=[CsrfChecked])
def exchanges_share(
    request: Request,
    db: DbSession,
    user: Manager,
    bank: Annotated[str, Form(max_length=120)] = "",
    share: Annotated[str, Form(max_length=10)] = "on",
) -> Response:
    try:
        if share == "off":
            service.unshare_bank(db, bank, actor=user.principal)
        else:
            service.share_bank(db, request.app.state.settings, bank, actor=user.principal)
    except ShieldwallError as exc:
        db.rollback()
        return _list_page(request, db, user, error=exc.message, status=exc.status)
    return see_other(request, "/exchanges")


def _detail_page(
    request: Request,
    db: DbSession,
    user: WebUser,
    name: str,
    *,
    error: str | None = None,
    notice: str | None = None,
    status: int = 200,
) -> Response:
    report = service.status(db, name)
    return render(
        request,
        "exchanges/detail.html",
        {
            "report": report,
            "exchange": report.exchange,
            "path": _path(report.exchange.name),
            "can_manage": user.can(Scope.EXCHANGES_MANAGE),
            "error": error,
            "notice": notice,
        },
        status=status,
    )


@router.get("/exchanges/{name}")
def exchange_page(request: Request, db: DbSession, user: Reader, name: str) -> Response:
    try:
        return _detail_page(request, db, user, name)
    except ShieldwallError as exc:
        return _list_page(request, db, user, error=exc.message, status=exc.status)


@router.post("/exchanges/{name}/fetch", dependencies=[CsrfChecked])
def exchange_fetch(
    request: Request, db: DbSession, user: Manager, name: str, tasks: BackgroundTasks
) -> Response:
    run = runner.FetchRun(
        request.app.state.db,
        request.app.state.settings,
        name,
        runner.RunOptions(trigger=RunTrigger.MANUAL),
    )
    try:
        run.start(db)
    except ShieldwallError as exc:
        db.rollback()
        try:
            return _detail_page(request, db, user, name, error=exc.message, status=exc.status)
        except ShieldwallError:
            return _list_page(request, db, user, error=exc.message, status=exc.status)

    def go() -> None:
        try:
            run.run_started()
        except Exception:
            log.exception("exchange.fetch_crashed", extra={"exchange_id": run.exchange_id})

    tasks.add_task(lambda: threading.Thread(target=go, daemon=True).start())
    return see_other(request, _path(name))


@router.post("/exchanges/{name}/settings", dependencies=[CsrfChecked])
def exchange_update(
    request: Request,
    db: DbSession,
    user: Manager,
    name: str,
    enabled: Annotated[str | None, Form(max_length=10)] = None,
    credentials_json: Annotated[str, Form(max_length=20_000)] = "",
) -> Response:
    try:
        changes: dict[str, Any] = {}
        if enabled is not None:
            changes["enabled"] = enabled == "true"
        credentials = _json_object(credentials_json, "credentials")
        if credentials:
            changes["credentials"] = credentials
        service.update_exchange(
            db,
            request.app.state.settings,
            name,
            ExchangeUpdate.model_validate(changes),
            actor=user.principal,
        )
    except (ValidationError, ShieldwallError) as exc:
        db.rollback()
        status = exc.status if isinstance(exc, ShieldwallError) else 422
        try:
            return _detail_page(request, db, user, name, error=form_error(exc), status=status)
        except ShieldwallError as missing:
            return _list_page(request, db, user, error=missing.message, status=missing.status)
    return see_other(request, _path(name))


@router.post("/exchanges/{name}/delete", dependencies=[CsrfChecked])
def exchange_delete(
    request: Request,
    db: DbSession,
    user: Manager,
    name: str,
    keep_entries: Annotated[str | None, Form(max_length=10)] = None,
) -> Response:
    """Delete the exchange; unless the box is ticked, the entries only it brought are
    withdrawn in the background (the outbox's ``exchange.withdraw`` job)."""
    try:
        service.delete_exchange(db, name, actor=user.principal, keep_entries=keep_entries == "on")
    except ShieldwallError as exc:
        db.rollback()
        return _list_page(request, db, user, error=exc.message, status=exc.status)
    return see_other(request, "/exchanges")
