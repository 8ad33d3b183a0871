"""Props validation and context parsing: fast, no synth."""

from __future__ import annotations

import json

import pytest

from infra.settings import EXCLUDE_NOTHING, BuilderProps, props_from_context


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
