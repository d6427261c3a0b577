"""Messages per second per core through the text pipeline — normalisation, a 10,000-entry
term list (terms, phrases, hashed terms, regular expressions, URLs and domains) and
conversation scoring over a per-conversation window — against a plain Python ``re``
alternation of the same terms and the rules' patterns on the lower-cased text, in the same
run on the same messages. Writes its section of docs/benchmarks.md.

    python -m benchmarks.text_throughput [--rounds 3]

One process, one core: the figure is messages per second per core. Both wall-clock and
CPU time (``time.process_time``) are reported; on a shared, loaded machine CPU time is the
steadier one.
"""

from __future__ import annotations

import argparse
import os
import re
import time
from collections import deque
from collections.abc import Callable, Sequence

from benchmarks.report import machine_line, write_section
from benchmarks.text_corpus import benign_dialogues, eval_rows, synthetic_entries
from shieldwall.core.text import normalise
from shieldwall.core.text_match import EntryKind, TermMatcher
from shieldwall.textsignals.rules import RuleSet, WindowMessage, default_rules

START = "<!-- text-throughput:start -->"
END = "<!-- text-throughput:end -->"
WINDOW = 50


def messages() -> list[tuple[str, str, str]]:
    """(conversation, sender, text): the benign corpus dialogues with the evaluation set's
    messages as extra conversations of their own."""
    out: list[tuple[str, str, str]] = []
    for n, d in enumerate(benign_dialogues()):
        out.extend((f"d{n}", "ab"[i % 2], text) for i, text in enumerate(d.messages))
    for n, row in enumerate(eval_rows()):
        out.append((f"e{n // 6}", "a", str(row["text"])))
    return out


def shieldwall_pipeline(matcher: TermMatcher, rules: RuleSet) -> Callable[[str, str, str], bool]:
    """The per-message work. Scoring is incremental: a window is scored again only when a
    message with a signal enters it or leaves it (otherwise its score cannot change)."""
    windows: dict[str, tuple[deque[WindowMessage], list[bool]]] = {}

    def run(conversation: str, sender: str, text: str) -> bool:
        norm = normalise(text)
        listed = matcher.match(text, norm=norm)
        hits = rules.detect(text, norm=norm)
        state = windows.get(conversation)
        if state is None:
            state = windows[conversation] = (deque(maxlen=WINDOW), [False])
        window, over = state
        lists = [(h.entry.category, h.entry.severity.value) for h in listed.hits]
        leaving = window[0] if len(window) == WINDOW else None
        message = WindowMessage("m", sender, hits, lists)
        window.append(message)
        if hits or lists or (leaving is not None and (leaving.hits or leaving.list_hits)):
            over[0] = rules.score(window).over_threshold
        return over[0]

    return run


def re_baseline(matcher_terms: Sequence[str], rules: RuleSet) -> Callable[[str, str, str], bool]:
    """One ``re`` alternation of every literal term and phrase, one of every rule pattern,
    both run on ``text.lower()``: no normalisation, no hashed terms, no URLs."""
    terms = re.compile(r"\b(?:" + "|".join(re.escape(t) for t in matcher_terms) + r")\b")
    patterns = re.compile("|".join(f"(?:{p})" for r in rules.data.indicators for p in r.patterns))

    def run(_conversation: str, _sender: str, text: str) -> bool:
        low = text.lower()
        return terms.search(low) is not None or patterns.search(low) is not None

    return run


def measure(
    fn: Callable[[str, str, str], bool], msgs: Sequence[tuple[str, str, str]], rounds: int
) -> tuple[float, float]:
    """(best messages/s by wall clock, best by CPU time)."""
    wall = cpu = 0.0
    for _ in range(rounds):
        w0, c0 = time.perf_counter(), time.process_time()
        for m in msgs:
            fn(*m)
        w, c = time.perf_counter() - w0, time.process_time() - c0
        wall = max(wall, len(msgs) / w)
        cpu = max(cpu, len(msgs) / c)
    return wall, cpu


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--entries", type=int, default=10_000)
    args = parser.parse_args(argv)

    load_before = os.getloadavg()[0]
    entries = synthetic_entries(args.entries)
    t0 = time.perf_counter()
    matcher = TermMatcher(entries)
    build = time.perf_counter() - t0
    rules = default_rules()
    msgs = messages()
    literal = [e.value.lower() for e in entries if e.kind in (EntryKind.TERM, EntryKind.PHRASE)]
    kinds: dict[str, int] = {}
    for e in entries:
        kinds[e.kind.value] = kinds.get(e.kind.value, 0) + 1

    ours = measure(shieldwall_pipeline(matcher, rules), msgs, args.rounds)
    base = measure(re_baseline(literal, rules), msgs, max(1, args.rounds - 1))
    chars = sum(len(m[2]) for m in msgs) / len(msgs)

    lines = [
        START,
        "## Text pipeline throughput (`benchmarks/text_throughput.py`)",
        "",
        machine_line("regex", "pyahocorasick", "confusable-homoglyphs"),
        "",
        f"{len(msgs):,} messages (the benign dialogue corpus plus the evaluation set, mean "
        f"{chars:.0f} characters, 28 languages), one process. Term list: {len(entries):,} "
        f"synthetic entries ({', '.join(f'{v:,} {k}' for k, v in sorted(kinds.items()))}), "
        f"compiled in {build:.2f} s. shieldwall's pipeline per message: normalise once, match "
        "all entries (Aho-Corasick for terms and phrases, n-gram SHA-256 for hashed terms, "
        "literal-prefiltered regexes with a time limit, URL extraction and lookup), detect the "
        f"grooming indicators, score the conversation's window (last {WINDOW} messages; "
        "incrementally: a window is scored again when a message with a signal enters or "
        "leaves it). "
        "Baseline: Python's `re` with one alternation of the same terms and phrases and one of "
        "the rules' patterns, on `text.lower()` (it does less: no normalisation, hashed terms, "
        "URLs or scoring).",
        "",
        "| pipeline | messages/s/core (wall) | messages/s/core (CPU time) |",
        "|---|---|---|",
        f"| shieldwall | {ours[0]:,.0f} | {ours[1]:,.0f} |",
        f"| `re` alternation | {base[0]:,.0f} | {base[1]:,.0f} |",
        f"| ratio | {ours[0] / base[0]:.1f}x | {ours[1] / base[1]:.1f}x |",
        "",
        f"Load average during the run: {load_before:.1f} before, {os.getloadavg()[0]:.1f} "
        f"after, on {os.cpu_count()} cores. When it is above the core count the process gets "
        "only part of a core, and the wall-clock column understates the speed; the CPU-time "
        "column is the time this process actually ran.",
        "",
        "Targets: at least 20,000 messages/s/core and at least 10x the baseline.",
        END,
    ]
    section = "\n".join(lines)
    write_section(START, END, section)
    print(section)


if __name__ == "__main__":
    main()
