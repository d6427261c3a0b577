"""Tables of the industry accountability tracker.

Every fact row carries where it came from (``source_url``), when that source was retrieved
(``retrieved_on``), which imported file or edit put it here (``dataset``) and a ``fact_key``:
the SHA-256 of the fact's natural key, unique, so importing the same file again finds the
row it wrote last time instead of adding a copy.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Date, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from shieldwall.db.base import Base, utcnow

# SQLite only auto-increments INTEGER PRIMARY KEY; PostgreSQL gets 64-bit ids.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class Company(Base):
    """A company (or another organisation that reports to NCMEC, e.g. a nonprofit)."""

    __tablename__ = "acc_companies"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(80), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    note: Mapped[str] = mapped_column(Text, default="")
    dataset: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Service(Base):
    """A service or brand of a company (Meta: Facebook, Instagram, WhatsApp ...)."""

    __tablename__ = "acc_services"

    id: Mapped[int] = mapped_column(primary_key=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("acc_companies.id"), index=True)
    slug: Mapped[str] = mapped_column(String(80), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    note: Mapped[str] = mapped_column(Text, default="")
    dataset: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Alias(Base):
    """A name as some source prints it, mapped to a company and, optionally, one service.

    ``key`` is the name normalised (case folded, spaces collapsed, NCMEC's trailing ``*``
    and stray trailing commas removed); nothing fuzzier. ``combined`` says the source
    lumps several brands together under this name (NCMEC's ``*`` footnote, "Amazon / Twitch").
    """

    __tablename__ = "acc_aliases"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(300), unique=True)
    name: Mapped[str] = mapped_column(String(300))
    company_id: Mapped[int] = mapped_column(ForeignKey("acc_companies.id"), index=True)
    service_id: Mapped[int | None] = mapped_column(ForeignKey("acc_services.id"), default=None)
    combined: Mapped[bool] = mapped_column(default=False)
    note: Mapped[str] = mapped_column(Text, default="")
    dataset: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Commitment(Base):
    """An endorsement of the Voluntary Principles or a membership (Technology Coalition,
    WeProtect Global Alliance, Lantern), with its date and how precise that date is."""

    __tablename__ = "acc_commitments"

    id: Mapped[int] = mapped_column(primary_key=True)
    fact_key: Mapped[str] = mapped_column(String(64), unique=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("acc_companies.id"), index=True)
    kind: Mapped[str] = mapped_column(String(20))  # endorsement | membership
    framework: Mapped[str] = mapped_column(String(120))
    event: Mapped[str] = mapped_column(String(60))  # as written: endorsed, joined, member by
    on_date: Mapped[date] = mapped_column(Date)
    precision: Mapped[str] = mapped_column(String(10))  # day | year
    name_as_written: Mapped[str] = mapped_column(String(300))
    note: Mapped[str] = mapped_column(Text, default="")
    source_url: Mapped[str] = mapped_column(Text)
    retrieved_on: Mapped[date] = mapped_column(Date)
    dataset: Mapped[str] = mapped_column(String(200))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Statement(Base):
    """A published aggregate figure (e.g. "16 companies had endorsed by March 2022")."""

    __tablename__ = "acc_statements"

    id: Mapped[int] = mapped_column(primary_key=True)
    fact_key: Mapped[str] = mapped_column(String(64), unique=True)
    on_date: Mapped[date] = mapped_column(Date)
    framework: Mapped[str] = mapped_column(String(200))
    statement: Mapped[str] = mapped_column(Text)
    value: Mapped[float] = mapped_column(Float)
    source_url: Mapped[str] = mapped_column(Text)
    retrieved_on: Mapped[date] = mapped_column(Date)
    dataset: Mapped[str] = mapped_column(String(200))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Disclosure(Base):
    """One number a company published about its CSEA work for one period, in the company's
    own words (``term``) and mapped onto a small vocabulary (``metric``)."""

    __tablename__ = "acc_disclosures"
    __table_args__ = (Index("ix_acc_disclosures_company_metric", "company_id", "metric"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    fact_key: Mapped[str] = mapped_column(String(64), unique=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("acc_companies.id"))
    service_id: Mapped[int | None] = mapped_column(ForeignKey("acc_services.id"), default=None)
    metric: Mapped[str] = mapped_column(String(40))
    term: Mapped[str] = mapped_column(Text)
    unit: Mapped[str] = mapped_column(String(20))  # count | percent
    value: Mapped[float] = mapped_column(Float)
    rounded_to: Mapped[int | None] = mapped_column(BigInteger, default=None)
    period: Mapped[str] = mapped_column(String(30))  # 2023, 2023-H1, 2023-Q4, 2023-07
    period_start: Mapped[date] = mapped_column(Date)
    period_end: Mapped[date] = mapped_column(Date)
    granularity: Mapped[str] = mapped_column(String(10))  # year | half | quarter | month | other
    primary_source: Mapped[bool] = mapped_column(default=True)
    #: Who compiled the figure: "company" (its own publication), "diaphanous", "shieldwall-report".
    origin: Mapped[str] = mapped_column(String(40), default="company")
    note: Mapped[str] = mapped_column(Text, default="")
    source_url: Mapped[str] = mapped_column(Text)
    retrieved_on: Mapped[date] = mapped_column(Date)
    dataset: Mapped[str] = mapped_column(String(200))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class NcmecCount(Base):
    """One line of NCMEC's "CyberTipline Reports by Electronic Service Provider" table, with
    the name exactly as printed; ``company_id`` is empty until an alias maps the name."""

    __tablename__ = "acc_ncmec_counts"
    __table_args__ = (Index("ix_acc_ncmec_counts_year", "year"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    fact_key: Mapped[str] = mapped_column(String(64), unique=True)
    year: Mapped[int] = mapped_column(Integer)
    line: Mapped[int] = mapped_column(Integer)  # position in the printed table
    esp_name: Mapped[str] = mapped_column(String(300))
    reports: Mapped[int] = mapped_column(BigInteger)
    company_id: Mapped[int | None] = mapped_column(
        ForeignKey("acc_companies.id"), default=None, index=True
    )
    service_id: Mapped[int | None] = mapped_column(ForeignKey("acc_services.id"), default=None)
    combined: Mapped[bool] = mapped_column(default=False)
    source_url: Mapped[str] = mapped_column(Text)
    retrieved_on: Mapped[date] = mapped_column(Date)
    dataset: Mapped[str] = mapped_column(String(200))


class NcmecTotal(Base):
    """All CyberTipline reports NCMEC received in a year, and the ESP subtotal it printed."""

    __tablename__ = "acc_ncmec_totals"

    year: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    total_reports: Mapped[int] = mapped_column(BigInteger)
    esp_reports: Mapped[int | None] = mapped_column(BigInteger, default=None)
    source_url: Mapped[str] = mapped_column(Text)
    retrieved_on: Mapped[date] = mapped_column(Date)
    dataset: Mapped[str] = mapped_column(String(200))


class Evidence(Base):
    """What is known about one company and one principle. No row means "not known"."""

    __tablename__ = "acc_evidence"

    id: Mapped[int] = mapped_column(primary_key=True)
    fact_key: Mapped[str] = mapped_column(String(64), unique=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("acc_companies.id"), index=True)
    principle: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(20))  # in_place | partly | not_in_place | not_known
    quote: Mapped[str] = mapped_column(Text, default="")
    evidence_date: Mapped[date | None] = mapped_column(Date, default=None)
    source_url: Mapped[str] = mapped_column(Text)
    retrieved_on: Mapped[date] = mapped_column(Date)
    dataset: Mapped[str] = mapped_column(String(200))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class ImportRun(Base):
    """One import of one file: what it was, its digest, and what it did."""

    __tablename__ = "acc_imports"

    id: Mapped[int] = mapped_column(primary_key=True)
    dataset: Mapped[str] = mapped_column(String(200), index=True)
    sha256: Mapped[str] = mapped_column(String(64))
    rows: Mapped[int] = mapped_column(Integer)
    added: Mapped[int] = mapped_column(Integer)
    changed: Mapped[int] = mapped_column(Integer)
    unchanged: Mapped[int] = mapped_column(Integer)
    actor: Mapped[str] = mapped_column(String(120))
    imported_at: Mapped[datetime] = mapped_column(default=utcnow)
