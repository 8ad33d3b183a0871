"""Realistic ECR push events, SQS records, a Lambda context and Indexers for the handler tests."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

from functions.indexer.indexer import Indexer
from functions.indexer.reporting import ResultPublisher
from functions.shared.config import ConfigSource
from functions.shared.registries import Registries

ACCOUNT = "123456789012"
REGION = "us-east-1"
DIGEST = "sha256:" + "ab" * 32
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"


def ecr_push_event(
    repository: str = "app",
    tag: str | None = "v1",
    digest: str = DIGEST,
    *,
    artifact_media_type: str | None = None,
    **overrides: Any,
) -> dict[str, Any]:
    """An "ECR Image Action" event as documented by ECR (EventBridge envelope included)."""
    detail: dict[str, Any] = {
        "result": "SUCCESS",
        "repository-name": repository,
        "image-digest": digest,
        "action-type": "PUSH",
        "manifest-media-type": OCI_MANIFEST,
        "artifact-media-type": artifact_media_type or "application/vnd.oci.image.config.v1+json",
    }
    if tag is not None:
        detail["image-tag"] = tag
    event = {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "ECR Image Action",
        "source": "aws.ecr",
        "account": ACCOUNT,
        "time": "2026-01-01T00:00:00Z",
        "region": REGION,
        "resources": [f"arn:aws:ecr:{REGION}:{ACCOUNT}:repository/{repository}"],
        "detail": detail,
    }
    event.update(overrides)
    return event


def sqs_record(body: Any, message_id: str | None = None) -> dict[str, Any]:
    """An SQS record as the Lambda event source mapping delivers it."""
    return {
        "messageId": message_id or str(uuid.uuid4()),
        "receiptHandle": "AQEB" + uuid.uuid4().hex,
        "body": body if isinstance(body, str) else json.dumps(body),
        "attributes": {
            "ApproximateReceiveCount": "1",
            "SentTimestamp": "1767225600000",
            "SenderId": "AIDAEXAMPLE",
            "ApproximateFirstReceiveTimestamp": "1767225600001",
        },
        "messageAttributes": {},
        "md5OfBody": "0" * 32,
        "eventSource": "aws:sqs",
        "eventSourceARN": f"arn:aws:sqs:{REGION}:{ACCOUNT}:soci-index-builder-queue",
        "awsRegion": REGION,
    }


def sqs_batch(*bodies: Any) -> dict[str, Any]:
    return {"Records": [sqs_record(body) for body in bodies]}


@dataclass
class FakeContext:
    """The LambdaContext attributes Powertools' inject_lambda_context reads."""

    remaining_ms: int = 600_000
    function_name: str = "soci-indexer"
    memory_limit_in_mb: int = 3584
    invoked_function_arn: str = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:soci-indexer"
    aws_request_id: str = "req-1"

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


def make_indexer(**collaborators: Any) -> Indexer:
    """An Indexer with the deployed collaborators, except those given (the test's own)."""
    parts: dict[str, Any] = {
        "config": ConfigSource(),
        "registries": Registries(),
        "publisher": ResultPublisher(),
    }
    return Indexer(**{**parts, **collaborators})


def failed_ids(response: dict[str, Any]) -> list[str]:
    return [item["itemIdentifier"] for item in response["batchItemFailures"]]


def emf_metrics(output: str) -> list[tuple[str, float, dict[str, str]]]:
    """(name, value, dimensions) of every EMF metric printed to stdout."""
    found = []
    for line in output.splitlines():
        if not line.startswith("{") or '"_aws"' not in line:
            continue
        blob = json.loads(line)
        directive = blob["_aws"]["CloudWatchMetrics"][0]
        dims = {d: blob[d] for group in directive["Dimensions"] for d in group}
        for metric in directive["Metrics"]:
            values = blob[metric["Name"]]
            for value in values if isinstance(values, list) else [values]:
                found.append((metric["Name"], value, dims))
    return found
