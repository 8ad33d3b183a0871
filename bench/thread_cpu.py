"""Where each thread of one zTOC build spends its wall time: on a CPU, waiting for one, asleep.

Wall-time ratios (``ztoc_vs_inflate.py``) say how long a build takes, not why. This samples
``/proc/self/task/*/schedstat`` (nanoseconds on a CPU and runnable but waiting for one) every few
milliseconds during one build, and prints per thread (by its ``threading`` name):

* ``cpu``: time on a CPU;
* ``waiting for a CPU``: runnable, but both cores were busy (contention between our threads or
  with anything else on the machine);
* ``asleep``: the rest of its lifetime: blocked on a queue (ring full or empty), on input, or on
  the GIL (a ctypes or hashlib call returning while another thread runs Python).

The inflate thread is the critical path of a large build (docs/performance.md); on two idle
cores the build's wall time is at least its lifetime, and at least half the sum of all CPU.
Linux only. Usage:
    .venv/bin/python bench/thread_cpu.py LAYER.tar.gz [zlib-ng|libz] [--reps N] [--untuned]
"""

from __future__ import annotations

import argparse
import os
import threading
import time
from dataclasses import dataclass

from soci_index_builder.gzip.backend import DEFAULT_BACKEND, libz_backend
from soci_index_builder.interpreter import tune_for_builds
from soci_index_builder.ztoc.builder import build_ztoc
from soci_index_builder.ztoc.model import CompressionAlgorithm

_SAMPLE_EVERY = 0.005


@dataclass
class _Thread:
    """What the samples saw of one thread: its name, first and last sight, its last counters."""

    name: str
    first: float
    last: float
    cpu: float = 0.0
    delay: float = 0.0
    cpu0: float = 0.0
    delay0: float = 0.0


def _sample(threads: dict[int, _Thread], now: float) -> None:
    """Update every thread's counters (a thread that ended meanwhile keeps its last ones)."""
    names = {t.native_id: t.name for t in threading.enumerate()}
    for tid in map(int, os.listdir("/proc/self/task")):
        try:
            with open(f"/proc/self/task/{tid}/schedstat") as f:
                on_cpu, waiting = (int(x) / 1e9 for x in f.read().split()[:2])
        except OSError:
            continue
        seen = threads.get(tid)
        if seen is None:  # counters before the build (the caller's imports) are taken off
            seen = threads[tid] = _Thread(f"thread {tid}", now, now, cpu0=on_cpu, delay0=waiting)
        seen.name = names.get(tid, seen.name)  # a new thread may get its name a moment later
        seen.last, seen.cpu, seen.delay = now, on_cpu - seen.cpu0, waiting - seen.delay0


def measure(layer: str, backend_name: str) -> tuple[float, list[_Thread]]:
    """One build of ``layer``: its wall time and what each thread did meanwhile."""
    backend = libz_backend() if backend_name == "libz" else DEFAULT_BACKEND
    threads: dict[int, _Thread] = {}
    done = threading.Event()
    sampler_id: list[int] = []

    def sample() -> None:
        sampler_id.append(threading.get_native_id())
        while not done.is_set():
            _sample(threads, time.perf_counter())
            time.sleep(_SAMPLE_EVERY)

    _sample(threads, time.perf_counter())
    sampler = threading.Thread(target=sample, name="sampler")
    start = time.perf_counter()
    sampler.start()
    with open(layer, "rb") as f:
        build_ztoc(f, compression=CompressionAlgorithm.GZIP, backend=backend)
    wall = time.perf_counter() - start
    done.set()
    sampler.join()
    _sample(threads, time.perf_counter())
    caller = threads[threading.get_native_id()]
    caller.name, caller.first, caller.last = "caller (scan, encode)", start, start + wall
    seen = [t for tid, t in threads.items() if tid not in sampler_id and t.cpu > 0.001]
    return wall, sorted(seen, key=lambda t: -t.cpu)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("layer")
    parser.add_argument("backend", nargs="?", default="zlib-ng", choices=("zlib-ng", "libz"))
    parser.add_argument("--reps", type=int, default=1)
    parser.add_argument(
        "--untuned", action="store_true", help="keep CPython's 5 ms switch interval"
    )
    args = parser.parse_args()
    if not args.untuned:  # as the command and the Lambda run builds
        tune_for_builds()
    for _ in range(args.reps):
        wall, threads = measure(args.layer, args.backend)
        total = sum(t.cpu for t in threads)
        print(f"build {wall:.2f} s wall, {total:.2f} s CPU in all threads")
        for t in threads:
            life = min(t.last - t.first, wall)
            asleep = max(0.0, life - t.cpu - t.delay)
            print(
                f"  {t.name:22s} cpu {t.cpu:5.2f}  waiting for a CPU {t.delay:5.2f}"
                f"  asleep {asleep:5.2f}  (lifetime {life:.2f})"
            )


if __name__ == "__main__":
    main()
