"""Per-entry cost on a layer of 100k small files (issue: <= 20 us/entry over plain inflation).

Builds GNU and PAX tars of 100,000 files of 0-4 KB (seeded, cached in $SOCI_BENCH_DIR; in the
PAX one every entry has a PAX header with a sub-second mtime, the worst case), gzips them, and
reports (zTOC build time - plain inflate time) / entries, parsing and FlatBuffers
serialization included. soci's own builder: about 41 us/entry. Usage:
    .venv/bin/python bench/small_entries.py [--files N] [--reps N]
"""

from __future__ import annotations

import argparse
import io
import random
import tarfile
from pathlib import Path

from _common import CACHE, compare, gzip_file


def make_tar(fmt: int, label: str, files: int) -> Path:
    path = CACHE / f"small-{label}-v2-{files}.tar"
    if path.exists():
        return path
    CACHE.mkdir(parents=True, exist_ok=True)
    rng = random.Random(7)
    words = [f"{rng.getrandbits(40):x}" for _ in range(2000)]
    with tarfile.open(path.with_suffix(".tmp"), "w", format=fmt) as tar:
        for i in range(files):
            name = f"node_modules/pkg{i // 100}/lib/{rng.choice(words)}-{i}.js"
            data = (" ".join(rng.choices(words, k=rng.randint(0, 400)))).encode()[
                : rng.randint(0, 4096)
            ]
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), 0o644
            info.mtime = 1700000000.25 if fmt == tarfile.PAX_FORMAT else 1700000000
            info.uname = info.gname = "root"
            tar.addfile(info, io.BytesIO(data))
    path.with_suffix(".tmp").rename(path)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--files", type=int, default=100_000)
    parser.add_argument("--reps", type=int, default=3)
    args = parser.parse_args()
    for fmt, label in ((tarfile.GNU_FORMAT, "gnu"), (tarfile.PAX_FORMAT, "pax")):
        layer = gzip_file(make_tar(fmt, label, args.files))
        s = compare(f"{args.files} small files ({label})", layer, args.reps)
        per_entry = (s["ztoc_s"] - s["inflate_s"]) / s["entries"] * 1e6
        print(
            f"  {per_entry:.1f} us/entry over plain inflation "
            f"(target <= 20, soci ~41): {'ok' if per_entry <= 20 else 'MISSED'}"
        )


if __name__ == "__main__":
    main()
