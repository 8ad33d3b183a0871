"""Failure classes that must not lose work, and batch shapes that must not fail a batch.

GIVEN a permission error from GetAuthorizationToken, an immutable-tag conflict or an
out-of-memory error, THEN the message is retried (and so reaches the DLQ and its alarm);
GIVEN a batch with malformed records or deeply nested JSON, THEN only those records are dropped.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from functions.indexer import handler, reporting
from functions.indexer.events import InvalidEventError, iter_messages, parse_push
from soci_index_builder.errors import ImmutableTagError, RegistryError
from soci_index_builder.store.remote.ecr import EcrCredentialsProvider
from tests.functions.helpers import FakeContext, ecr_push_event, sqs_record

ECR_HOST = "123456789012.dkr.ecr.us-east-1.amazonaws.com"
DEEP = "[" * 100_000 + "]" * 100_000


def _denied_ecr_client(region: str) -> Any:
    """A real boto3 ECR client answering GetAuthorizationToken as ECR does without the IAM right."""
    import boto3
    from botocore.stub import Stubber

    client = boto3.client(
        "ecr", region_name=region, aws_access_key_id="x", aws_secret_access_key="x"
    )
    stubber = Stubber(client)
    stubber.add_client_error(
        "get_authorization_token",
        service_error_code="AccessDeniedException",
        service_message="User is not authorized to perform: ecr:GetAuthorizationToken",
        http_status_code=400,
    )
    stubber.activate()
    return client


def test_missing_get_authorization_token_permission_is_retried() -> None:
    provider = EcrCredentialsProvider(client_factory=_denied_ecr_client)
    with pytest.raises(RegistryError) as raised:
        provider(ECR_HOST)
    failure = reporting.classify(raised.value)
    assert (failure.kind, failure.retry) == ("access", True)


def test_immutable_tag_conflict_is_retried_into_the_dlq() -> None:
    failure = reporting.classify(ImmutableTagError("cannot update app:v1-soci", status=400))
    assert (failure.kind, failure.retry) == ("immutable-tag", True)


def test_out_of_memory_is_classified_with_a_clear_message() -> None:
    failure = reporting.classify(MemoryError())
    assert (failure.kind, failure.retry) == ("out-of-memory", True)
    assert "memory" in failure.message and "memorySize" in failure.message


@pytest.mark.parametrize(
    "event",
    [
        {"Records": [None]},
        {"Records": [42, "text"]},
        {"Records": "not-a-list"},
        {"Records": [{**sqs_record("{}"), "body": {"not": "a string"}}]},
        {"Records": [sqs_record(DEEP)]},
    ],
)
def test_malformed_batch_shapes_fail_only_their_records(
    aws: None, event: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    """Through the deployed entry point (its Indexer is dropped afterwards)."""
    try:
        assert handler.handler(event, FakeContext()) == {"batchItemFailures": []}
    finally:
        handler.default_indexer.cache_clear()
    assert [r.levelname for r in caplog.records] == ["WARNING"] * len(caplog.records)
    assert caplog.records and all("event dropped" in r.getMessage() for r in caplog.records)


def test_a_null_record_does_not_hide_the_rest_of_the_batch() -> None:
    good = sqs_record(ecr_push_event())
    messages = list(iter_messages({"Records": [None, good]}))
    assert isinstance(messages[0].body, InvalidEventError)
    assert parse_push(messages[1].body).tag == "v1"


def test_deeply_nested_body_is_an_invalid_event_not_a_recursion_error() -> None:
    body = json.dumps({"detail": None})[:-1] + ', "x": ' + DEEP + "}"
    (message,) = iter_messages({"Records": [sqs_record(body)]})
    with pytest.raises(InvalidEventError, match="too deeply"):
        parse_push(message.body)
