"""Microseconds per entry of the tar scanner vs Python tarfile, on generated small-file layers.

Usage: .venv/bin/python bench/tar_scan.py [--entries 100000] [--repeat 3] [--dir /tmp/tarbench]

Writes (once, then reuses) two uncompressed tars with Python tarfile: GNU format and PAX format
with a PAX header per entry (mtime/atime/ctime with nanoseconds, like GNU tar --format=posix:
distinct mtimes and atimes, one shared ctime),
files of 0-4 KiB. Times ``read_toc`` over an in-memory stream and ``tarfile`` (``r:`` over the
same bytes, ``members`` cleared), interleaved in the same run; best of ``--repeat`` by process
CPU time (wall time is also shown: on a shared machine it includes waiting for a CPU). A fixed
pure-Python loop is timed too, to tell how fast the machine was during the run.
"""

from __future__ import annotations

import argparse
import io
import random
import tarfile
import time
from pathlib import Path

from soci_index_builder.tar.scanner import read_toc


def make_tar(path: Path, entries: int, fmt: int) -> None:
    rng = random.Random(1)
    payload = bytes(rng.getrandbits(8) for _ in range(4096))
    with tarfile.open(path, "w", format=fmt) as tf:
        for i in range(entries):
            info = tarfile.TarInfo(f"usr/lib/pkg{i // 1000}/module_{i}.py")
            info.size = rng.randrange(0, 4097)
            info.mtime = 1700000000
            info.mode = 0o644
            if fmt == tarfile.PAX_FORMAT:  # as GNU tar --format=posix of a fresh tree
                mtime = f"{1700000000 + i % 7}.{rng.randrange(10**9):09d}"
                atime = f"{1700100000 + i}.{rng.randrange(10**9):09d}"
                ctime = "1700200000.123456789"
                info.pax_headers = {"mtime": mtime, "atime": atime, "ctime": ctime}
            tf.addfile(info, io.BytesIO(payload[: info.size]))


def time_scanner(data: bytes) -> tuple[float, float, int]:
    start, cpu = time.perf_counter(), time.process_time()
    toc = read_toc(io.BytesIO(data))
    return time.process_time() - cpu, time.perf_counter() - start, len(toc.entries)


def time_tarfile(data: bytes) -> tuple[float, float, int]:
    start, cpu = time.perf_counter(), time.process_time()
    count = 0
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as tf:
        for _ in tf:
            count += 1
            tf.members.clear()
    return time.process_time() - cpu, time.perf_counter() - start, count


def calibrate() -> float:
    """CPU ns per iteration of a fixed pure-Python loop: how fast this machine is right now."""
    table = {i: i for i in range(1024)}
    start = time.process_time()
    total = 0
    for i in range(1_000_000):
        total += table.get(i & 1023, 0)
    return (time.process_time() - start) * 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--entries", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--dir", type=Path, default=Path("/tmp/tarbench"))
    args = parser.parse_args()
    args.dir.mkdir(parents=True, exist_ok=True)
    for label, fmt in (("gnu", tarfile.GNU_FORMAT), ("pax", tarfile.PAX_FORMAT)):
        path = args.dir / f"small_{label}_{args.entries}.tar"
        if not path.exists():
            make_tar(path, args.entries, fmt)
        data = path.read_bytes()
        best: dict[str, tuple[float, float, int]] = {}
        calibration = min(calibrate() for _ in range(3))
        for _ in range(args.repeat):  # interleaved, so both see the same machine load
            for name, func in (("scanner", time_scanner), ("tarfile", time_tarfile)):
                best[name] = min(best.get(name, (1e9, 1e9, 0)), func(data))
            calibration = min(calibration, calibrate())
        print(f"{label}: calibration loop {calibration:.1f} ns/iteration (best of the run)")
        for name, (cpu, wall, count) in best.items():
            print(
                f"  {name:8} {count} entries: cpu {cpu:7.3f} s = {cpu / count * 1e6:6.2f}"
                f" us/entry (wall {wall / count * 1e6:6.2f} us/entry)"
            )
        ratio = best["tarfile"][0] / best["scanner"][0]
        print(f"  scanner is {ratio:.1f}x faster than tarfile (cpu, best of {args.repeat})")


if __name__ == "__main__":
    main()
