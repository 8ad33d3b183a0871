"""The handler end to end: ECR events in SQS records, moto for SSM/ECR auth, a real registry."""

from __future__ import annotations

import sys
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

import pytest

from functions.indexer import handler, reporting
from functions.indexer.indexer import Indexer
from functions.shared.registries import Registries
from soci_index_builder.digest import sha256_digest
from soci_index_builder.interpreter import SWITCH_INTERVAL
from soci_index_builder.oci import mediatypes as mt
from soci_index_builder.oci.model import Manifest, descriptor_for
from soci_index_builder.store.base import Repository
from soci_index_builder.store.remote.repository import RemoteRepository
from tests.fixtures.images import LayerSpec, compress, make_tar, push_image, random_files
from tests.fixtures.registry import FakeResponse, FakeServer, LocalRegistry
from tests.functions.conftest import SetParameters
from tests.functions.helpers import (
    FakeContext,
    ecr_push_event,
    emf_metrics,
    failed_ids,
    make_indexer,
    sqs_batch,
)

pytestmark = pytest.mark.registry
SETTINGS = '{"min_layer_size": 0}'
LAYERS = [
    LayerSpec(random_files(seed=1, count=4, size=256 << 10, compressible=True)),
    LayerSpec(random_files(seed=2, count=2, size=128 << 10, prefix="etc/conf")),
]


Send = Callable[..., list[str]]


@pytest.fixture
def repo(
    registry: LocalRegistry, set_parameters: SetParameters, monkeypatch: pytest.MonkeyPatch
) -> Callable[[str], RemoteRepository]:
    """Point the handler at the local registry; returns ``name -> Repository``."""
    monkeypatch.setenv("REGISTRY_ENDPOINT", registry.url)
    client = registry.client()
    set_parameters(settings=SETTINGS)
    prefix = uuid.uuid4().hex[:8]  # the registry is shared by the session
    return lambda name: client.repository(f"{prefix}/{name}")


@pytest.fixture
def send(registry: LocalRegistry) -> Send:
    """``send(*events) -> failed ids``: an Indexer reaching the local registry (fast retries)."""
    return sender(make_indexer(registries=Registries(lambda host, plain: registry.client())))


def sender(indexer: Indexer) -> Send:
    return lambda *events: failed_ids(indexer.handle(sqs_batch(*events), FakeContext()))


def metric_values(out: str, name: str) -> list[dict[str, str]]:
    return [dims for metric, _, dims in emf_metrics(out) if metric == name]


def test_matching_push_is_indexed_and_tagged(
    repo: Callable[[str], RemoteRepository], send: Send, capsys: pytest.CaptureFixture[str]
) -> None:
    app = repo("team/app")
    raw = push_image(app, "v1", LAYERS)
    assert send(ecr_push_event(app.path, "v1", raw.digest)) == []
    info = app.resolve("v1-soci")
    assert info is not None and info.media_type == mt.OCI_IMAGE_INDEX
    out = capsys.readouterr().out
    assert metric_values(out, "ImagesIndexed") and len(metric_values(out, "LayersIndexed")) == 2


def test_already_soci_image_is_skipped(
    repo: Callable[[str], RemoteRepository], send: Send, capsys: pytest.CaptureFixture[str]
) -> None:
    app = repo("app")
    raw = push_image(app, "v1", LAYERS)
    assert send(ecr_push_event(app.path, "v1", raw.digest)) == []
    soci = app.fetch_manifest("v1-soci")
    app.push_manifest(soci.raw, soci.media_type, "copy")  # a user re-tags the enabled image
    capsys.readouterr()
    assert send(ecr_push_event(app.path, "copy", soci.digest)) == []
    assert {"reason": "already-soci", "service": "soci-index-builder"} in metric_values(
        capsys.readouterr().out, "ImagesSkipped"
    )
    assert app.resolve("copy-soci") is None


def test_excluded_untagged_and_own_output_pushes_touch_nothing(
    repo: Callable[[str], RemoteRepository],
    send: Send,
    set_parameters: SetParameters,
    capsys: pytest.CaptureFixture[str],
) -> None:
    set_parameters(exclude="*/app:dev-*", settings=SETTINGS)
    app = repo("app")
    raw = push_image(app, "dev-1", LAYERS)
    events = [
        ecr_push_event(app.path, "dev-1", raw.digest),
        ecr_push_event(app.path, None, raw.digest),
        ecr_push_event(app.path, "dev-1-soci", raw.digest),
    ]
    assert send(*events) == []
    reasons = sorted(d["reason"] for d in metric_values(capsys.readouterr().out, "ImagesSkipped"))
    assert reasons == ["excluded", "own-output", "untagged"]
    assert app.list_tags() == ["dev-1"]


