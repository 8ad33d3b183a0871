"""Carrying out a prune plan: delete in order, log and count every deletion (docs/fleet.md).

Shared by ``backfill`` and the reconciler. A failed deletion stops the repository's pruning
(the rest of that group may be referenced by what failed to go): nothing is deleted on doubt.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from ..errors import NotFoundError, SociError
from .orphans import Orphan, PrunePlan


@dataclass
class PruneOutcome:
    pruned: int = 0
    failures: list[str] = field(default_factory=list)


def describe(repository: str, orphan: Orphan) -> str:
    tags = f", tags {','.join(orphan.tags)}" if orphan.tags else ""
    idle = f", idle since {orphan.idle_since:%Y-%m-%d}" if orphan.idle_since else ""
    return f"{repository}@{orphan.digest} ({orphan.kind}{tags}{idle})"


def apply_prune(
    plan: PrunePlan, delete: Callable[[str], None], dry_run: bool, log: Callable[[str], None]
) -> PruneOutcome:
    """Delete ``plan.delete`` by digest in order (roots first); ``dry_run`` only logs."""
    outcome = PruneOutcome()
    for orphan in plan.delete:
        what = describe(plan.repository, orphan)
        if dry_run:
            log(f"would prune {what}")
            continue
        try:
            delete(orphan.digest)
        except NotFoundError:
            log(f"already gone {what}")
            continue
        except SociError as exc:
            outcome.failures.append(f"pruning {what}: {exc}; the rest of this repository is kept")
            break
        outcome.pruned += 1
        log(f"pruned {what}")
    return outcome
