"""One reconcile run over the account's ECR repositories, bounded by the invocation's deadline.

For each repository (in name order): list its images (DescribeImages), decide from the listing
alone which tags need work (``soci_index_builder.fleet.select``), send those as synthetic pushes
to the indexer's queue, then prune orphaned outputs (``fleet.orphans``, reading content through
the registry API). Before each repository the deadline is checked; past it, the run hands its
continuation (last repository done + counts) to the next invocation. docs/fleet.md section 2.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from soci_index_builder.errors import SociError
from soci_index_builder.filters import Filters
from soci_index_builder.fleet.aws import EcrLister
from soci_index_builder.fleet.model import ImageRecord
from soci_index_builder.fleet.orphans import PrunePolicy, plan_prune
from soci_index_builder.fleet.prune import apply_prune
from soci_index_builder.fleet.select import plan_repository
from soci_index_builder.soci.settings import IndexSettings
from soci_index_builder.store.base import Repository

from .messages import Continuation, RunStats, batch_entries, synthetic_push


class FleetChoices(Protocol):
    @property
    def prune(self) -> bool: ...
    @property
    def prune_after_days(self) -> int: ...


class ReconcileConfig(Protocol):
    """The operator's SSM choices the reconciler reads (the indexer's, plus pruning)."""

    @property
    def filters(self) -> Filters: ...
    @property
    def settings(self) -> IndexSettings: ...
    @property
    def fleet(self) -> FleetChoices: ...


#: Sends SendMessageBatch entries; returns the ids SQS did not accept.
SendBatch = Callable[[list[dict[str, str]]], list[str]]


@dataclass
class Reconciler:
    """The run's collaborators, injected (the handler wires AWS, the tests moto and a registry)."""

    lister: EcrLister
    open_repository: Callable[[str], Repository]
    send_batch: SendBatch
    resume: Callable[[dict[str, Any]], None]
    #: ``(level, message, extra)``, level ``info``/``warning``/``error``
    log: Callable[[str, str, dict[str, Any]], None]
    account: str
    region: str
    #: Repository name prefixes the role may write (``repositoryPrefixes``); empty: all.
    writable: tuple[str, ...] = ()

    def run(
        self, state: Continuation, config: ReconcileConfig, time_left: Callable[[], float]
    ) -> bool:
        """Reconcile from ``state``; False when it handed over to a next invocation."""
        stats = state.stats
        stats.invocations += 1
        for name in self.lister.repositories(after=state.after):
            if time_left() <= 0:
                self.resume(state.to_event())
                self.log("info", "reconcile continues in a new invocation", {"after": state.after})
                return False
            self._repository(name, config, state.dry_run, stats)
            state.after = name
        return True

    def _repository(
        self, name: str, config: ReconcileConfig, dry_run: bool, stats: RunStats
    ) -> None:
        try:
            records = self.lister.images(name)
        except SociError as exc:  # the rest of the run goes on; nothing pruned here
            stats.failed += 1
            self.log("error", f"listing {name} failed: {exc}", {"repository": name})
            return
        stats.repositories += 1
        stats.images_seen += len(records)
        settings = config.settings
        plan = plan_repository(
            name,
            records,
            lambda repository, tag: config.filters.decide(repository, tag).reason,
            settings.tag_suffix,
            settings.index_version,
        )
        stats.skipped.update(plan.skipped)
        stats.selected += plan.selected
        stats.enabled += len(plan.enabled)
        events = [synthetic_push(w, self.account, self.region) for w in plan.work]
        if events and not dry_run:
            failed = [i for batch in batch_entries(events) for i in self.send_batch(batch)]
            stats.failed += len(failed)
            stats.enqueued += len(events) - len(failed)
        elif dry_run:
            stats.enqueued += len(events)
        if config.fleet.prune and self._may_write(name):
            self._prune(name, records, config, dry_run, stats)

    def _may_write(self, name: str) -> bool:
        """Pruning reads and deletes only where the role may (elsewhere it would be denied)."""
        return not self.writable or any(name.startswith(p) for p in self.writable)

    def _prune(
        self,
        name: str,
        records: list[ImageRecord],
        config: ReconcileConfig,
        dry_run: bool,
        stats: RunStats,
    ) -> None:
        policy = PrunePolicy(
            config.settings.tag_suffix,
            config.settings.build_tool_identifier,
            timedelta(days=config.fleet.prune_after_days),
            datetime.now(UTC),
            read_every_live_index=not self.lister.records_pulls,
        )
        plan = plan_prune(self.open_repository(name), records, policy)
        stats.kept.update(plan.kept)
        for note in plan.notes:
            self.log("warning", note, {"repository": name})

        def log(line: str) -> None:
            self.log("info", line, {"repository": name})

        outcome = apply_prune(plan, lambda d: self.lister.delete(name, d), dry_run, log)
        stats.pruned += len(plan.delete) if dry_run else outcome.pruned
        stats.failed += len(outcome.failures)
        for failure in outcome.failures:
            self.log("error", failure, {"repository": name})
