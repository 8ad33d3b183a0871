"""The reconciler: ECR listing through botocore stubs, SQS and SSM through moto, content in the
real registry (REGISTRY_ENDPOINT, as the indexer tests do). It enqueues exactly the images that
need work, the indexer builds them from the synthetic events, it stops at its deadline and
resumes, and it prunes idle orphans with BatchDeleteImage only."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest

from functions.indexer.events import RECONCILER_SOURCE, parse_push
from functions.reconciler import handler
from functions.reconciler.messages import Continuation
from functions.reconciler.reconcile import Reconciler
from functions.shared.registries import Registries
from soci_index_builder.fleet.aws import EcrLister
from soci_index_builder.oci import mediatypes as mt
from soci_index_builder.oci.model import ImageIndex
from soci_index_builder.soci.build import build_image_index
from soci_index_builder.soci.validate import validate_soci_image
from tests.fixtures.images import push_image
from tests.fixtures.registry import LocalRegistry
from tests.functions.conftest import SetParameters
from tests.functions.helpers import FakeContext, make_indexer, sqs_batch

from .ecr_stub import EcrStub, detail
from .fleet_images import SETTINGS, layers

pytestmark = pytest.mark.registry
HELM = "application/vnd.cncf.helm.config.v1+json"
COSIGN = "application/vnd.dev.cosign.simplesigning.v1+json"


@pytest.fixture
def queue(aws: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    url = boto3.client("sqs").create_queue(QueueName="indexer")["QueueUrl"]
    monkeypatch.setenv("QUEUE_URL", url)
    handler.config_source.cache_clear()
    handler.registries.cache_clear()
    yield str(url)
    handler.config_source.cache_clear()
    handler.registries.cache_clear()


def received(url: str) -> list[dict[str, Any]]:
    sqs = boto3.client("sqs")
    bodies: list[dict[str, Any]] = []
    while messages := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages"):
        bodies += [json.loads(m["Body"]) for m in messages]
        for m in messages:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    return bodies


def built(repo: Any, tag: str, seed: int) -> tuple[str, str]:
    """Push ``tag`` and index it: (source digest, output index digest)."""
    source = push_image(repo, tag, layers(seed)).digest
    result = build_image_index(repo, tag, SETTINGS)
    assert result.output_digest
    return source, result.output_digest


def test_enqueues_exactly_what_needs_work_and_the_indexer_builds_it(
    registry: LocalRegistry,
    queue: str,
    set_parameters: SetParameters,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    prefix = "r" + uuid.uuid4().hex[:8]
    app, skip, new = (f"{prefix}/{n}" for n in ("app", "skip", "new"))
    client = registry.client()
    repo = client.repository(app)
    current, current_out = built(repo, "current", 21)
    stale, stale_out = built(repo, "stale", 22)
    fresh = push_image(repo, "fresh", layers(23)).digest
    child = next(
        d.digest
        for d in ImageIndex.from_json(repo.fetch_manifest(current_out).raw).manifests
        if d.artifact_type == mt.SOCI_INDEX_V2
    )
    new_v1 = push_image(client.repository(new), "v1", layers(24)).digest
    stub = EcrStub()
    stub.repositories([app, skip], [new])
    stub.images(
        app,
        [
            detail(app, current, tags=("current",), age_days=30),
            detail(
                app,
                current_out,
                tags=("current-soci",),
                media_type=mt.OCI_IMAGE_INDEX,
                artifact=None,
                age_days=20,
            ),
            detail(app, stale, tags=("stale",), age_days=5),
            detail(
                app,
                stale_out,
                tags=("stale-soci",),
                media_type=mt.OCI_IMAGE_INDEX,
                artifact=None,
                age_days=20,
            ),
        ],
        [
            detail(app, fresh, tags=("fresh",), age_days=1),
            detail(app, "sha256:" + "d" * 64, tags=("cold",), status="ARCHIVED"),
            detail(
                app,
                "sha256:" + "e" * 64,
                tags=(current.replace(":", "-") + ".sig",),
                artifact=COSIGN,
            ),
            detail(app, "sha256:" + "f" * 64, tags=("chart",), artifact=HELM),
            detail(app, child, artifact=mt.SOCI_INDEX_V2, age_days=20),
        ],
    )
    stub.images(new, [detail(new, new_v1, tags=("v1",), age_days=0)])  # created after deploy
    stub.images(skip, [detail(skip, "sha256:" + "a" * 64, tags=("v1",))])
    monkeypatch.setattr(handler, "ecr_client", lambda: stub.client)
    monkeypatch.setenv("REGISTRY_ENDPOINT", registry.url)
    set_parameters(exclude=f"{skip}:*", settings='{"min_layer_size": 0}')

    with stub.stub:
        answer = handler.handler({}, FakeContext())
    stub.stub.assert_no_pending_responses()

    assert answer["status"] == "done"
    assert answer["repositories"] == 3 and answer["images_seen"] == 11
    assert answer["enqueued"] == 3 and answer["selected"] == 4 and answer["enabled"] == 1
    assert answer["skipped"] == {"own-output": 2, "archived": 1, "not-an-image": 2, "excluded": 1}
    assert answer["pruned"] == 0 and answer["kept"] == {"referenced": 1}
    bodies = received(queue)
    pushes = {(p.repository, p.tag, p.digest) for p in map(parse_push, bodies)}
    assert pushes == {(app, "stale", stale), (app, "fresh", fresh), (new, "v1", new_v1)}
    assert {b["source"] for b in bodies} == {RECONCILER_SOURCE}
    captured = capsys.readouterr()
    assert '"ImagesSociEnabled"' in captured.out and '"ImagesSelected"' in captured.out
    assert "reconcile finished" in caplog.messages

    # The indexer takes the synthetic events as they are.
    indexer = make_indexer(registries=Registries(lambda host, plain: client))
    response = indexer.handle(sqs_batch(*bodies), FakeContext())
    assert response == {"batchItemFailures": []}
    assert validate_soci_image(repo, "fresh-soci") == []
    assert validate_soci_image(client.repository(new), "v1-soci") == []
    assert repo.resolve("stale-soci").digest == stale_out  # type: ignore[union-attr]


@dataclass(frozen=True)
class NoPrune:
    prune: bool = False
    prune_after_days: int = 7


@dataclass(frozen=True)
class FleetConfig:
    filters: Any
    settings: Any
    fleet: Any


def run_until_done(reconciler: Reconciler, config: Any, budget: list[float]) -> Continuation:
    """Invoke as Lambda would: each resume payload becomes the next invocation's event."""
    payloads: list[dict[str, Any]] = [{}]
    reconciler.resume = payloads.append
    state = Continuation.from_event(payloads[0])
    while True:
        ticks = iter(budget)
        if reconciler.run(state, config, lambda ticks=ticks: next(ticks, 0.0)):  # type: ignore[misc]
            return state
        state = Continuation.from_event(json.loads(json.dumps(payloads[-1])))


