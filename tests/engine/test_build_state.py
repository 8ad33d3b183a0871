"""A build leaves nothing behind in the process (docs/performance.md): memory and the GC switch.

A warm Lambda indexes layer after layer in one process; anything a build kept (module caches
that grow with input, a GC switch) would pile up or leak into other threads.
"""

from __future__ import annotations

import gc
import io
import json
import subprocess
import sys
import tarfile
import threading
import zlib

from soci_index_builder.ztoc.builder import build_ztoc
from soci_index_builder.ztoc.model import CompressionAlgorithm

#: Builds 50 different layers (GNU-tar-style PAX: distinct PAX header names, sub-second
#: mtimes, distinct owners) in one process and prints the resident set after each build.
_SCRIPT = r"""
import io, json, os, random, sys, tarfile, zlib
from soci_index_builder.ztoc.builder import build_ztoc
from soci_index_builder.ztoc.model import CompressionAlgorithm

def rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")

def layer(seed, files=1500):
    rng = random.Random(seed)
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for i in range(files):
            name = f"l{seed}/{rng.getrandbits(48):x}/{i}.py"
            info = tarfile.TarInfo(name)
            info.mtime = 1_600_000_000 + seed * 86_400 + i + rng.random()
            info.uid, info.gid = rng.randrange(1 << 20), rng.randrange(1 << 20)
            info.uname, info.gname = f"u{rng.getrandbits(32)}", f"g{seed}"
            info.pax_headers = {"comment": f"{seed}-{i}-{rng.getrandbits(64)}"}
            tar.addfile(info, io.BytesIO(b""))
    return zlib.compress(raw.getvalue(), 1, wbits=31)

layers = int(sys.argv[1])
sizes = []
for seed in range(layers):
    blob = layer(seed)
    built = build_ztoc(io.BytesIO(blob), compression=CompressionAlgorithm.GZIP)
    del blob, built
    sizes.append(rss())
print(json.dumps(sizes))
"""


def test_fifty_different_layers_keep_rss_flat() -> None:
    out = subprocess.run(
        [sys.executable, "-c", _SCRIPT, "50"], check=True, capture_output=True, text=True
    ).stdout
    sizes = json.loads(out)
    assert len(sizes) == 50
    growth = max(sizes) - sizes[0]
    assert growth <= 20 << 20, f"RSS grew {growth / 2**20:.1f} MiB over 50 builds: {sizes}"


def _small_layer() -> bytes:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for i in range(300):
            info = tarfile.TarInfo(f"f{i}")
            info.mtime = 1_700_000_000 + i / 7
            tar.addfile(info, io.BytesIO(b""))
    return zlib.compress(raw.getvalue(), 6, wbits=31)


def _build(layer: bytes, seen: list[bool]) -> None:
    build_ztoc(
        io.BytesIO(layer),
        compression=CompressionAlgorithm.GZIP,
        on_progress=lambda _: seen.append(gc.isenabled()),
    )


def test_a_build_never_switches_the_gc() -> None:
    layer = _small_layer()
    seen: list[bool] = []
    assert gc.isenabled()
    _build(layer, seen)
    assert gc.isenabled() and seen and all(seen)
    gc.disable()
    try:
        seen.clear()
        _build(layer, seen)
        assert not gc.isenabled() and seen and not any(seen)
    finally:
        gc.enable()


def test_other_threads_see_the_gc_unchanged_during_builds() -> None:
    layer = _small_layer()
    stop = threading.Event()
    observed: list[bool] = []

    def watch() -> None:
        while not stop.is_set():
            observed.append(gc.isenabled())

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        builders = [threading.Thread(target=_build, args=(layer, [])) for _ in range(3)]
        for t in builders:
            t.start()
        for t in builders:
            t.join()
    finally:
        stop.set()
        watcher.join()
    assert observed and all(observed)
