"""Cross-cutting checks on synthesized assemblies: options, coexistence, cdk-nag, the layer."""

from __future__ import annotations

import json
import struct
import subprocess
from typing import TYPE_CHECKING, Any

import pytest
from aws_cdk.assertions import Match, Template

if TYPE_CHECKING:
    from pathlib import Path

    from .conftest import Synth

pytestmark = [pytest.mark.infra, pytest.mark.xdist_group("cdk")]

ELF_MACHINE = {"arm64": 0xB7, "x86_64": 0x3E}  # EM_AARCH64, EM_X86_64


def _layer_dir(outdir: Path, template: dict[str, Any]) -> Path:
    """The staged layer asset of one stack (its LayerVersion's S3 key is the asset hash)."""
    (layer,) = [
        r for r in template["Resources"].values() if r["Type"] == "AWS::Lambda::LayerVersion"
    ]
    key = layer["Properties"]["Content"]["S3Key"]
    return outdir / f"asset.{key.removesuffix('.zip')}"


def _elf_machine(path: Path) -> int:
    header = path.read_bytes()[:20]
    assert header[:4] == b"\x7fELF" and header[5] == 1, f"{path} is not little-endian ELF"
    return int(struct.unpack_from("<H", header, 18)[0])


@pytest.mark.parametrize(("config", "stack", "arch"), [
    ("default_synth", "SociIndexBuilder", "arm64"),
    ("custom_synth", "SociCustom", "x86_64"),
])  # fmt: skip
def test_layer_holds_engine_and_native_wheels_for_the_architecture(
    config: str, stack: str, arch: str, request: pytest.FixtureRequest
) -> None:
    synth: Synth = request.getfixturevalue(config)
    python = _layer_dir(synth.outdir, synth.templates[stack]) / "python"
    assert (python / "soci_index_builder" / "__init__.py").is_file()
    assert (python / "aws_lambda_powertools").is_dir()
    assert not (python / "bin").exists()
    (extension,) = python.glob("zstandard/backend_c*.so")
    assert "cpython-313" in extension.name
    assert _elf_machine(extension) == ELF_MACHINE[arch]


@pytest.mark.parametrize(("config", "stack", "arch"), [
    ("default_synth", "SociIndexBuilder", "arm64"),
    ("custom_synth", "SociCustom", "x86_64"),
])  # fmt: skip
def test_layer_ships_only_runtime_code_stripped_and_precompiled(
    config: str, stack: str, arch: str, request: pytest.FixtureRequest
) -> None:
    from infra.bundling import PYTHON_VERSION
    from infra.slimming import find_python, strip_tool

    synth: Synth = request.getfixturevalue(config)
    python = _layer_dir(synth.outdir, synth.templates[stack]) / "python"
    for unused in (
        "flatbuffers",
        "tests",
        "zstandard/backend_cffi.py",
        "zstandard/_cffi*.so",
        "aws_lambda_powertools/event_handler",
        "soci_index_builder/ztoc/_fbs",
    ):
        assert not list(python.glob(unused)), unused  # fmt: skip
    size = sum(p.stat().st_size for p in python.rglob("*") if p.is_file())
    assert size <= 10_000_000, f"layer is {size / 1e6:.1f} MB unzipped"
    if strip_tool(arch) is not None:
        for shared in python.rglob("*.so"):
            assert b".debug_info" not in shared.read_bytes(), shared
    tag = "cpython-" + PYTHON_VERSION.replace(".", "")
    compiled = list(python.rglob(f"*.{tag}.pyc"))
    if find_python(PYTHON_VERSION) is None:
        assert not compiled
        return
    sources = [p for p in python.rglob("*.py")]
    assert len(compiled) == len(sources)
    for pyc in compiled:
        flags = int.from_bytes(pyc.read_bytes()[4:8], "little")
        assert flags == 0b01, f"{pyc}: not an unchecked-hash .pyc"  # PEP 552
    (errors,) = python.glob(f"soci_index_builder/__pycache__/errors.{tag}.pyc")
    assert b"/opt/python/soci_index_builder/errors.py" in errors.read_bytes()  # Lambda's path


