"""Cold start of the indexer Lambda, and one event end to end against a local registry.

1. Import cost: wall time of fresh interpreters (median of N, interleaved) running
   ``pass``, ``import functions.indexer.handler``, and the handler plus what the first indexing
   event imports lazily (boto3 SSM client, registry client, builder). Absolute numbers differ
   on Lambda; the deltas between rows are what to watch.
2. End to end: a ~100 MB two-layer image pushed to a ``docker-registry`` started
   here, then one SQS-wrapped ECR event through ``handler.handler`` with SSM and ECR auth
   served by moto. Reported: handler wall time and the builder's own figures.

Usage: ``.venv/bin/python bench/cold_start.py [--runs 9] [--skip-e2e] [--mb 100]``
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
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
    "handler + first-event imports": (
        "import functions.indexer.handler\n"
        "from aws_lambda_powertools.utilities.parameters import SSMProvider\n"
        "import boto3; boto3.client('ssm', region_name='us-east-1')\n"
        "import soci_index_builder.store.remote.client, soci_index_builder.store.remote.ecr\n"
        "import soci_index_builder.soci.build\n"
    ),
}


def time_imports(runs: int) -> dict[str, list[float]]:
    """Wall seconds per fresh process, rows interleaved so machine noise hits all alike."""
    env = {**os.environ, "PYTHONPATH": f"{ROOT}:{ROOT / 'layers'}", "PYTHONDONTWRITEBYTECODE": ""}
    samples: dict[str, list[float]] = {name: [] for name in PROGRAMS}
    for program in PROGRAMS.values():  # warm the bytecode cache once
        subprocess.run([sys.executable, "-c", program], env=env, check=True, cwd=ROOT)
    for _ in range(runs):
        for name, program in PROGRAMS.items():
            start = time.perf_counter()
            subprocess.run([sys.executable, "-c", program], env=env, check=True, cwd=ROOT)
            samples[name].append(time.perf_counter() - start)
    return samples


def report_imports(samples: dict[str, list[float]]) -> None:
    base = statistics.median(samples["bare interpreter"])
    print(f"{'import (fresh process)':34} {'median ms':>10} {'min ms':>8} {'over bare':>10}")
    for name, values in samples.items():
        median = statistics.median(values)
        print(
            f"{name:34} {median * 1000:10.0f} {min(values) * 1000:8.0f} "
            f"{(median - base) * 1000:10.0f}"
        )


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

    from tests.fixtures.registry import _start, _stop

    workdir = Path(tempfile.mkdtemp(prefix="soci-bench-registry-"))
    registry = _start(workdir)
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
        _stop(registry.process)
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
    report_imports(time_imports(args.runs))
    if not args.skip_e2e:
        if shutil.which("docker-registry") is None:
            print("end to end: skipped (docker-registry not installed)")
            return
        print("end to end:", json.dumps(end_to_end(args.mb), indent=1))


if __name__ == "__main__":
    main()
