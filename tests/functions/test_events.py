"""Event parsing: only well-formed successful ECR pushes get through, whatever the wrapper."""

from __future__ import annotations

import json

import pytest

from functions.indexer.events import InvalidEventError, is_batch, iter_messages, parse_push
from tests.functions.helpers import DIGEST, ecr_push_event, sqs_batch, sqs_record


def test_sqs_record_body_is_parsed_into_a_push() -> None:
    event = sqs_batch(ecr_push_event("team/app", "v1.2"))
    [message] = list(iter_messages(event))
    push = parse_push(message.body)
    assert is_batch(event)
    assert message.message_id == event["Records"][0]["messageId"]
    assert (push.account, push.region) == ("123456789012", "us-east-1")
    assert (push.repository, push.digest, push.tag) == ("team/app", DIGEST, "v1.2")
    assert not push.is_soci_artifact


def test_bare_eventbridge_event_is_one_message_without_id() -> None:
    event = ecr_push_event()
    [message] = list(iter_messages(event))
    assert not is_batch(event)
    assert message.message_id is None
    assert parse_push(message.body).tag == "v1"


@pytest.mark.parametrize("tag", [None, ""])
def test_missing_or_empty_tag_means_untagged(tag: str | None) -> None:
    event = ecr_push_event(tag=None)
    if tag is not None:
        event["detail"]["image-tag"] = tag
    assert parse_push(event).tag is None


def test_soci_artifact_media_types_are_recognised() -> None:
    for version in ("v1", "v2"):
        kind = f"application/vnd.amazon.soci.index.{version}+json"
        assert parse_push(ecr_push_event(artifact_media_type=kind)).is_soci_artifact


def test_china_region_and_upper_case_tags_are_valid() -> None:
    push = parse_push(ecr_push_event(tag="Release_1--rc", region="cn-north-1"))
    assert (push.region, push.tag) == ("cn-north-1", "Release_1--rc")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"source": "aws.s3"}, "source"),
        ({"detail-type": "ECR Image Scan"}, "detail-type"),
        ({"account": "12345"}, "account"),
        ({"region": "US-EAST-1"}, "region"),
        ({"detail": None}, "detail"),
    ],
)
def test_envelope_violations_are_invalid(change: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidEventError, match=message):
        parse_push(ecr_push_event(**change))


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("action-type", "DELETE"),
        ("result", "FAILURE"),
        ("repository-name", "Upper/Case"),
        ("repository-name", "../etc"),
        ("image-digest", "sha256:short"),
        ("image-digest", None),
        ("image-tag", "-leading-dash"),
        ("image-tag", 7),
    ],
)
def test_detail_violations_are_invalid(key: str, value: object) -> None:
    event = ecr_push_event()
    event["detail"][key] = value
    with pytest.raises(InvalidEventError):
        parse_push(event)


def test_undecodable_sqs_bodies_become_invalid_events() -> None:
    bad_json = sqs_record("{not json")
    not_sqs = {**sqs_record(ecr_push_event()), "eventSource": "aws:kinesis"}
    for record in (bad_json, not_sqs):
        [message] = list(iter_messages({"Records": [record]}))
        with pytest.raises(InvalidEventError):
            parse_push(message.body)
    with pytest.raises(InvalidEventError, match="list"):
        parse_push(json.loads("[1]"))
