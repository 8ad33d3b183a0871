"""Cold start of the indexer Lambda, and one event end to end against a local registry.

1. The shipped layer: its unzipped size for each architecture, as ``infra/bundling.py`` builds
   it for ``cdk synth`` (pip, slimming, precompiled ``.pyc``).
2. Import cost on the Lambda's Python (3.13, when installed): wall time of fresh interpreters
   (median of N, interleaved) with the shipped function asset and the host architecture's
   layer on ``sys.path`` as Lambda lays them out, running ``pass``, ``import
   functions.indexer.handler``, and the handler plus what the first indexing event imports
   lazily (registry client, builder). Bytecode writing is off, as on Lambda's read-only
   ``/opt``; the same layer without its ``.pyc`` shows what precompiling saves.
3. End to end: a ~100 MB two-layer image pushed to a ``docker-registry`` started
   here, then one SQS-wrapped ECR event through ``handler.handler`` with SSM and ECR auth
   served by moto. Reported: handler wall time and the builder's own figures.

Usage: ``.venv/bin/python bench/cold_start.py [--runs 9] [--skip-e2e] [--mb 100]``
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "layers")]

PROGRAMS = {
    "bare interpreter": "pass",
    "handler module": "import functions.indexer.handler",
    "handler + first-build imports": (
        "import functions.indexer.handler\n"
        "import soci_index_builder.store.remote.client\n"
        "import soci_index_builder.soci.build\n"
    ),
}
_ARCH = {"x86_64": "x86_64", "amd64": "x86_64", "aarch64": "arm64", "arm64": "arm64"}


def stage_assets(workdir: Path) -> dict[str, Path]:
    """The layer of each architecture and the function code, built as ``cdk synth`` does."""
    from infra.bundling import FunctionsBundling, PipLayerBundling

    staged = {"task": workdir / "task"}
    FunctionsBundling().try_bundle(str(staged["task"]))
    for arch in ("arm64", "x86_64"):
        staged[arch] = workdir / arch
        PipLayerBundling(arch).try_bundle(str(staged[arch]))  # type: ignore[arg-type]
    return staged


def tree_megabytes(path: Path) -> float:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 1e6


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def time_imports(
    python: str, paths: dict[str, list[Path]], runs: int
) -> dict[str, list[tuple[float, float]]]:
    """(wall, CPU) seconds per fresh process, rows interleaved so noise hits all alike.

    CPU time (user + system) is what a busy machine distorts least; wall time is what a
    cold start costs on an idle one.
    """
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    rows = {
        f"{name} ({variant})": f"import sys; sys.path[:0] = {[str(p) for p in path]!r}\n{program}"
        for variant, path in paths.items()
        for name, program in PROGRAMS.items()
    }
    samples: dict[str, list[tuple[float, float]]] = {name: [] for name in rows}
    for program in rows.values():  # the OS file cache warm for every row
        subprocess.run([python, "-I", "-c", program], env=env, check=True, cwd=ROOT)
    for _ in range(runs):
        for name, program in rows.items():
            start, cpu = time.perf_counter(), _cpu_seconds()
            subprocess.run([python, "-I", "-c", program], env=env, check=True, cwd=ROOT)
            samples[name].append((time.perf_counter() - start, _cpu_seconds() - cpu))
    return samples


def report_imports(python: str, samples: dict[str, list[tuple[float, float]]]) -> None:
    print(f"imports on {python} (fresh process, no bytecode writing), ms")
    print(f"{'':44} {'wall':>6} {'over bare':>10} {'CPU':>6} {'over bare':>10} {'min wall':>9}")
    for name, values in samples.items():
        variant = name[name.index("(") :]
        bare = samples[f"bare interpreter {variant}"]
        row = []
        for column in (0, 1):  # medians
            median = statistics.median(v[column] for v in values)
            base = statistics.median(v[column] for v in bare)
            row += [f"{median * 1000:6.0f}", f"{(median - base) * 1000:10.0f}"]
        row.append(f"{min(v[0] for v in values) * 1000:9.0f}")
        print(f"{name:44} " + " ".join(row))


def cold_start(runs: int) -> None:
    """Layer sizes, then import times with the host architecture's layer."""
    from infra.bundling import PYTHON_VERSION
    from infra.slimming import find_python

    workdir = Path(tempfile.mkdtemp(prefix="soci-bench-layer-"))
    try:
        staged = stage_assets(workdir)
        for arch in ("arm64", "x86_64"):
            print(f"layer {arch}: {tree_megabytes(staged[arch]):.1f} MB unzipped")
        python = find_python(PYTHON_VERSION)
        arch = _ARCH.get(platform.machine().lower())
        if python is None or arch is None:
            print(f"imports: skipped (no python{PYTHON_VERSION}, or host CPU {platform.machine()})")
            return
        bare = workdir / "without-pyc"
        shutil.copytree(staged[arch], bare)
        for cache in list(bare.rglob("__pycache__")):
            shutil.rmtree(cache)
        layer, task = staged[arch] / "python", staged["task"]
        paths = {"shipped": [task, layer], "no .pyc": [task, bare / "python"]}
        report_imports(python, time_imports(python, paths, runs))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def push_bench_image(repository: object, megabytes: int) -> str:
    """Two layers of 1 MiB random files (incompressible: generating text-like data in Python
    would dominate the run); returns the manifest digest."""
    from tests.fixtures.images import LayerSpec, push_image, random_files

    half = max(1, megabytes // 2)
    layers = [
        LayerSpec(random_files(seed=11, count=half, size=1 << 20)),
        LayerSpec(random_files(seed=12, count=megabytes - half or 1, size=1 << 20)),
    ]
    return push_image(repository, "v1", layers).digest  # type: ignore[arg-type]


def end_to_end(megabytes: int) -> dict[str, object]:
    """Start a registry, push the image, run one event through the handler under moto."""
    from moto import mock_aws

    from tests.fixtures.registry import start_registry, stop_process

    workdir = Path(tempfile.mkdtemp(prefix="soci-bench-registry-"))
    registry = start_registry(workdir)
    try:
        os.environ.update(
            AWS_ACCESS_KEY_ID="bench",
            AWS_SECRET_ACCESS_KEY="bench",
            AWS_DEFAULT_REGION="us-east-1",
            FILTERS_PARAMETER_PATH="/soci-index-builder/",
            REGISTRY_ENDPOINT=registry.url,
            POWERTOOLS_METRICS_NAMESPACE="SociBench",
            POWERTOOLS_LOG_LEVEL="WARNING",
        )
        with mock_aws():
            return _run_event(registry.client().repository("bench/app"), megabytes)
    finally:
        stop_process(registry.process)
        shutil.rmtree(workdir, ignore_errors=True)


def _run_event(repository: object, megabytes: int) -> dict[str, object]:
    import boto3

    from functions.indexer import handler, reporting
    from tests.functions.helpers import FakeContext, ecr_push_event, sqs_batch

    ssm = boto3.client("ssm")
    for name, kind, value in (("include", "StringList", "*:*"), ("exclude", "StringList", "-")):
        ssm.put_parameter(Name=f"/soci-index-builder/{name}", Type=kind, Value=value)
    ssm.put_parameter(Name="/soci-index-builder/settings", Type="String", Value="{}")
    start = time.perf_counter()
    digest = push_bench_image(repository, megabytes)
    push_seconds = time.perf_counter() - start
    results: list[dict[str, object]] = []
    original = reporting.build_detail
    reporting.build_detail = lambda *a: results.append(original(*a)) or results[-1]  # type: ignore[assignment]
    event = sqs_batch(ecr_push_event("bench/app", "v1", digest))
    with contextlib.redirect_stdout(open(os.devnull, "w")):
        start = time.perf_counter()
        answer = handler.handler(event, FakeContext())
        seconds = time.perf_counter() - start
    detail = results[0] if results else {}
    return {
        "push_seconds": round(push_seconds, 2),
        "handler_seconds": round(seconds, 2),
        "failures": answer["batchItemFailures"],
        "status": detail.get("status"),
        "bytes_processed": detail.get("bytes-processed"),
        "build_seconds": detail.get("seconds"),
        "layers": detail.get("layers"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--mb", type=int, default=100, help="approximate compressed image size")
    parser.add_argument("--skip-e2e", action="store_true")
    args = parser.parse_args()
    cold_start(args.runs)
    if not args.skip_e2e:
        if shutil.which("docker-registry") is None:
            print("end to end: skipped (docker-registry not installed)")
            return
        print("end to end:", json.dumps(end_to_end(args.mb), indent=1))


if __name__ == "__main__":
    main()
