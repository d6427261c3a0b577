"""Side-by-side benchmark: shieldwall's PDQ hashing against python-threatexchange's.

    python -m benchmarks.hashing [--quick]

For small (256 px), 1024 px and 3000 px JPEGs (benign synthetic photos: gradients, noise and
shapes, saved at quality 90) it measures, in one process and one thread, decode included:

* pytx ``pdq_from_bytes`` (the peer),
* shieldwall's reference path (``REFERENCE_OPTIONS``: bit-identical to pytx),
* shieldwall's fast path (the default ``HashOptions()``),
* ``hash_bytes`` with the defaults (fast PDQ + type sniffing + MD5/SHA-1/SHA-256),
* the 8 rotations/flips: pytx's ``PhotoContent.all_simple_rotations`` hashed with
  ``pdq_from_bytes`` (what ``--photo-preprocess=rotations`` does; the peer for these rows)
  against ``hash_bytes`` with ``dihedral=True`` (the default ``transpose`` method, and
  ``dct``).

The implementations take turns, several rounds each; the best round counts (the machine is
shared). Rates are images per CPU-second of this single thread (= per core) and per
wall-clock second. It then measures the fast path's Hamming distance from the reference
path on every shared reference image, and on those photos upscaled to 3200-4200 px, and
checks how near the rotation/flip variants come to the upright picture for turned uploads of
common sizes, which everyday edits (``EDITS``) a match survives, and writes everything to
docs/benchmarks.md between the hashing markers.
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageEnhance, ImageFilter

from benchmarks.report import machine_line, write_section
from shieldwall.core.hashing import REFERENCE_OPTIONS, DihedralMethod, HashOptions, hash_bytes
from shieldwall.core.hashing._photo import hash_photo

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data" / "pdq-reference"
START, END = "<!-- bench:hashing:start -->", "<!-- bench:hashing:end -->"
SIZES = {"small": (256, 192), "1024 px": (1024, 768), "3000 px": (3000, 2000)}
FAST = HashOptions()
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp")


def synthetic_photo(width: int, height: int, seed: int) -> bytes:
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    base = np.stack(
        [
            255 * x / (width - 1),
            255 * y / (height - 1),
            127 + 100 * np.sin((x + y) / max(width, height) * 6.0),
        ],
        axis=2,
    )
    base += rng.normal(0, 12, base.shape)
    image = Image.fromarray(np.clip(base, 0, 255).astype(np.uint8), "RGB")
    draw = ImageDraw.Draw(image)
    for _ in range(12):
        cx, cy = int(rng.integers(0, width)), int(rng.integers(0, height))
        r = int(rng.integers(width // 20, width // 5))
        colour = tuple(int(v) for v in rng.integers(0, 256, 3))
        draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=colour)
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


ROTATIONS_PEER = "pytx 8 rotations (all_simple_rotations + pdq_from_bytes)"
TRANSPOSE = HashOptions(dihedral=True, dihedral_method=DihedralMethod.TRANSPOSE)
DCT = HashOptions(dihedral=True, dihedral_method=DihedralMethod.DCT)
DIHEDRAL_ROWS = {
    "shieldwall hash_bytes dihedral (transpose, the default)": TRANSPOSE,
    "shieldwall hash_bytes dihedral (dct)": DCT,
}


def pytx_rotations(data: bytes) -> list[tuple[str, int]]:
    from threatexchange.content_type.photo import PhotoContent
    from threatexchange.signal_type.pdq.pdq_hasher import pdq_from_bytes

    return [pdq_from_bytes(turned) for turned in PhotoContent.all_simple_rotations(data).values()]


def _implementations() -> dict[str, Callable[[bytes], object]]:
    from threatexchange.signal_type.pdq.pdq_hasher import pdq_from_bytes

    impls: dict[str, Callable[[bytes], object]] = {
        "pytx pdq_from_bytes": pdq_from_bytes,
        "shieldwall reference": lambda d: hash_photo(d, "jpeg", REFERENCE_OPTIONS),
        "shieldwall fast": lambda d: hash_photo(d, "jpeg", FAST),
        "shieldwall hash_bytes (fast, + exact hashes)": hash_bytes,
        ROTATIONS_PEER: pytx_rotations,
    }
    for name, options in DIHEDRAL_ROWS.items():
        impls[name] = partial(hash_bytes, options=options)
    return impls


def _round(fn: Callable[[bytes], object], images: list[bytes], repeat: int) -> tuple[float, float]:
    """(images per CPU-second, images per wall second) over ``repeat`` passes."""
    cpu, wall = time.thread_time(), time.perf_counter()
    for _ in range(repeat):
        for data in images:
            fn(data)
    count = repeat * len(images)
    return count / (time.thread_time() - cpu), count / (time.perf_counter() - wall)


def measure_speed(quick: bool) -> dict[str, dict[str, tuple[float, float]]]:
    impls = _implementations()
    plan = {"small": (4, 25), "1024 px": (3, 4), "3000 px": (2, 2)}
    rounds = 2 if quick else 4
    results: dict[str, dict[str, tuple[float, float]]] = {}
    for label, (count, repeat) in plan.items():
        width, height = SIZES[label]
        images = [synthetic_photo(width, height, seed) for seed in range(count)]
        if quick:
            repeat = max(1, repeat // 2)
        best: dict[str, tuple[float, float]] = {name: (0.0, 0.0) for name in impls}
        for fn in impls.values():  # warm up imports and caches
            fn(images[0])
        for _ in range(rounds):
            for name, fn in impls.items():
                cpu_rate, wall_rate = _round(fn, images, repeat)
                best[name] = (max(best[name][0], cpu_rate), max(best[name][1], wall_rate))
        results[label] = best
        print(f"{label}: " + ", ".join(f"{n} {r[0]:.1f}/s" for n, r in best.items()))
    return results


def _distance(a: str, b: str) -> int:
    return (int(a, 16) ^ int(b, 16)).bit_count()


def _pdq(data: bytes, options: HashOptions) -> tuple[str, int]:
    result = hash_bytes(data, options=options).primary_pdq
    assert result is not None
    assert result.quality is not None
    return result.hex, result.quality


def measure_tolerance(quick: bool) -> dict[str, object]:
    if not SHARED.is_dir():
        return {"missing": str(SHARED)}
    files = sorted(p for p in SHARED.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
    shared = []
    for path in files:
        data = path.read_bytes()
        (ref, quality), (fast, _) = _pdq(data, REFERENCE_OPTIONS), _pdq(data, FAST)
        if quality >= 80:
            shared.append((_distance(ref, fast), str(path.relative_to(SHARED))))
    sources = sorted((SHARED / "reg-test-input/dih").glob("*.jpg"))
    sources += sorted((SHARED / "bridge-mods").glob("*.jpg"))[:7]
    sources += [SHARED / "misc-images/c.png", SHARED / "reg-test-input/pen-and-coaster.png"]
    scales = (2.0,) if quick else (2.0, 2.6)
    upscaled: list[tuple[int, int, int]] = []  # fast-ref, ref-original, fast-original
    for path in sources:
        original, _ = _pdq(path.read_bytes(), REFERENCE_OPTIONS)
        image = Image.open(path).convert("RGB")
        for scale in scales:
            size = (int(image.width * scale), int(image.height * scale))
            buffer = io.BytesIO()
            image.resize(size, Image.Resampling.LANCZOS).save(buffer, "JPEG", quality=92)
            data = buffer.getvalue()
            (ref, quality), (fast, _) = _pdq(data, REFERENCE_OPTIONS), _pdq(data, FAST)
            if quality >= 80:
                upscaled.append(
                    (_distance(ref, fast), _distance(ref, original), _distance(fast, original))
                )
    worst = max(shared)
    return {
        "shared": [d for d, _ in shared],
        "worst": worst,
        "upscaled": upscaled,
        "upscaled_sizes": f"{len(sources)} photos x {len(scales)} scales",
    }


def _rate(value: tuple[float, float]) -> str:
    return f"{value[0]:,.1f} ({value[1]:,.1f})"


def _row(label: str, values: list[int]) -> str:
    return (
        f"| {label} | {len(values)} | {max(values)} | {statistics.fmean(values):.2f} | "
        f"{sum(d <= 10 for d in values)}/{len(values)} |"
    )


def _photos(quick: bool, *more: Path) -> list[Path]:
    """The shared data's photos the turned and edited uploads are made from."""
    photos = sorted((SHARED / "reg-test-input/labelme-subset").glob("*.jpg"))
    photos += [*more, SHARED / "misc-images/b.jpg", SHARED / "reg-test-input/pen-and-coaster.png"]
    return photos[-3:] if quick else photos


