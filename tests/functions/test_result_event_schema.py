"""The published result-event schema (docs/result-event.schema.json, docs/events.md) holds for
what the indexer really emits: real builds on the registry fixture, events put by the deployed
publisher and delivered by moto's EventBridge to an SQS queue, every detail type and status
checked against the schema."""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path
from typing import Any

import pytest

from functions.reconciler.messages import synthetic_push
from functions.shared.registries import Registries
from soci_index_builder.digest import sha256_digest
from soci_index_builder.errors import SkipReason
from soci_index_builder.fleet.select import Work
from soci_index_builder.oci import mediatypes as mt
from soci_index_builder.oci.model import Manifest, descriptor_for
from soci_index_builder.store.base import Repository
from tests.fixtures.images import LayerSpec, push_image, random_files
from tests.fixtures.registry import LocalRegistry
from tests.functions.conftest import SetParameters
from tests.functions.helpers import (
    ACCOUNT,
    REGION,
    FakeContext,
    ecr_push_event,
    make_indexer,
    sqs_batch,
)
from tests.functions.test_handler_registry import push_corrupt_image

SCHEMA_PATH = Path(__file__).resolve().parents[2] / "docs" / "result-event.schema.json"
LAYERS = [
    LayerSpec(random_files(seed=5, count=3, size=128 << 10, compressible=True)),
    LayerSpec(random_files(seed=6, count=2, size=64 << 10), compression="uncompressed"),
]
ZSTD_ONLY = [LayerSpec(random_files(seed=7, count=2, size=64 << 10), compression="zstd")]
GONE = "sha256:" + "12" * 32


def push_helm_chart(repo: Repository, tag: str) -> str:
    """A tagged artifact that is not an image (docs/ecr.md "Artifacts")."""
    config, chart = b'{"name":"app","version":"1.0.0"}', b"chart bytes"
    for blob in (config, chart):
        repo.push_blob(sha256_digest(blob), blob)
    manifest = Manifest(
        config=descriptor_for(config, "application/vnd.cncf.helm.config.v1+json"),
        layers=(descriptor_for(chart, "application/vnd.cncf.helm.chart.content.v1.tar+gzip"),),
    )
    return repo.push_manifest(manifest.to_json(), mt.OCI_IMAGE_MANIFEST, tag)


# --- a validator for the JSON Schema subset the schema uses ------------------------------------

_ANNOTATIONS = {"$schema", "title", "description", "$defs"}
_TYPES: dict[str, Any] = {
    "object": dict,
    "string": str,
    "null": type(None),
    "boolean": bool,
    "array": list,
    "integer": int,
    "number": (int, float),
}


class SchemaError(AssertionError):
    """An instance that does not satisfy the schema (``where`` is a JSON path)."""


def validate(instance: Any, schema: dict[str, Any], root: dict[str, Any], where: str = "$") -> None:
    """JSON Schema 2020-12, restricted to the keywords below; any other keyword is refused so
    the published schema cannot hold a constraint this test does not enforce."""
    unknown = set(schema) - _ANNOTATIONS - set(_KEYWORDS) - {"additionalProperties"}
    if unknown:
        raise ValueError(f"schema keyword(s) {sorted(unknown)} at {where} are not supported")
    for keyword, check in _KEYWORDS.items():
        if keyword in schema:
            check(instance, schema[keyword], root, where)
    if "additionalProperties" in schema and isinstance(instance, dict):
        rule = schema["additionalProperties"]
        for name in instance.keys() - schema.get("properties", {}).keys():
            if rule is False:
                raise SchemaError(f"{where}: unexpected member {name!r}")
            validate(instance[name], rule, root, f"{where}.{name}")


def _type(instance: Any, expected: str, root: dict[str, Any], where: str) -> None:
    wrong_bool = isinstance(instance, bool) and expected in ("integer", "number")
    if not isinstance(instance, _TYPES[expected]) or wrong_bool:
        raise SchemaError(f"{where}: {instance!r} is not of type {expected}")


def _const(instance: Any, value: Any, root: dict[str, Any], where: str) -> None:
    if instance != value or type(instance) is not type(value):
        raise SchemaError(f"{where}: {instance!r} is not {value!r}")


def _enum(instance: Any, values: list[Any], root: dict[str, Any], where: str) -> None:
    if instance not in values:
        raise SchemaError(f"{where}: {instance!r} is not one of {values}")


def _required(instance: Any, names: list[str], root: dict[str, Any], where: str) -> None:
    missing = [n for n in names if isinstance(instance, dict) and n not in instance]
    if missing:
        raise SchemaError(f"{where}: missing {missing}")


