"""``shieldwall text`` (check a text, purge old messages, hash a term) and ``shieldwall
terms`` (term and URL lists: create, list, import, export, delete)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from shieldwall.cli.console import load, note, open_database, out, validated, when
from shieldwall.cli.files import open_input_file, read_input_file, writing
from shieldwall.core.access import Principal
from shieldwall.core.errors import InvalidInput
from shieldwall.core.text import normalise, sanitise, term_hash
from shieldwall.core.text_match import TermMatcher
from shieldwall.core.text_urls import extract_urls
from shieldwall.textsignals import conversations, io, repository, service
from shieldwall.textsignals.matching import build_matcher, match_out, search_decision
from shieldwall.textsignals.rules import WindowMessage
from shieldwall.textsignals.schemas import FileFormat, TermListCreate

ACTOR = Principal.system("cli")
text_app = typer.Typer(
    help="Check texts as shieldwall sees them; purge conversation texts past retention.",
    no_args_is_help=True,
)
terms_app = typer.Typer(
    help=(
        "Term and URL lists (terms, phrases, regular expressions, hashed terms, URLs, domains) "
        "used by search checks, post checks and conversations. Changes are events by "
        "`system:cli`."
    ),
    no_args_is_help=True,
)
ListName = Annotated[str, typer.Argument(help="The list's name.")]
SHOWN_REJECTIONS = 20


def _read(text: str | None, file: Path | None, limit: int) -> str:
    if file is not None:
        return sanitise(read_input_file(file, limit).decode("utf-8", "replace"))
    if text is None or text == "-":
        return sanitise(sys.stdin.read())
    return sanitise(text)


@text_app.command("check")
def check(
    text: Annotated[
        str | None, typer.Argument(help="The text; '-' or nothing reads stdin.")
    ] = None,
    file: Annotated[
        Path | None, typer.Option(exists=True, dir_okay=False, help="Read the text from a file.")
    ] = None,
    offline: Annotated[
        bool, typer.Option(help="Use no database: grooming rules and URL extraction only.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Show how shieldwall reads a text: its normalised form, term-list matches (with their
    spans), URLs, grooming indicators and, as if it were a search query, the decision.

    Examples:

        shieldwall text check "hey, how old r u? add me on snap"
        echo "some post" | shieldwall text check --json
    """
    settings = load()
    body = _read(text, file, settings.max_body_bytes)
    rules = conversations.rules_for(settings)
    if offline:
        matcher = TermMatcher(())
    else:
        with open_database(settings) as db, db.session() as session:
            matcher = build_matcher(session, regex_timeout=settings.text_regex_timeout_ms / 1000)
    norm = normalise(body)
    result = matcher.match(body, norm=norm)
    hits = rules.detect(body, norm=norm)
    scored = rules.score([WindowMessage("text", "sender", hits)])
    report: dict[str, Any] = {
        "normalised": norm,
        "matches": [m.model_dump(mode="json") for m in match_out(result.hits)],
        "regex_timed_out": result.timed_out,
        "urls": [key for _raw, key in extract_urls(body)],
        "indicators": [
            {
                "indicator": h.indicator,
                "start": h.start,
                "end": h.end,
                "excerpt": body[h.start : h.end],
            }
            for h in hits
        ],
        "score_alone": scored.score,
        "threshold": conversations.threshold_of(settings, rules),
        "rules_version": rules.version,
        "search_decision": search_decision(result, settings).value,
    }
    if as_json:
        typer.echo(json.dumps(report, ensure_ascii=False, indent=2))
        return
    console = out()
    console.print(f"normalised: [bold]{norm}[/bold]", markup=True, highlight=False)
    for m in report["matches"]:
        console.print(
            f"match: list {m['list']} entry {m['entry_id']} ({m['kind']}, {m['category']}, "
            f"{m['severity']}) at {m['start']}-{m['end']}: {body[m['start'] : m['end']]!r}",
            markup=False,
        )
    for i in report["indicators"]:
        console.print(
            f"indicator: {i['indicator']} at {i['start']}-{i['end']}: {i['excerpt']!r}",
            markup=False,
        )
    for key in report["urls"]:
        console.print(f"url: {key}", markup=False)
    console.print(
        f"score alone {report['score_alone']} (threshold {report['threshold']}, rules "
        f"{report['rules_version']}); as a search: {report['search_decision']}",
        markup=False,
    )


@text_app.command("purge")
def purge() -> None:
    """Delete conversation texts older than conversation_retention_hours that no case keeps."""
    settings = load()
    with open_database(settings) as db, db.session() as session:
        deleted = conversations.purge_expired(session, settings)
    note(f"deleted {deleted:,} message text(s)", style="green")


