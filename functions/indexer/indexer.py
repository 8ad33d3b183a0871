"""The indexer: SQS records -> ECR push events -> filters -> SOCI index build, as one object.

An :class:`Indexer` is built once per container from its collaborators (Powertools' style of
injected clients): where the operator's configuration comes from, how a repository is reached,
where result events go, the builder and the clock. The deployed function builds the default
one (``handler.py``); tests and the reconciler build theirs from the same parts
(docs/architecture.md). Parsing lives in ``events``, classification, metrics and result events
in ``reporting``; the engine does the work.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger

from soci_index_builder.errors import DeadlineExceededError, SkipReason

from ..shared.config import ConfigSource, env_number
from ..shared.registries import Registries
from . import reporting
from .catalogue import DynamoCatalogue, dynamodb_client
from .events import ImagePush, Message, is_batch, iter_messages, parse_push

if TYPE_CHECKING:
    from soci_index_builder.soci.catalogue import Catalogue
    from soci_index_builder.soci.model import BuildResult, IndexSettings
    from soci_index_builder.store.base import Repository

ENV_DEADLINE_MARGIN = "DEADLINE_MARGIN_SECONDS"
DEFAULT_DEADLINE_MARGIN = 30.0

logger = Logger(service=os.environ.get("POWERTOOLS_SERVICE_NAME") or reporting.SERVICE)
_PUSH_KEYS = ("repository", "image_digest", "image_tag", "trigger")
#: Skips caused by our own pushes (3 per v2 build): debug log, no result event.
_QUIET_SKIPS = frozenset({SkipReason.OWN_OUTPUT, SkipReason.UNTAGGED})

#: ``build_image_index``'s signature: (repository, reference, settings, *, source_tag, deadline)
BuildFunction = Callable[..., "BuildResult"]


class RetryableFailure(RuntimeError):
    """Raised to Lambda for a bare (non-SQS) event whose failure deserves a retry."""


@dataclass(frozen=True)
class Outcome:
    """One message's fate: ``retry`` puts it in batchItemFailures."""

    status: str
    retry: bool = False


def build_image_index(
    repository: Repository, reference: str, settings: IndexSettings, **kwargs: Any
) -> BuildResult:
    """The engine's builder, imported on first use (a skip-only container never loads it)."""
    from soci_index_builder.soci.build import build_image_index as build

    return build(repository, reference, settings, **kwargs)


