"""Lambda entry point: SQS records -> ECR push events -> filters -> SOCI index build.

Thin on purpose: parsing lives in ``events``, the operator's rules in ``config``/``filters``,
classification, metrics and result events in ``reporting``; the engine does the work. The
answer to SQS is ``batchItemFailures`` (only retryable failures); a direct invocation with a
bare EventBridge event raises on a retryable failure so Lambda's async retry applies.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger

from soci_index_builder.errors import DeadlineExceededError, SkipReason

from . import reporting
from .config import (
    DEFAULT_DEADLINE_MARGIN,
    ENV_DEADLINE_MARGIN,
    ConfigSource,
    env_number,
    registry_endpoint,
)
from .events import ImagePush, Message, is_batch, iter_messages, parse_push

if TYPE_CHECKING:
    from soci_index_builder.soci.model import BuildResult
    from soci_index_builder.store.base import Repository

logger = Logger(service=os.environ.get("POWERTOOLS_SERVICE_NAME") or reporting.SERVICE)
_config = ConfigSource()
_publisher = reporting.ResultPublisher()
_registries: dict[tuple[str, bool], Any] = {}
_registries_lock = threading.Lock()
_PUSH_KEYS = ("repository", "image_digest", "image_tag")
#: Skips caused by our own pushes (3 per v2 build): debug log, no result event.
_QUIET_SKIPS = frozenset({SkipReason.OWN_OUTPUT, SkipReason.UNTAGGED})


class RetryableFailure(RuntimeError):
    """Raised to Lambda for a bare (non-SQS) event whose failure deserves a retry."""


@dataclass(frozen=True)
class Outcome:
    """One message's fate: ``retry`` puts it in batchItemFailures."""

    status: str
    retry: bool = False


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Index every pushed image of the batch; report the messages SQS should redeliver."""
    recorder = reporting.MetricsRecorder()
    failed: list[str] = []
    outcomes: list[Outcome] = []
    try:
        deadline = _deadline(context)
        for message in iter_messages(event):
            outcome = _process(message, deadline, recorder)
            outcomes.append(outcome)
            if outcome.retry:
                failed.append(message.message_id or "")
    finally:
        recorder.flush()
    if is_batch(event):
        return {"batchItemFailures": [{"itemIdentifier": mid} for mid in failed]}
    if failed:
        raise RetryableFailure(f"indexing failed ({outcomes[0].status}); retry")
    return {"status": outcomes[0].status if outcomes else "empty"}


def _deadline(context: Any) -> float:
    """Stop building ``DEADLINE_MARGIN_SECONDS`` before Lambda would kill us mid-push."""
    margin = env_number(ENV_DEADLINE_MARGIN, DEFAULT_DEADLINE_MARGIN)
    remaining_ms = context.get_remaining_time_in_millis()
    return time.monotonic() + float(remaining_ms) / 1000 - margin


def _process(message: Message, deadline: float, recorder: reporting.MetricsRecorder) -> Outcome:
    push: ImagePush | None = None
    try:
        push = parse_push(message.body)
        logger.thread_safe_append_keys(
            repository=push.repository, image_digest=push.digest, image_tag=push.tag
        )
        return _index(push, deadline, recorder)
    except Exception as exc:
        return _fail(push, message, exc, recorder)
    finally:
        logger.thread_safe_remove_keys(_PUSH_KEYS)


def _index(push: ImagePush, deadline: float, recorder: reporting.MetricsRecorder) -> Outcome:
    """Skip what must not be indexed (cheapest checks first), then build."""
    if push.is_soci_artifact:
        return _skip(push, SkipReason.OWN_OUTPUT, recorder, f"artifact {push.artifact_media_type}")
    if push.tag is None:
        return _skip(push, SkipReason.UNTAGGED, recorder, "pushed by digest only")
    config = _config.load()
    if push.tag.endswith(config.settings.tag_suffix):
        return _skip(
            push, SkipReason.OWN_OUTPUT, recorder, f"tag suffix {config.settings.tag_suffix}"
        )
    decision = config.filters.decide(push.repository, push.tag)
    if not decision.included:
        assert decision.reason is not None
        return _skip(push, decision.reason, recorder, f"rule {decision.rule or '(none matched)'}")
    if time.monotonic() >= deadline:
        raise DeadlineExceededError("too little time left in this invocation to start a build")
    from soci_index_builder.soci.build import build_image_index

    logger.info("indexing image", extra={"rule": str(decision.rule)})
    result = build_image_index(
        _repository(push), push.digest, config.settings, source_tag=push.tag, deadline=deadline
    )
    return _report(push, result, recorder)


def _repository(push: ImagePush) -> Repository:
    """The pushed image's repository; one client per registry, reused across invocations."""
    host, plain_http = registry_endpoint(push.account, push.region)
    with _registries_lock:
        client = _registries.get((host, plain_http))
        if client is None:
            from soci_index_builder.store.remote.client import RegistryClient
            from soci_index_builder.store.remote.ecr import EcrCredentialsProvider

            client = RegistryClient(
                host, credentials=EcrCredentialsProvider(), plain_http=plain_http
            )
            _registries[(host, plain_http)] = client
    repository: Repository = client.repository(push.repository)
    return repository


