"""Media on case pages: the blurred preview, the logged reveal, and the page for readers
without JavaScript.

Three routes, one rule: the original bytes leave the server only through
``/review/cases/{case}/media/{media}/original``, which writes a ``media.revealed`` event (who,
when, which case, which item) before it answers, refuses a request without a reveal token
bound to the viewer's session and to that case and item (so another site cannot make a
reviewer's browser reveal something, and a link copied out of one session is worthless in
another), and answers ``Cache-Control: no-store``. The preview route serves only
``media.service.preview`` — a blurred grayscale JPEG — and never the original.

The type the original is served as is sniffed from its bytes, never taken from what the
uploader declared; bytes that are not a known picture or video format are not served.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, replace
from typing import Annotated

from fastapi import APIRouter, Path, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from shieldwall.api.deps import DbSession
from shieldwall.audit import service as audit
from shieldwall.cases import service as cases
from shieldwall.cases.repository import MAX_CASE_ID
from shieldwall.config import Settings
from shieldwall.core.access import Scope
from shieldwall.core.errors import NotFound, ShieldwallError
from shieldwall.core.hashing import detect_media
from shieldwall.core.signals import MediaKind
from shieldwall.core.tokens import same_token
from shieldwall.media import service as media
from shieldwall.media.models import MediaObject
from shieldwall.web.render import render
from shieldwall.web.security import SESSION_COOKIE, WebForbidden, WebUser, _secret, page_requires

router = APIRouter(include_in_schema=False)
CaseReader = Annotated[WebUser, page_requires(Scope.CASES_READ)]
# Path ids bounded to their columns: a larger number is refused before any SQL.
CaseId = Annotated[int, Path(ge=1, le=MAX_CASE_ID)]
MediaId = Annotated[int, Path(ge=1, le=2**63 - 1)]

#: Principles a reveal serves: reviewing known (1) and new (2) material.
REVEAL_PRINCIPLES = (1, 2)
NO_STORE = {"Cache-Control": "no-store, private", "Pragma": "no-cache"}
#: Sniffed format -> the type browsers are told. Anything else is not served.
SERVABLE = {
    "jpeg": "image/jpeg",
    "png": "image/png",
    "gif": "image/gif",
    "webp": "image/webp",
    "bmp": "image/bmp",
    "mp4": "video/mp4",
    "mov": "video/quicktime",
    "3gp": "video/3gpp",
    "webm": "video/webm",
    "mkv": "video/x-matroska",
}
#: How a reveal was asked for, as the event records it.
VIAS = frozenset({"click", "link", "auto"})


def media_base(case_id: int, media_id: int) -> str:
    return f"/review/cases/{case_id}/media/{media_id}"


def reveal_token(request: Request, case_id: int, media_id: int) -> str:
    """A token for revealing one item of one case, bound to the viewer's login session."""
    session_token = request.cookies.get(SESSION_COOKIE, "")
    message = f"media.reveal|{session_token}|{case_id}|{media_id}".encode()
    return hmac.new(_secret(request), message, hashlib.sha256).hexdigest()[:40]


def _check_token(request: Request, case_id: int, media_id: int, token: str) -> None:
    if not same_token(reveal_token(request, case_id, media_id), token):
        raise WebForbidden(
            "this reveal link is not from your current session: nothing was shown. Open the "
            "case page and use its Reveal button",
        )


@dataclass(frozen=True)
class MediaView:
    """One media item as a case page shows it."""

    id: int
    kind: str  # "image" or "video"
    media_type: str | None
    available: bool
    unavailable_reason: str
    preview_url: str
    original_url: str
    reveal_url: str
    auto_revealed: bool = False

    @property
    def auto_url(self) -> str:
        """The original as shown on opening, when the reviewer turned blurring off."""
        return self.original_url.replace("via=click", "via=auto")


def media_views(
    request: Request, session: Session, case_id: int, media_ids: list[int], *, blur: bool
) -> list[MediaView]:
    """The case's media items; with ``blur`` off the originals are shown on opening."""
    out = []
    for media_id in media_ids:
        try:
            row: MediaObject | None = media.get(session, media_id)
        except NotFound:
            row = None  # purged after its retention period
        base = media_base(case_id, media_id)
        token = reveal_token(request, case_id, media_id)
        declared = row.media_type if row is not None else None
        out.append(
            MediaView(
                id=media_id,
                kind=_kind(session, _settings(request), row),
                media_type=declared,
                available=row is not None,
                unavailable_reason=(
                    ""
                    if row is not None
                    else "No longer kept: media is deleted after its retention period."
                ),
                preview_url=f"{base}/preview",
                original_url=f"{base}/original?t={token}&via=click",
                reveal_url=f"{base}/reveal?t={token}",
                auto_revealed=(not blur) and row is not None,
            )
        )
    return out


