"""The zTOC catalogue table in the default stack (real ``cdk synth``): keys, billing, TTL,
encryption, PITR, least-privilege IAM, the function's environment, the dashboard, cdk-nag."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
from aws_cdk.assertions import Template

from infra.construct import HANDLER
from infra.settings import props_from_context

if TYPE_CHECKING:
    from .conftest import Synth

pytestmark = [pytest.mark.infra, pytest.mark.xdist_group("cdk")]

STACK = "SociIndexBuilder"


@pytest.fixture(scope="module")
def raw(default_synth: Synth) -> dict[str, Any]:
    return default_synth.templates[STACK]


def _table(raw: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    (found,) = [(k, v) for k, v in raw["Resources"].items() if v["Type"] == "AWS::DynamoDB::Table"]
    return found


def test_table_on_demand_with_ttl_encryption_and_no_pitr(raw: dict[str, Any]) -> None:
    _, table = _table(raw)
    props = table["Properties"]
    assert props["BillingMode"] == "PAY_PER_REQUEST"
    assert {k["AttributeName"]: k["KeyType"] for k in props["KeySchema"]} == {
        "layer": "HASH",
        "variant": "RANGE",
    }
    assert props["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}
    assert props["SSESpecification"]["SSEEnabled"] is True
    pitr = props.get("PointInTimeRecoverySpecification", {})
    assert pitr.get("PointInTimeRecoveryEnabled", False) is False
    assert "TableName" not in props
    assert table["DeletionPolicy"] == "Delete"


def test_function_may_only_get_and_put_items_of_the_table(raw: dict[str, Any]) -> None:
    logical_id, _ = _table(raw)
    statements = [
        s
        for p in Template.from_json(raw).find_resources("AWS::IAM::Policy").values()
        for s in p["Properties"]["PolicyDocument"]["Statement"]
        if any(str(a).startswith("dynamodb:") for a in _list(s["Action"]))
    ]
    assert len(statements) == 1
    (statement,) = statements
    assert sorted(_list(statement["Action"])) == ["dynamodb:GetItem", "dynamodb:PutItem"]
    assert _list(statement["Resource"]) == [{"Fn::GetAtt": [logical_id, "Arn"]}]


def test_function_environment_names_the_table(raw: dict[str, Any]) -> None:
    logical_id, _ = _table(raw)
    functions = [v for v in raw["Resources"].values() if v["Type"] == "AWS::Lambda::Function"]
    with_table = [
        f["Properties"]["Handler"]
        for f in functions
        if "ZTOC_TABLE_NAME" in f["Properties"].get("Environment", {}).get("Variables", {})
    ]
    assert with_table == [HANDLER]  # the indexer builds; the reconciler only enqueues
    (indexer,) = [f for f in functions if f["Properties"]["Handler"] == HANDLER]
    variables = indexer["Properties"]["Environment"]["Variables"]
    assert variables["ZTOC_TABLE_NAME"] == {"Ref": logical_id}


def test_dashboard_shows_ztocs_built_and_reused(raw: dict[str, Any]) -> None:
    (dashboard,) = [
        r for r in raw["Resources"].values() if r["Type"] == "AWS::CloudWatch::Dashboard"
    ]
    body = str(dashboard["Properties"]["DashboardBody"])
    assert "ZtocsBuilt" in body and "ZtocsReused" in body


def test_no_pitr_is_an_explained_nag_acknowledgment(default_synth: Synth) -> None:
    (report,) = [
        r for r in default_synth.report["pluginReports"] if r["pluginName"] == "AwsSolutions"
    ]
    assert report["violations"] == []
    (ddb3,) = [s for s in report["suppressedViolations"] if "DDB3" in s["ruleName"]]
    assert "rebuild" in ddb3["reason"]


@pytest.mark.parametrize(
    ("context", "catalogue", "pitr"),
    [
        ({}, True, False),
        ({"ztocCatalogue": "false"}, False, False),
        ({"ztocTablePitr": "TRUE"}, True, True),
        ({"ztocCatalogue": False, "ztocTablePitr": True}, False, True),
    ],
)
def test_context_switches(context: dict[str, Any], catalogue: bool, pitr: bool) -> None:
    props = props_from_context(context)
    assert (props.ztoc_catalogue, props.ztoc_table_pitr) == (catalogue, pitr)


def test_context_switch_must_be_a_boolean() -> None:
    with pytest.raises(ValueError, match="true or false"):
        props_from_context({"ztocCatalogue": "maybe"})


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]
