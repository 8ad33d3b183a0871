"""Handler logic with the builder replaced by a stub: skips, classification, metrics, events.

The real builder and registry are exercised in test_handler_registry.py.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import pytest

from functions.indexer.indexer import RetryableFailure
from soci_index_builder.errors import (
    DeadlineExceededError,
    GzipFormatError,
    RegistryError,
    SkipReason,
)
from soci_index_builder.oci.mediatypes import SOCI_INDEX_V2
from soci_index_builder.soci.model import BuildResult, IndexSettings, LayerResult
from tests.functions.conftest import SetParameters
from tests.functions.helpers import (
    DIGEST,
    FakeContext,
    ecr_push_event,
    emf_metrics,
    failed_ids,
    make_indexer,
    sqs_batch,
)

Run = Callable[..., dict[str, Any]]


class FakeBuilder:
    """Stands in for build_image_index: records calls, raises ``error`` when set."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []
        self.error: Exception | None = None

    def __call__(
        self, repository: Any, reference: str, settings: IndexSettings, **kw: Any
    ) -> BuildResult:
        self.calls.append({"repository": repository, "reference": reference, "settings": settings})
        self.calls[-1].update(kw)
        if self.error is not None:
            raise self.error
        return built(reference, kw["source_tag"], settings)


@pytest.fixture
def builds() -> FakeBuilder:
    return FakeBuilder()


@pytest.fixture
def run(builds: FakeBuilder) -> Run:
    """``run(event, remaining_ms)``: one invocation of an Indexer whose builder is ``builds``."""
    indexer = make_indexer(build=builds)

    def invoke(event: dict[str, Any], remaining_ms: int = 600_000) -> dict[str, Any]:
        return indexer.handle(event, FakeContext(remaining_ms=remaining_ms))

    return invoke


def built(reference: str, tag: str, settings: IndexSettings) -> BuildResult:
    layer = LayerResult(digest=DIGEST, media_type="gzip", size=10, status="indexed")
    skipped = LayerResult(
        digest=DIGEST, media_type="gzip", size=1, status="skipped", reason=SkipReason.BELOW_MIN_SIZE
    )
    return BuildResult(
        source=reference,
        source_digest=reference,
        status="built",
        output_tag=tag + settings.tag_suffix,
        output_digest="sha256:" + "cd" * 32,
        index_digests={"linux/amd64": "sha256:" + "ef" * 32},
        layers=(layer, skipped),
        bytes_processed=1234,
        seconds=0.5,
    )


@pytest.mark.parametrize(
    ("event", "reason"),
    [
        (ecr_push_event(tag=None), "untagged"),
        (ecr_push_event(tag="v1-soci"), "own-output"),
        (
            ecr_push_event(artifact_media_type=SOCI_INDEX_V2),
            "own-output",
        ),
        (ecr_push_event(repository="scratch/x"), "excluded"),
        (ecr_push_event(repository="other"), "not-included"),
    ],
)
def test_skips_are_acknowledged_with_a_reason(
    set_parameters: SetParameters,
    builds: FakeBuilder,
    run: Run,
    capsys: pytest.CaptureFixture[str],
    event: dict[str, Any],
    reason: str,
) -> None:
    set_parameters(include="app:*,scratch/*:*", exclude="scratch/*:*")
    assert failed_ids(run(sqs_batch(event))) == []
    assert builds.calls == []
    assert ("ImagesSkipped", 1, {"reason": reason, "service": "soci-index-builder"}) in emf_metrics(
        capsys.readouterr().out
    )


def test_matching_push_is_built_by_digest_with_settings_and_deadline(
    set_parameters: SetParameters, builds: FakeBuilder, run: Run, capsys: pytest.CaptureFixture[str]
) -> None:
    set_parameters(settings='{"min_layer_size": 0, "tag_suffix": "-lazy"}')
    before = time.monotonic()
    assert failed_ids(run(sqs_batch(ecr_push_event()), remaining_ms=100_000)) == []
    [call] = builds.calls
    assert (call["reference"], call["source_tag"]) == (DIGEST, "v1")
    assert call["settings"] == IndexSettings(min_layer_size=0, tag_suffix="-lazy")
    assert before + 100 - 30 - 1 < call["deadline"] < time.monotonic() + 100 - 30
    assert call["repository"].name.endswith("123456789012.dkr.ecr.us-east-1.amazonaws.com/app")
    metrics = {(name, value) for name, value, _ in emf_metrics(capsys.readouterr().out)}
    assert {("ImagesIndexed", 1), ("LayersIndexed", 1), ("LayersSkipped", 1)} <= metrics
    assert {("BytesProcessed", 1234), ("IndexDuration", 0.5)} <= metrics


