"""What the public pages and the JSON API show: the survivors' questions answered from the
tracker's rows, and one company's page. Plain dictionaries, the same for HTML and JSON.

Every answer carries its number or list, its sources and the date it is "as of"; an answer
the rows cannot give says "not known", never "no".
"""

from __future__ import annotations

from collections import Counter
from datetime import date
from typing import Any

from sqlalchemy.orm import Session

from shieldwall.accountability import analysis, repository, service
from shieldwall.accountability.schemas import METRIC_LABELS, STATUS_LABELS, EvidenceStatus
from shieldwall.core.principles import PRINCIPLES

OECD = "OECD benchmark"


def _iso(value: date | None) -> str | None:
    return value.isoformat() if value else None


def _statement(adoption: analysis.Adoption, framework: str, startswith: str) -> Any:
    for side in adoption.statements:
        s = side.statement
        if s.framework == framework and s.statement.lower().startswith(startswith):
            return s
    return None


def _stated(s: Any) -> dict[str, Any] | None:
    if s is None:
        return None
    value = int(s.value) if float(s.value).is_integer() else s.value
    return {"value": value, "statement": s.statement, "date": s.on_date.isoformat(),
            "source": s.source_url}  # fmt: skip


def front_page(session: Session, tolerance: float) -> dict[str, Any]:
    adoption = analysis.adoption(session)
    volumes = analysis.volumes(session)
    audit = analysis.audit(session, tolerance)
    coverage = analysis.coverage(session)
    evidence = repository.evidence(session)
    latest = max(volumes.years, default=None)
    endorser_ids = {c.id for c, _ in adoption.endorsements}
    endorsement_sources = sorted({c.source_url for _, c in adoption.endorsements})
    as_of = _iso(adoption.as_of)

    q1 = {
        "id": "endorsers",
        "question": "Which companies have endorsed the Voluntary Principles?",
        "number": len(endorser_ids),
        "answer": f"{len(endorser_ids)} companies are named as endorsers in the tracker's "
        "sources (the launch endorsers).",
        "list": [
            {
                "company": c.name,
                "slug": c.slug,
                "date": cm.on_date.isoformat(),
                "source": cm.source_url,
            }
            for c, cm in adoption.endorsements
        ],
        "published": _stated(_statement(adoption, "Voluntary Principles", "companies that had")),
        "caveat": "Later endorsers are not named in any source the tracker holds; a company "
        "missing here is 'not known', not 'did not endorse'.",
        "sources": endorsement_sources,
        "as_of": as_of,
    }
    members = adoption.members
    q2 = {
        "id": "coalition",
        "question": "How many members of the Technology Coalition have endorsed them?",
        "number": len(adoption.members_endorsed),
        "answer": f"{len(adoption.members_endorsed)} of the {len(members)} members named in "
        f"the tracker's sources have a known endorsement; for {len(adoption.members_not_known)} "
        "it is not known.",
        "list": [
            {
                "company": m.company.name,
                "slug": m.company.slug,
                "member_since": m.joined.on_date.isoformat(),
                "precision": m.joined.precision,
                "endorsed": m.endorsement.on_date.isoformat() if m.endorsement else "not known",
            }
            for m in members
        ],
        "published": _stated(
            _statement(adoption, "Voluntary Principles", "technology coalition members")
        ),
        "sources": sorted({m.joined.source_url for m in members}),
        "as_of": as_of,
    }
    by_company: dict[int, Counter[str]] = {}
    for e in evidence:
        by_company.setdefault(e.company_id, Counter())[e.status] += 1
    disclosed = {c.company.id: sorted(c.metrics) for c in coverage}
    endorser_disclosures = [
        d for d in repository.disclosures(session) if d.company_id in endorser_ids
    ]
    q3_list: list[dict[str, Any]] = []
    for company, _c in adoption.endorsements:
        tally = by_company.get(company.id, Counter())
        principles = {
            STATUS_LABELS[s]: tally.get(s, 0)
            for s in (EvidenceStatus.IN_PLACE, EvidenceStatus.PARTLY, EvidenceStatus.NOT_IN_PLACE)
        }
        principles["not known"] = 11 - sum(principles.values())
        q3_list.append(
            {
                "company": company.name,
                "slug": company.slug,
                "principles": principles,
                "discloses": [METRIC_LABELS.get(m, m) for m in disclosed.get(company.id, [])],
            }
        )
    with_evidence = sum(1 for row in q3_list if row["principles"]["not known"] < 11)
    q3 = {
        "id": "changes",
        "question": "What has each endorser actually changed?",
        "number": with_evidence,
        "answer": f"Principle-by-principle evidence is recorded for {with_evidence} of "
        f"{len(q3_list)} endorsers; everything else is 'not known' until a source shows it.",
        "list": q3_list,
        "sources": sorted(
            {e.source_url for e in evidence if e.company_id in endorser_ids}
            | set(endorsement_sources)
            | {d.source_url for d in endorser_disclosures}
        ),
        "as_of": _iso(max((e.retrieved_on for e in evidence), default=None)) or as_of,
    }
    counts = audit.counts()
    disclosing = [c for c in coverage if c.metrics]
    q4 = {
        "id": "evidence",
        "question": "Where is the evidence of progress and effectiveness?",
        "number": len(disclosing),
        "answer": f"{len(disclosing)} companies in the tracker publish CSEA figures. Checked "
        f"against NCMEC, {counts['consistent']} report CyberTipline counts that are consistent, "
        f"{counts['inconsistent']} inconsistent, and for {counts['not_comparable']} the numbers "
        "cannot be compared.",
        "audit": counts,
        "list": [
            {
                "company": c.company.name,
                "slug": c.company.slug,
                "metrics": [METRIC_LABELS.get(m, m) for m in c.metrics],
                "periods": sorted({p for ps in c.metrics.values() for p in ps})[-1:],
            }
            for c in disclosing
        ],
        "published": [
            _stated(s.statement) for s in adoption.statements if s.statement.framework == OECD
        ],
        "sources": sorted(
            {s.statement.source_url for s in adoption.statements if s.statement.framework == OECD}
        ),
        "as_of": as_of,
    }
    q5 = _non_signers(session, volumes, endorser_ids, latest)
    return {
        "loaded": repository.fact_count(session) > 0,
        "questions": [q1, q2, q3, q4, q5],
        "audit": counts,
        "tolerance": tolerance,
        "latest_ncmec_year": latest,
        "unmapped_names": len(service.unmapped_names(session)),
    }


