"""Shared benchmark helpers: cached inputs, timing in fresh processes, peak RSS.

Each measurement runs in its own subprocess so that peak RSS (ru_maxrss) belongs to that one
job; baselines and candidates are interleaved in the same run, since only figures from the
same run on the same machine are comparable. Both wall and CPU time (all threads) are
reported, as ranges: on a shared machine wall time includes waiting for a CPU.

A build job runs the engine as the command and the Lambda do, with the interpreter tuning
their entry points apply (``soci_index_builder/interpreter.py``; an earlier revision's engine
without it runs untuned, as it shipped).

A job kind ``<kind>@<commit>`` runs the engine of an earlier git revision (``--baseline REV``
of the benchmarks, :func:`use_baseline`): its ``layers/`` is exported once into the cache
and put first on ``PYTHONPATH``, so before/after figures come from one interleaved run.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import zlib
from pathlib import Path
from typing import Any

CACHE = Path(os.environ.get("SOCI_BENCH_DIR", "/tmp/soci-bench"))
CHUNK = 1 << 20

_JOB = r"""
import json, resource, sys, time, zlib
kind, path, span = sys.argv[1], sys.argv[2], int(sys.argv[3])
if kind.startswith("ztoc"):  # imports are not part of the timed work
    from soci_index_builder.gzip.backend import DEFAULT_BACKEND, libz_backend
    from soci_index_builder.ztoc.builder import build_ztoc
    from soci_index_builder.ztoc.model import CompressionAlgorithm
    backend = libz_backend() if kind == "ztoc-libz" else DEFAULT_BACKEND
    try:  # as the command and the Lambda run it; earlier engines had no such tuning
        from soci_index_builder.interpreter import tune_for_builds
    except ImportError:
        pass
    else:
        tune_for_builds()
elif kind == "zng":
    from zlib_ng import zlib_ng
wall, cpu = time.perf_counter(), time.process_time()
entries = 0
with open(path, "rb") as f:
    if kind in ("inflate", "zng"):
        d = (zlib if kind == "inflate" else zlib_ng).decompressobj(47)
        while chunk := f.read(1 << 20):
            d.decompress(chunk)
    else:
        built = build_ztoc(
            f, compression=CompressionAlgorithm.GZIP, span_size=span, backend=backend
        )
        entries = len(built.ztoc.entries)
result = {
    "seconds": time.perf_counter() - wall,
    "cpu": time.process_time() - cpu,  # every thread of the process
    "rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
    "entries": entries,
}
print(json.dumps(result))
"""
#: Job kinds: plain ``zlib.decompressobj``, plain zlib-ng ``decompressobj``, the zTOC build
#: with the default backend (zlib-ng when installed), and with system libz forced.
BASELINES = ("inflate", "zng")
BUILDS = ("ztoc", "ztoc-libz")


#: Exported engines of earlier revisions, one directory per (abbreviated) commit.
ENGINES = CACHE / "engines"


def add_baseline_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--baseline",
        metavar="REV",
        help="also time the engine of this git revision (jobs named '<kind>@<commit>')",
    )


def use_baseline(rev: str | None, kinds: tuple[str, ...] = ("ztoc",)) -> tuple[str, ...]:
    """Export the engine of git revision ``rev`` (once, cached by commit); returns the extra
    build kinds to interleave, ``<kind>@<commit>`` for each of ``kinds`` (none without a
    revision)."""
    if not rev:
        return ()
    repo = Path(__file__).resolve().parent.parent
    commit = subprocess.run(
        ["git", "-C", str(repo), "rev-parse", "--verify", f"{rev}^{{commit}}"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    commit = commit[:12]
    dest = ENGINES / commit
    if not dest.exists():
        tmp = dest.with_suffix(".tmp")
        tmp.mkdir(parents=True, exist_ok=True)
        archive = subprocess.run(
            ["git", "-C", str(repo), "archive", commit, "layers"], check=True, capture_output=True
        ).stdout
        subprocess.run(["tar", "-x", "-C", str(tmp)], input=archive, check=True)
        tmp.rename(dest)
    jobs = tuple(f"{kind}@{commit}" for kind in kinds)
    print(f"baseline: engine of {rev} as the {', '.join(jobs)} jobs")
    return jobs


def run_job(kind: str, path: Path, span: int = 4 << 20) -> dict[str, float]:
    """Time one job (see BASELINES and BUILDS; ``@<commit>``: that exported engine, see
    :func:`use_baseline`) on ``path`` in a fresh interpreter."""
    env = dict(os.environ)
    kind, _, commit = kind.partition("@")
    if commit:
        layers = str(ENGINES / commit / "layers")
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [layers, env.get("PYTHONPATH")]))
    out = subprocess.run(
        [sys.executable, "-c", _JOB, kind, str(path), str(span)],
        check=True,
        capture_output=True,
        text=True,
        env=env,
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


def compare(
    label: str, path: Path, reps: int = 3, kinds: tuple[str, ...] = BASELINES + BUILDS
) -> dict[str, dict[str, Any]]:
    """Interleave the ``kinds`` of job ``reps`` times; print and return per kind the best and
    worst wall and CPU seconds, the peak RSS (ranges, since the machine may be shared) and
    every run's wall time in order (``walls``, for ratios of runs made side by side)."""
    runs: dict[str, list[dict[str, float]]] = {k: [] for k in kinds}
    for _ in range(reps):
        for kind in kinds:
            runs[kind].append(run_job(kind, path))
    summary = {
        kind: {
            "wall": min(r["seconds"] for r in rs),
            "wall_max": max(r["seconds"] for r in rs),
            "cpu": min(r["cpu"] for r in rs),
            "cpu_max": max(r["cpu"] for r in rs),
            "rss_mb": max(r["rss"] for r in rs) / 1e6,
            "entries": rs[0]["entries"],
            "walls": [r["seconds"] for r in rs],
        }
        for kind, rs in runs.items()
    }
    print(f"{label}: {path.stat().st_size / 1e6:.1f} MB compressed, {reps} interleaved runs")
    for kind, s in summary.items():
        print(
            f"  {kind:10s} wall {s['wall']:.2f}-{s['wall_max']:.2f} s, "
            f"cpu {s['cpu']:.2f}-{s['cpu_max']:.2f} s, peak RSS {s['rss_mb']:.0f} MB"
        )
    return summary


def ratio(summary: dict[str, dict[str, Any]], build: str, baseline: str, key: str) -> str:
    """``build``/``baseline`` of ``key`` ("wall" or "cpu"): best over best, and the range of
    worst over best to best over worst, so one slow run cannot hide in the figure. For wall
    time also the median of the ratios of runs made side by side (the same repetition): the
    machine's speed drifts between minutes, and a pair shares its minute."""
    b, base = summary[build], summary[baseline]
    best = b[key] / base[key]
    low, high = b[key] / base[key + "_max"], b[key + "_max"] / base[key]
    text = f"{best:.2f}x (range {low:.2f}-{high:.2f})"
    if key == "wall":
        pairs = sorted(x / y for x, y in zip(b["walls"], base["walls"], strict=True))
        text += f", side by side median {statistics.median(pairs):.2f}x"
    return text
