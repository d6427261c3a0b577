"""Meta's Hasher-Matcher-Actioner (HMA / Open Media Match) API shapes, so an existing HMA
client works against shieldwall. Covered: ``GET|POST /h/hash``, ``GET|POST /m/lookup``,
``GET /m/raw_lookup``, ``GET /c/banks``, ``GET /status``. Differences (see docs/hma.md):
callers send an API key (``Authorization: Bearer``), errors are problem details, and
``matching_enabled_ratio`` is 1.0 or 0.0 (banks are on or off; no coin flips).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import PlainTextResponse
from sqlalchemy import select

from shieldwall.api.deps import DbSession, SettingsDep, require
from shieldwall.api.routers.scan import MatchIndexDep, fetcher_for
from shieldwall.banks.models import Bank
from shieldwall.config import Settings
from shieldwall.core.access import Principal, Scope
from shieldwall.core.errors import InvalidInput
from shieldwall.core.hashing import HashOptions, hash_bytes
from shieldwall.matching import service as matching
from shieldwall.matching.index import MatchIndex
from shieldwall.matching.schemas import MatchOut

router = APIRouter(tags=["HMA compatibility"])
Scanner = Annotated[Principal, require(Scope.SCAN)]
BankReader = Annotated[Principal, require(Scope.BANKS_READ)]

#: HMA content types and the signal types each produces.
CONTENT_SIGNALS = {"photo": ("pdq",), "video": ("video_md5", "vpdq")}


def _options(settings: Settings) -> HashOptions:
    return HashOptions(
        quality_floor=settings.pdq_quality_floor,
        max_pixels=settings.max_image_pixels,
        max_bytes=settings.scan_max_bytes,
    )


def _hma_hashes(
    data: bytes, content_type: str, types: str | None, settings: Settings
) -> dict[str, str]:
    if content_type not in CONTENT_SIGNALS:
        raise InvalidInput(f"no such content_type: {content_type!r}; use photo or video")
    wanted = CONTENT_SIGNALS[content_type]
    if types:
        chosen = tuple(t.strip() for t in types.split(",") if t.strip())
        bad = [t for t in chosen if t not in wanted]
        if bad or not chosen:
            raise InvalidInput(f"signal type(s) {bad or types!r} do not apply to {content_type}")
        wanted = chosen
    media = hash_bytes(data, declared_type=content_type, options=_options(settings))
    out: dict[str, str] = {}
    for name in wanted:
        if name == "pdq" and media.primary_pdq is not None:
            out["pdq"] = media.primary_pdq.hex
        elif name == "vpdq" and media.vpdq is not None:
            out["vpdq"] = media.vpdq
        elif name in media.exact:
            out[name] = media.exact[name]
    return out


async def one_upload(request: Request) -> tuple[str, bytes]:
    """The single multipart file of an HMA request: (field name, bytes)."""
    form = await request.form(max_files=1, max_fields=5)
    files = [(name, value) for name, value in form.multi_items() if not isinstance(value, str)]
    if len(files) != 1:
        raise InvalidInput("send exactly one multipart file, in a field named photo or video")
    name, upload = files[0]
    return name, await upload.read()


def _by_bank(matches: list[MatchOut]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for m in matches:
        if m.signal_type == "vpdq" and m.query_match_pct is not None:
            # HMA's VPDQSimilarityInfo.pretty_str(): query %[compared %]
            distance = f"{m.query_match_pct:.0f}%[{m.target_match_pct or 0:.0f}%]"
        else:
            distance = str(m.distance)
        out.setdefault(m.bank, []).append({"bank_content_id": m.entry_id, "distance": distance})
    return out


def _lookup(
    db: DbSession,
    index: MatchIndex,
    settings: Settings,
    signal_type: str,
    signal: str,
    banks: str | None,
) -> dict[str, list[dict[str, Any]]]:
    signals = matching.query_signals([(signal_type, signal, None)])
    names = [b for b in banks.split(",") if b] if banks else None
    matcher = matching.Matcher(db, index, quality_floor=settings.pdq_quality_floor)
    return _by_bank(matcher.lookup(signals, bank_names=names).matches)


Upload = Annotated[tuple[str, bytes], Depends(one_upload)]


@router.post("/h/hash", summary="HMA: hash an uploaded photo or video")
def hma_hash_post(
    upload: Upload, settings: SettingsDep, _: Scanner, types: str | None = None
) -> dict[str, str]:
    field, data = upload
    return _hma_hashes(data, field, types, settings)


@router.get("/h/hash", summary="HMA: fetch a URL (SSRF-protected) and hash it")
def hma_hash_get(
    request: Request,
    settings: SettingsDep,
    _: Scanner,
    url: Annotated[str, Query(max_length=4096)],
    content_type: str | None = None,
    types: str | None = None,
) -> dict[str, str]:
    fetcher = getattr(request.app.state, "url_fetcher", None) or fetcher_for(settings)
    fetched = fetcher.fetch(url)
    kind = content_type or _kind_of(fetched.content_type)
    return _hma_hashes(fetched.content, kind, types, settings)


def _kind_of(mime: str | None) -> str:
    mime = (mime or "").lower()
    if mime.startswith("image"):
        return "photo"
    if mime.startswith("video"):
        return "video"
    raise InvalidInput(
        f"unsupported url ContentType: {mime!r}; if you know the type, pass content_type"
    )


@router.get("/m/lookup", summary="HMA: matches by bank for one hash")
def hma_lookup(
    db: DbSession,
    settings: SettingsDep,
    index: MatchIndexDep,
    actor: Scanner,
    signal_type: Annotated[str, Query(max_length=20)],
    signal: Annotated[str, Query(max_length=100_000)],
    banks: Annotated[str | None, Query(max_length=10_000)] = None,
) -> dict[str, list[dict[str, Any]]]:
    return _lookup(db, index, settings, signal_type, signal, banks)


@router.post("/m/lookup", summary="HMA: hash an upload and answer matches by signal type and bank")
def hma_lookup_post(
    upload: Upload,
    db: DbSession,
    settings: SettingsDep,
    index: MatchIndexDep,
    _: Scanner,
    banks: Annotated[str | None, Query(max_length=10_000)] = None,
) -> dict[str, dict[str, list[dict[str, Any]]]]:
    field, data = upload
    hashes = _hma_hashes(data, field, None, settings)
    return {
        signal_type: _lookup(db, index, settings, signal_type, value, banks)
        for signal_type, value in hashes.items()
    }


@router.get("/m/raw_lookup", summary="HMA: matching bank entry ids for one hash")
def hma_raw_lookup(
    db: DbSession,
    settings: SettingsDep,
    index: MatchIndexDep,
    _: Scanner,
    signal_type: Annotated[str, Query(max_length=20)],
    signal: Annotated[str, Query(max_length=100_000)],
    include_distance: bool = False,
    banks: Annotated[str | None, Query(max_length=10_000)] = None,
) -> dict[str, list[Any]]:
    by_bank = _lookup(db, index, settings, signal_type, signal, banks)
    matches = [m for bank in by_bank.values() for m in bank]
    if include_distance:
        return {"matches": matches}
    return {"matches": [m["bank_content_id"] for m in matches]}


@router.get("/c/banks", summary="HMA: the banks")
def hma_banks(db: DbSession, _: BankReader) -> list[dict[str, Any]]:
    rows = db.scalars(select(Bank).where(Bank.deleted_at.is_(None)).order_by(Bank.name)).all()
    return [{"name": b.name, "matching_enabled_ratio": 1.0 if b.enabled else 0.0} for b in rows]


@router.get("/status", summary="HMA: I-AM-ALIVE, or 503 while the index is loading or stale")
def hma_status(request: Request) -> PlainTextResponse:
    ok, detail = request.app.state.match_index.readiness()
    if ok:
        return PlainTextResponse("I-AM-ALIVE")
    return PlainTextResponse(f"INDEX-NOT-READY: {detail}\n", status_code=503)
