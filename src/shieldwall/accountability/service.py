"""Rules of the accountability tracker: storing parsed batches idempotently, mapping
NCMEC's printed names through aliases, and edits. Flushes, never commits.

A batch is stored whole or not at all (the caller's transaction, or a savepoint per file
when several files are imported). Each stored fact is found again by its ``fact_key``, so
importing the same file twice changes nothing the second time; a batch that changes
something writes one event (ids and counts only).
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from shieldwall.accountability import repository
from shieldwall.accountability.models import (
    Alias,
    Commitment,
    Company,
    Disclosure,
    Evidence,
    ImportRun,
    NcmecCount,
    NcmecTotal,
    Service,
    Statement,
)
from shieldwall.accountability.schemas import (
    Batch,
    CommitmentRec,
    EvidenceRec,
    FileReport,
    is_footnoted,
    name_key,
    slugify,
)
from shieldwall.audit import service as audit
from shieldwall.core.access import Principal
from shieldwall.core.errors import InvalidInput, NotFound

PRINCIPLES = (11,)
#: Where and when a fact was last stated is not the fact: a re-import that differs only in
#: these (another file name, the copy date of the same file) changes nothing.
PROVENANCE_ONLY = frozenset({"dataset", "name_as_written", "retrieved_on"})


def fact_key(*parts: object) -> str:
    text = "\x1f".join("" if p is None else str(p) for p in parts)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def actor_ref(actor: Principal | str) -> str:
    return actor.actor if isinstance(actor, Principal) else actor


@dataclass
class Tally:
    added: int = 0
    changed: int = 0
    unchanged: int = 0

    def upsert(
        self, session: Session, existing: Any, model: type[Any], values: dict[str, Any]
    ) -> Any:
        if existing is None:
            row = model(**values)
            session.add(row)
            self.added += 1
            return row
        if any(getattr(existing, k) != v for k, v in values.items() if k not in PROVENANCE_ONLY):
            for k, v in values.items():
                setattr(existing, k, v)
            self.changed += 1
        else:
            self.unchanged += 1
        return existing


class Directory:
    """Companies, services and aliases by slug and key, loaded once per batch."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.companies = {c.slug: c for c in repository.companies(session)}
        self.services = {s.slug: s for s in repository.services(session)}
        self.aliases = {a.key: a for a in repository.aliases(session)}

    def company(self, ref: str) -> Company | None:
        """A company by slug, or by a name an alias knows."""
        if ref in self.companies:
            return self.companies[ref]
        alias = self.aliases.get(name_key(ref))
        if alias is not None:
            return self.session.get(Company, alias.company_id)
        return None

    def service(self, company: Company, slug: str | None) -> Service | None:
        if slug is None:
            return None
        service = self.services.get(slug)
        if service is None or service.company_id != company.id:
            raise InvalidInput(f"company {company.slug!r} has no service {slug!r}")
        return service


def apply_batch(
    session: Session,
    batch: Batch,
    *,
    actor: Principal | str,
    event_kind: str = "accountability.data_imported",
) -> FileReport:
    """Store everything in ``batch``; :class:`InvalidInput` (nothing stored by this call's
    caller transaction) when it refers to a company or service that does not exist."""
    tally = Tally()
    directory = Directory(session)
    _companies(session, batch, directory, tally)
    _commitments(session, batch.commitments, batch.dataset, directory, tally)
    for s in batch.statements:
        key = fact_key("statement", s.on_date, s.framework, s.statement)
        existing = repository.by_fact_keys(session, Statement, [key]).get(key)
        tally.upsert(session, existing, Statement, {
            "fact_key": key, "on_date": s.on_date, "framework": s.framework,
            "statement": s.statement, "value": s.value, "source_url": s.prov.source_url,
            "retrieved_on": s.prov.retrieved_on, "dataset": batch.dataset,
        })  # fmt: skip
    _disclosures(session, batch, directory, tally)
    _ncmec(session, batch, tally)
    _evidence(session, batch.evidence, batch.dataset, directory, tally)
    session.flush()
    if batch.ncmec_counts or batch.aliases:
        resolve_ncmec_names(session)
    report = FileReport(
        dataset=batch.dataset,
        applied=True,
        rows=batch.rows,
        added=tally.added,
        changed=tally.changed,
        unchanged=tally.unchanged,
        skipped=list(batch.skipped),
    )
    if tally.added or tally.changed:
        run = ImportRun(
            dataset=batch.dataset[:200],
            sha256=batch.sha256,
            rows=batch.rows,
            added=tally.added,
            changed=tally.changed,
            unchanged=tally.unchanged,
            actor=actor_ref(actor),
        )
        session.add(run)
        session.flush()
        audit.record(
            session,
            event_kind,
            actor=actor,
            subject=f"accountability_import:{run.id}",
            principles=PRINCIPLES,
            payload={"import_id": run.id, "rows": batch.rows, "added": tally.added,
                     "changed": tally.changed},
        )  # fmt: skip
    return report