TURNED_SIZES = (256, 300, 512, 1024)


def measure_turned(quick: bool) -> dict[str, list[int]]:
    """For photos resized to each of ``TURNED_SIZES`` (square): the upright picture's PDQ
    against the nearest variant each method makes of its 7 rotations/flips, each re-saved
    as a JPEG (quality 90) as an upload would be."""
    if not SHARED.is_dir():
        return {}
    out: dict[str, list[int]] = {"pytx rotations": [], "transpose": [], "dct": []}
    for path in _photos(quick):
        picture = Image.open(path).convert("RGB")
        for size in TURNED_SIZES:
            upright = picture.resize((size, size))
            target, quality = _pdq(_jpeg(upright, 95), FAST)
            if quality < 80:
                continue
            for turn in list(Image.Transpose)[:7]:
                data = _jpeg(upright.transpose(turn), 90)
                out["pytx rotations"].append(
                    min(_distance(target, h) for h, _ in pytx_rotations(data))
                )
                for label, options in (("transpose", TRANSPOSE), ("dct", DCT)):
                    found = hash_bytes(data, options=options).pdq
                    out[label].append(min(_distance(target, v.hex) for v in found))
    return out


def _bars(picture: Image.Image, colour: tuple[int, int, int], quality: int) -> bytes:
    """``picture`` inside bars of ``colour`` 12% of its size on every side."""
    width, height = picture.size
    across, down = int(width * 0.12), int(height * 0.12)
    framed = Image.new("RGB", (width + 2 * across, height + 2 * down), colour)
    framed.paste(picture, (across, down))
    return _jpeg(framed, quality)