@text_app.command("hash")
def hash_term(term: Annotated[str, typer.Argument(help="A term or phrase.")]) -> None:
    """Print the SHA-256 of a normalised term: how hashed list entries are written."""
    clean = sanitise(term)
    if not normalise(clean).strip():  # the hash of "" would match nothing anyone typed
        raise InvalidInput("the term is empty; give the word or phrase to hash", field="term")
    typer.echo(term_hash(clean))


# ---- terms ---------------------------------------------------------------------------------


@terms_app.command("create")
def create(
    name: ListName,
    description: Annotated[str, typer.Option(help="What the list holds and where from.")] = "",
) -> None:
    """Create an (empty) term list."""
    data = validated(TermListCreate, name=name, description=description)
    settings = load()
    with open_database(settings) as db, db.session() as session:
        created = service.create_list(session, data, actor=ACTOR)
        note(f"created term list {created.name} (id {created.id})", style="green")


@terms_app.command("list")
def list_lists() -> None:
    """List term lists with their entry counts."""
    settings = load()
    with open_database(settings) as db, db.session() as session:
        lists = service.describe(session, repository.list_lists(session))
    table = Table(title=f"{len(lists)} term list(s)")
    for column in ("name", "enabled", "entries", "version", "created", "description"):
        table.add_column(column, overflow="fold")
    for t in lists:
        table.add_row(
            t.name,
            "yes" if t.enabled else "no",
            f"{t.entries:,}",
            str(t.version),
            when(t.created_at),
            t.description,
        )
    out().print(table)


@terms_app.command("import")
def import_file(
    name: ListName,
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)],
    format: Annotated[str, typer.Option(help="auto (by extension), csv or jsonl.")] = "auto",
    create: Annotated[bool, typer.Option(help="Create the list if it does not exist.")] = False,
) -> None:
    """Import a CSV or JSON Lines file of entries.

    Columns/keys: kind (term, phrase, regex, hashed, url, domain), value, category
    (csam_seeking, solicitation, advertising, grooming_indicator, sextortion, csam_url),
    severity (low, medium, high), language, word_count (hashed phrases), source_record_id.
    Malformed lines are listed with their line numbers and skipped; an unreadable file or
    too many rejected lines import nothing (exit status 2).

    Example:

        shieldwall terms import SEARCH_TERMS terms.csv --create
    """
    fmt = io.resolve_format(format, file.name)
    settings = load()
    with (
        open_input_file(file, "term file") as (stream, _size),
        open_database(settings) as db,
        db.session() as session,
    ):
        if create and repository.get_list(session, name) is None:
            service.create_list(session, validated(TermListCreate, name=name), actor=ACTOR)
        report = io.import_entries(
            session,
            name,
            stream,
            fmt,
            actor=ACTOR,
            max_bytes=settings.import_max_bytes,
            max_rejected=settings.import_max_rejected,
        )
    note(
        f"{report.term_list}: {report.added:,} added, {report.duplicates:,} duplicate(s), "
        f"{report.rejected:,} rejected ({report.lines:,} lines)",
        style="green" if not report.rejected else "",
    )
    for rejection in report.rejections[:SHOWN_REJECTIONS]:
        note(f"  line {rejection.line}: {rejection.reason}", style="yellow")
    if report.rejected > SHOWN_REJECTIONS:
        note(f"  ... and {report.rejected - SHOWN_REJECTIONS:,} more", style="yellow")


@terms_app.command("export")
def export(
    name: ListName,
    format: Annotated[FileFormat, typer.Option(help="csv or jsonl.")] = FileFormat.CSV,
    output: Annotated[
        Path | None, typer.Option("-o", "--output", help="File; default stdout.")
    ] = None,
) -> None:
    """Write a list's entries in the import format."""
    settings = load()
    with open_database(settings) as db, db.session() as session:
        chunks = list(io.export_entries(session, name, format))
    data = "".join(chunks)
    if output is None:
        sys.stdout.write(data)
    else:
        with writing(output) as fh:
            fh.write(data.encode("utf-8"))
        note(f"wrote {output}", style="green")


@terms_app.command("delete")
def delete(
    name: ListName,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask.")] = False,
) -> None:
    """Delete a list and its entries."""
    if not yes:
        typer.confirm(f"delete term list {name} and all its entries?", abort=True)
    settings = load()
    with open_database(settings) as db, db.session() as session:
        removed = service.delete_list(session, name, actor=ACTOR)
    note(f"deleted term list {name} ({removed:,} entries)", style="green")
