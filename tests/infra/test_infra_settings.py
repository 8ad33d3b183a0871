"""Props validation and context parsing: fast, no synth."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from infra.settings import EXCLUDE_NOTHING, BuilderProps, ContextError, props_from_context

ROOT = Path(__file__).resolve().parents[2]


def test_defaults_are_the_documented_ones() -> None:
    props = BuilderProps()
    assert props.architecture == "arm64" and props.memory_size >= 3538
    assert props.exclude_value == [EXCLUDE_NOTHING] == ["-"]
    assert json.loads(props.settings_value) == {"index_version": "v2", "tag_suffix": "-soci"}


def test_context_strings_lists_and_numbers() -> None:
    props = props_from_context({
        "include": "a/*:*, b:v*", "exclude": '["c:*"]', "repositoryPrefixes": ["a/"],
        "memorySize": "4096", "reservedConcurrency": "none", "architecture": "x86_64",
        "resultBus": "", "unknown": "ignored",
        "signingProfileArns": "arn:aws:signer:eu-west-1:123456789012:/signing-profiles/Prod",
    })  # fmt: skip
    assert props.signing_profile_arns == (
        "arn:aws:signer:eu-west-1:123456789012:/signing-profiles/Prod",
    )
    assert props.include == ("a/*:*", "b:v*") and props.exclude == ("c:*",)
    assert props.repository_prefixes == ("a/",) and props.memory_size == 4096
    assert props.reserved_concurrency is None and props.result_bus is None
    assert props.architecture == "x86_64"


@pytest.mark.parametrize("bad", [
    {"architecture": "amd64"}, {"memory_size": 64}, {"index_version": "v3"},
    {"tag_suffix": " "}, {"max_receive_count": 0}, {"log_retention_days": 31},
    {"include": ()}, {"include": ("a:*,b:*",)}, {"repository_prefixes": ("Bad",)},
    {"parameter_prefix": "no-slashes"}, {"max_concurrency": 1},
    {"signing_profile_arns": ("arn:aws:iam::123456789012:role/x",)},
])  # fmt: skip
def test_invalid_inputs_fail_with_a_sentence(bad: dict[str, object]) -> None:
    with pytest.raises(ValueError, match="SociIndexBuilder: "):
        BuilderProps(**bad)  # type: ignore[arg-type]


@pytest.mark.parametrize(("context", "message"), [
    ({"tagSuffix": " soci"}, "tagSuffix=' soci': must be 1-32 of A-Za-z0-9_.-"),
    ({"indexVersion": "v3"}, "indexVersion='v3': must be 'v1' or 'v2'"),
    ({"memorySize": "lots"}, "memorySize='lots': invalid literal"),
    ({"memorySize": "64"}, "memorySize='64': must be 128..10240 MB"),
    ({"exclude": "[broken"}, "exclude='[broken'"),
    ({"logRetentionDays": "31"}, "logRetentionDays='31': is not a CloudWatch Logs"),
])  # fmt: skip
def test_bad_context_names_its_key(context: dict[str, str], message: str) -> None:
    with pytest.raises(ContextError) as caught:
        props_from_context(context)
    assert str(caught.value).startswith(f"context {message}")


def test_synth_stops_with_one_line_naming_the_key(tmp_path: Path) -> None:
    """The app as ``cdk synth`` runs it (cdk.json), with a suffix the function would refuse."""
    env = {**os.environ, "CDK_CONTEXT_JSON": json.dumps({"tagSuffix": " soci"}),
           "CDK_OUTDIR": str(tmp_path)}  # fmt: skip
    run = subprocess.run(
        [sys.executable, "-m", "infra.app"], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert run.returncode != 0 and "Traceback" not in run.stderr  # (jsii may warn about node)
    assert run.stderr.strip().splitlines()[-1] == (
        "error: context tagSuffix=' soci': must be 1-32 of A-Za-z0-9_.- (got ' soci')"
    )
    assert not list(tmp_path.iterdir())


def test_max_concurrency_never_above_reserved_concurrency() -> None:
    assert BuilderProps(reserved_concurrency=4).effective_max_concurrency == 4
    assert BuilderProps(reserved_concurrency=1).effective_max_concurrency == 2
    assert BuilderProps(max_concurrency=50).effective_max_concurrency == 50


def test_layer_requirements_are_all_pinned() -> None:
    from infra.bundling import LAYER_REQUIREMENTS

    lines = [
        line.strip() for line in LAYER_REQUIREMENTS.read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]  # fmt: skip
    assert lines and all("==" in line for line in lines)
    assert not any(line.startswith("boto") for line in lines)  # in the Lambda runtime