def _companies(session: Session, batch: Batch, directory: Directory, tally: Tally) -> None:
    for c in batch.companies:
        known = directory.companies.get(c.slug)
        values: dict[str, Any] = {"slug": c.slug, "name": c.name, "note": c.note}
        if known is None:
            values["dataset"] = batch.dataset
        row = tally.upsert(session, known, Company, values)
        directory.companies[c.slug] = row
    session.flush()
    for s in batch.services:
        company = directory.companies.get(s.company)
        if company is None:
            raise InvalidInput(f"service {s.slug!r} names unknown company {s.company!r}")
        old_service = directory.services.get(s.slug)
        if old_service is not None and old_service.company_id != company.id:
            raise InvalidInput(f"service {s.slug!r} already belongs to another company")
        values = {"company_id": company.id, "slug": s.slug, "name": s.name, "note": s.note}
        if old_service is None:
            values["dataset"] = batch.dataset
        directory.services[s.slug] = tally.upsert(session, old_service, Service, values)
    session.flush()
    for a in batch.aliases:
        company = directory.companies.get(a.company)
        if company is None:
            raise InvalidInput(f"alias {a.name!r} names unknown company {a.company!r}")
        service = directory.service(company, a.service)
        key = name_key(a.name)
        old_alias = directory.aliases.get(key)
        values = {
            "key": key, "name": a.name, "company_id": company.id,
            "service_id": service.id if service else None, "combined": a.combined, "note": a.note,
        }  # fmt: skip
        if old_alias is None:
            values["dataset"] = batch.dataset
        directory.aliases[key] = tally.upsert(session, old_alias, Alias, values)
    session.flush()


def company_for_name(session: Session, directory: Directory, name: str, dataset: str) -> Company:
    """The company a commitment names: through its aliases, else a new company with that
    name (a source naming a company is not a guess), recorded with an alias for the name."""
    found = directory.company(name)
    if found is not None:
        return found
    slug = slugify(name)
    n = 2
    while slug in directory.companies or slug in directory.services:
        slug = f"{slugify(name)}-{n}"
        n += 1
    company = Company(slug=slug, name=name, note="", dataset=dataset)
    session.add(company)
    session.flush()
    alias = Alias(
        key=name_key(name),
        name=name,
        company_id=company.id,
        service_id=None,
        combined=False,
        note="created from the row that names it",
        dataset=dataset,
    )
    session.add(alias)
    session.flush()
    directory.companies[slug] = company
    directory.aliases[alias.key] = alias
    return company


def _commitments(
    session: Session, recs: list[CommitmentRec], dataset: str, directory: Directory, tally: Tally
) -> None:
    keyed = []
    for c in recs:
        company = company_for_name(session, directory, c.company_name, dataset)
        key = fact_key("commitment", company.slug, c.kind, c.framework, c.event)
        keyed.append((key, company, c))
    existing = repository.by_fact_keys(session, Commitment, [k for k, _, _ in keyed])
    for key, company, c in keyed:
        existing[key] = tally.upsert(session, existing.get(key), Commitment, {
            "fact_key": key, "company_id": company.id, "kind": c.kind, "framework": c.framework,
            "event": c.event, "on_date": c.on_date, "precision": c.precision,
            "name_as_written": c.company_name, "note": c.note, "source_url": c.prov.source_url,
            "retrieved_on": c.prov.retrieved_on, "dataset": dataset,
        })  # fmt: skip


def _disclosures(session: Session, batch: Batch, directory: Directory, tally: Tally) -> None:
    keyed = []
    for d in batch.disclosures:
        company = directory.company(d.company)
        if company is None:
            raise InvalidInput(f"disclosure names unknown company {d.company!r}")
        service = directory.service(company, d.service)
        key = fact_key(
            "disclosure", company.slug, d.service or "*", d.metric, d.term, d.period.label, d.origin
        )
        keyed.append((key, company, service, d))
    existing = repository.by_fact_keys(session, Disclosure, [k for k, *_ in keyed])
    for key, company, service, d in keyed:
        existing[key] = tally.upsert(session, existing.get(key), Disclosure, {
            "fact_key": key, "company_id": company.id,
            "service_id": service.id if service else None, "metric": d.metric, "term": d.term,
            "unit": d.unit, "value": d.value, "rounded_to": d.rounded_to,
            "period": d.period.label, "period_start": d.period.start,
            "period_end": d.period.end, "granularity": d.period.granularity,
            "primary_source": d.primary, "origin": d.origin, "note": d.note,
            "source_url": d.prov.source_url,
            "retrieved_on": d.prov.retrieved_on, "dataset": batch.dataset,
        })  # fmt: skip