def test_deadline_hands_over_and_the_run_resumes(registry: LocalRegistry) -> None:
    from soci_index_builder.filters import Filters, parse_rules

    names = [f"q{i}/app" for i in range(3)]
    stub = EcrStub()
    stub.repositories(names)
    stub.images(names[0], [])
    stub.images(names[1], [])
    stub.repositories(names)  # the second invocation lists again, resuming after names[1]
    stub.images(names[2], [])
    sent: list[Any] = []
    reconciler = Reconciler(
        EcrLister(stub.client),
        registry.client().repository,
        lambda batch: sent.append(batch) or [],
        lambda payload: None,
        lambda level, message, extra: None,
        "123456789012",
        "us-east-1",
    )

    config = FleetConfig(Filters(parse_rules("*:*", "include")), SETTINGS, NoPrune())
    with stub.stub:
        state = run_until_done(reconciler, config, [1.0, 1.0])
    stub.stub.assert_no_pending_responses()
    assert state.stats.invocations == 2 and state.stats.repositories == 3
    assert state.after == names[2]


def test_prunes_idle_orphans_with_batch_delete_image_only(registry: LocalRegistry) -> None:
    from soci_index_builder.filters import Filters, parse_rules

    name = f"p{uuid.uuid4().hex[:8]}/app"
    repo = registry.client().repository(name)
    groups = {}
    for tag, seed in (("a", 31), ("b", 32)):
        source, output = built(repo, tag, seed)
        repo.delete_manifest(source)  # the source tag is gone: its output is an orphan
        groups[tag] = [output] + [
            d.digest for d in ImageIndex.from_json(repo.fetch_manifest(output).raw).manifests
        ]

    def listing() -> list[dict[str, Any]]:
        out = []
        for tag, pulled in (("a", 1), ("b", 8)):
            root, rewritten, soci = groups[tag]
            out += [
                detail(
                    name,
                    root,
                    tags=(f"{tag}-soci",),
                    media_type=mt.OCI_IMAGE_INDEX,
                    artifact=None,
                    pulled_days=pulled,
                ),
                detail(name, rewritten),
                detail(name, soci, artifact=mt.SOCI_INDEX_V2),
            ]
        return out

    logs: list[tuple[str, str]] = []
    stub = EcrStub()
    reconciler = Reconciler(
        EcrLister(stub.client),
        registry.client().repository,
        lambda batch: [],
        lambda payload: None,
        lambda level, message, extra: logs.append((level, message)),
        "123456789012",
        "us-east-1",
        (name.split("/")[0] + "/",),  # never reads nor deletes in elsewhere/ (not writable)
    )

    @dataclass(frozen=True)
    class Prune:
        prune: bool = True
        prune_after_days: int = 7

    config = FleetConfig(Filters(parse_rules("*:*", "include")), SETTINGS, Prune())
    stub.repositories([name, "elsewhere/app"])
    stub.images(
        "elsewhere/app",
        [
            detail(
                "elsewhere/app",
                "sha256:" + "c" * 64,
                tags=("x-soci",),
                media_type=mt.OCI_IMAGE_INDEX,
                artifact=None,
            )
        ],
    )
    stub.images(name, listing())
    stub.denied(name)  # BatchDeleteImage denied: nothing goes, the run goes on
    stub.repositories([name])
    stub.images(name, listing())
    stub.deletes(name, groups["b"])
    with stub.stub:
        denied = Continuation.from_event({})
        assert reconciler.run(denied, config, lambda: 1.0)
        state = Continuation.from_event({})
        assert reconciler.run(state, config, lambda: 1.0)
    stub.stub.assert_no_pending_responses()
    assert denied.stats.pruned == 0 and denied.stats.failed == 1
    assert any(level == "error" and "AccessDeniedException" in m for level, m in logs)
    assert state.stats.pruned == 3 and state.stats.failed == 0
    assert state.stats.kept == {"recently-used": 1, "referenced": 1}
    assert sum(1 for level, m in logs if m.startswith("pruned ")) == 3


