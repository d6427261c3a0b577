"""Lookups and verdicts: which bank entries a set of hashes matches, and what to do.

Rules, in order:

1. Exact signals (md5, sha1, sha256, video_md5) match entries with the same value.
2. A PDQ hash matches entries within its bank's ``pdq_threshold``; a query hash below the
   quality floor is reported (``low_quality``) and not matched. Rotated/flipped (dihedral) and
   letterbox-trimmed query variants only count for banks that switched them on.
3. A vPDQ hash matches an entry when the share of (deduplicated, good-quality) query frames
   with a frame within ``vpdq_distance`` reaches ``vpdq_query_pct`` and the share of the
   entry's frames matched reaches ``vpdq_target_pct``.
4. Removed entries, entries disabled until a later time, disabled and deleted banks never
   match.
5. Verdict: a match in an **allow** bank wins (``allow``; the block-bank matches are listed
   in ``suppressed``); otherwise ``block`` if a block bank whose action is ``block`` matched,
   ``review`` if only review-action banks matched, else ``allow``.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.orm import Session

from shieldwall.audit import service as audit
from shieldwall.banks.models import BankEntry
from shieldwall.banks.service import value_key
from shieldwall.core.access import Principal
from shieldwall.core.errors import InvalidInput
from shieldwall.core.hashing import (
    HashOptions,
    MediaError,
    MediaErrorReason,
    MediaHashes,
    hash_bytes,
    vpdq_match,
)
from shieldwall.core.signals import SignalType, VpdqFrame, normalise, parse_vpdq
from shieldwall.db.base import utcnow
from shieldwall.matching.index import BankInfo, MatchIndex
from shieldwall.matching.schemas import HashOut, LookupResult, MatchOut, ScanResult, Verdict

EXACT = {SignalType.MD5, SignalType.SHA1, SignalType.SHA256, SignalType.VIDEO_MD5}
VARIANT_ORIGINAL = "original"
VARIANT_LETTERBOX = "letterbox"
#: Media errors where the file is a valid picture without a usable perceptual hash.
NO_PERCEPTUAL_SIGNAL = frozenset({MediaErrorReason.UNIFORM, MediaErrorReason.TOO_SMALL})
#: python-threatexchange's names for the 7 rotations/flips of an image.
DIHEDRAL_VARIANTS = frozenset(
    {"rotate90", "rotate180", "rotate270", "flipx", "flipy", "flipplus1", "flipminus1"}
)


@dataclass(frozen=True)
class QuerySignal:
    """One hash to look up, already normalised."""

    signal_type: SignalType
    value: str
    quality: int | None = None
    variant: str = VARIANT_ORIGINAL


def query_signals(items: Iterable[tuple[str, str, int | None]]) -> list[QuerySignal]:
    """Validate and normalise caller-supplied (signal_type, value, quality) triples."""
    out = []
    for position, (signal_type, value, quality) in enumerate(items):
        try:
            kind = SignalType(signal_type)
        except ValueError:
            known = ", ".join(s.value for s in SignalType)
            raise InvalidInput(
                f"signals[{position}]: unknown signal_type {signal_type!r}; known: {known}",
                field=f"signals[{position}].signal_type",
            ) from None
        try:
            canonical = normalise(kind, value)
        except InvalidInput as exc:
            raise InvalidInput(
                f"signals[{position}]: {exc.message}", field=f"signals[{position}].value"
            ) from None
        out.append(QuerySignal(kind, canonical, quality))
    return out


class Matcher:
    """Looks hashes up against the database and this process's index."""

    def __init__(self, session: Session, index: MatchIndex, *, quality_floor: int) -> None:
        self.session = session
        self.index = index
        self.quality_floor = quality_floor
        self.banks = index.bank_snapshot()

    def lookup(
        self, signals: Sequence[QuerySignal], *, bank_names: Sequence[str] | None = None
    ) -> LookupResult:
        self.index.require_ready()
        wanted = self._wanted_banks(bank_names)
        hits: dict[int, MatchOut] = {}
        low_quality = False
        for signal in signals:
            if signal.signal_type in EXACT:
                found = self._exact(signal, wanted)
            elif signal.signal_type is SignalType.PDQ:
                if signal.quality is not None and signal.quality < self.quality_floor:
                    low_quality = True
                    continue
                found = self._pdq(signal, wanted)
            else:
                found, was_low = self._vpdq(signal, wanted)
                low_quality = low_quality or was_low
            for match in found:
                best = hits.get(match.entry_id)
                if best is None or match.distance < best.distance:
                    hits[match.entry_id] = match
        return decide(sorted(hits.values(), key=_order), low_quality=low_quality)

    # ---- per signal kind -------------------------------------------------------------------

    def _wanted_banks(self, names: Sequence[str] | None) -> dict[int, BankInfo]:
        active = {i: b for i, b in self.banks.items() if b.active}
        if names is None:
            return active
        by_name = {b.name: b for b in self.banks.values() if not b.deleted}
        unknown = [n for n in names if n not in by_name]
        if unknown:
            raise InvalidInput(f"no bank named {', '.join(unknown)}", field="banks")
        return {by_name[n].id: by_name[n] for n in names if by_name[n].id in active}

    def _live(self, *conditions: ColumnElement[bool]) -> list[BankEntry]:
        """Entries meeting ``conditions`` that can match now: not removed, not disabled."""
        now = utcnow()
        return list(
            self.session.scalars(
                select(BankEntry).where(
                    *conditions,
                    BankEntry.removed_at.is_(None),
                    or_(BankEntry.disabled_until.is_(None), BankEntry.disabled_until <= now),
                )
            )
        )

    def _entries(self, ids: Iterable[int]) -> dict[int, BankEntry]:
        wanted = list(set(ids))
        out: dict[int, BankEntry] = {}
        for start in range(0, len(wanted), 500):
            rows = self._live(BankEntry.id.in_(wanted[start : start + 500]))
            out.update({e.id: e for e in rows})
        return out

    def _exact(self, signal: QuerySignal, wanted: dict[int, BankInfo]) -> list[MatchOut]:
        if not wanted:
            return []
        rows = self._live(
            BankEntry.signal_type == signal.signal_type.value,
            BankEntry.value_key == value_key(signal.signal_type, signal.value),
            BankEntry.bank_id.in_(list(wanted)),
        )
        return [_match(e, wanted[e.bank_id], 0, signal.variant) for e in rows]

    def _pdq(self, signal: QuerySignal, wanted: dict[int, BankInfo]) -> list[MatchOut]:
        banks = [b for b in wanted.values() if _variant_allowed(b, signal.variant)]
        if not banks:
            return []
        radius = max(b.pdq_threshold for b in banks)
        found = self.index.query_pdq(bytes.fromhex(signal.value), radius)
        entries = self._entries(entry_id for entry_id, _ in found)
        out = []
        for entry_id, distance in found:
            entry = entries.get(entry_id)
            if entry is None or entry.bank_id not in wanted:
                continue
            bank = wanted[entry.bank_id]
            if distance <= bank.pdq_threshold and _variant_allowed(bank, signal.variant):
                out.append(_match(entry, bank, distance, signal.variant))
        return out

    def _vpdq(
        self, signal: QuerySignal, wanted: dict[int, BankInfo]
    ) -> tuple[list[MatchOut], bool]:
        query = [f for f in parse_vpdq(signal.value) if f.quality >= self.quality_floor]
        if not query:
            return [], True
        if not wanted:
            return [], False
        radius = max(b.vpdq_distance for b in wanted.values())
        unique = list(dict.fromkeys(f.pdq_hex for f in query))
        candidates = self.index.query_frames([bytes.fromhex(h) for h in unique], radius)
        entries = self._entries(candidates)
        out = []
        for entry in entries.values():
            bank = wanted.get(entry.bank_id)
            if bank is None:
                continue
            target: list[VpdqFrame] = parse_vpdq(entry.value)
            query_pct, target_pct = vpdq_match(
                query, target, distance=bank.vpdq_distance, quality_floor=self.quality_floor
            )
            if query_pct >= bank.vpdq_query_pct and target_pct >= bank.vpdq_target_pct:
                match = _match(entry, bank, 0, signal.variant)
                match.query_match_pct = round(query_pct, 2)
                match.target_match_pct = round(target_pct, 2)
                out.append(match)
        return out, False


