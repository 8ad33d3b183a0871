"""zTOC build vs plain inflation on one ~500 MB-uncompressed layer (docs/performance.md).

Targets: the build takes at most 0.75x the time of plain ``zlib.decompressobj`` with zlib-ng
(the default backend), at most 1.10x with system libz forced; both ratios are also given
against plain zlib-ng ``decompressobj``, the physical limit. Wall time is the target's
measure (the build runs inflate, tar parsing and hashing on separate threads); CPU time
(all threads) is shown beside it.

The layer is a gzip -6 tar of system directories (~500 MB uncompressed, thousands of files),
made once and cached in $SOCI_BENCH_DIR (default /tmp/soci-bench), in two flavours: "pax" gives
every entry a PAX header (sub-second mtimes, as GNU tar --format=posix writes: the worst case
for per-entry cost) and "gnu" writes plain headers with whole-second mtimes (as Docker's and
BuildKit's tar writers do for most files). Usage:
    .venv/bin/python bench/ztoc_vs_inflate.py [--reps N] [--format pax|gnu|both] [--baseline REV]
"""

from __future__ import annotations

import argparse
import os
import tarfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from _common import (
    BASELINES,
    BUILDS,
    CACHE,
    add_baseline_option,
    compare,
    gzip_file,
    ratio,
    use_baseline,
)

SOURCES = ["usr/lib/python3.11", "usr/share", "usr/lib/x86_64-linux-gnu", "usr/bin"]
TARGET_UNCOMPRESSED = 500 << 20


def make_layer(flavour: str) -> Path:
    """A tar of real system files, cut off once it passes the target size."""
    tar_path = CACHE / f"large500-{flavour}.tar"
    if not tar_path.exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        tmp = tar_path.with_suffix(".tmp")
        fmt = tarfile.PAX_FORMAT if flavour == "pax" else tarfile.GNU_FORMAT
        with tarfile.open(tmp, "w", format=fmt) as tar:
            for path in _system_files():
                info = tar.gettarinfo(path)
                if flavour == "gnu":
                    info.mtime = int(info.mtime)
                with open(path, "rb") if info.isreg() else _no_content() as content:
                    tar.addfile(info, content)
                if tar.offset >= TARGET_UNCOMPRESSED:
                    break
        tmp.rename(tar_path)
    return gzip_file(tar_path)


@contextmanager
def _no_content() -> Iterator[None]:
    yield None


def _system_files() -> Iterator[str]:
    for top in SOURCES:
        for root, dirs, files in os.walk(Path("/", top)):
            dirs.sort()
            yield root
            for name in sorted(files):
                path = os.path.join(root, name)
                if os.path.isfile(path) and os.access(path, os.R_OK):
                    yield path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--format", choices=["pax", "gnu", "both"], default="both")
    add_baseline_option(parser)
    args = parser.parse_args()
    extra = use_baseline(args.baseline, BUILDS)
    for flavour in ("gnu", "pax") if args.format == "both" else (args.format,):
        _measure(make_layer(flavour), flavour, args.reps, extra)


def _measure(layer: Path, flavour: str, reps: int, extra: tuple[str, ...]) -> None:
    uncompressed = layer.with_suffix("").stat().st_size if layer.with_suffix("").exists() else 0
    print(
        f"layer ({flavour}): {layer} ({layer.stat().st_size / 1e6:.1f} MB gz, "
        f"{uncompressed / 1e6:.1f} MB tar)"
    )
    s = compare(f"large layer ({flavour})", layer, reps, BASELINES + BUILDS + extra)
    for build in BUILDS + extra:
        target = 1.10 if build.startswith("ztoc-libz") else 0.75
        best = s[build]["wall"] / s["inflate"]["wall"]
        verdict = "ok" if best <= target else "MISSED"
        print(
            f"  {build}: vs zlib.decompressobj wall {ratio(s, build, 'inflate', 'wall')}, "
            f"cpu {ratio(s, build, 'inflate', 'cpu')}; vs zlib-ng inflate wall "
            f"{ratio(s, build, 'zng', 'wall')}, cpu {ratio(s, build, 'zng', 'cpu')} "
            f"[target <= {target}: {verdict}]"
        )


if __name__ == "__main__":
    main()
