"""What the reconciler sends: synthetic ECR push events for the indexer's queue, and the
continuation it hands to its next invocation (docs/fleet.md section 2).

A synthetic push has the shape of an EventBridge "ECR Image Action" event (the indexer parses
both with ``functions.indexer.events.parse_push``) with its own ``source``, so logs and result
events tell a reconcile from a push. The indexer's up-to-date check does the rest: a message for
an image that is already indexed builds nothing.
"""

from __future__ import annotations

import json
import uuid
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from soci_index_builder.fleet.select import Work

from ..indexer.events import IMAGE_ACTION, RECONCILER_SOURCE

#: SendMessageBatch takes at most 10 entries.
BATCH_SIZE = 10


def synthetic_push(work: Work, account: str, region: str) -> dict[str, Any]:
    """An ECR push event for ``work``, marked as coming from the reconciler."""
    detail: dict[str, Any] = {
        "result": "SUCCESS",
        "action-type": "PUSH",
        "repository-name": work.repository,
        "image-digest": work.digest,
        "image-tag": work.tag,
        "reconcile-reason": work.why,
    }
    if work.manifest_media_type:
        detail["manifest-media-type"] = work.manifest_media_type
    if work.artifact_media_type:
        detail["artifact-media-type"] = work.artifact_media_type
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": IMAGE_ACTION,
        "source": RECONCILER_SOURCE,
        "account": account,
        "region": region,
        "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "resources": [f"arn:aws:ecr:{region}:{account}:repository/{work.repository}"],
        "detail": detail,
    }


def batch_entries(events: list[dict[str, Any]]) -> list[list[dict[str, str]]]:
    """SendMessageBatch entries, 10 a call."""
    entries = [{"Id": str(i), "MessageBody": json.dumps(e)} for i, e in enumerate(events)]
    return [entries[i : i + BATCH_SIZE] for i in range(0, len(entries), BATCH_SIZE)]


@dataclass
class RunStats:
    """The counts of one reconcile run, carried across its invocations."""

    repositories: int = 0
    images_seen: int = 0
    selected: int = 0
    enabled: int = 0
    enqueued: int = 0
    pruned: int = 0
    failed: int = 0
    invocations: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    kept: Counter[str] = field(default_factory=Counter)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["skipped"], out["kept"] = dict(self.skipped), dict(self.kept)
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunStats:
        counters = {"skipped", "kept"}
        known = {
            k: int(v)
            for k, v in data.items()
            if k in cls.__dataclass_fields__ and k not in counters
        }
        return cls(
            **known,
            skipped=Counter({str(k): int(v) for k, v in dict(data.get("skipped") or {}).items()}),
            kept=Counter({str(k): int(v) for k, v in dict(data.get("kept") or {}).items()}),
        )


@dataclass
class Continuation:
    """Where a run stands: the last repository finished, and the counts so far."""

    run_id: str
    after: str = ""
    dry_run: bool = False
    stats: RunStats = field(default_factory=RunStats)

    KEY = "continuation"

    @classmethod
    def from_event(cls, event: dict[str, Any]) -> Continuation:
        """A fresh run (schedule, deploy trigger, ``backfill --stack``) or a resumed one."""
        data = event.get(cls.KEY)
        dry_run = bool(event.get("dry_run", False))
        if not isinstance(data, dict):
            return cls(run_id=str(uuid.uuid4()), dry_run=dry_run)
        return cls(
            run_id=str(data.get("run_id") or uuid.uuid4()),
            after=str(data.get("after") or ""),
            dry_run=bool(data.get("dry_run", False)),
            stats=RunStats.from_dict(dict(data.get("stats") or {})),
        )

    def to_event(self) -> dict[str, Any]:
        return {
            self.KEY: {
                "run_id": self.run_id,
                "after": self.after,
                "dry_run": self.dry_run,
                "stats": self.stats.to_dict(),
            }
        }
