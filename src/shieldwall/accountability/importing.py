"""Imports: the shared reference data folder, and files a person brings (the by-hand CSV/JSON
format or a shieldwall transparency report). Flushes, never commits.

Each file is applied inside its own savepoint: a file with a malformed line, or one that
names an unknown company, leaves nothing behind, and the other files still apply.
"""

from __future__ import annotations

import dataclasses
from datetime import date
from pathlib import Path

from sqlalchemy.orm import Session

from shieldwall.accountability import service
from shieldwall.accountability.loaders import FileRejected, manual, reference_files, transparency
from shieldwall.accountability.loaders.platforms import not_loaded
from shieldwall.accountability.registry import registry_batch
from shieldwall.accountability.schemas import Batch, FileReport, ImportSummary, LineError
from shieldwall.core.access import Principal
from shieldwall.core.errors import InvalidInput, ShieldwallError
from shieldwall.db.base import utcnow


def _apply(session: Session, batch: Batch, actor: Principal | str) -> FileReport:
    savepoint = session.begin_nested()
    try:
        report = service.apply_batch(session, batch, actor=actor)
    except ShieldwallError as exc:
        savepoint.rollback()
        return FileReport(dataset=batch.dataset, applied=False,
                          errors=[LineError(line=0, message=exc.message)])  # fmt: skip
    savepoint.commit()
    return report


def import_reference(session: Session, folder: Path, *, actor: Principal | str) -> ImportSummary:
    """The registry, then every reference file found under ``folder``, each all or nothing."""
    files = [_apply(session, registry_batch(), actor)]
    for ref in reference_files(folder):
        try:
            batch = ref.load(ref.path, ref.dataset)
        except FileRejected as exc:
            files.append(FileReport(dataset=ref.dataset, applied=False, errors=exc.errors))
            continue
        files.append(_apply(session, batch, actor))
    for dataset, why in not_loaded(folder):
        files.append(FileReport(dataset=dataset, applied=False, skipped=[f"not loaded: {why}"]))
    return ImportSummary(files=files, unmapped_ncmec_names=len(service.unmapped_names(session)))


def _known(session: Session) -> manual.Known:
    directory = service.Directory(session)
    return lambda ref: directory.company(ref) is not None


def import_file(
    session: Session,
    data: bytes,
    filename: str,
    *,
    actor: Principal | str,
    source_url: str = "",
) -> FileReport:
    """One file: by-hand CSV or JSON, or a transparency report (JSON with ``schema_version``).
    Raises :class:`InvalidInput` with every bad line (nothing applied)."""
    today = utcnow().date()
    dataset = f"upload:{Path(filename or 'file').name[:150]}"
    savepoint = session.begin_nested()
    try:
        batch = _parse(session, data, filename, dataset, source_url, today, actor)
        report = service.apply_batch(session, batch, actor=actor)
    except FileRejected as exc:
        savepoint.rollback()
        raise InvalidInput(
            f"{len(exc.errors)} problem(s) in {dataset}; nothing was imported: "
            + "; ".join(f"line {e.line}: {e.message}" for e in exc.errors[:20]),
            errors=[e.model_dump() for e in exc.errors[:100]],
        ) from None
    except ShieldwallError as exc:
        savepoint.rollback()
        raise InvalidInput(f"{dataset}: {exc.message}; nothing was imported") from None
    savepoint.commit()
    return report


def _parse(
    session: Session,
    data: bytes,
    filename: str,
    dataset: str,
    source_url: str,
    today: date,
    actor: Principal | str,
) -> Batch:
    name = (filename or "").lower()
    stripped = data.lstrip()
    if name.endswith(".json") or stripped.startswith(b"{"):
        try:
            document = manual.decode_json(data)
        except (UnicodeDecodeError, ValueError) as exc:
            raise FileRejected(
                dataset, [LineError(line=1, message=f"not valid JSON: {exc}")]
            ) from None
        if transparency.looks_like_report(document):
            organisation, batch = transparency.load_report(
                document, data, dataset, source_url, today
            )
            company = service.company_for_name(
                session, service.Directory(session), organisation, dataset
            )
            batch.disclosures = [
                dataclasses.replace(d, company=company.slug) for d in batch.disclosures
            ]
            return batch
        if not isinstance(document, dict):
            raise FileRejected(dataset, [LineError(line=1, message="expected a JSON object")])
        return manual.load_json(document, data, dataset, _known(session), today)
    return manual.load_csv(data, dataset, _known(session), today)
