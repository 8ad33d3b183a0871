"""Per-entry cost and memory on layers of 100k small files (docs/performance.md).

Builds tars of 100,000 files of 0-4 KB (seeded, cached in $SOCI_BENCH_DIR), gzips them, and
reports (zTOC build CPU - plain ``zlib.decompressobj`` CPU) / entries, parsing and
FlatBuffers serialization included, and the build's peak RSS. Flavours: "gnu" (plain
headers), "pax" (a PAX header per entry, all alike: the memo tables' best case) and
"pax-distinct" (a PAX header per entry with its own sub-second mtime, so no two headers are
alike: the worst case, which the targets are about: <= 10 us CPU/entry, peak RSS <= 100 MB +
600 B/entry). soci's own builder: about 41 us/entry. ``--million`` also builds a
1,000,000-entry pax-distinct layer once and reports its peak RSS (target: under 700 MB).
Usage:
    .venv/bin/python bench/small_entries.py [--files N] [--reps N] [--flavour F] [--million]
        [--baseline REV]   (also the engine of git revision REV, e.g. main~3, same run)
"""

from __future__ import annotations

import argparse
import io
import random
import tarfile
from pathlib import Path
from typing import Any

from _common import CACHE, add_baseline_option, compare, gzip_file, run_job, use_baseline


def make_tar(label: str, files: int, max_size: int = 4096) -> Path:
    """A seeded tar of ``files`` files of 0..``max_size`` bytes, cached."""
    fmt = tarfile.GNU_FORMAT if label == "gnu" else tarfile.PAX_FORMAT
    path = CACHE / f"small-{label}-v2-{files}-{max_size}.tar"
    if path.exists():
        return path
    CACHE.mkdir(parents=True, exist_ok=True)
    rng = random.Random(7)
    words = [f"{rng.getrandbits(40):x}" for _ in range(2000)]
    with tarfile.open(path.with_suffix(".tmp"), "w", format=fmt) as tar:
        for i in range(files):
            name = f"node_modules/pkg{i // 100}/lib/{rng.choice(words)}-{i}.js"
            data = (" ".join(rng.choices(words, k=rng.randint(0, 400)))).encode()[
                : rng.randint(0, max_size)
            ]
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), 0o644
            if label == "pax-distinct":  # two files a second, each with its own fraction
                info.mtime = 1700000000 + i // 2 + rng.randint(1, 999_999) / 1e6
            else:
                info.mtime = 1700000000.25 if label == "pax" else 1700000000
            info.uname = info.gname = "root"
            tar.addfile(info, io.BytesIO(data))
    path.with_suffix(".tmp").rename(path)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--files", type=int, default=100_000)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--flavour", choices=[*FLAVOURS, "all"], default="all")
    parser.add_argument("--million", action="store_true")
    add_baseline_option(parser)
    args = parser.parse_args()
    builds = ("ztoc", *use_baseline(args.baseline))
    for label in FLAVOURS if args.flavour == "all" else (args.flavour,):
        layer = gzip_file(make_tar(label, args.files))
        s = compare(f"{args.files} small files ({label})", layer, args.reps, ("inflate", *builds))
        for build in builds:
            _report(s, build)
    if args.million:
        layer = gzip_file(make_tar("pax-distinct", 1_000_000, max_size=256))
        r = run_job("ztoc", layer)
        print(
            f"1,000,000 entries (pax-distinct): {r['entries']:.0f} entries, wall {r['seconds']:.1f}"
            f" s, cpu {r['cpu']:.1f} s, peak RSS {r['rss'] / 1e6:.0f} MB (target < 700: "
            f"{'ok' if r['rss'] / 1e6 < 700 else 'MISSED'})"
        )


def _report(s: dict[str, dict[str, Any]], build: str) -> None:
    entries = s[build]["entries"]
    best = (s[build]["cpu"] - s["inflate"]["cpu_max"]) / entries * 1e6
    worst = (s[build]["cpu_max"] - s["inflate"]["cpu"]) / entries * 1e6
    typical = (s[build]["cpu"] - s["inflate"]["cpu"]) / entries * 1e6
    rss_limit = 100 + 600 * entries / 1e6
    print(
        f"  {build}: {typical:.1f} us CPU/entry over plain inflation (range {best:.1f}-"
        f"{worst:.1f}; target <= 10: {'ok' if typical <= 10 else 'MISSED'}); peak RSS "
        f"{s[build]['rss_mb']:.0f} MB (target <= {rss_limit:.0f}: "
        f"{'ok' if s[build]['rss_mb'] <= rss_limit else 'MISSED'})"
    )


FLAVOURS = ("gnu", "pax", "pax-distinct")

if __name__ == "__main__":
    main()
