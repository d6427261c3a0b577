"""The conversation window of a case (principle 3): who wrote what and when, with the
grooming indicators found in each message. Texts are hidden by default, like media: each
message is revealed on its own, and every reveal is an event (``conversation.revealed``:
who, which case, which messages; never the text). A reviewer whose preferences turn default
blurring off sees every text at once, logged the same way."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response

from shieldwall.api.deps import DbSession
from shieldwall.audit import service as audit
from shieldwall.cases.preferences import preferences_for
from shieldwall.config import Settings
from shieldwall.core.access import Scope
from shieldwall.textsignals import conversations, repository
from shieldwall.web.render import render
from shieldwall.web.security import WebUser, page_requires

router = APIRouter(include_in_schema=False)
CaseReader = Annotated[WebUser, page_requires(Scope.CASES_READ)]
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def _segments(text: str, spans: list[tuple[int, int, str]]) -> list[dict[str, Any]]:
    """The text cut into plain and indicator parts, for highlighting."""
    out: list[dict[str, Any]] = []
    at = 0
    for start, end, name in sorted(spans):
        if start < at or end <= start or end > len(text):
            continue
        if start > at:
            out.append({"text": text[at:start], "indicator": None})
        out.append({"text": text[start:end], "indicator": name})
        at = end
    if at < len(text):
        out.append({"text": text[at:], "indicator": None})
    return out


@router.get("/review/cases/{case_id}/conversation")
def conversation_page(
    request: Request,
    db: DbSession,
    user: CaseReader,
    case_id: Annotated[int, Path(ge=1, le=2**31 - 1)],
    reveal: Annotated[str | None, Query(max_length=200)] = None,
) -> Response:
    settings: Settings = request.app.state.settings
    # a reviewer who turned default blurring off sees the texts at once (logged the same way)
    show_all = not preferences_for(db, user.user_id).blur
    conversation = repository.conversation_for_case(db, case_id)
    window = conversations.window_for_case(db, settings, case_id)
    rows = []
    for m in window:
        spans = [
            (int(i["start"]), int(i["end"]), str(i.get("indicator") or i.get("list_category")))
            for i in m["indicators"]
            if i.get("start") is not None
        ]
        shown = m["error"] is None and (
            show_all or (reveal is not None and reveal == m["message_id"])
        )
        rows.append(
            {
                **m,
                "shown": shown,
                "segments": _segments(m["text"], spans) if shown else [],
                "length": len(m["text"]),
                "names": sorted({s[2] for s in spans}),
            }
        )
    revealed = [r["message_id"] for r in rows if r["shown"]]
    if revealed:
        audit.record(
            db,
            "conversation.revealed",
            actor=user.principal,
            subject=f"case:{case_id}",
            principles=(3,),
            payload={
                "conversation_id": conversation.id if conversation else None,
                "messages": revealed[:50],
                "count": len(revealed),
                "how": "preference" if show_all else "reveal",
            },
        )
    response = render(
        request,
        "conversation/window.html",
        {
            "case_id": case_id,
            "conversation": conversation,
            "rows": rows,
        },
        status=200 if conversation is not None else 404,
    )
    response.headers.update(NO_STORE)
    return response
