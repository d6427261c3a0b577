"""``POST /v1/scan`` (a file, a URL, or hashes) and ``POST /v1/lookup`` (hashes only)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Request
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from shieldwall.api.deps import DbSession, SettingsDep, require
from shieldwall.cases import scanning
from shieldwall.cases.scanning import ScanRefs
from shieldwall.cases.schemas import clean_ref
from shieldwall.config import Settings
from shieldwall.core.access import Principal, Scope
from shieldwall.core.errors import InvalidInput, describe_errors
from shieldwall.integrations.classifiers import ClassifierSet
from shieldwall.integrations.url_fetch import UrlFetcher
from shieldwall.matching import idempotency
from shieldwall.matching import service as matching
from shieldwall.matching.index import MatchIndex
from shieldwall.matching.schemas import LookupRequest, ScanJson, ScanResult

router = APIRouter(prefix="/v1", tags=["matching"])
Scanner = Annotated[Principal, require(Scope.SCAN)]


async def get_match_index(request: Request) -> MatchIndex:
    index: MatchIndex = request.app.state.match_index
    return index


MatchIndexDep = Annotated[MatchIndex, Depends(get_match_index)]


@dataclass
class ScanInput:
    """What the caller sent: exactly one of file bytes, a URL, or hashes."""

    raw: bytes
    file: bytes | None = None
    filename: str | None = None
    media_type: str | None = None
    json: ScanJson | None = None
    refs: ScanRefs = field(default_factory=ScanRefs)


def scan_refs(content_id: object, account_id: object) -> ScanRefs:
    """The platform's references, checked (422 for control characters or over 200)."""
    return ScanRefs(
        content_ref=clean_ref(
            content_id if isinstance(content_id, str) else None, field_name="content_id"
        ),
        account_ref=clean_ref(
            account_id if isinstance(account_id, str) else None, field_name="account_id"
        ),
    )


async def scan_input(request: Request) -> ScanInput:
    """Parse a multipart upload (field ``file``, optional ``media_type``) or a JSON body."""
    content_type = request.headers.get("content-type", "").lower()
    if content_type.startswith("multipart/form-data"):
        form = await request.form(max_files=1, max_fields=5)
        upload = form.get("file")
        if upload is None or isinstance(upload, str):
            raise InvalidInput(
                "send the media as a multipart file field named 'file'", field="file"
            )
        data = await upload.read()
        declared = form.get("media_type")
        media_type = declared if isinstance(declared, str) and declared else upload.content_type
        refs = scan_refs(form.get("content_id"), form.get("account_id"))
        # The references take part in the idempotency digest: the same key with another
        # content id is another request.
        digest_source = b"\x00".join(
            [
                data,
                (media_type or "").encode(),
                *((ref or "").encode() for ref in (refs.content_ref, refs.account_ref)),
            ]
        )
        return ScanInput(
            raw=digest_source,
            file=data,
            filename=upload.filename,
            media_type=media_type,
            refs=refs,
        )
    if content_type.startswith("application/json"):
        body = await request.body()
        try:
            parsed = ScanJson.model_validate_json(body)
        except ValidationError as exc:
            problems = describe_errors(exc.errors(include_input=False))
            raise InvalidInput(f"the JSON body is not a scan request: {problems}") from None
        if (parsed.url is None) == (parsed.hashes is None):
            raise InvalidInput("send exactly one of 'url' or 'hashes' (or upload a file)")
        return ScanInput(
            raw=body,
            json=parsed,
            media_type=parsed.media_type,
            refs=scan_refs(parsed.content_id, parsed.account_id),
        )
    raise InvalidInput(
        "send multipart/form-data with a 'file' field, or application/json with 'url' or "
        f"'hashes' (got Content-Type {content_type or 'none'!r})"
    )


def fetcher_for(settings: Settings) -> UrlFetcher:
    return UrlFetcher(
        max_bytes=settings.scan_max_bytes,
        timeout_seconds=settings.scan_url_timeout_seconds,
        max_redirects=settings.scan_url_max_redirects,
        allow_private=settings.scan_url_allow_private,
    )


def _matcher(db: DbSession, index: MatchIndex, settings: Settings) -> matching.Matcher:
    return matching.Matcher(db, index, quality_floor=settings.pdq_quality_floor)


def classifiers_of(request: Request, settings: Settings) -> ClassifierSet:
    """This process's classifiers (built once: circuit breakers keep state between scans)."""
    found: ClassifierSet | None = getattr(request.app.state, "classifiers", None)
    if found is None:
        found = ClassifierSet.from_settings(settings)
        request.app.state.classifiers = found
    return found


