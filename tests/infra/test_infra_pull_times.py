"""Pull-time update exclusions (docs/ecr.md 2.5) in the synthesized stacks: one per role that
reads images, by default; none with ``excludeFromPullTimes=false`` (the custom configuration,
whose app also holds a default stack, so no extra synth is needed)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from infra.construct import HANDLER as INDEXER_HANDLER
from infra.reconciler import HANDLER as RECONCILER_HANDLER
from infra.settings import BuilderProps, ContextError, props_from_context

if TYPE_CHECKING:
    from .conftest import Synth

pytestmark = [pytest.mark.infra, pytest.mark.xdist_group("cdk")]

EXCLUSION = "AWS::ECR::PullTimeUpdateExclusion"


def _exclusions(raw: dict[str, Any]) -> dict[str, Any]:
    """Logical id -> PrincipalArn of every exclusion in the template."""
    return {
        k: v["Properties"]["PrincipalArn"]
        for k, v in raw["Resources"].items()
        if v["Type"] == EXCLUSION
    }


def _role_arn_by_handler(raw: dict[str, Any]) -> dict[str, Any]:
    """Handler -> the function's ``Role`` (``Fn::GetAtt`` of its execution role's Arn)."""
    return {
        v["Properties"]["Handler"]: v["Properties"]["Role"]
        for v in raw["Resources"].values()
        if v["Type"] == "AWS::Lambda::Function" and "Handler" in v["Properties"]
    }


@pytest.mark.parametrize(
    ("config", "stack"), [("default_synth", "SociIndexBuilder"), ("custom_synth", "SociSecond")]
)
def test_both_reading_roles_are_excluded_by_default(
    config: str, stack: str, request: pytest.FixtureRequest
) -> None:
    synth: Synth = request.getfixturevalue(config)
    raw = synth.templates[stack]
    exclusions = _exclusions(raw)
    roles = _role_arn_by_handler(raw)
    indexer, reconciler = roles[INDEXER_HANDLER], roles[RECONCILER_HANDLER]
    for arn in (indexer, reconciler):
        (role_id, attribute) = arn["Fn::GetAtt"]
        assert attribute == "Arn" and raw["Resources"][role_id]["Type"] == "AWS::IAM::Role"
        # a generated name under the default path: an ARN ECR's principal pattern accepts
        assert {"RoleName", "Path"}.isdisjoint(raw["Resources"][role_id]["Properties"])
    assert indexer != reconciler
    (reconciler_exclusion,) = [k for k in exclusions if "Reconciler" in k]
    assert exclusions.pop(reconciler_exclusion) == reconciler
    assert list(exclusions.values()) == [indexer]  # exactly one more: the indexer's


def test_no_exclusion_when_turned_off(custom_synth: Synth) -> None:
    raw = custom_synth.templates["SociCustom"]
    assert _role_arn_by_handler(raw)  # the functions (and their roles) are still there
    assert _exclusions(raw) == {}


@pytest.mark.parametrize(
    ("context", "expected"),
    [({}, True), ({"excludeFromPullTimes": "False"}, False),
     ({"excludeFromPullTimes": True}, True), ({"excludeFromPullTimes": ""}, True)],
)  # fmt: skip
def test_context_switch(context: dict[str, Any], expected: bool) -> None:
    assert BuilderProps().exclude_from_pull_times is True
    assert props_from_context(context).exclude_from_pull_times is expected


@pytest.mark.parametrize("bad", ["yes", "0", "off"])
def test_bad_context_value_names_the_key(bad: str) -> None:
    with pytest.raises(ContextError) as caught:
        props_from_context({"excludeFromPullTimes": bad})
    assert str(caught.value) == f"context excludeFromPullTimes={bad!r}: must be true or false"