@pytest.mark.parametrize(
    ("error", "kind", "retry"),
    [
        (RegistryError("503 from registry", status=503, transient=True), "transient", True),
        (RegistryError("denied", status=403), "access", True),
        (DeadlineExceededError("out of time"), "deadline", True),
        (GzipFormatError("corrupt deflate stream", offset=10), "permanent", False),
        (KeyError("bug"), "internal", True),
        (ConnectionResetError("reset"), "transient", True),
    ],
)
def test_errors_are_classified(
    set_parameters: SetParameters,
    builds: FakeBuilder,
    run: Run,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
    error: Exception,
    kind: str,
    retry: bool,
) -> None:
    set_parameters()
    builds.error = error
    event = sqs_batch(ecr_push_event(), ecr_push_event(tag=None))
    expected = [event["Records"][0]["messageId"]] if retry else []
    assert failed_ids(run(event)) == expected
    out = capsys.readouterr().out
    assert ("Failures", 1, {"kind": kind, "service": "soci-index-builder"}) in emf_metrics(out)
    assert str(error.args[0]) in caplog.text


def test_botocore_throttling_is_transient(
    set_parameters: SetParameters, builds: FakeBuilder, run: Run
) -> None:
    from botocore.exceptions import ClientError

    set_parameters()
    response: Any = {"Error": {"Code": "ThrottlingException"}, "ResponseMetadata": {}}
    builds.error = ClientError(response, "GetAuthorizationToken")
    assert len(failed_ids(run(sqs_batch(ecr_push_event())))) == 1


def test_no_time_left_fails_for_retry_without_building(
    set_parameters: SetParameters, builds: FakeBuilder, run: Run
) -> None:
    set_parameters()
    assert len(failed_ids(run(sqs_batch(ecr_push_event()), remaining_ms=20_000))) == 1
    assert builds.calls == []


def test_malformed_parameter_fails_every_message_for_redrive(
    set_parameters: SetParameters,
    builds: FakeBuilder,
    run: Run,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    set_parameters(include="App:*")
    event = sqs_batch(ecr_push_event(), ecr_push_event(tag="v2"))
    assert len(failed_ids(run(event))) == 2
    out = capsys.readouterr().out
    assert ("Failures", 1, {"kind": "config", "service": "soci-index-builder"}) in emf_metrics(out)
    assert any(r.levelname == "ERROR" and "App:*" in r.getMessage() for r in caplog.records)


def test_invalid_event_is_dropped_not_retried(
    set_parameters: SetParameters, builds: FakeBuilder, run: Run, capsys: pytest.CaptureFixture[str]
) -> None:
    set_parameters()
    event = sqs_batch(ecr_push_event(), ecr_push_event(repository="../x"))
    assert failed_ids(run(event)) == []
    assert len(builds.calls) == 1
    kinds = [d.get("kind") for n, _, d in emf_metrics(capsys.readouterr().out) if n == "Failures"]
    assert kinds == ["invalid-event"]


def test_bare_event_raises_for_retry_and_returns_status_otherwise(
    set_parameters: SetParameters, builds: FakeBuilder, run: Run
) -> None:
    set_parameters()
    assert run(ecr_push_event()) == {"status": "built"}
    builds.error = RegistryError("503", status=503, transient=True)
    with pytest.raises(RetryableFailure):
        run(ecr_push_event())


def test_result_events_reach_the_bus(
    set_parameters: SetParameters, builds: FakeBuilder, run: Run, result_queue: str
) -> None:
    import boto3

    set_parameters(exclude="*:skip-*")
    sqs, queue = boto3.client("sqs"), result_queue

    run(sqs_batch(ecr_push_event(), ecr_push_event(tag="skip-1")))
    builds.error = GzipFormatError("corrupt")
    run(sqs_batch(ecr_push_event(tag="v2")))

    received = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10)["Messages"]
    by_type = {
        json.loads(m["Body"])["detail-type"]: json.loads(m["Body"])["detail"] for m in received
    }
    assert set(by_type) == {"SOCI Index Built", "SOCI Index Skipped", "SOCI Index Failed"}
    assert by_type["SOCI Index Built"]["output-tag"] == "v1-soci"
    assert by_type["SOCI Index Built"]["index-digests"] == {"linux/amd64": "sha256:" + "ef" * 32}
    assert by_type["SOCI Index Skipped"]["reason"] == "excluded"
    assert by_type["SOCI Index Failed"]["error-type"] == "GzipFormatError"
    assert by_type["SOCI Index Failed"]["image-digest"] == DIGEST


def test_unpublishable_result_event_is_reported_but_not_retried(
    set_parameters: SetParameters,
    builds: FakeBuilder,
    run: Run,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    set_parameters()
    monkeypatch.setenv("RESULT_EVENT_BUS", "no-such-bus")
    assert failed_ids(run(sqs_batch(ecr_push_event()))) == []
    kinds = [d.get("kind") for n, _, d in emf_metrics(capsys.readouterr().out) if n == "Failures"]
    assert kinds == ["result-event"]
