"""Lambda entry point: one :class:`~.indexer.Indexer` per container, built on first use.

Thin on purpose: everything the function does is the Indexer's, with its collaborators
injected (docs/architecture.md); this module only wires the deployed defaults to Lambda.
"""

from __future__ import annotations

import functools
from typing import Any

from soci_index_builder.interpreter import tune_for_builds

from .indexer import Indexer, logger


@functools.cache
def default_indexer() -> Indexer:
    """The deployed collaborators (SSM, ECR, EventBridge), made once and reused while warm;
    the container's interpreter tuned for builds, once (soci_index_builder/interpreter.py)."""
    tune_for_builds()
    return Indexer.from_environment()


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Index every pushed image of the batch; report the messages SQS should redeliver."""
    return default_indexer().handle(event, context)