def _ncmec(session: Session, batch: Batch, tally: Tally) -> None:
    keys = [fact_key("ncmec", c.year, c.esp_name) for c in batch.ncmec_counts]
    existing = repository.by_fact_keys(session, NcmecCount, keys)
    for key, c in zip(keys, batch.ncmec_counts, strict=True):
        row = existing.get(key)
        values = {
            "fact_key": key, "year": c.year, "line": c.line, "esp_name": c.esp_name,
            "reports": c.reports, "source_url": c.prov.source_url,
            "retrieved_on": c.prov.retrieved_on, "dataset": batch.dataset,
        }  # fmt: skip
        if row is None:
            values.update(company_id=None, service_id=None, combined=is_footnoted(c.esp_name))
        existing[key] = tally.upsert(session, row, NcmecCount, values)
    for t in batch.ncmec_totals:
        tally.upsert(session, session.get(NcmecTotal, t.year), NcmecTotal, {
            "year": t.year, "total_reports": t.total_reports, "esp_reports": t.esp_reports,
            "source_url": t.prov.source_url, "retrieved_on": t.prov.retrieved_on,
            "dataset": batch.dataset,
        })  # fmt: skip


def _evidence(
    session: Session, recs: list[EvidenceRec], dataset: str, directory: Directory, tally: Tally
) -> None:
    for e in recs:
        company = directory.company(e.company)
        if company is None:
            raise InvalidInput(f"evidence names unknown company {e.company!r}")
        key = fact_key("evidence", company.slug, e.principle)
        existing = repository.by_fact_keys(session, Evidence, [key]).get(key)
        tally.upsert(session, existing, Evidence, {
            "fact_key": key, "company_id": company.id, "principle": e.principle,
            "status": e.status, "quote": e.quote, "evidence_date": e.evidence_date,
            "source_url": e.prov.source_url, "retrieved_on": e.prov.retrieved_on,
            "dataset": dataset,
        })  # fmt: skip


def resolve_ncmec_names(session: Session) -> int:
    """Map every NCMEC line through the aliases (exact normalised names only); lines whose
    name no alias knows stay unmapped. Returns how many lines changed mapping."""
    aliases = {a.key: a for a in repository.aliases(session)}
    changed = 0
    for row in repository.ncmec_counts(session):
        alias = aliases.get(name_key(row.esp_name))
        combined = is_footnoted(row.esp_name) or bool(alias and alias.combined)
        company_id, service_id = (alias.company_id, alias.service_id) if alias else (None, None)
        if (row.company_id, row.service_id, row.combined) != (company_id, service_id, combined):
            row.company_id, row.service_id, row.combined = company_id, service_id, combined
            changed += 1
    session.flush()
    return changed


@dataclass(frozen=True)
class UnmappedName:
    name: str
    years: list[int]
    reports: int


def unmapped_names(session: Session) -> list[UnmappedName]:
    """NCMEC names no alias maps, most reports first."""
    by_name: dict[str, list[NcmecCount]] = defaultdict(list)
    for row in repository.ncmec_counts(session):
        if row.company_id is None:
            by_name[row.esp_name].append(row)
    out = [
        UnmappedName(name, sorted(r.year for r in rows), sum(r.reports for r in rows))
        for name, rows in by_name.items()
    ]
    return sorted(out, key=lambda u: (-u.reports, u.name.casefold()))


def get_company(session: Session, slug: str) -> Company:
    company = repository.company_by_slug(session, slug)
    if company is None:
        raise NotFound(
            f"no company {slug[:80]!r} in the tracker; "
            "list them at GET /v1/accountability/companies",
            company=slug,
        )
    return company


DELETABLE: dict[str, type[Any]] = {
    "commitments": Commitment,
    "disclosures": Disclosure,
    "evidence": Evidence,
    "aliases": Alias,
}


def delete_fact(session: Session, table: str, row_id: int, *, actor: Principal | str) -> None:
    """Delete one commitment, disclosure, evidence row or alias (one event)."""
    model = DELETABLE.get(table)
    if model is None:
        raise NotFound(f"no table {table!r}; deletable: {', '.join(DELETABLE)}")
    if session.get(model, row_id) is None:
        raise NotFound(f"no {table} row {row_id}")
    repository.delete_row(session, model, row_id)
    if model is Alias:
        resolve_ncmec_names(session)
    audit.record(
        session,
        "accountability.fact_deleted",
        actor=actor,
        subject=f"acc_{table}:{row_id}",
        principles=PRINCIPLES,
        payload={"table": table, "id": row_id},
    )
