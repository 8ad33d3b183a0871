"""The default stack, as synthesized by ``cdk synth``: what each resource must look like."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
from aws_cdk.assertions import Match, Template

if TYPE_CHECKING:
    from .conftest import Synth

pytestmark = [pytest.mark.infra, pytest.mark.xdist_group("cdk")]

STACK = "SociIndexBuilder"
SOCI_TYPES = [
    "application/vnd.amazon.soci.index.v1+json",
    "application/vnd.amazon.soci.index.v2+json",
]
READ_ONLY_ON_STAR = {"ecr:GetAuthorizationToken"}


@pytest.fixture(scope="module")
def raw(default_synth: Synth) -> dict[str, Any]:
    return default_synth.templates[STACK]


@pytest.fixture(scope="module")
def template(raw: dict[str, Any]) -> Template:
    return Template.from_json(raw)


def _queues(raw: dict[str, Any]) -> tuple[str, str]:
    """(main queue, dead-letter queue) logical ids: the main one has the redrive policy."""
    queues = {k: v for k, v in raw["Resources"].items() if v["Type"] == "AWS::SQS::Queue"}
    main = [k for k, v in queues.items() if "RedrivePolicy" in v["Properties"]]
    dlq = [k for k in queues if k not in main]
    assert len(main) == 1 and len(dlq) == 1
    return main[0], dlq[0]


def test_rule_matches_successful_pushes_and_drops_our_outputs(template: Template) -> None:
    template.has_resource_properties(
        "AWS::Events::Rule",
        {
            "State": "ENABLED",
            "EventPattern": {
                "source": ["aws.ecr"],
                "detail-type": ["ECR Image Action"],
                "account": [{"Ref": "AWS::AccountId"}],
                "region": [{"Ref": "AWS::Region"}],
                "detail": {
                    "action-type": ["PUSH"],
                    "result": ["SUCCESS"],
                    "image-tag": [{"anything-but": {"suffix": "-soci"}}],
                    "artifact-media-type": [{"exists": False}, {"anything-but": SOCI_TYPES}],
                },
            },
        },
    )
    template.resource_count_is("AWS::Events::Rule", 3)  # + reconcile schedule, after deploy


def test_rule_targets_the_queue_with_a_policy_scoped_to_the_rule(
    template: Template, raw: dict[str, Any]
) -> None:
    main, dlq = _queues(raw)
    template.has_resource_properties(
        "AWS::Events::Rule",
        {"Targets": [Match.object_like({
            "Arn": {"Fn::GetAtt": [main, "Arn"]},
            "DeadLetterConfig": {"Arn": {"Fn::GetAtt": [dlq, "Arn"]}},
        })]},
    )  # fmt: skip
    template.has_resource_properties(
        "AWS::SQS::QueuePolicy",
        {
            "Queues": [{"Ref": main}],
            "PolicyDocument": {"Statement": Match.array_with([Match.object_like({
                "Action": Match.array_with(["sqs:SendMessage"]),
                "Principal": {"Service": "events.amazonaws.com"},
                "Condition": {"ArnEquals": {"aws:SourceArn": Match.any_value()}},
            })])},
        },
    )  # fmt: skip


def test_queue_encrypted_with_long_visibility_and_redrive(
    template: Template, raw: dict[str, Any]
) -> None:
    main, dlq = _queues(raw)
    queue = raw["Resources"][main]["Properties"]
    assert queue["SqsManagedSseEnabled"] is True
    assert queue["VisibilityTimeout"] >= 6 * 900
    assert queue["RedrivePolicy"] == {
        "deadLetterTargetArn": {"Fn::GetAtt": [dlq, "Arn"]},
        "maxReceiveCount": 3,
    }
    assert raw["Resources"][dlq]["Properties"]["SqsManagedSseEnabled"] is True
    assert raw["Resources"][dlq]["Properties"]["MessageRetentionPeriod"] == 14 * 86400
    template.resource_count_is("AWS::SQS::QueuePolicy", 2)  # both queues deny non-TLS


def test_event_source_one_message_with_partial_batch_failures(
    template: Template, raw: dict[str, Any]
) -> None:
    main, _ = _queues(raw)
    template.has_resource_properties(
        "AWS::Lambda::EventSourceMapping",
        {
            "EventSourceArn": {"Fn::GetAtt": [main, "Arn"]},
            "BatchSize": 1,
            "FunctionResponseTypes": ["ReportBatchItemFailures"],
            "ScalingConfig": {"MaximumConcurrency": 10},
        },
    )


def test_function_arm64_python313_two_vcpus_fifteen_minutes(template: Template) -> None:
    template.has_resource_properties(
        "AWS::Lambda::Function",
        {
            "Runtime": "python3.13",
            "Architectures": ["arm64"],
            "Handler": "functions.indexer.handler.handler",
            "Timeout": 900,
            "MemorySize": Match.any_value(),
            "EphemeralStorage": {"Size": 512},
            "ReservedConcurrentExecutions": Match.absent(),
            "Layers": [{"Ref": Match.string_like_regexp("EngineLayer")}],
            "LoggingConfig": {"LogGroup": {"Ref": Match.string_like_regexp("Logs")}},
            "Environment": {"Variables": {
                "FILTERS_PARAMETER_PATH": "/SociIndexBuilder/",
                "POWERTOOLS_SERVICE_NAME": "soci-index-builder",
                "POWERTOOLS_METRICS_NAMESPACE": "SociIndexBuilder",
                "LOG_LEVEL": "INFO",
                "RESULT_EVENT_BUS": Match.absent(),
            }},
        },
    )  # fmt: skip
    (function,) = template.find_resources(
        "AWS::Lambda::Function", {"Properties": {"Handler": "functions.indexer.handler.handler"}}
    ).values()
    assert function["Properties"]["MemorySize"] >= 3538


def test_layer_for_the_function_runtime_and_architecture(template: Template) -> None:
    template.has_resource_properties(
        "AWS::Lambda::LayerVersion",
        {"CompatibleRuntimes": ["python3.13"], "CompatibleArchitectures": ["arm64"]},
    )


def _statements(template: Template) -> list[dict[str, Any]]:
    return [
        statement
        for policy in template.find_resources("AWS::IAM::Policy").values()
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    ]


def test_no_signing_permission_unless_managed_signing_is_configured(template: Template) -> None:
    assert not [s for s in _statements(template) if "signer:SignPayload" in str(s["Action"])]


def test_iam_nothing_but_the_auth_token_on_star(template: Template) -> None:
    for statement in _statements(template):
        actions = (
            statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        )
        resources = (
            statement["Resource"]
            if isinstance(statement["Resource"], list)
            else [statement["Resource"]]
        )
        if "*" in resources:
            assert set(actions) <= READ_ONLY_ON_STAR, statement
        assert not any(a.endswith(":*") or a == "*" for a in actions), statement
    template.resource_count_is("AWS::IAM::ManagedPolicy", 0)
    template.has_resource_properties("AWS::IAM::Role", {"ManagedPolicyArns": Match.absent()})


def test_iam_ecr_on_repositories_ssm_on_the_prefix(template: Template) -> None:
    statements = _statements(template)
    ecr = next(s for s in statements if "ecr:PutImage" in s["Action"])
    assert {"ecr:DescribeImages", "ecr:ListImages", "ecr:CompleteLayerUpload"} <= set(ecr["Action"])
    assert "ecr:BatchDeleteImage" not in ecr["Action"]
    assert ecr["Resource"]["Fn::Join"][1][-1].endswith(":repository/*")
    ssm = next(s for s in statements if "ssm:GetParametersByPath" in s["Action"])
    tails = [r["Fn::Join"][1][-1] for r in ssm["Resource"]]
    assert tails == [":parameter/SociIndexBuilder", ":parameter/SociIndexBuilder/*"]
    assert not any(
        a.startswith(("events:", "kms:")) for s in statements for a in _list(s["Action"])
    )


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def test_ssm_parameters_seeded_under_the_stack_prefix(template: Template) -> None:
    expected = {
        "/SociIndexBuilder/include": ("StringList", "*:*"),
        "/SociIndexBuilder/exclude": ("StringList", "-"),
        "/SociIndexBuilder/settings": ("String", '{"index_version":"v2","tag_suffix":"-soci"}'),
    }
    for name, (kind, value) in expected.items():
        template.has_resource_properties(
            "AWS::SSM::Parameter", {"Name": name, "Type": kind, "Value": value}
        )
    template.resource_count_is("AWS::SSM::Parameter", 3)


def test_alarms_on_dlq_errors_and_throttles(template: Template, raw: dict[str, Any]) -> None:
    _, dlq = _queues(raw)
    template.has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {
            "MetricName": "ApproximateNumberOfMessagesVisible",
            "Dimensions": [{"Name": "QueueName", "Value": {"Fn::GetAtt": [dlq, "QueueName"]}}],
            "Threshold": 0,
            "ComparisonOperator": "GreaterThanThreshold",
        },
    )
    for metric in ("Errors", "Throttles"):
        template.has_resource_properties(
            "AWS::CloudWatch::Alarm",
            {"Namespace": "AWS/Lambda", "MetricName": metric, "Threshold": 0},
        )
    template.resource_count_is("AWS::CloudWatch::Alarm", 4)  # + reconciler errors
    template.has_resource_properties("AWS::CloudWatch::Alarm", {"AlarmActions": Match.absent()})


def test_log_group_with_retention_and_no_log_retention_lambda(template: Template) -> None:
    template.has_resource_properties("AWS::Logs::LogGroup", {"RetentionInDays": 30})
    template.resource_count_is("Custom::LogRetention", 0)
    template.resource_count_is("AWS::Lambda::Function", 2)  # indexer + reconciler, no helpers


def test_dashboard_shows_the_product_metrics(raw: dict[str, Any]) -> None:
    (dashboard,) = [
        r for r in raw["Resources"].values() if r["Type"] == "AWS::CloudWatch::Dashboard"
    ]
    body = str(dashboard["Properties"]["DashboardBody"])
    for metric in ("ImagesIndexed", "ImagesSkipped", "LayersIndexed", "LayersSkipped",
                   "BytesProcessed", "IndexDuration", "Failures"):  # fmt: skip
        assert metric in body
    assert "SociIndexBuilder" in body and "soci-index-builder" in body
    # skips and failures are emitted with a cause dimension: totals and breakdowns use SEARCH
    assert "SUM(SEARCH(" in body
    assert "SociIndexBuilder,service,reason" in body and "SociIndexBuilder,service,kind" in body


def test_no_fixed_physical_names(raw: dict[str, Any]) -> None:
    fixed = ("QueueName", "FunctionName", "Name", "RoleName", "LogGroupName", "DashboardName",
             "AlarmName", "TopicName", "LayerName")  # fmt: skip
    for logical_id, resource in raw["Resources"].items():
        if resource["Type"] == "AWS::SSM::Parameter":
            continue  # named from the stack name on purpose
        properties = resource.get("Properties", {})
        names = {k for k in fixed if isinstance(properties.get(k), str)}  # refs are fine
        assert not names, f"{logical_id} fixes {names}"