def _properties(instance: Any, props: dict[str, Any], root: dict[str, Any], where: str) -> None:
    if isinstance(instance, dict):
        for name, sub in props.items():
            if name in instance:
                validate(instance[name], sub, root, f"{where}.{name}")


def _property_names(instance: Any, sub: dict[str, Any], root: dict[str, Any], where: str) -> None:
    if isinstance(instance, dict):
        for name in instance:
            validate(name, sub, root, f"{where}[{name!r}]")


def _pattern(instance: Any, pattern: str, root: dict[str, Any], where: str) -> None:
    if isinstance(instance, str) and not re.search(pattern, instance):
        raise SchemaError(f"{where}: {instance!r} does not match {pattern}")


def _minimum(instance: Any, low: float, root: dict[str, Any], where: str) -> None:
    if isinstance(instance, int | float) and not isinstance(instance, bool) and instance < low:
        raise SchemaError(f"{where}: {instance!r} < {low}")


def _min_length(instance: Any, low: int, root: dict[str, Any], where: str) -> None:
    if isinstance(instance, str) and len(instance) < low:
        raise SchemaError(f"{where}: {instance!r} is shorter than {low}")


def _one_of(instance: Any, options: list[Any], root: dict[str, Any], where: str) -> None:
    errors = []
    for option in options:
        try:
            validate(instance, option, root, where)
        except SchemaError as exc:
            errors.append(str(exc))
    if len(errors) != len(options) - 1:
        raise SchemaError(f"{where}: matches {len(options) - len(errors)} of oneOf: {errors}")


def _items(instance: Any, sub: dict[str, Any], root: dict[str, Any], where: str) -> None:
    if isinstance(instance, list):
        for i, item in enumerate(instance):
            validate(item, sub, root, f"{where}[{i}]")


def _ref(instance: Any, ref: str, root: dict[str, Any], where: str) -> None:
    target: Any = root
    for part in ref.removeprefix("#/").split("/"):
        target = target[part]
    validate(instance, target, root, where)


_KEYWORDS = {
    "type": _type,
    "const": _const,
    "enum": _enum,
    "required": _required,
    "properties": _properties,
    "propertyNames": _property_names,
    "pattern": _pattern,
    "minimum": _minimum,
    "minLength": _min_length,
    "oneOf": _one_of,
    "items": _items,
    "$ref": _ref,
}


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(SCHEMA_PATH.read_text())
    return loaded


def check(event: dict[str, Any], schema: dict[str, Any]) -> None:
    validate(event, schema, schema)


# --- the events the handler really emits -------------------------------------------------------


def received(queue: str) -> list[dict[str, Any]]:
    """Every event delivered to ``queue`` so far."""
    import boto3

    sqs, found = boto3.client("sqs"), []
    while batch := sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages"):
        for message in batch:
            found.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=queue, ReceiptHandle=message["ReceiptHandle"])
    return found


def kinds(events: list[dict[str, Any]]) -> set[tuple[str, str, str | None]]:
    return {(e["detail-type"], e["detail"]["status"], e["detail"].get("reason")) for e in events}


