"""Micro-benchmark: GzipCheckpointer against plain ``zlib.decompressobj`` on one gzip file.

Usage::

    tar -C / -cf - usr/lib/python3* usr/share/doc usr/bin | gzip -6 > /tmp/layer.tar.gz
    .venv/bin/python bench/gzip_checkpointer.py /tmp/layer.tar.gz [--reps 3] [--span 4194304]

Modes run interleaved, ``--reps`` times each, in this process (the file should sit in the
page cache); MB/s are of *uncompressed* bytes. ``--only MODE`` runs one mode once and prints
its peak RSS, for a clean memory figure in a fresh process.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import time
import zlib
from collections.abc import Callable

from soci_index_builder.digest import DigestingReader
from soci_index_builder.gzip.checkpoints import GzipCheckpointer

CHUNK = 1 << 20


def run_zlib(path: str, span: int) -> int:
    """Baseline: what a plain streaming gunzip costs (multi-member aware)."""
    total = 0
    with open(path, "rb", buffering=0) as f:
        d = zlib.decompressobj(31)
        while chunk := f.read(CHUNK):
            while chunk:
                total += len(d.decompress(chunk))
                chunk = d.unused_data
                if d.eof:
                    d = zlib.decompressobj(31)
    return total


def _drain(c: GzipCheckpointer) -> int:
    buf = memoryview(bytearray(CHUNK))
    total = 0
    while n := c.readinto(buf):
        total += n
    return total


def run_sync(path: str, span: int) -> int:
    with open(path, "rb", buffering=0) as f:
        return _drain(GzipCheckpointer(f, span, threaded=False))


def run_threaded(path: str, span: int) -> int:
    with open(path, "rb", buffering=0) as f:
        return _drain(GzipCheckpointer(f, span))


def run_threaded_sha(path: str, span: int) -> int:
    """What the zTOC builder does minus tar parsing: layer sha256 + checkpoints + span digests."""
    with open(path, "rb", buffering=0) as f:
        layer = DigestingReader(f)
        total = _drain(GzipCheckpointer(layer, span))
        assert layer.digest.startswith("sha256:")
        return total


def run_sync_sha(path: str, span: int) -> int:
    with open(path, "rb", buffering=0) as f:
        return _drain(GzipCheckpointer(DigestingReader(f), span, threaded=False))


MODES: dict[str, Callable[[str, int], int]] = {
    "zlib.decompressobj": run_zlib,
    "checkpointer sync": run_sync,
    "checkpointer threaded": run_threaded,
    "checkpointer sync +layer sha256": run_sync_sha,
    "checkpointer threaded +layer sha256": run_threaded_sha,
}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("path")
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--span", type=int, default=4 << 20)
    parser.add_argument("--only", choices=sorted(MODES))
    args = parser.parse_args()
    if args.only:
        start = time.perf_counter()
        size = MODES[args.only](args.path, args.span)
        secs = time.perf_counter() - start
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"{args.only}: {secs:.2f} s, {size / secs / 1e6:.0f} MB/s, peak RSS {rss:.0f} MB")
        return
    times: dict[str, list[float]] = {m: [] for m in MODES}
    cpu: dict[str, list[float]] = {m: [] for m in MODES}
    main: dict[str, list[float]] = {m: [] for m in MODES}
    size = 0
    for _ in range(args.reps):
        for name, fn in MODES.items():
            start, cpu0, main0 = time.perf_counter(), time.process_time(), time.thread_time()
            size = fn(args.path, args.span)
            times[name].append(time.perf_counter() - start)
            cpu[name].append(time.process_time() - cpu0)
            main[name].append(time.thread_time() - main0)
    base = min(times["zlib.decompressobj"])
    print(f"{size} uncompressed bytes, span {args.span}, {args.reps} interleaved reps")
    print(
        "wall: best, median, MB/s (best), ratio to zlib (best); cpu: best CPU seconds of all"
        " threads; main: of the consuming thread alone (the critical path given a free core)"
    )
    for name, t in times.items():
        best, med = min(t), statistics.median(t)
        print(
            f"{name:36s} wall {best:5.2f} s  {med:5.2f} s  {size / best / 1e6:4.0f} MB/s"
            f"  x{best / base:.2f}   cpu {min(cpu[name]):5.2f} s  main {min(main[name]):5.2f} s"
        )


if __name__ == "__main__":
    main()
