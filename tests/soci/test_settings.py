"""The settings model: one set of rules, whatever builds the record (CLI, SSM JSON, CDK)."""

from __future__ import annotations

import pytest

from soci_index_builder.errors import ConfigError
from soci_index_builder.soci.settings import (
    DEFAULT_PRUNE_AFTER_DAYS,
    MIN_SPAN_SIZE,
    BuilderSettings,
    FleetSettings,
    IndexSettings,
    SettingError,
)


@pytest.mark.parametrize(
    ("values", "key"),
    [
        ({"span_size": 0}, "span_size"),
        ({"span_size": MIN_SPAN_SIZE - 1}, "span_size"),
        ({"span_size": True}, "span_size"),
        ({"min_layer_size": -1}, "min_layer_size"),
        ({"index_version": "v3"}, "index_version"),
        ({"tag_suffix": " soci"}, "tag_suffix"),
        ({"tag_suffix": "x" * 33}, "tag_suffix"),
        ({"platforms": ("linux",)}, "platforms"),
        ({"max_workers": 0}, "max_workers"),
        ({"recompress_zstd": "yes"}, "recompress_zstd"),
    ],
)
def test_every_constructor_refuses_a_bad_value_naming_its_key(
    values: dict[str, object], key: str
) -> None:
    with pytest.raises(SettingError) as caught:
        IndexSettings(**values)  # type: ignore[arg-type]
    assert caught.value.key == key and str(caught.value).startswith(key)


def test_the_smallest_span_and_an_empty_platform_list_are_accepted() -> None:
    assert IndexSettings(span_size=MIN_SPAN_SIZE, platforms=()).span_size == MIN_SPAN_SIZE


def test_ssm_object_holds_index_and_fleet_keys() -> None:
    settings = BuilderSettings.from_json(
        '{"tag_suffix": ".lazy", "prune": false, "prune_after_days": 0}', "/s/settings"
    )
    assert settings.index == IndexSettings(tag_suffix=".lazy")
    assert settings.fleet == FleetSettings(prune=False, prune_after_days=0)
    assert BuilderSettings.from_json(" ", "/s/settings").fleet == FleetSettings(
        prune=True, prune_after_days=DEFAULT_PRUNE_AFTER_DAYS
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"prune": "no"}', "/s/settings: prune must be a JSON bool, got 'no'"),
        ('{"prune_after_days": -1}', "/s/settings: prune_after_days must be >= 0"),
        ('{"prune_after_days": 1.5}', "/s/settings: prune_after_days must be a JSON int"),
        ('{"replace_tag": true}', "/s/settings: unknown keys ['replace_tag']"),
        ('{"span_size": 1}', f"/s/settings: span_size must be >= {MIN_SPAN_SIZE}"),
    ],
)
def test_ssm_errors_name_the_parameter_and_the_key(text: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        BuilderSettings.from_json(text, "/s/settings")
    assert str(caught.value).startswith(message)
