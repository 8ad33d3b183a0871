"""The Lambda on the ECR stand-in (issue 8 acceptance): immutable tags, artifacts, replace_tag.

GIVEN ECR push events for images in the stand-in (real registry behind ECR host names, the
product's own ECR credential path, ECR's immutable-tag answers), THEN concurrent deliveries both
succeed, a settings change on an immutable repository is retried into the DLQ with one line
naming the fix, and a cosign signature tag is skipped with no failure event and no ERROR log.
"""

from __future__ import annotations

import json
import logging
import threading
import uuid
from typing import Any

import pytest

from functions.indexer.indexer import Indexer
from functions.indexer.reporting import ResultPublisher
from functions.shared.registries import Registries
from soci_index_builder.digest import sha256_digest
from soci_index_builder.oci import mediatypes as mt
from soci_index_builder.oci.model import Manifest, descriptor_for
from soci_index_builder.store.base import Repository
from tests.fixtures.ecr import EcrStandIn
from tests.fixtures.images import LayerSpec, push_image, random_files
from tests.functions.conftest import SetParameters
from tests.functions.helpers import FakeContext, ecr_push_event, failed_ids, make_indexer, sqs_batch

pytestmark = pytest.mark.registry
SETTINGS = {"min_layer_size": 0, "span_size": 65536}
LAYERS = [LayerSpec(random_files(seed=11, count=3, size=100_000))]


class Published(ResultPublisher):
    """The EventBridge side recorded instead of put (detail type, detail)."""

    def __init__(self) -> None:
        super().__init__()
        self.events: list[tuple[str, dict[str, Any]]] = []

    def publish(self, detail_type: str, detail: dict[str, Any]) -> str | None:
        self.events.append((detail_type, detail))
        return None


@pytest.fixture
def published() -> Published:
    return Published()


@pytest.fixture
def indexer(ecr: EcrStandIn, set_parameters: SetParameters, published: Published) -> Indexer:
    """The Indexer reaching the stand-in under its ECR host name (ECR tokens from moto)."""
    set_parameters(settings=json.dumps(SETTINGS))
    return _indexer(ecr, published)


def _indexer(ecr: EcrStandIn, published: Published) -> Indexer:
    registries = Registries(lambda host, plain: ecr.client(host))
    return make_indexer(registries=registries, publisher=published)


def _send(indexer: Indexer, *events: dict[str, Any]) -> list[str]:
    return failed_ids(indexer.handle(sqs_batch(*events), FakeContext()))


def _immutable(ecr: EcrStandIn) -> tuple[Repository, str]:
    ecr.behaviours.immutable_tags = True
    name = f"lambda/{uuid.uuid4().hex[:8]}"
    return ecr.repository(name), name


def test_two_simultaneous_deliveries_on_an_immutable_repository_both_succeed(
    ecr: EcrStandIn, indexer: Indexer, published: Published
) -> None:
    repo, name = _immutable(ecr)
    raw = push_image(repo, "v1", LAYERS)
    event = ecr_push_event(name, "v1", raw.digest)
    answers: list[list[str]] = []
    threads = [
        threading.Thread(target=lambda: answers.append(_send(indexer, event))) for _ in range(2)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert answers == [[], []]
    details = [detail for kind, detail in published.events]
    assert [kind for kind, _ in published.events] == ["SOCI Index Built"] * 2
    assert {d["status"] for d in details} <= {"built", "up-to-date"}
    assert details[0]["output-digest"] == details[1]["output-digest"]
    info = repo.resolve("v1-soci")
    assert info is not None and info.digest == details[0]["output-digest"]


def test_reindex_conflict_on_an_immutable_repository_names_the_fix(
    ecr: EcrStandIn,
    indexer: Indexer,
    set_parameters: SetParameters,
    published: Published,
    caplog: pytest.LogCaptureFixture,
) -> None:
    repo, name = _immutable(ecr)
    raw = push_image(repo, "v1", LAYERS)
    event = ecr_push_event(name, "v1", raw.digest, id=str(uuid.uuid4()))
    assert _send(indexer, event) == []
    set_parameters(settings=json.dumps({**SETTINGS, "span_size": 32768}))
    batch = sqs_batch(event)
    answer = _indexer(ecr, published).handle(batch, FakeContext())  # a new container: new settings
    assert failed_ids(answer) == [batch["Records"][0]["messageId"]]  # retried: DLQ and alarm
    (error,) = [r for r in caplog.records if r.levelno >= logging.ERROR]
    message = error.getMessage()
    assert "\n" not in message
    assert "IMMUTABLE_WITH_EXCLUSION" in message and "'*-soci'" in message


def test_signature_tag_is_skipped_without_failure_event_or_error_log(
    ecr: EcrStandIn, indexer: Indexer, published: Published, caplog: pytest.LogCaptureFixture
) -> None:
    name = f"lambda/{uuid.uuid4().hex[:8]}"
    repo = ecr.repository(name)
    image = push_image(repo, "v1", LAYERS)
    payload = json.dumps({"critical": {"image": {"docker-manifest-digest": image.digest}}})
    config = b'{"architecture":"","created":"0001-01-01T00:00:00Z","os":"","rootfs":{}}'
    for blob in (payload.encode(), config):
        repo.push_blob(sha256_digest(blob), blob)
    signature = Manifest(
        config=descriptor_for(config, mt.OCI_IMAGE_CONFIG),
        layers=(
            descriptor_for(payload.encode(), "application/vnd.dev.cosign.simplesigning.v1+json"),
        ),
    ).to_json()
    tag = image.digest.replace(":", "-") + ".sig"
    digest = repo.push_manifest(signature, mt.OCI_IMAGE_MANIFEST, tag)
    assert _send(indexer, ecr_push_event(name, tag, digest)) == []
    assert [r for r in caplog.records if r.levelno >= logging.ERROR] == []
    ((kind, detail),) = published.events
    assert (kind, detail["status"], detail["reason"]) == (
        "SOCI Index Skipped",
        "skipped",
        "not-an-image",
    )
    assert repo.resolve(tag + "-soci") is None


def test_archived_or_deleted_image_is_skipped_not_retried(
    ecr: EcrStandIn, indexer: Indexer, published: Published, caplog: pytest.LogCaptureFixture
) -> None:
    """ECR answers 404 for an archived image: the event's digest is not there to be read."""
    name = f"lambda/{uuid.uuid4().hex[:8]}"
    ecr.repository(name)
    gone = "sha256:" + "5a" * 32
    assert _send(indexer, ecr_push_event(name, "v1", gone)) == []
    assert [r for r in caplog.records if r.levelno >= logging.ERROR] == []
    ((kind, detail),) = published.events
    assert (kind, detail["reason"]) == ("SOCI Index Skipped", "source-gone")
