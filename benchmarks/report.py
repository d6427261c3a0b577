"""What every benchmark shares: the machine line and writing its section of
docs/benchmarks.md between its own markers."""

from __future__ import annotations

import datetime as dt
import os
import platform
from importlib import metadata
from pathlib import Path

DOC = Path(__file__).resolve().parents[1] / "docs" / "benchmarks.md"
HEADER = """# Benchmarks

Each section below was written by the benchmark named in it (`make bench` runs them all),
comparing shieldwall with the named peer in the same run on the same machine. Machines here
are shared and noisy: read the ratios, not the absolute times.
"""


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def versions(*packages: str) -> str:
    found = []
    for name in packages:
        try:
            found.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            continue
    return ", ".join(found)


def machine_line(*packages: str) -> str:
    today = dt.date.today().isoformat()
    libs = versions("shieldwall", *packages)
    return (
        f"Run {today} on {os.cpu_count()} cores ({cpu_model()}), Python "
        f"{platform.python_version()}; {libs}."
    )


def write_section(start: str, end: str, section: str) -> None:
    """Replace the text between ``start`` and ``end`` (markers included) with ``section``."""
    DOC.parent.mkdir(exist_ok=True)
    text = DOC.read_text() if DOC.exists() else HEADER
    if start in text and end in text:
        head, rest = text.split(start, 1)
        text = head + section + rest.split(end, 1)[1]
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    DOC.write_text(text)