def _variant_allowed(bank: BankInfo, variant: str) -> bool:
    """Rotations/flips count only for banks with ``dihedral`` on, trimmed borders only for
    banks with ``letterbox`` on. Other variants are the same picture (animation frames, the
    other EXIF orientation, true-colour pixels) and count everywhere."""
    if variant == VARIANT_LETTERBOX:
        return bank.letterbox
    if variant in DIHEDRAL_VARIANTS:
        return bank.dihedral
    return True


def _match(entry: BankEntry, bank: BankInfo, distance: int, variant: str) -> MatchOut:
    return MatchOut(
        bank=bank.name,
        bank_kind=bank.kind,
        action=bank.action,
        entry_id=entry.id,
        signal_type=entry.signal_type,
        distance=distance,
        labels=list(entry.labels or []),
        source=entry.source,
        source_record_id=entry.source_record_id,
        added_at=entry.added_at,
        query_variant=variant,
    )


def _order(match: MatchOut) -> tuple[int, str, int]:
    return (match.distance, match.bank, match.entry_id)


def decide(matches: list[MatchOut], *, low_quality: bool = False) -> LookupResult:
    """The verdict for a set of matches (allow banks win; see the module docstring)."""
    allow = [m for m in matches if m.bank_kind == "allow"]
    block = [m for m in matches if m.bank_kind != "allow"]
    if allow:
        return LookupResult(
            verdict=Verdict.ALLOW, matches=matches, suppressed=block, low_quality=low_quality
        )
    if any(m.action == "block" for m in block):
        verdict = Verdict.BLOCK
    elif block:
        verdict = Verdict.REVIEW
    else:
        verdict = Verdict.ALLOW
    return LookupResult(verdict=verdict, matches=matches, low_quality=low_quality)


