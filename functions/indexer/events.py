"""ECR "Image Action" events: unwrap SQS records and validate before anything is trusted.

Everything the handler uses downstream (host name, repository path, manifest reference) comes
from these fields, so they are checked against the OCI and AWS grammars here, once. An event
that fails these checks can never succeed: it raises :class:`InvalidEventError` and is dropped
(not retried), unlike every other failure.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from soci_index_builder.digest import validate_digest
from soci_index_builder.errors import InvalidReferenceError
from soci_index_builder.oci.mediatypes import SOCI_INDEX_ARTIFACT_TYPES
from soci_index_builder.oci.reference import validate_repository, validate_tag
from soci_index_builder.store.remote.ecr_hosts import ACCOUNT_PATTERN, REGION_PATTERN

ECR_SOURCE = "aws.ecr"
#: The reconciler's synthetic pushes (docs/fleet.md): same shape, their own source.
RECONCILER_SOURCE = "soci-index-builder.reconciler"
IMAGE_ACTION = "ECR Image Action"
#: What set a build off, as every result event reports it (docs/events.md): an ECR push, or
#: the reconciler catching up with an image (docs/fleet.md).
Trigger = Literal["push", "reconcile"]

_ACCOUNT_RE = re.compile(ACCOUNT_PATTERN)  # the grammar of ECR host names (ecr_hosts.py)
_REGION_RE = re.compile(REGION_PATTERN)


class InvalidEventError(ValueError):
    """An event that is not a well-formed successful ECR push; retrying cannot fix it."""


@dataclass(frozen=True, kw_only=True)
class ImagePush:
    """One successful image push, validated."""

    account: str
    region: str
    repository: str
    digest: str
    tag: str | None
    manifest_media_type: str | None = None
    artifact_media_type: str | None = None
    trigger: Trigger = "push"

    def result_detail(self) -> dict[str, Any]:
        """The push as every result event repeats it; keys mirror ECR's (docs/events.md)."""
        return {
            "account": self.account,
            "region": self.region,
            "repository-name": self.repository,
            "image-digest": self.digest,
            "image-tag": self.tag,
            "trigger": self.trigger,
        }

    @property
    def is_soci_artifact(self) -> bool:
        """True for the SOCI index manifests we (or soci) pushed: never index an index."""
        return self.artifact_media_type in SOCI_INDEX_ARTIFACT_TYPES


@dataclass(frozen=True)
class Message:
    """A unit of work: the SQS message id (None for a direct invocation) and its raw event."""

    message_id: str | None
    body: Any


def iter_messages(event: Any) -> Iterator[Message]:
    """Yield the messages of an SQS batch, or the event itself when invoked directly.

    A malformed shape (``Records: [null]``, a record that is not an object) fails only its own
    message, as an InvalidEventError body: the rest of the batch is still processed.
    """
    records = event.get("Records") if isinstance(event, Mapping) else None
    if records is None:
        yield Message(None, event)
        return
    if not isinstance(records, list):
        yield Message(None, InvalidEventError(f"Records is a {type(records).__name__}, not a list"))
        return
    for record in records:
        if not isinstance(record, Mapping):
            kind = type(record).__name__
            yield Message(None, InvalidEventError(f"SQS record is a {kind}, not an object"))
            continue
        yield Message(str(record.get("messageId", "")), _decode_body(record))


def is_batch(event: Any) -> bool:
    """True for an SQS batch (the answer is ``batchItemFailures``), False for a bare event."""
    return isinstance(event, Mapping) and "Records" in event


def _decode_body(record: Mapping[str, Any]) -> Any:
    if record.get("eventSource") != "aws:sqs":
        return InvalidEventError(f"record eventSource {record.get('eventSource')!r}, not aws:sqs")
    body = record.get("body")
    if not isinstance(body, str):
        return InvalidEventError(f"SQS body is a {type(body).__name__}, not a string")
    try:
        return json.loads(body)
    except ValueError as exc:
        return InvalidEventError(f"SQS body is not JSON: {exc}")
    except RecursionError:
        return InvalidEventError("SQS body nests JSON too deeply to be an ECR event")


def parse_push(body: Any) -> ImagePush:
    """Validate an EventBridge ECR event body; raise InvalidEventError on any violation."""
    if isinstance(body, InvalidEventError):
        raise body
    if not isinstance(body, Mapping):
        raise InvalidEventError(f"event is a {type(body).__name__}, not an object")
    trigger: Trigger = "reconcile" if body.get("source") == RECONCILER_SOURCE else "push"
    if trigger == "push":
        _expect(body, "source", ECR_SOURCE)
    _expect(body, "detail-type", IMAGE_ACTION)
    detail = body.get("detail")
    if not isinstance(detail, Mapping):
        raise InvalidEventError("event has no detail object")
    _expect(detail, "action-type", "PUSH")
    _expect(detail, "result", "SUCCESS")
    try:
        return ImagePush(
            account=_match(_ACCOUNT_RE, body.get("account"), "account"),
            region=_match(_REGION_RE, body.get("region"), "region"),
            repository=validate_repository(_text(detail, "repository-name")),
            digest=validate_digest(_text(detail, "image-digest")),
            tag=_optional_tag(detail.get("image-tag")),
            manifest_media_type=_optional_text(detail.get("manifest-media-type")),
            artifact_media_type=_optional_text(detail.get("artifact-media-type")),
            trigger=trigger,
        )
    except InvalidReferenceError as exc:
        raise InvalidEventError(str(exc)) from exc


def _expect(obj: Mapping[str, Any], key: str, value: str) -> None:
    if obj.get(key) != value:
        raise InvalidEventError(f"{key} is {str(obj.get(key))[:100]!r}, expected {value!r}")


def _text(obj: Mapping[str, Any], key: str) -> str:
    value = obj.get(key)
    if not isinstance(value, str):
        raise InvalidEventError(f"detail.{key} missing or not a string")
    return value


def _match(pattern: re.Pattern[str], value: object, what: str) -> str:
    if not isinstance(value, str) or not pattern.fullmatch(value):
        raise InvalidEventError(f"invalid {what}: {str(value)[:100]!r}")
    return value


def _optional_tag(value: object) -> str | None:
    """ECR sends no key, null or "" for a push by digest: all mean untagged."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise InvalidEventError("detail.image-tag is not a string")
    return validate_tag(value)


def _optional_text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None
