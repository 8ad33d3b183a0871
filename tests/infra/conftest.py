"""Synthesize each configuration once per test run: every synth costs ~15 s of jsii/node
startup plus a pip run, so all CDK tests share these fixtures.

The tests are marked ``xdist_group("cdk")``, but with pytest 9.2 + xdist 3.8 ``--dist loadgroup``
was seen scheduling one group on both workers; a file lock in the run's shared temp root makes
the synths happen once whatever the scheduler does.
"""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
CDK_CLI = ROOT / "node_modules" / ".bin" / "cdk"

#: The customised configuration: every optional input set, x86_64.
CUSTOM_CONTEXT: dict[str, Any] = {
    "stackName": "SociCustom",
    "architecture": "x86_64",
    "include": "prod/*:*,team-a/*:v*",
    "exclude": ["prod/scratch:*"],
    "repositoryPrefixes": "prod/,team-a/",
    "reservedConcurrency": "4",
    "maxConcurrency": "20",
    "memorySize": "4096",
    "indexVersion": "v1",
    "tagSuffix": "-lazy",
    "resultBus": "soci-results",
    "signingProfileArns": "arn:aws:signer:us-east-1:123456789012:/signing-profiles/EcrSigning",
    "permissionsBoundary": "arn:aws:iam::123456789012:policy/Boundary",
    "maxReceiveCount": "5",
    "logRetentionDays": "90",
    "alarmEmail": "ops@example.com",
    "reconcileSchedule": "cron(0 3 * * ? *)",
    "backfillOnDeploy": "false",
    "excludeFromPullTimes": "false",
}


@dataclass
class Synth:
    """One synthesized configuration: templates by stack name and the assembly directory."""

    templates: dict[str, dict[str, Any]]
    outdir: Path
    via_cli: bool

    @property
    def report(self) -> dict[str, Any]:
        return json.loads((self.outdir / "validation-report.json").read_text())


def _synth_cli(outdir: Path) -> Synth:
    """``cdk synth`` exactly as ``make synth`` runs it (cdk.json app, pinned CLI)."""
    env = {**os.environ, "PATH": f"{CDK_CLI.parent}{os.pathsep}{os.environ['PATH']}"}
    run = subprocess.run(
        [str(CDK_CLI), "synth", "--no-notices", "-q", "-o", str(outdir)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert run.returncode == 0, f"cdk synth failed:\n{run.stdout}\n{run.stderr}"
    templates = {
        p.name.removesuffix(".template.json"): json.loads(p.read_text())
        for p in outdir.glob("*.template.json")
    }
    return Synth(templates=templates, outdir=outdir, via_cli=True)


def _synth_in_process(outdir: Path, context: dict[str, Any], extra_stack: str | None) -> Synth:
    import aws_cdk as cdk

    from infra.app import build_app
    from infra.stack import SociIndexBuilderStack

    app = cdk.App(outdir=str(outdir), context=context)
    stacks = [build_app(app)]
    if extra_stack:
        stacks.append(SociIndexBuilderStack(app, extra_stack))
    assembly = app.synth()
    templates = {s.stack_name: assembly.get_stack_by_name(s.stack_name).template for s in stacks}
    return Synth(templates=templates, outdir=Path(assembly.directory), via_cli=False)


def _shared(factory: pytest.TempPathFactory, name: str, synth: Callable[[Path], Synth]) -> Synth:
    """Run ``synth`` once across xdist workers; later callers load its saved result."""
    root = factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent
    outdir, saved = root / f"cdk-{name}", root / f"cdk-{name}.json"
    with open(root / f"cdk-{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not saved.exists():
            outdir.mkdir(exist_ok=True)
            result = synth(outdir)
            saved.write_text(json.dumps({"templates": result.templates, "cli": result.via_cli}))
    data = json.loads(saved.read_text())
    return Synth(templates=data["templates"], outdir=outdir, via_cli=data["cli"])


@pytest.fixture(scope="session")
def default_synth(tmp_path_factory: pytest.TempPathFactory) -> Synth:
    """The default stack, through the CLI when ``npm ci`` installed it."""
    if CDK_CLI.exists():
        return _shared(tmp_path_factory, "default", _synth_cli)
    return _shared(tmp_path_factory, "default", lambda out: _synth_in_process(out, {}, None))


@pytest.fixture(scope="session")
def custom_synth(tmp_path_factory: pytest.TempPathFactory) -> Synth:
    """Every option set, plus a second default stack in the same app (coexistence)."""
    return _shared(
        tmp_path_factory,
        "custom",
        lambda out: _synth_in_process(out, CUSTOM_CONTEXT, "SociSecond"),
    )
