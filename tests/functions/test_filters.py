"""Filter grammar and precedence (docs/filters.md): compatible with the reference builder."""

from __future__ import annotations

import pytest

from soci_index_builder.errors import ConfigError, SkipReason
from soci_index_builder.filters import Filters, parse_rule, parse_rules


@pytest.mark.parametrize(
    ("rule", "repository", "tag", "expected"),
    [
        ("*:*", "team/app", "v1", True),
        ("prod*:latest", "prod-api", "latest", True),
        ("prod*:latest", "prod-api", "Latest", False),  # case-sensitive
        ("dev:*", "dev", "anything", True),
        ("dev:*", "dev/sub", "x", False),
        ("team/*:v*", "team/a/b", "v2", True),  # * crosses "/" as in fnmatch
        ("app:v?", "app", "v1", True),
        ("app:v?", "app", "v10", False),
        ("app:v[0-9].*", "app", "v3.1", True),
        ("app:v[!0-9]*", "app", "vX", True),
        ("app:v[!0-9]*", "app", "v1", False),
        ("app:Release_*", "app", "Release_1", True),  # legal ECR tags the reference rejects
    ],
)
def test_rule_matching(rule: str, repository: str, tag: str, expected: bool) -> None:
    assert parse_rule(rule, "include").matches(repository, tag) is expected


def test_exclude_wins_over_include_and_reports_the_rule() -> None:
    filters = Filters(parse_rules("*:*", "include"), parse_rules("*:dev-*,scratch/*:*", "exclude"))
    assert filters.decide("app", "v1").included
    decision = filters.decide("app", "dev-7")
    assert (decision.included, decision.reason, str(decision.rule)) == (
        False,
        SkipReason.EXCLUDED,
        "*:dev-*",
    )
    assert filters.decide("scratch/x", "v1").reason is SkipReason.EXCLUDED


def test_no_include_match_is_not_included() -> None:
    decision = Filters(parse_rules("prod/*:*", "include")).decide("dev/app", "v1")
    assert (decision.included, decision.reason) == (False, SkipReason.NOT_INCLUDED)


@pytest.mark.parametrize("value", ["-", "", "  ", " - "])
def test_dash_or_blank_means_no_rules(value: str) -> None:
    assert parse_rules(value, "exclude") == ()


def test_list_items_are_trimmed() -> None:
    assert [str(r) for r in parse_rules("a:*, b/*:v1 ", "include")] == ["a:*", "b/*:v1"]


@pytest.mark.parametrize(
    "rule",
    [
        "app",  # no colon
        "app:v1:extra",
        ":v1",
        "app:",
        "App:*",  # upper-case repository can never match
        "app :v1",
        "app:v 1",
        "app:v[0-9",  # unbalanced bracket
        "app:v]",
        "app:!v1",
        "app,b:*",
    ],
)
def test_malformed_rules_are_config_errors(rule: str) -> None:
    with pytest.raises(ConfigError, match="include"):
        parse_rules(rule, "include")


def test_an_empty_item_in_a_list_is_an_error() -> None:
    with pytest.raises(ConfigError):
        parse_rules("a:*,,b:*", "include")