def test_filter_edit_applies_after_the_cache_ttl(
    repo: Callable[[str], RemoteRepository],
    send: Send,
    set_parameters: SetParameters,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("FILTERS_CACHE_SECONDS", "1")
    set_parameters(include="other/*:*", settings=SETTINGS)
    app = repo("app")
    raw = push_image(app, "v1", LAYERS)
    event = ecr_push_event(app.path, "v1", raw.digest)
    assert send(event) == []
    set_parameters(include="*/app:*", settings=SETTINGS)
    assert send(event) == [] and app.resolve("v1-soci") is None  # cached: still excluded
    time.sleep(1.1)
    assert send(event) == []
    assert app.resolve("v1-soci") is not None


def test_malformed_settings_fail_the_message_for_redrive(
    repo: Callable[[str], RemoteRepository],
    send: Send,
    set_parameters: SetParameters,
    capsys: pytest.CaptureFixture[str],
) -> None:
    set_parameters(settings='{"span_size": "big"}')
    app = repo("app")
    raw = push_image(app, "v1", LAYERS)
    assert len(send(ecr_push_event(app.path, "v1", raw.digest))) == 1
    assert metric_values(capsys.readouterr().out, "Failures")[0]["kind"] == "config"
    assert app.resolve("v1-soci") is None


def test_registry_503_fails_the_record_for_retry(
    set_parameters: SetParameters,
    fake_server: Callable[..., FakeServer],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    server = fake_server(lambda request: FakeResponse(503, body=b"unavailable"))
    monkeypatch.setenv("REGISTRY_ENDPOINT", server.url)
    send = sender(make_indexer(registries=Registries(lambda host, plain: server.client())))
    set_parameters(settings=SETTINGS)
    assert len(send(ecr_push_event("app", "v1", "sha256:" + "12" * 32))) == 1
    assert metric_values(capsys.readouterr().out, "Failures")[0]["kind"] == "transient"
    assert server.requests


def push_corrupt_image(repo: Repository, tag: str) -> str:
    """A gzip layer whose deflate data is damaged; its digest matches the damaged bytes."""
    blob = bytearray(
        compress(make_tar(random_files(seed=3, count=8, size=64 << 10, compressible=True)), "gzip")
    )
    middle = len(blob) // 2
    blob[middle : middle + 32] = bytes(b ^ 0x5A for b in blob[middle : middle + 32])
    config = b'{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}'
    layer = descriptor_for(bytes(blob), mt.OCI_LAYER_TAR_GZIP)
    manifest = Manifest(config=descriptor_for(config, mt.OCI_IMAGE_CONFIG), layers=(layer,))
    for data in (bytes(blob), config):
        repo.push_blob(sha256_digest(data), data)
    return repo.push_manifest(manifest.to_json(), mt.OCI_IMAGE_MANIFEST, tag)


def test_corrupt_layer_fails_permanently_with_a_clear_message(
    repo: Callable[[str], RemoteRepository],
    send: Send,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    app = repo("app")
    digest = push_corrupt_image(app, "broken")
    assert send(ecr_push_event(app.path, "broken", digest)) == []  # acknowledged: no retry
    assert metric_values(capsys.readouterr().out, "Failures")[0]["kind"] == "permanent"
    [record] = [r for r in caplog.records if r.levelname == "ERROR"]
    assert "indexing failed" in record.getMessage()
    assert getattr(record, "error_type", "").endswith("Error")
    assert app.resolve("broken-soci") is None


def test_concurrent_deliveries_of_one_push_agree(
    repo: Callable[[str], RemoteRepository], send: Send, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two deliveries at once both succeed and agree (no retry needed)."""
    app = repo("app")
    raw = push_image(app, "v1", LAYERS)
    event = ecr_push_event(app.path, "v1", raw.digest)
    details: list[dict[str, Any]] = []
    original = reporting.build_detail
    monkeypatch.setattr(
        reporting, "build_detail", lambda *a: details.append(original(*a)) or details[-1]
    )
    answers: list[list[str]] = []
    threads = [threading.Thread(target=lambda: answers.append(send(event))) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert answers == [[], []]  # no batch item failures: neither delivery needs a retry
    assert len(details) == 2
    assert {d["status"] for d in details} <= {"built", "up-to-date"}
    assert details[0]["output-digest"] == details[1]["output-digest"]
    assert details[0]["index-digests"] == details[1]["index-digests"]
    info = app.resolve("v1-soci")
    assert info is not None and info.digest == details[0]["output-digest"]


def test_deployed_entry_point_builds_one_indexer_from_the_environment(
    repo: Callable[[str], RemoteRepository],
) -> None:
    """``handler.handler`` as Lambda calls it: SSM, the registry of the event, no injection."""
    app = repo("app")
    raw = push_image(app, "v1", LAYERS)
    handler.default_indexer.cache_clear()
    interval = sys.getswitchinterval()
    sys.setswitchinterval(0.005)  # CPython's default, whatever an earlier test left
    try:
        answer = handler.handler(
            sqs_batch(ecr_push_event(app.path, "v1", raw.digest)), FakeContext()
        )
        assert handler.default_indexer() is handler.default_indexer()
        assert sys.getswitchinterval() == pytest.approx(SWITCH_INTERVAL)  # tuned for builds
    finally:
        handler.default_indexer.cache_clear()
        sys.setswitchinterval(interval)
    assert failed_ids(answer) == []
    assert app.resolve("v1-soci") is not None
