"""SSM-backed configuration: one call per TTL, strict settings, loud errors."""

from __future__ import annotations

import time

import pytest

from functions.shared.config import ConfigSource
from functions.shared.registries import registry_endpoint
from soci_index_builder.errors import ConfigError
from soci_index_builder.soci.model import IndexSettings
from soci_index_builder.soci.settings import BuilderSettings
from tests.functions.conftest import SetParameters


def test_defaults_when_settings_are_empty_or_missing(set_parameters: SetParameters) -> None:
    set_parameters(settings=None)
    config = ConfigSource().load()
    assert config.settings == IndexSettings()
    assert config.filters.decide("app", "v1").included
    assert config.filters.exclude == ()


def parse_settings(text: str, name: str) -> IndexSettings:
    return BuilderSettings.from_json(text, name).index


def test_settings_keys_override_defaults() -> None:
    settings = parse_settings(
        '{"span_size": 1048576, "min_layer_size": 0, "index_version": "v1", '
        '"tag_suffix": ".soci", "platforms": ["linux/arm64/v8"], "recompress_zstd": true}',
        "settings",
    )
    assert settings == IndexSettings(
        span_size=1 << 20,
        min_layer_size=0,
        index_version="v1",
        tag_suffix=".soci",
        platforms=("linux/arm64/v8",),
        recompress_zstd=True,
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{", "not valid JSON"),
        ("[]", "JSON object"),
        ('{"spanSize": 4}', "unknown keys"),
        ('{"span_size": "4MiB"}', "span_size must be a JSON int"),
        ('{"min_layer_size": true}', "min_layer_size must be a JSON int"),
        ('{"recompress_zstd": "yes"}', "recompress_zstd"),
        ('{"platforms": "linux/amd64"}', "platforms must be a JSON list"),
        ('{"platforms": ["amd64"]}', "os/arch"),
        ('{"platforms": [1]}', "os/arch"),
        ('{"index_version": "v3"}', "index_version"),
        ('{"tag_suffix": ""}', "tag_suffix"),
        ('{"tag_suffix": "/x"}', "tag_suffix"),
        ('{"span_size": 0}', "span_size"),
        ('{"min_layer_size": -1}', "min_layer_size"),
    ],
)
def test_malformed_settings_are_config_errors(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_settings(text, "/p/settings")


def test_missing_include_is_a_config_error(set_parameters: SetParameters) -> None:
    set_parameters(include=None)
    with pytest.raises(ConfigError, match="include is missing"):
        ConfigSource().load()


def test_missing_path_variable_is_a_config_error(
    aws: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("FILTERS_PARAMETER_PATH")
    with pytest.raises(ConfigError, match="FILTERS_PARAMETER_PATH"):
        ConfigSource().load()


def test_one_ssm_call_per_ttl_and_edits_apply_after_it(
    set_parameters: SetParameters, monkeypatch: pytest.MonkeyPatch
) -> None:
    import boto3
    from aws_lambda_powertools.utilities.parameters import SSMProvider

    monkeypatch.setenv("FILTERS_CACHE_SECONDS", "1")
    set_parameters(include="a:*")
    client = boto3.client("ssm")
    calls = []
    client.meta.events.register("before-call.ssm.GetParametersByPath", lambda **_: calls.append(1))
    source = ConfigSource(SSMProvider(boto3_client=client))
    assert source.load().filters.decide("a", "v1").included
    set_parameters(include="b:*")
    assert source.load().filters.decide("a", "v1").included  # still cached
    assert len(calls) == 1
    time.sleep(1.1)
    assert not source.load().filters.decide("a", "v1").included
    assert len(calls) == 2


def test_registry_endpoint_from_event_or_override(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("REGISTRY_ENDPOINT", raising=False)
    assert registry_endpoint("123456789012", "eu-west-1") == (
        "123456789012.dkr.ecr.eu-west-1.amazonaws.com",
        False,
    )
    assert registry_endpoint("123456789012", "cn-north-1")[0].endswith(".amazonaws.com.cn")
    for value, expected in [
        ("http://127.0.0.1:5000", ("127.0.0.1:5000", True)),
        ("https://registry.example.com/", ("registry.example.com", False)),
        ("registry.example.com:443", ("registry.example.com:443", False)),
    ]:
        monkeypatch.setenv("REGISTRY_ENDPOINT", value)
        assert registry_endpoint("123456789012", "eu-west-1") == expected
    for bad in ("ftp://x", "http://", "http://host/path"):
        monkeypatch.setenv("REGISTRY_ENDPOINT", bad)
        with pytest.raises(ConfigError):
            registry_endpoint("123456789012", "eu-west-1")
