"""CPU seconds per thread of one zTOC build: the critical path on an idle machine.

On a shared machine wall time includes waiting for a CPU, so the wall-time ratio of
``ztoc_vs_inflate.py`` cannot show what the build costs on two idle cores. This samples
``/proc/self/task/*/stat`` during a build and prints the CPU time of the calling thread (tar
scanning and encoding) and of the helper threads (inflate, read-ahead, span hashing): on two
idle cores the build's wall time is at least the largest of them and at least half their sum.
Linux only. Usage:
    .venv/bin/python bench/thread_cpu.py LAYER.tar.gz [zlib-ng|libz]
"""

from __future__ import annotations

import os
import sys
import threading
import time

from soci_index_builder.gzip.backend import DEFAULT_BACKEND, libz_backend
from soci_index_builder.ztoc.builder import build_ztoc
from soci_index_builder.ztoc.model import CompressionAlgorithm

_TICK = os.sysconf("SC_CLK_TCK")


def _thread_cpu(skip: int) -> dict[int, float]:
    """CPU seconds of every thread of this process but ``skip``."""
    seconds = {}
    for tid in map(int, os.listdir("/proc/self/task")):
        if tid == skip:
            continue
        try:
            with open(f"/proc/self/task/{tid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:  # the thread ended meanwhile
            continue
        seconds[tid] = (int(fields[11]) + int(fields[12])) / _TICK
    return seconds


def main() -> None:
    layer, kind = sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else "zlib-ng"
    backend = libz_backend() if kind == "libz" else DEFAULT_BACKEND
    last: dict[int, float] = {}
    done = threading.Event()

    def sample() -> None:
        me = threading.get_native_id()
        while not done.is_set():
            last.update(_thread_cpu(me))
            time.sleep(0.02)

    # The calling thread's count since interpreter start (imports included) is taken off.
    before = _thread_cpu(-1).get(threading.get_native_id(), 0.0)
    sampler = threading.Thread(target=sample)
    sampler.start()
    with open(layer, "rb") as f:
        build_ztoc(f, compression=CompressionAlgorithm.GZIP, backend=backend)
    done.set()
    sampler.join()
    caller = last.pop(threading.get_native_id()) - before
    helpers = sorted(last.values(), reverse=True)
    total = caller + sum(helpers)
    print(
        f"{backend.name}: caller {caller:.2f} s, helpers "
        f"{', '.join(f'{h:.2f}' for h in helpers)} s; two-core wall >= "
        f"{max(caller, *helpers, total / 2):.2f} s"
    )


if __name__ == "__main__":
    main()