def _non_signers(
    session: Session, volumes: analysis.Volumes, endorser_ids: set[int], latest: int | None
) -> dict[str, Any]:
    if latest is None:
        return {
            "id": "non-signers",
            "question": "What happens to the hundreds of companies that have not signed?",
            "number": None,
            "answer": "Not known: no NCMEC counts are loaded.",
            "list": [],
            "sources": [],
            "as_of": None,
        }
    lines = [r for r in repository.ncmec_counts(session) if r.year == latest]
    total = volumes.esp_totals.get(latest, 0)
    endorsed = sum(r.reports for r in lines if r.company_id in endorser_ids)
    others = [v for v in volumes.companies if v.company.id not in endorser_ids
              and latest in v.by_year]  # fmt: skip
    share = endorsed / total if total else 0
    return {
        "id": "non-signers",
        "question": "What happens to the hundreds of companies that have not signed?",
        "number": len(lines),
        "answer": f"NCMEC lists {len(lines)} reporting services for {latest}. Companies with a "
        f"known endorsement sent {share:.1%} of those reports; for the rest the tracker has no "
        "endorsement on record ('not known'), and nothing obliges them to report or to publish.",
        "list": [
            {"company": v.company.name, "slug": v.company.slug, "reports": v.by_year[latest]}
            for v in others[:15]
        ],
        "unmapped_lines": sum(1 for r in lines if r.company_id is None),
        "sources": sorted({r.source_url for r in lines}),
        "as_of": f"{latest}-12-31",
    }


def company_page(session: Session, slug: str, tolerance: float) -> dict[str, Any]:
    company = service.get_company(session, slug)
    services = [s for s in repository.services(session) if s.company_id == company.id]
    service_names = {s.id: s.name for s in services}
    evidence = {e.principle: e for e in repository.evidence(session, company.id)}
    principles = []
    for p in PRINCIPLES:
        e = evidence.get(p.number)
        principles.append({
            "number": p.number, "short_name": p.short_name,
            "status": STATUS_LABELS[e.status] if e else STATUS_LABELS[EvidenceStatus.NOT_KNOWN],
            "quote": e.quote if e else "", "source": e.source_url if e else None,
            "date": _iso(e.evidence_date) if e else None,
            "retrieved_on": _iso(e.retrieved_on) if e else None,
        })  # fmt: skip
    audit = analysis.audit(session, tolerance, company.id).companies
    result = audit[0][1] if audit else None
    return {
        "company": {"slug": company.slug, "name": company.name, "note": company.note},
        "services": [{"slug": s.slug, "name": s.name} for s in services],
        "aliases": [a.name for a in repository.aliases(session) if a.company_id == company.id],
        "commitments": [
            {
                "kind": c.kind,
                "framework": c.framework,
                "event": c.event,
                "date": c.on_date.isoformat(),
                "precision": c.precision,
                "source": c.source_url,
                "retrieved_on": c.retrieved_on.isoformat(),
            }
            for c in repository.commitments(session, company.id)
        ],
        "principles": principles,
        "disclosures": [
            {
                "id": d.id,
                "service": service_names.get(d.service_id or 0),
                "metric": d.metric,
                "term": d.term,
                "unit": d.unit,
                "value": d.value,
                "period": d.period,
                "primary": d.primary_source,
                "origin": d.origin,
                "note": d.note,
                "source": d.source_url,
                "retrieved_on": d.retrieved_on.isoformat(),
            }
            for d in analysis.best(repository.disclosures(session, company.id))
        ],
        "ncmec": [
            {
                "year": r.year,
                "esp_name": r.esp_name,
                "reports": r.reports,
                "service": service_names.get(r.service_id or 0),
                "combined": r.combined,
                "source": r.source_url,
            }
            for r in repository.ncmec_counts(session, company.id)
        ],
        "audit": {
            "verdict": result.verdict if result else "not_comparable",
            "reason": result.reason if result else "nothing to compare",
            "comparisons": [
                {
                    "year": c.year,
                    "scope": c.scope,
                    "self_reported": c.self_reported,
                    "ncmec": c.ncmec,
                    "relative_difference": c.relative_difference,
                    "verdict": c.verdict,
                    "reason": c.reason,
                    "periods": list(c.periods),
                    "ncmec_names": list(c.ncmec_names),
                }
                for c in (result.comparisons if result else ())
            ],
            "tolerance": tolerance,
        },
    }