def _report(push: ImagePush, result: BuildResult, recorder: reporting.MetricsRecorder) -> Outcome:
    reporting.record_build(recorder, result)
    detail = reporting.build_detail(push, result)
    message = "SOCI index built" if result.status == "built" else f"image {result.status}"
    logger.info(message, extra={"result": detail})
    _publish(reporting.result_type(result), detail, recorder)
    return Outcome(result.status)


def _skip(
    push: ImagePush, reason: SkipReason, recorder: reporting.MetricsRecorder, why: str
) -> Outcome:
    recorder.add("ImagesSkipped", "Count", 1, reason=reason.value)
    if reason in _QUIET_SKIPS:
        logger.debug("skipped", extra={"reason": reason.value, "why": why})
    else:
        logger.info("skipped", extra={"reason": reason.value, "why": why})
        detail = {**reporting.push_detail(push), "status": "skipped", "reason": reason.value}
        _publish(reporting.SKIPPED, detail, recorder)
    return Outcome(f"skipped:{reason.value}")


def _fail(
    push: ImagePush | None, message: Message, exc: Exception, recorder: reporting.MetricsRecorder
) -> Outcome:
    failure = reporting.classify(exc)
    recorder.add("Failures", "Count", 1, kind=failure.kind)
    extra = {"kind": failure.kind, "retry": failure.retry, "error_type": failure.error_type}
    if failure.kind == "invalid-event":
        logger.warning(
            f"event dropped: {failure.message}", extra={**extra, "id": message.message_id}
        )
    elif failure.kind == "internal":
        logger.exception(f"unexpected error: {failure.message}", extra=extra)
    else:
        logger.error(f"indexing failed: {failure.message}", extra=extra)
    if not failure.retry and push is not None:
        detail = {
            **reporting.push_detail(push),
            "status": "failed",
            "error": failure.message,
            "error-type": failure.error_type,
        }
        _publish(reporting.FAILED, detail, recorder)
    return Outcome(f"failed:{failure.kind}", retry=failure.retry)


def _publish(detail_type: str, detail: dict[str, Any], recorder: reporting.MetricsRecorder) -> None:
    error = _publisher.publish(detail_type, detail)
    if error:
        logger.error(f"result event not published: {error}", extra={"detail_type": detail_type})
        recorder.add("Failures", "Count", 1, kind="result-event")


def reset_state() -> None:
    """Forget cached clients and parameters (tests and benchmarks switch endpoints and mocks)."""
    global _config, _publisher
    _config = ConfigSource()
    _publisher = reporting.ResultPublisher()
    with _registries_lock:
        _registries.clear()
