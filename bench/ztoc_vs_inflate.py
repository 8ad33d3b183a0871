"""zTOC build vs plain zlib inflation on one large layer (issue: ratio <= 1.25, RSS <= 150 MB).

The layer is a gzip -6 tar of system directories (>= 200 MB uncompressed, thousands of files),
made once and cached in $SOCI_BENCH_DIR (default /tmp/soci-bench). Usage:
    .venv/bin/python bench/ztoc_vs_inflate.py [--reps N]
"""

from __future__ import annotations

import argparse
import os
import tarfile
from collections.abc import Iterator
from pathlib import Path

from _common import CACHE, compare, gzip_file

SOURCES = ["usr/lib/python3.11", "usr/share", "usr/lib/x86_64-linux-gnu", "usr/bin"]
TARGET_UNCOMPRESSED = 220 << 20


def make_layer() -> Path:
    """A PAX tar of real system files, cut off once it passes the target size."""
    tar_path = CACHE / "large.tar"
    if not tar_path.exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        tmp = tar_path.with_suffix(".tmp")
        with tarfile.open(tmp, "w", format=tarfile.PAX_FORMAT) as tar:
            for path in _system_files():
                tar.add(path, recursive=False)
                if tar.offset >= TARGET_UNCOMPRESSED:
                    break
        tmp.rename(tar_path)
    return gzip_file(tar_path)


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
    args = parser.parse_args()
    layer = make_layer()
    uncompressed = layer.with_suffix("").stat().st_size if layer.with_suffix("").exists() else 0
    print(
        f"layer: {layer} ({layer.stat().st_size / 1e6:.1f} MB gz, {uncompressed / 1e6:.1f} MB tar)"
    )
    summary = compare("large layer", layer, args.reps)
    print(
        f"targets: ratio <= 1.25 ({'ok' if summary['ratio'] <= 1.25 else 'MISSED'}), "
        f"peak RSS <= 150 MB ({'ok' if summary['ztoc_peak_rss_mb'] <= 150 else 'MISSED'})"
    )


if __name__ == "__main__":
    main()
