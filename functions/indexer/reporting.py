"""What operators and pipelines see: failure classification, EMF metrics and result events.

Classification decides the SQS fate of a message: ``retry`` failures are reported in
``batchItemFailures`` (SQS redelivers, then the DLQ keeps them for redrive); the others are
acknowledged after one report, because retrying an unsupported or corrupt image only burns time.
"""

from __future__ import annotations

import json
import os
import sys
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from soci_index_builder.errors import (
    ConfigError,
    DeadlineExceededError,
    ImmutableTagError,
    RegistryError,
    SkipReason,
    SociError,
    SourceNotFoundError,
)

from .events import ImagePush, InvalidEventError

if TYPE_CHECKING:
    from soci_index_builder.soci.model import BuildResult, LayerResult

ENV_RESULT_EVENT_BUS = "RESULT_EVENT_BUS"
NAMESPACE = "SociIndexBuilder"
SERVICE = "soci-index-builder"
RESULT_SOURCE = "soci-index-builder"
BUILT, SKIPPED, FAILED = "SOCI Index Built", "SOCI Index Skipped", "SOCI Index Failed"

#: Write-side registry codes that concurrent pushes of the same content can cause (a registry
#: reading a blob another delivery is rewriting); the build is deterministic, so a redelivery
#: converges (it finds the index up to date).
_PUSH_RACE_CODES = frozenset(
    {"DIGEST_INVALID", "BLOB_UPLOAD_UNKNOWN", "BLOB_UPLOAD_INVALID", "MANIFEST_BLOB_UNKNOWN"}
)
#: Codes of a refused identity or permission (registry or AWS API, e.g. GetAuthorizationToken's
#: AccessDeniedException): an IAM fix makes a redrive succeed, so they must reach the DLQ.
_ACCESS_CODES = frozenset(
    {
        "AccessDenied",
        "AccessDeniedException",
        "UnrecognizedClientException",
        "InvalidSignatureException",
        "ExpiredTokenException",
        "DENIED",
        "UNAUTHORIZED",
    }
)
_OUT_OF_MEMORY = "out of memory: raise the function's memory size (CDK context memorySize)"
_THROTTLING_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "ProvisionedThroughputExceededException",
        "RequestThrottled",
        "SlowDown",
        "ServiceUnavailable",
        "InternalError",
        "InternalFailure",
        "ServerException",
    }
)


@dataclass(frozen=True)
class Failure:
    """A classified error: its metric ``kind``, whether SQS should redeliver, what to show."""

    kind: str
    retry: bool
    message: str
    error_type: str


def classify(exc: BaseException) -> Failure:
    """Map an exception to a failure kind; unknown errors are retried (a bug must not drop work)."""
    kind, retry = _kind(exc)
    message = _OUT_OF_MEMORY if kind == "out-of-memory" else str(exc) or type(exc).__name__
    return Failure(kind, retry, message, type(exc).__name__)


def skip_reason(exc: BaseException) -> SkipReason | None:
    """A "failure" that is a skip: the pushed image was deleted or archived before we read it.

    ECR answers 404 for archived images (docs/ecr.md "Archived images"); retrying cannot help
    and no one can fix it, so it is skipped with a reason instead of failed.
    """
    return SkipReason.SOURCE_GONE if isinstance(exc, SourceNotFoundError) else None


def _kind(exc: BaseException) -> tuple[str, bool]:
    if isinstance(exc, InvalidEventError):
        return "invalid-event", False
    if isinstance(exc, ConfigError) or _is_parameter_error(exc):
        return "config", True
    if isinstance(exc, DeadlineExceededError):
        return "deadline", True
    if isinstance(exc, ImmutableTagError):
        return "immutable-tag", True  # the repository owner's setting: DLQ, alarm, redrive
    if isinstance(exc, RegistryError) and (exc.status in (401, 403) or exc.code in _ACCESS_CODES):
        return "access", True  # an IAM fix makes a redrive succeed
    if isinstance(exc, MemoryError):
        return "out-of-memory", True  # more memory fixes it: DLQ, alarm, redrive
    if isinstance(exc, RegistryError) and exc.code in _PUSH_RACE_CODES:
        return "conflict", True
    if isinstance(exc, SociError):
        return ("transient", True) if exc.transient else ("permanent", False)
    botocore_kind = _botocore_kind(exc)
    if botocore_kind:
        return botocore_kind, True
    if isinstance(exc, ConnectionError | TimeoutError):
        return "transient", True
    return "internal", True


def _is_parameter_error(exc: BaseException) -> bool:
    module = sys.modules.get("aws_lambda_powertools.utilities.parameters.exceptions")
    return module is not None and isinstance(exc, module.GetParameterError)


def _botocore_kind(exc: BaseException) -> str | None:
    """botocore is only inspected if something already imported it (no import cost)."""
    module = sys.modules.get("botocore.exceptions")
    if module is None:
        return None
    if isinstance(exc, module.ClientError):
        error = exc.response.get("Error", {})
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        if error.get("Code") in _THROTTLING_CODES or status >= 500:
            return "transient"
        return "access" if status in (401, 403) else "aws"
    if isinstance(exc, module.BotoCoreError):
        return "transient"
    return None


