"""``backfill --stack NAME``: find the stack's reconciler and start it (botocore stubs)."""

from __future__ import annotations

import json

import boto3
import pytest
from botocore.stub import Stubber

from soci_index_builder.cli.main import main
from soci_index_builder.errors import RegistryError
from soci_index_builder.fleet import aws

NAME = "SociIndexBuilder-ReconcilerFunction-abc123"


def stubs(outputs: list[dict[str, str]]) -> tuple[Stubber, Stubber]:
    cfn = Stubber(boto3.client("cloudformation", region_name="us-east-1"))
    lam = Stubber(boto3.client("lambda", region_name="us-east-1"))
    stack = {"StackName": "Soci", "CreationTime": "2026-01-01T00:00:00Z",
             "StackStatus": "UPDATE_COMPLETE", "Outputs": outputs}  # fmt: skip
    cfn.add_response("describe_stacks", {"Stacks": [stack]}, {"StackName": "Soci"})
    return cfn, lam


def test_starts_the_reconciler_of_the_stack(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    cfn, lam = stubs([{"OutputKey": "ReconcilerFunctionName", "OutputValue": NAME}])
    payload = json.dumps({"source": "soci-index-builder.cli", "dry_run": True}).encode()
    lam.add_response(
        "invoke",
        {"StatusCode": 202},
        {"FunctionName": NAME, "InvocationType": "Event", "Payload": payload},
    )
    real = aws.invoke_reconciler
    monkeypatch.setattr(
        aws,
        "invoke_reconciler",
        lambda stack, body: real(stack, body, cfn.client, lam.client),
    )
    with cfn, lam:
        assert main(["backfill", "--stack", "Soci", "--dry-run"]) == 0
    assert NAME in capsys.readouterr().out


def test_a_stack_without_reconciler_is_a_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    cfn, lam = stubs([{"OutputKey": "FunctionName", "OutputValue": "indexer"}])
    with cfn, pytest.raises(RegistryError, match="has no reconciler"):
        aws.invoke_reconciler("Soci", {}, cfn.client, lam.client)