# ---- scanning -------------------------------------------------------------------------------


def hash_options(
    index: MatchIndex, *, quality_floor: int, max_pixels: int, max_bytes: int
) -> HashOptions:
    """Compute rotated/flipped or letterbox variants only when some active bank uses them."""
    banks = [b for b in index.bank_snapshot().values() if b.active]
    return HashOptions(
        dihedral=any(b.dihedral for b in banks),
        letterbox=any(b.letterbox for b in banks),
        quality_floor=quality_floor,
        max_pixels=max_pixels,
        max_bytes=max_bytes,
    )


def signals_of(media: MediaHashes) -> tuple[list[QuerySignal], list[HashOut]]:
    """Query signals and the hashes to report for hashed media."""
    signals: list[QuerySignal] = []
    shown: list[HashOut] = []
    for name, value in media.exact.items():
        signals.append(QuerySignal(SignalType(name), value))
        shown.append(HashOut(signal_type=str(name), value=value))
    for pdq in media.pdq:
        signals.append(QuerySignal(SignalType.PDQ, pdq.hex, pdq.quality, pdq.variant))
        shown.append(
            HashOut(
                signal_type="pdq",
                value=pdq.hex,
                quality=pdq.quality,
                low_quality=pdq.is_low_quality(media.quality_floor),
                variant=pdq.variant,
            )
        )
    if media.vpdq is not None:
        signals.append(QuerySignal(SignalType.VPDQ, media.vpdq))
        shown.append(HashOut(signal_type="vpdq", value=media.vpdq))
    return signals, shown


def scan_media(
    matcher: Matcher,
    data: bytes,
    *,
    declared_type: str | None,
    options: HashOptions,
    bank_names: Sequence[str] | None,
) -> ScanResult:
    try:
        media = hash_bytes(data, declared_type=declared_type, options=options)
    except MediaError as exc:
        if exc.reason not in NO_PERCEPTUAL_SIGNAL or exc.exact is None:
            raise
        # A valid picture with nothing for PDQ to see (one colour, a few pixels): its
        # perceptual hash is worthless, but exact hashes still apply.
        exact = {
            SignalType.MD5.value: exc.exact.md5,
            SignalType.SHA1.value: exc.exact.sha1,
            SignalType.SHA256.value: exc.exact.sha256,
        }
        signals = [QuerySignal(SignalType(k), v) for k, v in exact.items()]
        low = matcher.lookup(signals, bank_names=bank_names)
        return ScanResult(
            scan_id=uuid.uuid4().hex,
            media_kind="photo",
            hashes=[HashOut(signal_type=k, value=v) for k, v in exact.items()],
            **{**dict(low), "low_quality": True},
        )
    signals, shown = signals_of(media)
    result = matcher.lookup(signals, bank_names=bank_names)
    return ScanResult(
        scan_id=uuid.uuid4().hex,
        media_kind=str(media.kind),
        hashes=shown,
        **dict(result),
    )


def scan_hashes(
    matcher: Matcher, signals: Sequence[QuerySignal], *, bank_names: Sequence[str] | None
) -> ScanResult:
    result = matcher.lookup(signals, bank_names=bank_names)
    shown = [
        HashOut(signal_type=s.signal_type.value, value=s.value, quality=s.quality) for s in signals
    ]
    return ScanResult(scan_id=uuid.uuid4().hex, media_kind="hashes", hashes=shown, **dict(result))


def _match_keys(result: ScanResult) -> list[dict[str, Any]]:
    """Matches counted by (bank, signal type, labels): names and counts, never hashes."""
    counts: dict[tuple[str, str, tuple[str, ...]], int] = {}
    for m in result.matches:
        key = (m.bank, m.signal_type, tuple(sorted(m.labels)))
        counts[key] = counts.get(key, 0) + 1
    return [
        {"bank": b, "signal_type": s, "labels": list(labels), "count": n}
        for (b, s, labels), n in sorted(counts.items())
    ][:50]


def record_scan(session: Session, result: ScanResult, *, actor: Principal, source: str) -> None:
    """One event per scan: ids and counts only, never the hashes or the content."""
    payload: dict[str, Any] = {
        "source": source,
        "media_kind": result.media_kind,
        "verdict": result.verdict.value,
        "matches": len(result.matches),
        "suppressed": len(result.suppressed),
        "entries": sorted({m.entry_id for m in result.matches})[:50],
        "banks": sorted({m.bank for m in result.matches}),
        "signal_types": sorted({h.signal_type for h in result.hashes}),
        "low_quality": result.low_quality,
        # per (bank, signal type, labels): how many matches; for the transparency report
        "match_keys": _match_keys(result),
    }
    audit.record(
        session,
        "scan.completed",
        actor=actor,
        subject=f"scan:{result.scan_id}",
        principles=[1],
        payload=payload,
    )