def test_dry_run_sends_and_deletes_nothing(
    registry: LocalRegistry,
    queue: str,
    set_parameters: SetParameters,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    name = f"d{uuid.uuid4().hex[:8]}/app"
    repo = registry.client().repository(name)
    source, output = built(repo, "gone", 51)
    repo.delete_manifest(source)  # an orphan, idle for 30 days
    fresh = push_image(repo, "fresh", layers(52)).digest
    stub = EcrStub()
    stub.repositories([name])
    stub.images(
        name,
        [
            detail(name, fresh, tags=("fresh",)),
            detail(name, output, tags=("gone-soci",), media_type=mt.OCI_IMAGE_INDEX, artifact=None),
        ],
    )
    monkeypatch.setattr(handler, "ecr_client", lambda: stub.client)
    monkeypatch.setenv("REGISTRY_ENDPOINT", registry.url)
    set_parameters(settings='{"min_layer_size": 0}')
    with stub.stub:  # no batch_delete_image queued: a call would fail the stub
        answer = handler.handler({"dry_run": True}, FakeContext())
    assert answer["status"] == "done" and answer["enqueued"] == 1 and answer["pruned"] == 3
    assert received(queue) == []
    assert repo.resolve("gone-soci") is not None


def test_handler_hands_over_past_its_deadline_and_the_next_invocation_finishes(
    registry: LocalRegistry,
    queue: str,
    set_parameters: SetParameters,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    prefix = "h" + uuid.uuid4().hex[:8]
    names = [f"{prefix}/{n}" for n in ("a", "b")]
    stub = EcrStub()
    stub.repositories(names)  # first invocation: out of time before the first repository
    stub.repositories(names)  # second invocation: everything
    for name in names:
        stub.images(name, [])
    invocations: list[dict[str, Any]] = []

    class Invoker:
        def invoke(self, **call: Any) -> None:
            assert call["InvocationType"] == "Event"
            invocations.append(json.loads(call["Payload"]))

    monkeypatch.setattr(handler, "ecr_client", lambda: stub.client)
    monkeypatch.setattr(handler, "lambda_client", Invoker)
    monkeypatch.setenv("REGISTRY_ENDPOINT", registry.url)
    set_parameters()
    with stub.stub:
        first = handler.handler({}, FakeContext(remaining_ms=10_000))  # < the 30 s margin
        assert first["status"] == "continued" and first["repositories"] == 0
        (payload,) = invocations
        second = handler.handler(payload, FakeContext())
    stub.stub.assert_no_pending_responses()
    assert second["status"] == "done"
    assert second["repositories"] == 2 and second["invocations"] == 2
