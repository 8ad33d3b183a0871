"""Fixtures of the Lambda tests: moto-backed AWS and the SSM parameters the stack writes."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

import pytest

PREFIX = "/soci-index-builder/"
SetParameters = Callable[..., None]


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """moto for every AWS call, with fake credentials so nothing can reach a real account."""
    from moto import mock_aws

    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "FILTERS_PARAMETER_PATH": PREFIX,
        "FILTERS_CACHE_SECONDS": "60",
        "POWERTOOLS_METRICS_NAMESPACE": "SociIndexBuilderTest",
        "POWERTOOLS_SERVICE_NAME": "soci-index-builder",
    }.items():
        monkeypatch.setenv(name, value)
    for name in ("RESULT_EVENT_BUS", "REGISTRY_ENDPOINT", "AWS_PROFILE", "POWERTOOLS_DEV"):
        monkeypatch.delenv(name, raising=False)
    with mock_aws():
        yield


@pytest.fixture
def set_parameters(aws: None) -> SetParameters:
    """Write include/exclude/settings as the CDK stack does (None deletes the parameter)."""
    import boto3

    ssm = boto3.client("ssm")

    def write(include: str | None = "*:*", exclude: str | None = "-", settings: Any = "{}") -> None:
        for name, kind, value in (
            ("include", "StringList", include),
            ("exclude", "StringList", exclude),
            ("settings", "String", settings),
        ):
            if value is None:
                with contextlib.suppress(ssm.exceptions.ParameterNotFound):
                    ssm.delete_parameter(Name=PREFIX + name)
                continue
            ssm.put_parameter(Name=PREFIX + name, Type=kind, Value=value, Overwrite=True)

    return write


@pytest.fixture
def result_queue(aws: None, monkeypatch: pytest.MonkeyPatch) -> str:
    """A result bus whose every event lands in an SQS queue (moto); returns the queue URL."""
    import boto3

    events, sqs = boto3.client("events"), boto3.client("sqs")
    events.create_event_bus(Name="results")
    queue = sqs.create_queue(QueueName="results")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]
    events.put_rule(
        Name="all", EventBusName="results", EventPattern='{"source": ["soci-index-builder"]}'
    )
    events.put_targets(
        Rule="all", EventBusName="results", Targets=[{"Id": "q", "Arn": arn["QueueArn"]}]
    )
    monkeypatch.setenv("RESULT_EVENT_BUS", "results")
    return str(queue)