def _crop(picture: Image.Image, share: float) -> bytes:
    width, height = picture.size
    x, y = int(width * share), int(height * share)
    return _jpeg(picture.crop((x, y, width - x, height - y)), 90)


def _caption(picture: Image.Image) -> bytes:
    marked = picture.copy()
    width, height = marked.size
    ImageDraw.Draw(marked).rectangle((0, int(height * 0.85), width, height), fill=(255, 255, 255))
    return _jpeg(marked, 90)


#: Everyday edits of an upload, each made from the picture and saved as a JPEG.
EDITS: dict[str, Callable[[Image.Image], bytes]] = {
    "re-saved at JPEG quality 30": lambda p: _jpeg(p, 30),
    "resized to a quarter": lambda p: _jpeg(
        p.resize((max(8, p.width // 4), max(8, p.height // 4))), 90
    ),
    "grey scale": lambda p: _jpeg(p.convert("L").convert("RGB"), 90),
    "brightness +30%": lambda p: _jpeg(ImageEnhance.Brightness(p).enhance(1.3), 90),
    "contrast -30%": lambda p: _jpeg(ImageEnhance.Contrast(p).enhance(0.7), 90),
    "Gaussian blur, radius 2": lambda p: _jpeg(p.filter(ImageFilter.GaussianBlur(2)), 90),
    "black bars, 12% a side": lambda p: _bars(p, (0, 0, 0), 75),
    "white bars, 12% a side": lambda p: _bars(p, (255, 255, 255), 75),
    "turned 90 degrees": lambda p: _jpeg(p.transpose(Image.Transpose.ROTATE_90), 90),
    "mirrored": lambda p: _jpeg(p.transpose(Image.Transpose.FLIP_LEFT_RIGHT), 90),
    "rotated 3 degrees": lambda p: _jpeg(p.rotate(3), 90),
    "cropped 5% a side": lambda p: _crop(p, 0.05),
    "cropped 10% a side": lambda p: _crop(p, 0.10),
    "white caption strip over the bottom 15%": _caption,
}
VARIANTS = HashOptions(dihedral=True, letterbox=True)


def measure_edits(quick: bool) -> dict[str, tuple[list[int], list[int]]]:
    """Per edit: the PDQ distance from the unedited picture to the edited upload's primary
    hash, and to its nearest hash with the rotation/flip and letterbox variants."""
    if not SHARED.is_dir():
        return {}
    out: dict[str, tuple[list[int], list[int]]] = {name: ([], []) for name in EDITS}
    for path in _photos(quick, SHARED / "bridge-mods/aaa-orig.jpg"):
        picture = Image.open(path).convert("RGB")
        target, quality = _pdq(_jpeg(picture, 95), FAST)
        if quality < 80:
            continue
        for name, edit in EDITS.items():
            hashes = hash_bytes(edit(picture), options=VARIANTS).pdq
            out[name][0].append(_distance(target, hashes[0].hex))
            out[name][1].append(min(_distance(target, h.hex) for h in hashes))
    return out


def _jpeg(picture: Image.Image, quality: int) -> bytes:
    buffer = io.BytesIO()
    picture.save(buffer, "JPEG", quality=quality)
    return buffer.getvalue()


def render(
    speed: dict[str, dict[str, tuple[float, float]]],
    tol: dict[str, object],
    command: str,
    turned: dict[str, list[int]] | None = None,
    edits: dict[str, tuple[list[int], list[int]]] | None = None,
) -> str:
    names = list(next(iter(speed.values())))
    peer = names[0]
    lines = [
        START,
        "## Hashing: PDQ of JPEGs, shieldwall vs python-threatexchange",
        "",
        f"Command: `{command}`. "
        + machine_line("pdqhash", "pillow", "numpy", "threatexchange", "av"),
        "",
        "Images per CPU-second of one thread (= per core), decode included; wall-clock rate in "
        "brackets. Best of several interleaved rounds. Synthetic photo-like JPEGs, quality 90.",
        "",
        "| implementation | " + " | ".join(speed) + " |",
        "|---|" + "---:|" * len(speed),
    ]
    for name in names:
        lines.append(f"| {name} | " + " | ".join(_rate(speed[s][name]) for s in speed) + " |")
    lines.append("| **ratio to pytx (CPU)** | | | |")
    for name in names[1:]:
        if name == ROTATIONS_PEER:
            continue
        base = ROTATIONS_PEER if name in DIHEDRAL_ROWS else peer
        ratios = [speed[s][name][0] / speed[s][base][0] for s in speed]
        against = " (to pytx's 8 rotations)" if name in DIHEDRAL_ROWS else ""
        lines.append(f"| {name}{against} | " + " | ".join(f"{r:.2f}x" for r in ratios) + " |")
    lines.append("")
    if "missing" in tol:
        lines.append(f"Fast-path tolerance: shared reference data not found at {tol['missing']}.")
    else:
        shared, upscaled, worst = tol["shared"], tol["upscaled"], tol["worst"]
        assert isinstance(shared, list)
        assert isinstance(upscaled, list)
        assert isinstance(worst, tuple)
        sizes = tol["upscaled_sizes"]
        lines += [
            "Hamming distances between primary PDQs (images whose reference quality is >= 80):",
            "",
            "| comparison | n | max | mean | within 10 |",
            "|---|---:|---:|---:|---:|",
            _row("fast vs reference, every shared PDQ reference image", shared),
            _row(
                f"fast vs reference, shared photos upscaled to 3200-4200 px ({sizes})",
                [u[0] for u in upscaled],
            ),
            _row("reference path: upscaled vs the original file's hash", [u[1] for u in upscaled]),
            _row("fast path: upscaled vs the original file's hash", [u[2] for u in upscaled]),
            "",
            f"Largest fast-vs-reference distance on the shared images: {worst[0]} bits "
            f"(`{worst[1]}`)"
            + (
                ", a palette image: pytx hashes its palette indices."
                if "P.png" in worst[1]
                else "."
            ),
        ]
    if turned:
        sizes = ", ".join(str(size) for size in TURNED_SIZES)
        lines += [
            "",
            f"Turned uploads: photos of the shared data resized to {sizes} px squares (quality "
            ">= 80), each of their 7 rotations/flips re-saved as a JPEG; Hamming distance from "
            "the upright picture's PDQ to the nearest of the 8 hashes each method makes:",
            "",
            "| method | n | max | mean | within 31 (a match) |",
            "|---|---:|---:|---:|---:|",
        ]
        for label, values in turned.items():
            lines.append(
                f"| {label} | {len(values)} | {max(values)} | {statistics.fmean(values):.2f} | "
                f"{sum(d <= 31 for d in values)}/{len(values)} |"
            )
    if edits:
        count = len(next(iter(edits.values()))[0])
        lines += [
            "",
            f"Everyday edits: {count} photos of the shared data (quality >= 80), each edit saved "
            "as a JPEG; found means within 31 bits (the default threshold) of the unedited "
            "picture's PDQ, by the upload's own hash, or by its nearest hash once a bank has "
            "`dihedral` and `letterbox` on. PDQ is made for re-encoding, resizing and colour "
            "changes; crops, small rotations and overlays move it too far:",
            "",
            "| edit | found (own hash) | found (with variants) | median bits (own) | median bits "
            "(variants) |",
            "|---|---:|---:|---:|---:|",
        ]
        for name, (own, best) in edits.items():
            lines.append(
                f"| {name} | {sum(d <= 31 for d in own)}/{len(own)} | "
                f"{sum(d <= 31 for d in best)}/{len(best)} | {statistics.median(own):g} | "
                f"{statistics.median(best):g} |"
            )
    fast_ratio = speed["3000 px"]["shieldwall fast"][0] / speed["3000 px"][peer][0]
    verdict = "meets" if fast_ratio >= 5 else "does NOT meet"
    lines += [
        "",
        f"Fast path on 3000 px JPEGs: {fast_ratio:.1f}x pytx per core ({verdict} the 5x bar "
        "for making it the default).",
        END,
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds, for a smoke run")
    args = parser.parse_args(argv)
    command = "python -m benchmarks.hashing" + (" --quick" if args.quick else "")
    started = time.perf_counter()
    speed = measure_speed(args.quick)
    tolerance = measure_tolerance(args.quick)
    turned = measure_turned(args.quick)
    edits = measure_edits(args.quick)
    section = render(speed, tolerance, command, turned, edits)
    write_section(START, END, section)
    print(section)
    print(f"took {time.perf_counter() - started:.0f} s", file=sys.stderr)


if __name__ == "__main__":
    main()