class Indexer:
    """Indexes every pushed image of a batch; answers which messages SQS should redeliver."""

    def __init__(
        self,
        *,
        config: ConfigSource,
        registries: Registries,
        publisher: reporting.ResultPublisher,
        build: BuildFunction = build_image_index,
        clock: Callable[[], float] = time.monotonic,
        deadline_margin: float = DEFAULT_DEADLINE_MARGIN,
        catalogue: Catalogue | None = None,
    ) -> None:
        self.config = config
        self.registries = registries
        self.publisher = publisher
        self.build = build
        self.clock = clock
        #: Seconds before Lambda's timeout at which no new build starts (a kill mid-push).
        self.deadline_margin = deadline_margin
        #: Where zTOCs built before are found, shared by every invocation (docs/reuse.md).
        self.catalogue = catalogue

    @classmethod
    def from_environment(cls) -> Indexer:
        """The deployed collaborators: SSM, ECR, EventBridge, the zTOC table, the real builder."""
        return cls(
            config=ConfigSource(),
            registries=Registries(),
            publisher=reporting.ResultPublisher(),
            deadline_margin=env_number(ENV_DEADLINE_MARGIN, DEFAULT_DEADLINE_MARGIN),
            catalogue=DynamoCatalogue.from_environment(dynamodb_client),
        )

    def handle(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        """Index every pushed image of the batch; report the messages SQS should redeliver.

        The answer to SQS is ``batchItemFailures`` (only retryable failures); a direct
        invocation with a bare EventBridge event raises on a retryable failure so Lambda's
        async retry applies.
        """
        recorder = reporting.MetricsRecorder()
        failed: list[str] = []
        outcomes: list[Outcome] = []
        try:
            deadline = self.clock() + float(context.get_remaining_time_in_millis()) / 1000
            deadline -= self.deadline_margin
            for message in iter_messages(event):
                outcome = self._process(message, deadline, recorder)
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

    def _process(
        self, message: Message, deadline: float, recorder: reporting.MetricsRecorder
    ) -> Outcome:
        push: ImagePush | None = None
        try:
            push = parse_push(message.body)
            logger.thread_safe_append_keys(
                repository=push.repository,
                image_digest=push.digest,
                image_tag=push.tag,
                trigger=push.trigger,
            )
            return self._index(push, deadline, recorder)
        except Exception as exc:
            return self._fail(push, message, exc, recorder)
        finally:
            logger.thread_safe_remove_keys(_PUSH_KEYS)

    def _index(
        self, push: ImagePush, deadline: float, recorder: reporting.MetricsRecorder
    ) -> Outcome:
        """Skip what must not be indexed (cheapest checks first), then build."""
        if push.is_soci_artifact:
            why = f"artifact {push.artifact_media_type}"
            return self._skip(push, SkipReason.OWN_OUTPUT, recorder, why)
        if push.tag is None:
            return self._skip(push, SkipReason.UNTAGGED, recorder, "pushed by digest only")
        config = self.config.load()
        suffix = config.settings.tag_suffix
        if push.tag.endswith(suffix):
            return self._skip(push, SkipReason.OWN_OUTPUT, recorder, f"tag suffix {suffix}")
        decision = config.filters.decide(push.repository, push.tag)
        if not decision.included:
            assert decision.reason is not None
            why = f"rule {decision.rule or '(none matched)'}"
            return self._skip(push, decision.reason, recorder, why)
        if self.clock() >= deadline:
            raise DeadlineExceededError("too little time left in this invocation to start a build")
        logger.info("indexing image", extra={"rule": str(decision.rule)})
        repository = self.registries.repository(
            push.account, push.region, push.repository, deadline=deadline
        )
        result = self.build(
            repository,
            push.digest,
            config.settings,
            source_tag=push.tag,
            deadline=deadline,
            catalogue=self.catalogue,
        )
        return self._report(push, result, recorder)

    def _report(
        self, push: ImagePush, result: BuildResult, recorder: reporting.MetricsRecorder
    ) -> Outcome:
        reporting.record_build(recorder, result)
        detail = reporting.build_detail(push, result)
        message = "SOCI index built" if result.status == "built" else f"image {result.status}"
        logger.info(message, extra={"result": detail})
        self._publish(reporting.result_type(result), detail, recorder)
        return Outcome(result.status)

    def _skip(
        self, push: ImagePush, reason: SkipReason, recorder: reporting.MetricsRecorder, why: str
    ) -> Outcome:
        recorder.add("ImagesSkipped", "Count", 1, reason=reason.value)
        if reason in _QUIET_SKIPS:
            logger.debug("skipped", extra={"reason": reason.value, "why": why})
        else:
            logger.info("skipped", extra={"reason": reason.value, "why": why})
            detail = {**push.result_detail(), "status": "skipped", "reason": reason.value}
            self._publish(reporting.SKIPPED, detail, recorder)
        return Outcome(f"skipped:{reason.value}")

    def _fail(
        self,
        push: ImagePush | None,
        message: Message,
        exc: Exception,
        recorder: reporting.MetricsRecorder,
    ) -> Outcome:
        if push is not None and (skip := reporting.skip_reason(exc)) is not None:
            return self._skip(push, skip, recorder, str(exc))
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
                **push.result_detail(),
                "status": "failed",
                "error": failure.message,
                "error-type": failure.error_type,
            }
            self._publish(reporting.FAILED, detail, recorder)
        return Outcome(f"failed:{failure.kind}", retry=failure.retry)

    def _publish(
        self, detail_type: str, detail: dict[str, Any], recorder: reporting.MetricsRecorder
    ) -> None:
        error = self.publisher.publish(detail_type, detail)
        if error:
            logger.error(f"result event not published: {error}", extra={"detail_type": detail_type})
            recorder.add("Failures", "Count", 1, kind="result-event")
