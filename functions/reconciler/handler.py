"""Lambda entry point of the reconciler: wires AWS clients into :class:`Reconciler`.

Invoked by the schedule, after each deploy (a rule on the stack's own status events), by
``backfill --stack``, and by itself with a continuation when a run needs more than one
invocation. Each finished run logs one summary line and publishes its metrics (docs/fleet.md
section 2).
"""

from __future__ import annotations

import functools
import json
import os
import time
from typing import Any

from aws_lambda_powertools import Logger

from soci_index_builder.errors import ConfigError
from soci_index_builder.fleet.aws import EcrLister

from ..indexer import reporting
from ..indexer.indexer import DEFAULT_DEADLINE_MARGIN, ENV_DEADLINE_MARGIN
from ..shared.config import ConfigSource, env_number
from ..shared.registries import Registries
from .messages import Continuation, RunStats
from .reconcile import Reconciler

ENV_QUEUE_URL = "QUEUE_URL"
ENV_REPOSITORY_PREFIXES = "REPOSITORY_PREFIXES"
#: A run that needs more invocations than this stops with an error (a loop, not a big fleet).
MAX_INVOCATIONS = 200

logger = Logger(service=os.environ.get("POWERTOOLS_SERVICE_NAME") or reporting.SERVICE)


@functools.cache
def config_source() -> ConfigSource:
    """The SSM filters and settings (the indexer's), cached while the container is warm."""
    return ConfigSource()


@functools.cache
def registries() -> Registries:
    """One registry client per endpoint for the container's life (pruning reads content)."""
    return Registries()


def ecr_client() -> Any:
    """The control-plane client of the function's own account and region."""
    import boto3  # type: ignore[import-untyped]  # in the Lambda runtime

    return boto3.client("ecr")


def lambda_client() -> Any:
    """Lambda's API, to hand a continuation to the next invocation of this function."""
    import boto3

    return boto3.client("lambda")


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Reconcile from the event's continuation (or from the start); return the counts."""
    import boto3

    state = Continuation.from_event(event if isinstance(event, dict) else {})
    logger.append_keys(run_id=state.run_id)
    if state.stats.invocations >= MAX_INVOCATIONS:
        logger.error("reconcile stopped: too many invocations", extra=state.stats.to_dict())
        return {"status": "stopped", **state.stats.to_dict()}
    _, _, _, region, account, *_ = str(context.invoked_function_arn).split(":")
    queue_url = os.environ.get(ENV_QUEUE_URL, "")
    if not queue_url:
        raise ConfigError(f"environment variable {ENV_QUEUE_URL} is not set")
    config = config_source().load()
    sqs, invoker = boto3.client("sqs"), lambda_client()

    def send_batch(entries: list[dict[str, str]]) -> list[str]:
        answer = sqs.send_message_batch(QueueUrl=queue_url, Entries=entries)
        return [str(f["Id"]) for f in answer.get("Failed", ())]

    def resume(payload: dict[str, Any]) -> None:
        invoker.invoke(
            FunctionName=context.invoked_function_arn,
            InvocationType="Event",
            Payload=json.dumps(payload).encode(),
        )

    def log(level: str, message: str, extra: dict[str, Any]) -> None:
        getattr(logger, level)(message, extra=extra)

    margin = env_number(ENV_DEADLINE_MARGIN, DEFAULT_DEADLINE_MARGIN)
    stop_at = time.monotonic() + context.get_remaining_time_in_millis() / 1000 - margin
    reconciler = Reconciler(
        EcrLister(ecr_client()),
        lambda name: registries().repository(account, region, name),
        send_batch,
        resume,
        log,
        account,
        region,
        tuple(p for p in os.environ.get(ENV_REPOSITORY_PREFIXES, "").split(",") if p),
    )
    if not reconciler.run(state, config, lambda: stop_at - time.monotonic()):
        return {"status": "continued", **state.stats.to_dict()}
    _summarize(state)
    return {"status": "done", **state.stats.to_dict()}


def _summarize(state: Continuation) -> None:
    """The run's one summary line and its metrics (coverage = enabled / selected)."""
    stats: RunStats = state.stats
    logger.info("reconcile finished", extra={"dry_run": state.dry_run, **stats.to_dict()})
    recorder = reporting.MetricsRecorder()
    for name, value in (
        ("Repositories", stats.repositories),
        ("ImagesSeen", stats.images_seen),
        ("ImagesSelected", stats.selected),
        ("ImagesSociEnabled", stats.enabled),
        ("ImagesEnqueued", stats.enqueued),
        ("ImagesPruned", stats.pruned),
        ("ReconcileFailures", stats.failed),
    ):
        recorder.add(name, "Count", value)
    for reason, count in stats.skipped.items():
        recorder.add("ReconcileSkipped", "Count", count, reason=reason)
    recorder.flush()
