"""Shared benchmark helpers: cached inputs, timing in fresh processes, peak RSS.

Each measurement runs in its own subprocess so that peak RSS (ru_maxrss) belongs to that one
job; baseline and candidate are interleaved in the same run, since only figures from the same
run on the same machine are comparable.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zlib
from pathlib import Path

CACHE = Path(os.environ.get("SOCI_BENCH_DIR", "/tmp/soci-bench"))
CHUNK = 1 << 20

_JOB = r"""
import json, resource, sys, time, zlib
kind, path, span = sys.argv[1], sys.argv[2], int(sys.argv[3])
if kind != "inflate":  # imports are not part of the timed work
    from soci_index_builder.ztoc.builder import build_ztoc
    from soci_index_builder.ztoc.model import CompressionAlgorithm
start = time.perf_counter()
with open(path, "rb") as f:
    if kind == "inflate":
        d = zlib.decompressobj(47)
        while chunk := f.read(1 << 20):
            d.decompress(chunk)
        entries = 0
    else:
        built = build_ztoc(f, compression=CompressionAlgorithm.GZIP, span_size=span)
        entries = len(built.ztoc.entries)
seconds = time.perf_counter() - start
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(json.dumps({"seconds": seconds, "rss": rss, "entries": entries}))
"""


def run_job(kind: str, path: Path, span: int = 4 << 20) -> dict[str, float]:
    """Time one job ("inflate" or "ztoc") on ``path`` in a fresh interpreter."""
    out = subprocess.run(
        [sys.executable, "-c", _JOB, kind, str(path), str(span)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    result: dict[str, float] = json.loads(out)
    return result


def gzip_file(tar_path: Path, level: int = 6) -> Path:
    """gzip ``tar_path`` (cached next to it) with a single member, like docker/buildkit."""
    out = tar_path.with_suffix(".tar.gz")
    if out.exists():
        return out
    comp = zlib.compressobj(level, zlib.DEFLATED, 31)
    with open(tar_path, "rb") as src, open(out.with_suffix(".tmp"), "wb") as dst:
        while chunk := src.read(CHUNK):
            dst.write(comp.compress(chunk))
        dst.write(comp.flush())
    out.with_suffix(".tmp").rename(out)
    return out


def compare(label: str, path: Path, reps: int = 3) -> dict[str, float]:
    """Interleave baseline and zTOC build ``reps`` times; report best times and peak RSS."""
    inflate: list[dict[str, float]] = []
    build: list[dict[str, float]] = []
    for _ in range(reps):
        inflate.append(run_job("inflate", path))
        build.append(run_job("ztoc", path))
    best_inflate = min(r["seconds"] for r in inflate)
    best_build = min(r["seconds"] for r in build)
    summary = {
        "inflate_s": best_inflate,
        "ztoc_s": best_build,
        "ratio": best_build / best_inflate,
        "ztoc_peak_rss_mb": max(r["rss"] for r in build) / 1e6,
        "inflate_peak_rss_mb": max(r["rss"] for r in inflate) / 1e6,
        "entries": build[0]["entries"],
        "compressed_mb": path.stat().st_size / 1e6,
    }
    print(f"{label}: " + ", ".join(f"{k}={v:.3f}" for k, v in summary.items()))
    return summary
