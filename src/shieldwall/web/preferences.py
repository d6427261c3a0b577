"""Viewing preferences for media on case pages: each reviewer's own, and the organisation's
defaults (set by an admin). Stored and resolved by ``cases.service``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response
from pydantic import ValidationError
from sqlalchemy.orm import Session

from shieldwall.api.deps import DbSession
from shieldwall.cases import service as cases
from shieldwall.cases.schemas import ReviewPreferences, ReviewPreferencesIn
from shieldwall.core.access import Scope
from shieldwall.core.errors import InvalidInput, ShieldwallError
from shieldwall.web.render import form_error, render, see_other
from shieldwall.web.security import CsrfChecked, WebUser, page_requires

router = APIRouter(include_in_schema=False)
CaseReader = Annotated[WebUser, page_requires(Scope.CASES_READ)]
#: Organisation defaults are for admins: the role that manages people.
OrgAdmin = Annotated[WebUser, page_requires(Scope.USERS_MANAGE)]


@dataclass(frozen=True)
class Field:
    name: str
    title: str
    on: str
    off: str


FIELDS = (
    Field("blur", "Media on opening a case", "blurred until I reveal an item", "shown unblurred"),
    Field("grayscale", "Colour of revealed media", "grayscale", "full colour"),
    Field("video_muted", "Sound of revealed videos", "muted", "sound on"),
)


def _choice(value: str, name: str, *, allow_inherit: bool) -> bool | None:
    if value == "on":
        return True
    if value == "off":
        return False
    if value == "inherit" and allow_inherit:
        return None
    raise InvalidInput(f"{name} must be on, off{' or inherit' if allow_inherit else ''}")


def _page(
    request: Request,
    db: Session,
    user: WebUser,
    *,
    error: str | None = None,
    notice: str | None = None,
    status: int = 200,
) -> Response:
    return render(
        request,
        "review/preferences.html",
        {
            "fields": FIELDS,
            "mine": cases.own_preferences(db, user.user_id),
            "org": cases.organisation_preferences(db),
            "effective": cases.preferences_for(db, user.user_id),
            "is_admin": user.can(Scope.USERS_MANAGE),
            "error": error,
            "notice": notice,
        },
        status=status,
    )


def _redirect(request: Request, notice: str) -> Response:
    return see_other(request, f"/review/preferences?saved={notice}")


SAVED = {"mine": "Your preferences are saved.", "org": "Organisation defaults are saved."}


@router.get("/review/preferences")
def preferences_page(
    request: Request, db: DbSession, user: CaseReader, saved: str = ""
) -> Response:
    return _page(request, db, user, notice=SAVED.get(saved))


@router.post("/review/preferences", dependencies=[CsrfChecked])
def preferences_save(
    request: Request,
    db: DbSession,
    user: CaseReader,
    blur: Annotated[str, Form(max_length=10)] = "inherit",
    grayscale: Annotated[str, Form(max_length=10)] = "inherit",
    video_muted: Annotated[str, Form(max_length=10)] = "inherit",
) -> Response:
    try:
        changes = ReviewPreferencesIn(
            blur=_choice(blur, "blur", allow_inherit=True),
            grayscale=_choice(grayscale, "grayscale", allow_inherit=True),
            video_muted=_choice(video_muted, "video_muted", allow_inherit=True),
        )
        cases.set_own_preferences(db, user.user_id, changes, actor=user.principal)
    except (ValidationError, ShieldwallError) as exc:
        db.rollback()
        return _page(request, db, user, error=form_error(exc), status=422)
    return _redirect(request, "mine")


@router.post("/review/preferences/organisation", dependencies=[CsrfChecked])
def organisation_save(
    request: Request,
    db: DbSession,
    user: OrgAdmin,
    blur: Annotated[str, Form(max_length=10)] = "on",
    grayscale: Annotated[str, Form(max_length=10)] = "on",
    video_muted: Annotated[str, Form(max_length=10)] = "on",
) -> Response:
    try:
        defaults = ReviewPreferences(
            blur=bool(_choice(blur, "blur", allow_inherit=False)),
            grayscale=bool(_choice(grayscale, "grayscale", allow_inherit=False)),
            video_muted=bool(_choice(video_muted, "video_muted", allow_inherit=False)),
        )
        cases.set_organisation_preferences(db, defaults, actor=user.principal)
    except (ValidationError, ShieldwallError) as exc:
        db.rollback()
        return _page(request, db, user, error=form_error(exc), status=422)
    return _redirect(request, "org")