def test_handler_imports_from_the_shipped_assets_on_the_lambda_python(custom_synth: Synth) -> None:
    """The x86_64 assets as Lambda lays them out (/var/task + /opt/python), on Python 3.13."""
    from infra.bundling import PYTHON_VERSION
    from infra.slimming import find_python

    interpreter = find_python(PYTHON_VERSION)
    if interpreter is None:
        pytest.skip(f"python{PYTHON_VERSION} is not installed")
    template = custom_synth.templates["SociCustom"]
    layer = _layer_dir(custom_synth.outdir, template) / "python"
    (function,) = [
        r
        for r in template["Resources"].values()
        if r["Type"] == "AWS::Lambda::Function"
        and r["Properties"]["Handler"] == "functions.indexer.handler.handler"
    ]
    task = custom_synth.outdir / f"asset.{function['Properties']['Code']['S3Key'][:-4]}"
    program = (
        "import sys, functions.indexer.handler, functions.reconciler.handler\n"
        "import soci_index_builder.soci.build, zstandard\n"
        "assert zstandard.backend == 'cext', zstandard.backend\n"
        "assert not [m for m in sys.modules if m.split('.')[0] in ('flatbuffers', 'tests')]"
    )
    run = subprocess.run(
        [interpreter, "-I", "-c", f"import sys; sys.path[:0] = {[str(task), str(layer)]!r}\n"
         + program],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr


def test_function_asset_is_the_functions_package(default_synth: Synth) -> None:
    """The handler path resolves in the asset, and the shared modules ship with it."""
    from infra.bundling import PYTHON_VERSION
    from infra.slimming import find_python

    template = default_synth.templates["SociIndexBuilder"]
    functions = [r for r in template["Resources"].values() if r["Type"] == "AWS::Lambda::Function"]
    assert len(functions) == 2  # the indexer and the reconciler share one asset
    for function in functions:
        key = function["Properties"]["Code"]["S3Key"]
        root = default_synth.outdir / f"asset.{key.removesuffix('.zip')}"
        module, _, _ = function["Properties"]["Handler"].rpartition(".")
        assert (root / (module.replace(".", "/") + ".py")).is_file()
        assert (root / "functions" / "__init__.py").is_file()
        assert (root / "functions" / "shared" / "config.py").is_file()
        compiled = list(root.rglob("*.pyc"))
        if find_python(PYTHON_VERSION) is not None:  # precompiled: /var/task is read-only too
            assert len(compiled) == len(list(root.rglob("*.py")))
            assert b"/var/task/functions/" in compiled[0].read_bytes()


@pytest.mark.parametrize("config", ["default_synth", "custom_synth"])
def test_cdk_nag_aws_solutions_clean_and_every_acknowledgment_explained(
    config: str, request: pytest.FixtureRequest
) -> None:
    synth: Synth = request.getfixturevalue(config)
    (report,) = [r for r in synth.report["pluginReports"] if r["pluginName"] == "AwsSolutions"]
    assert report["conclusion"] == "success"
    assert report["violations"] == []
    for suppressed in report["suppressedViolations"]:
        assert len(suppressed["reason"]) > 30, suppressed["ruleName"]


def test_default_synth_ran_through_the_pinned_cli(default_synth: Synth) -> None:
    if not default_synth.via_cli:
        pytest.skip("node_modules/.bin/cdk missing: run `make setup` (npm ci)")
    assert json.loads((default_synth.outdir / "manifest.json").read_text())["artifacts"]


def test_two_stacks_coexist_in_one_app(custom_synth: Synth) -> None:
    first, second = (custom_synth.templates[n] for n in ("SociCustom", "SociSecond"))
    names = [
        {
            r["Properties"]["Name"]
            for r in t["Resources"].values()
            if r["Type"] == "AWS::SSM::Parameter"
        }
        for t in (first, second)
    ]
    assert names[0].isdisjoint(names[1]) and len(names[0]) == 3
    Template.from_json(second).has_resource_properties(
        "AWS::Lambda::Function", {"Architectures": ["arm64"]}
    )


@pytest.fixture(scope="module")
def custom(custom_synth: Synth) -> Template:
    return Template.from_json(custom_synth.templates["SociCustom"])


def test_custom_function_options(custom: Template) -> None:
    custom.has_resource_properties(
        "AWS::Lambda::Function",
        {
            "Architectures": ["x86_64"],
            "MemorySize": 4096,
            "ReservedConcurrentExecutions": 4,
            "Environment": {"Variables": Match.object_like({
                "FILTERS_PARAMETER_PATH": "/SociCustom/",
                "RESULT_EVENT_BUS": Match.any_value(),
            })},
        },
    )  # fmt: skip
    # the poller never outruns reserved concurrency (throttles would burn receive counts)
    custom.has_resource_properties(
        "AWS::Lambda::EventSourceMapping", {"ScalingConfig": {"MaximumConcurrency": 4}}
    )
    custom.has_resource_properties(
        "AWS::Lambda::LayerVersion", {"CompatibleArchitectures": ["x86_64"]}
    )
    custom.has_resource_properties("AWS::Logs::LogGroup", {"RetentionInDays": 90})


def test_custom_rule_queue_and_parameters(custom: Template) -> None:
    suffix = {"image-tag": [{"anything-but": {"suffix": "-lazy"}}]}
    custom.has_resource_properties(
        "AWS::Events::Rule", {"EventPattern": {"detail": Match.object_like(suffix)}}
    )
    custom.has_resource_properties(
        "AWS::SQS::Queue", {"RedrivePolicy": Match.object_like({"maxReceiveCount": 5})}
    )
    for name, value in {
        "/SociCustom/include": "prod/*:*,team-a/*:v*",
        "/SociCustom/exclude": "prod/scratch:*",
        "/SociCustom/settings": '{"index_version":"v1","tag_suffix":"-lazy"}',
    }.items():
        custom.has_resource_properties("AWS::SSM::Parameter", {"Name": name, "Value": value})


def _statements(template: Template) -> list[dict[str, Any]]:
    return [
        s
        for p in template.find_resources("AWS::IAM::Policy").values()
        for s in p["Properties"]["PolicyDocument"]["Statement"]
    ]


def test_custom_iam_scope_result_bus_and_boundary(custom: Template) -> None:
    statements = _statements(custom)
    ecr = next(s for s in statements if "ecr:PutImage" in s["Action"])
    tails = [r["Fn::Join"][1][-1] for r in ecr["Resource"]]
    assert tails == [":repository/prod/*", ":repository/team-a/*"]
    (put_events,) = [s for s in statements if s["Action"] == "events:PutEvents"]
    assert put_events["Resource"]["Fn::Join"][1][-1] == ":event-bus/soci-results"
    (sign,) = [s for s in statements if s["Action"] == "signer:SignPayload"]
    assert sign["Resource"] == "arn:aws:signer:us-east-1:123456789012:/signing-profiles/EcrSigning"
    custom.has_resource_properties(
        "AWS::IAM::Role",
        {"PermissionsBoundary": "arn:aws:iam::123456789012:policy/Boundary"},
    )


def test_custom_alarm_topic_with_email_and_tls(custom: Template) -> None:
    custom.has_resource_properties(
        "AWS::SNS::Subscription", {"Protocol": "email", "Endpoint": "ops@example.com"}
    )
    custom.has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {"AlarmActions": [{"Ref": Match.string_like_regexp("AlarmTopic")}]},
    )
    custom.resource_count_is("AWS::SNS::TopicPolicy", 1)
