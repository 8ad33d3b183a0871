"""The fleet reconciler in the synthesized stacks (real synth, cdk-nag checked elsewhere)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
from aws_cdk.assertions import Match, Template

from infra.settings import BuilderProps, props_from_context

if TYPE_CHECKING:
    from .conftest import Synth

pytestmark = [pytest.mark.infra, pytest.mark.xdist_group("cdk")]


def _resources(raw: dict[str, Any], kind: str, id_part: str) -> dict[str, Any]:
    return {k: v for k, v in raw["Resources"].items() if v["Type"] == kind and id_part in k}


def _statements(raw: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        s
        for p in _resources(raw, "AWS::IAM::Policy", "Reconciler").values()
        for s in p["Properties"]["PolicyDocument"]["Statement"]
    ]


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _tail(resource: Any) -> str:
    if isinstance(resource, dict) and "Fn::Join" in resource:
        return str(resource["Fn::Join"][1][-1])
    return str(resource)


def test_reconciler_function_schedule_and_deploy_trigger(default_synth: Synth) -> None:
    raw = default_synth.templates["SociIndexBuilder"]
    template = Template.from_json(raw)
    (function_id,) = _resources(raw, "AWS::Lambda::Function", "Reconciler")
    template.has_resource_properties(
        "AWS::Lambda::Function",
        {
            "Handler": "functions.reconciler.handler.handler",
            "Runtime": "python3.13",
            "Timeout": 900,
            "Layers": [{"Ref": Match.string_like_regexp("EngineLayer")}],
            "Environment": {"Variables": Match.object_like({
                "FILTERS_PARAMETER_PATH": "/SociIndexBuilder/",
                "QUEUE_URL": {"Ref": Match.string_like_regexp("BuilderQueue")},
            })},
        },
    )  # fmt: skip
    target = [{"Arn": {"Fn::GetAtt": [function_id, "Arn"]}, "Id": Match.any_value(),
               "RetryPolicy": {"MaximumRetryAttempts": 2}}]  # fmt: skip
    template.has_resource_properties(
        "AWS::Events::Rule", {"ScheduleExpression": "rate(1 day)", "Targets": target}
    )
    template.has_resource_properties(
        "AWS::Events::Rule",
        {
            "EventPattern": {
                "source": ["aws.cloudformation"],
                "detail-type": ["CloudFormation Stack Status Change"],
                "detail": {
                    "stack-id": [{"Ref": "AWS::StackId"}],
                    "status-details": {"status": ["CREATE_COMPLETE", "UPDATE_COMPLETE"]},
                },
            },
            "Targets": target,
        },
    )
    outputs = raw["Outputs"]
    assert outputs["ReconcilerFunctionName"]["Value"] == {"Ref": function_id}
    assert "Fleet coverage" in str(raw["Resources"]) and "ImagesSociEnabled" in str(raw)


def test_reconciler_least_privilege(default_synth: Synth, custom_synth: Synth) -> None:
    for raw, writable in (
        (default_synth.templates["SociIndexBuilder"], [":repository/*"]),
        (custom_synth.templates["SociCustom"], [":repository/prod/*", ":repository/team-a/*"]),
    ):
        statements = _statements(raw)
        by_action: dict[str, list[str]] = {}
        for s in statements:
            for action in _list(s["Action"]):
                by_action.setdefault(action, []).extend(_tail(r) for r in _list(s["Resource"]))
        assert by_action["ecr:DescribeRepositories"] == [":repository/*"]
        assert by_action["ecr:DescribeImages"] == [":repository/*"]
        assert by_action["ecr:BatchDeleteImage"] == writable
        assert by_action["ecr:BatchGetImage"] == writable
        assert by_action["ecr:GetAuthorizationToken"] == ["*"]
        assert "ecr:PutImage" not in by_action and "ecr:InitiateLayerUpload" not in by_action
        (invoke,) = [s for s in statements if s["Action"] == "lambda:InvokeFunction"]
        assert "Fn::GetAtt" in invoke["Resource"]  # itself only (continuations)
        assert any(a.startswith("sqs:SendMessage") for a in by_action)
        assert not any(a.endswith(":*") or a == "*" for a in by_action)


def test_custom_schedule_and_no_deploy_trigger(custom_synth: Synth) -> None:
    raw = custom_synth.templates["SociCustom"]
    rules = [r["Properties"] for r in raw["Resources"].values() if r["Type"] == "AWS::Events::Rule"]
    assert [r.get("ScheduleExpression") for r in rules if "ScheduleExpression" in r] == [
        "cron(0 3 * * ? *)"
    ]
    assert not any("aws.cloudformation" in str(r.get("EventPattern")) for r in rules)
    Template.from_json(raw).has_resource_properties(
        "AWS::Lambda::Function",
        {"Environment": {"Variables": Match.object_like({"REPOSITORY_PREFIXES": "prod/,team-a/"})}},
    )


def test_schedule_off_and_bad_values() -> None:
    assert props_from_context({"reconcileSchedule": "off"}).reconcile_schedule == "off"
    assert props_from_context({"backfillOnDeploy": "false"}).backfill_on_deploy is False
    assert BuilderProps().reconcile_schedule == "rate(1 day)"
    with pytest.raises(ValueError, match="reconcile_schedule"):
        BuilderProps(reconcile_schedule="daily")
    with pytest.raises(ValueError, match="reconcileSchedule='daily'"):
        props_from_context({"reconcileSchedule": "daily"})
    with pytest.raises(ValueError, match="backfillOnDeploy='maybe': must be true or false"):
        props_from_context({"backfillOnDeploy": "maybe"})