@dataclass
class ScanRun:
    result: ScanResult
    source: str
    data: bytes | None = None
    media_type: str | None = None
    url: str | None = None


def run_scan(
    request: Request, db: DbSession, index: MatchIndex, settings: Settings, body: ScanInput
) -> ScanRun:
    """Scan, and keep the bytes that were hashed (upload or fetched URL) for what follows."""
    matcher = _matcher(db, index, settings)
    options = matching.hash_options(
        index,
        quality_floor=settings.pdq_quality_floor,
        max_pixels=settings.max_image_pixels,
        max_bytes=settings.scan_max_bytes,
    )
    if body.file is not None:
        result = matching.scan_media(
            matcher, body.file, declared_type=body.media_type, options=options, bank_names=None
        )
        return ScanRun(result, "upload", data=body.file, media_type=body.media_type)
    assert body.json is not None
    if body.json.hashes is not None:
        signals = matching.query_signals(
            (h.signal_type, h.value, h.quality) for h in body.json.hashes
        )
        return ScanRun(matching.scan_hashes(matcher, signals, bank_names=body.json.banks), "hashes")
    fetcher: UrlFetcher = getattr(request.app.state, "url_fetcher", None) or fetcher_for(settings)
    fetched = fetcher.fetch(str(body.json.url))
    declared = body.json.media_type or fetched.content_type
    result = matching.scan_media(
        matcher,
        fetched.content,
        declared_type=declared,
        options=options,
        bank_names=body.json.banks,
    )
    return ScanRun(result, "url", data=fetched.content, media_type=declared, url=str(body.json.url))


@router.post(
    "/scan",
    summary="Hash and match a file, a URL or hashes; answers a verdict",
    response_model=ScanResult,
    openapi_extra={
        "requestBody": {
            "content": {
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "properties": {
                            "file": {"type": "string", "format": "binary"},
                            "media_type": {"type": "string"},
                            "content_id": {"type": "string", "maxLength": 200},
                            "account_id": {"type": "string", "maxLength": 200},
                        },
                        "required": ["file"],
                    }
                },
                "application/json": {"schema": ScanJson.model_json_schema()},
            },
            "required": True,
        }
    },
)
def scan(
    request: Request,
    db: DbSession,
    settings: SettingsDep,
    index: MatchIndexDep,
    actor: Scanner,
    body: Annotated[ScanInput, Depends(scan_input)],
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key")] = None,
) -> Any:
    key = idempotency.check_key(idempotency_key) if idempotency_key is not None else None
    request_digest = idempotency.digest("scan", body.raw)
    if key is not None:
        earlier = idempotency.stored(
            db, actor.actor, key, request_digest, ttl_hours=settings.idempotency_ttl_hours
        )
        if earlier is not None:
            return JSONResponse(earlier.response, headers={"Idempotent-Replayed": "true"})
    run = run_scan(request, db, index, settings, body)
    outcome = scanning.classify(
        classifiers_of(request, settings),
        run.result,
        data=run.data,
        media_type=run.media_type,
        url=run.url,
    )
    result = scanning.after_scan(
        db,
        settings,
        run.result,
        source=run.source,
        actor=actor,
        refs=body.refs,
        data=run.data,
        media_type=run.media_type,
        outcome=outcome,
    )
    matching.record_scan(db, result, actor=actor, source=run.source)
    answer = result.model_dump(mode="json")
    if key is not None:
        kept = idempotency.remember(
            db, actor.actor, key, request_digest, answer, ttl_hours=settings.idempotency_ttl_hours
        )
        if kept.response != answer:
            return JSONResponse(kept.response, headers={"Idempotent-Replayed": "true"})
    return answer


@router.post(
    "/lookup", summary="Match hashes (no media); answers a verdict", response_model=ScanResult
)
def lookup(
    body: LookupRequest,
    db: DbSession,
    settings: SettingsDep,
    index: MatchIndexDep,
    actor: Scanner,
) -> Any:
    refs = scan_refs(body.content_id, body.account_id)
    signals = matching.query_signals((s.signal_type, s.value, s.quality) for s in body.signals)
    result = matching.scan_hashes(_matcher(db, index, settings), signals, bank_names=body.banks)
    result = scanning.after_scan(db, settings, result, source="hashes", actor=actor, refs=refs)
    matching.record_scan(db, result, actor=actor, source="hashes")
    return result
