"""The "try a file" page: upload one file, see its hashes, the verdict and the matches.

The file is hashed in memory and dropped; it is never stored or shown back. Like an API scan
it writes one ``scan.completed`` event (source ``web``).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import Response

from shieldwall.api.deps import DbSession
from shieldwall.core.access import Scope
from shieldwall.core.errors import ShieldwallError
from shieldwall.matching import service as matching
from shieldwall.matching.index import MatchIndex
from shieldwall.web.render import render
from shieldwall.web.security import CsrfChecked, WebUser, page_requires, rotate_csrf

router = APIRouter(include_in_schema=False)
Scanner = Annotated[WebUser, page_requires(Scope.SCAN)]


@router.get("/scan")
def scan_page(request: Request, user: Scanner) -> Response:
    return render(request, "scan.html", {"result": None, "error": None})


@router.post("/scan", dependencies=[CsrfChecked])
def scan_submit(
    request: Request,
    db: DbSession,
    user: Scanner,
    file: Annotated[UploadFile, File()],
    media_type: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    settings = request.app.state.settings
    index: MatchIndex = request.app.state.match_index
    try:
        data = file.file.read(settings.scan_max_bytes + 1)
        matcher = matching.Matcher(db, index, quality_floor=settings.pdq_quality_floor)
        options = matching.hash_options(
            index,
            quality_floor=settings.pdq_quality_floor,
            max_pixels=settings.max_image_pixels,
            max_bytes=settings.scan_max_bytes,
        )
        result = matching.scan_media(
            matcher, data, declared_type=media_type or None, options=options, bank_names=None
        )
        matching.record_scan(db, result, actor=user.principal, source="web")
    except ShieldwallError as exc:
        db.rollback()
        return render(
            request, "scan.html", {"result": None, "error": exc.message}, status=exc.status
        )
    rotate_csrf(request)  # a reload re-sends the file; refuse it rather than count it twice
    response = render(
        request, "scan.html", {"result": result, "error": None, "filename": file.filename}
    )
    response.headers["Cache-Control"] = "no-store"
    return response
