"""zTOC encoder speed: the specialised encoder vs the stock FlatBuffers Builder, same run.

100k realistic entries (names ~60 chars, uname/gname "root", a PAX record on every 10th entry),
120 span digests and a 4 MB checkpoint blob. Prints microseconds per entry for both encoders
and checks that they produce the same bytes. Usage: python bench/ztoc_encode.py [entries]
"""

from __future__ import annotations

import hashlib
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # for tests.engine

from soci_index_builder.ztoc.codec import decode_ztoc, encode_ztoc
from soci_index_builder.ztoc.model import (
    CompressionAlgorithm,
    CompressionInfo,
    FileMetadata,
    Ztoc,
)
from tests.engine.test_ztoc_codec import encode_ztoc_reference

TARGET_US = 8.0


def make_ztoc(n: int) -> Ztoc:
    entries = []
    offset = 512
    for i in range(n):
        is_dir = i % 7 == 0
        size = 0 if is_dir else (i * 7919) % 50000
        name = f"usr/lib/python3.11/site-packages/package{i // 50:05d}/module_{i:06d}.py"
        if is_dir:
            name = name.rsplit("/", 1)[0] + f"/d{i}/"
        pax = (("SCHILY.xattr.security.capability", "\x01\x00\x00\x02"),) if i % 10 == 0 else ()
        entries.append(
            FileMetadata(
                name,
                "dir" if is_dir else "reg",
                offset,
                size,
                "",
                0o755 if is_dir else 0o644,
                0,
                0,
                "root",
                "root",
                f"2024-01-{1 + i % 28:02d}T03:04:05Z",
                0,
                0,
                pax,
            )
        )
        offset += 512 + (size + 511) // 512 * 512 + (512 if pax else 0)
    digests = tuple("sha256:" + hashlib.sha256(str(i).encode()).hexdigest() for i in range(120))
    info = CompressionInfo(CompressionAlgorithm.GZIP, 119, digests, bytes(4 << 20))
    return Ztoc("0.9", "AWS SOCI CLI v0.2", offset // 3, offset + 1024, tuple(entries), info)


def best_of(fn: object, arg: object, reps: int) -> tuple[float, float, bytes]:
    """Best CPU (process) time and best wall time over ``reps`` runs, and the last output."""
    cpu = wall = float("inf")
    out = b""
    for _ in range(reps):
        w0, c0 = time.perf_counter(), time.process_time()
        out = fn(arg)  # type: ignore[operator]
        cpu = min(cpu, time.process_time() - c0)
        wall = min(wall, time.perf_counter() - w0)
    return cpu, wall, out


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    z = make_ztoc(n)
    fast_cpu, fast_wall, fast_out = best_of(encode_ztoc, z, 5)
    stock_cpu, stock_wall, stock_out = best_of(encode_ztoc_reference, z, 2)
    dec_cpu, _, _ = best_of(decode_ztoc, fast_out, 2)
    assert fast_out == stock_out, "encoders disagree"
    print(f"entries: {n}, zTOC bytes: {len(fast_out)}, identical: {fast_out == stock_out}")
    for label, cpu, wall in (
        ("specialised encode_ztoc", fast_cpu, fast_wall),
        ("stock flatbuffers Builder", stock_cpu, stock_wall),
    ):
        print(f"{label}: {cpu / n * 1e6:.2f} us/entry CPU, {wall / n * 1e6:.2f} us/entry wall")
    print(f"target {TARGET_US} us/entry; speed-up {stock_cpu / fast_cpu:.1f}x (CPU)")
    print(f"decode_ztoc: {dec_cpu / n * 1e6:.2f} us/entry CPU")


if __name__ == "__main__":
    main()