@pytest.mark.registry
@pytest.mark.parametrize("index_version", ["v2", "v1"])
def test_every_emitted_result_event_matches_the_schema(
    index_version: str,
    registry: LocalRegistry,
    set_parameters: SetParameters,
    result_queue: str,
    schema: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("REGISTRY_ENDPOINT", registry.url)
    indexer = make_indexer(registries=Registries(lambda host, plain: registry.client()))
    settings = json.dumps({"min_layer_size": 0, "index_version": index_version})
    prefix = uuid.uuid4().hex[:8]
    set_parameters(include=f"{prefix}/app*:*", exclude="*:skip-*", settings=settings)
    client = registry.client()
    app, zstd, other = (client.repository(f"{prefix}/{n}") for n in ("app", "app-zstd", "other"))
    image = push_image(app, "v1", LAYERS)
    zstd_only = push_image(zstd, "v1", ZSTD_ONLY)
    corrupt = push_corrupt_image(app, "broken")
    chart = push_helm_chart(app, "chart-1.0.0")
    reconcile = Work(
        app.path, "v1", image.digest, "no-output", mt.OCI_IMAGE_MANIFEST, mt.OCI_IMAGE_CONFIG
    )
    pushes = [
        ecr_push_event(app.path, "v1", image.digest),  # built
        synthetic_push(reconcile, ACCOUNT, REGION),  # up-to-date, from the reconciler
        ecr_push_event(app.path, "skip-1", image.digest),  # excluded
        ecr_push_event(other.path, "v1", image.digest),  # not-included
        ecr_push_event(zstd.path, "v1", zstd_only.digest),  # nothing-to-index
        ecr_push_event(app.path, "broken", corrupt),  # failed, permanently
        ecr_push_event(app.path, "chart-1.0.0", chart),  # not-an-image
        ecr_push_event(app.path, "deleted", GONE),  # source-gone
    ]
    for push in pushes:
        indexer.handle(sqs_batch(push), FakeContext())
    if index_version == "v2":
        enabled = app.fetch_manifest("v1-soci")
        app.push_manifest(enabled.raw, enabled.media_type, "copy")
        copy = ecr_push_event(app.path, "copy", enabled.digest)
        indexer.handle(sqs_batch(copy), FakeContext())  # already-soci

    events = received(result_queue)
    for event in events:
        check(event, schema)
    expected = {
        ("SOCI Index Built", "built", None),
        ("SOCI Index Built", "up-to-date", None),
        ("SOCI Index Skipped", "skipped", "excluded"),
        ("SOCI Index Skipped", "skipped", "not-included"),
        ("SOCI Index Skipped", "skipped", "nothing-to-index"),
        ("SOCI Index Skipped", "skipped", "not-an-image"),
        ("SOCI Index Skipped", "skipped", "source-gone"),
        ("SOCI Index Failed", "failed", None),
    }
    if index_version == "v2":
        expected.add(("SOCI Index Skipped", "skipped", "already-soci"))
    assert kinds(events) == expected
    assert len(events) == len(pushes) + (index_version == "v2")
    triggers = {(e["detail"]["status"], e["detail"]["trigger"]) for e in events}
    assert ("up-to-date", "reconcile") in triggers
    assert {t for status, t in triggers if status != "up-to-date"} == {"push"}


def test_the_validator_rejects_what_the_schema_forbids(schema: dict[str, Any]) -> None:
    """Guard the validator: a valid event passes; each kind of violation is caught."""
    detail = {
        "account": "123456789012",
        "region": "eu-west-1",
        "repository-name": "team/app",
        "image-digest": "sha256:" + "ab" * 32,
        "image-tag": "v1",
        "trigger": "push",
        "status": "skipped",
        "reason": "excluded",
    }
    event = {"source": "soci-index-builder", "detail-type": "SOCI Index Skipped", "detail": detail}
    check(event, schema)
    broken = [
        {**detail, "extra": 1},  # a member the schema does not know
        {k: v for k, v in detail.items() if k != "image-digest"},  # a required member missing
        {**detail, "image-digest": "sha256:AB"},  # a pattern
        {**detail, "reason": "bored"},  # an enum
        {**detail, "trigger": "cron"},  # another enum
        {**detail, "layers": {"indexed": -1}},  # a minimum
        {**detail, "layers": {"indexed": True}},  # a bool is not an integer
        {**detail, "status": "built"},  # a const
    ]
    with pytest.raises(SchemaError):
        validate([1, "x"], {"type": "array", "items": {"type": "integer"}}, {})
    for bad in broken:
        with pytest.raises(SchemaError):
            check({**event, "detail": bad}, schema)
    with pytest.raises(SchemaError):
        check({**event, "detail-type": "SOCI Index Built"}, schema)  # the wrong oneOf branch
    with pytest.raises(ValueError, match="not supported"):
        validate(1, {"maximum": 3}, {})


#: Reasons that only ever describe a layer (metric ``LayersSkipped``), never a whole image.
LAYER_REASONS = {
    "below-min-size",
    "zstd",
    "unsupported-media-type",
    "non-distributable",
}
#: Image skips that send no event (our own pushes) or are a status, not a reason; and the
#: reasons of fleet listings (reconciler, backfill), which never reach the indexer.
SILENT_OR_STATUS = {"untagged", "up-to-date", "archived", "invalid-name"}


def test_schema_lists_every_image_skip_reason(schema: dict[str, Any]) -> None:
    """A new SkipReason must be placed: an image reason goes into the schema and docs/events.md,
    a layer-only reason into LAYER_REASONS (and docs/filters.md 7)."""
    listed = set(schema["$defs"]["skipped"]["properties"]["reason"]["enum"])
    image_reasons = {r.value for r in SkipReason} - LAYER_REASONS - SILENT_OR_STATUS
    assert listed == image_reasons