def _kind(session: Session, settings: Settings, row: MediaObject | None) -> str:
    """``video`` or ``image``: from the declared type when it says which, else sniffed from
    the bytes (on the server; nothing is sent)."""
    declared = (row.media_type or "") if row is not None else ""
    if declared.startswith(("image/", "video/")) or row is None:
        return "video" if declared.startswith("video/") else "image"
    try:
        detected = detect_media(media.read(session, settings, row.id))
    except ShieldwallError:
        return "image"  # unreadable: the preview route answers a placeholder
    return "video" if detected.kind is MediaKind.VIDEO else "image"


def _case_media(session: Session, case_id: int, media_id: int) -> None:
    """NotFound unless ``media_id`` is one of the case's media items."""
    if media_id not in cases.media_ids(session, case_id):
        raise NotFound(f"case {case_id} has no media item {media_id}")


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def _error(request: Request, exc: ShieldwallError) -> Response:
    response = render(request, "error.html", {"message": exc.message}, status=exc.status)
    response.headers.update(NO_STORE)
    return response


@router.get("/review/cases/{case_id}/media/{media_id}/preview")
def media_preview(
    request: Request, db: DbSession, user: CaseReader, case_id: CaseId, media_id: MediaId
) -> Response:
    """The blurred grayscale preview: safe to show by default, so not logged."""
    try:
        _case_media(db, case_id, media_id)
        data, media_type = media.preview(db, _settings(request), media_id)
    except ShieldwallError as exc:
        return _error(request, exc)
    return Response(
        data,
        media_type=media_type,
        headers={**NO_STORE, "Cross-Origin-Resource-Policy": "same-origin"},
    )


@router.get("/review/cases/{case_id}/media/{media_id}/original")
def media_original(
    request: Request,
    db: DbSession,
    user: CaseReader,
    case_id: CaseId,
    media_id: MediaId,
    t: str = "",
    via: str = "link",
) -> Response:
    """The original bytes, after writing ``media.revealed``. Never cached."""
    _check_token(request, case_id, media_id, t[:100])
    try:
        _case_media(db, case_id, media_id)
        data = media.read(db, _settings(request), media_id)
    except ShieldwallError as exc:
        db.rollback()
        return _error(request, exc)
    detected = detect_media(data)
    served = SERVABLE.get(detected.format or "") if detected.kind is not MediaKind.OTHER else None
    if served is None:
        db.rollback()
        response = render(
            request,
            "error.html",
            {"message": "this item's format cannot be shown in a browser; nothing was shown"},
            status=415,
        )
        response.headers.update(NO_STORE)
        return response
    audit.record(
        db,
        "media.revealed",
        actor=user.principal,
        subject=f"case:{case_id}",
        principles=REVEAL_PRINCIPLES,
        payload={"media_id": media_id, "via": via if via in VIAS else "link"},
    )
    # The request's session commits (the event) before this answer is sent.
    return Response(
        data,
        media_type=served,
        headers={
            **NO_STORE,
            "Content-Disposition": "inline",
            "Cross-Origin-Resource-Policy": "same-origin",
            "Content-Security-Policy": "default-src 'none'; sandbox",
        },
    )


@router.get("/review/cases/{case_id}/media/{media_id}/reveal")
def media_reveal_page(
    request: Request,
    db: DbSession,
    user: CaseReader,
    case_id: CaseId,
    media_id: MediaId,
    t: str = "",
) -> Response:
    """The no-JavaScript reveal: a page showing this one item. Its <img>/<video> fetches
    the original through the logged route above."""
    _check_token(request, case_id, media_id, t[:100])
    try:
        _case_media(db, case_id, media_id)
        (view,) = media_views(request, db, case_id, [media_id], blur=True)
    except ShieldwallError as exc:
        return _error(request, exc)
    if not view.available:
        return _error(request, NotFound(view.unavailable_reason))
    view = replace(view, original_url=view.original_url.replace("via=click", "via=link"))
    response = render(
        request,
        "review/reveal.html",
        {"case_id": case_id, "m": view, "prefs": cases.preferences_for(db, user.user_id)},
    )
    response.headers.update(NO_STORE)
    return response