class MetricsRecorder:
    """Collects one invocation's metrics and flushes them as EMF, one blob per dimension set.

    Powertools' ``Metrics`` keeps one dimension set per flush and shares state across
    instances, so metrics with a ``reason``/``kind`` dimension get their own EphemeralMetrics.
    """

    def __init__(self) -> None:
        self._groups: dict[tuple[tuple[str, str], ...], list[tuple[str, str, float]]] = {}
        self._lock = threading.Lock()

    def add(self, name: str, unit: str, value: float, **dimensions: str) -> None:
        key = tuple(sorted(dimensions.items()))
        with self._lock:
            self._groups.setdefault(key, []).append((name, unit, value))

    def flush(self) -> None:
        from aws_lambda_powertools.metrics import EphemeralMetrics

        with self._lock:
            groups, self._groups = self._groups, {}
        namespace = os.environ.get("POWERTOOLS_METRICS_NAMESPACE") or NAMESPACE
        service = os.environ.get("POWERTOOLS_SERVICE_NAME") or SERVICE
        for dimensions, values in groups.items():
            metrics = EphemeralMetrics(namespace=namespace, service=service)
            for name, value in dimensions:
                metrics.add_dimension(name=name, value=value)
            for name, unit, number in values:
                metrics.add_metric(name=name, unit=unit, value=number)
            metrics.flush_metrics()


def record_build(recorder: MetricsRecorder, result: BuildResult) -> None:
    """Image and layer metrics of one build result."""
    if result.status == "built":
        recorder.add("ImagesIndexed", "Count", 1)
    else:
        recorder.add("ImagesSkipped", "Count", 1, reason=_reason(result))
    for layer in result.layers:
        if layer.status == "indexed":
            recorder.add("LayersIndexed", "Count", 1)
            recorder.add("ZtocsBuilt", "Count", 1)
        elif layer.status == "reused":
            recorder.add("LayersReused", "Count", 1)
            if layer.reused_from is not None:  # from the catalogue, not an up-to-date output
                recorder.add("ZtocsReused", "Count", 1)
        else:
            reason = layer.reason.value if layer.reason else "unknown"
            recorder.add("LayersSkipped", "Count", 1, reason=reason)
    recorder.add("BytesProcessed", "Bytes", result.bytes_processed)
    recorder.add("IndexDuration", "Seconds", round(result.seconds, 3))


def _reason(result: BuildResult) -> str:
    return result.reason.value if result.reason else result.status


def build_detail(push: ImagePush, result: BuildResult) -> dict[str, Any]:
    """Result event detail; keys mirror ECR's (``repository-name``, ``image-digest``)."""
    counts: dict[str, int] = {}
    for layer in result.layers:
        counts[layer.status] = counts.get(layer.status, 0) + 1
    return {
        **push.result_detail(),
        "status": result.status,
        "reason": result.reason.value if result.reason else None,
        "output-tag": result.output_tag,
        "output-digest": result.output_digest,
        "index-digests": dict(result.index_digests),
        "layers": counts,
        "ztocs": [_ztoc_detail(layer) for layer in result.layers if layer.ztoc_digest],
        "bytes-processed": result.bytes_processed,
        "seconds": round(result.seconds, 3),
    }


def _ztoc_detail(layer: LayerResult) -> dict[str, Any]:
    """Per layer: ``built`` or ``reused`` (with the repository it came from, docs/reuse.md)."""
    detail: dict[str, Any] = {
        "layer-digest": layer.digest,
        "ztoc-digest": layer.ztoc_digest,
        "status": "built" if layer.status == "indexed" else "reused",
    }
    if layer.reused_from is not None:
        detail["from"] = layer.reused_from
    return detail


def result_type(result: BuildResult) -> str:
    return SKIPPED if result.status == "skipped" else BUILT


class ResultPublisher:
    """Puts result events on ``RESULT_EVENT_BUS`` (when set); the boto3 client is made once."""

    def __init__(self) -> None:
        self._client: Any = None

    def publish(self, detail_type: str, detail: dict[str, Any]) -> str | None:
        """Put one event; returns the error instead of raising (the build itself is done)."""
        bus = os.environ.get(ENV_RESULT_EVENT_BUS, "").strip()
        if not bus:
            return None
        entry = {
            "Source": RESULT_SOURCE,
            "DetailType": detail_type,
            "Detail": json.dumps(detail, sort_keys=True),
            "EventBusName": bus,
        }
        try:
            response = self._events().put_events(Entries=[entry])
            if response.get("FailedEntryCount"):
                raise RuntimeError(f"PutEvents rejected the entry: {response['Entries']}")
        except Exception as exc:  # a lost event must not make SQS redo a finished build
            return f"{type(exc).__name__}: {exc}"
        return None

    def _events(self) -> Any:
        if self._client is None:
            import boto3  # type: ignore[import-untyped]

            self._client = boto3.client("events")
        return self._client
