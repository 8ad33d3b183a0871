"""``backfill``: converge a registry inline, image after image (docs/fleet.md section 4).

The reconciler Lambda enqueues work for the indexer; this runs the same decisions
(:mod:`.select`, :mod:`.orphans`) but builds in-process, for any registry. A failure of one
repository or image is recorded and the run goes on; pruning a repository is skipped when its
listing failed (nothing deleted on doubt).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

from ..errors import SociError
from ..soci.build import build_image_index
from ..soci.model import BuildResult
from ..soci.settings import DEFAULT_PRUNE_AFTER_DAYS, IndexSettings
from ..store.base import Repository
from .model import Lister
from .orphans import PrunePlan, PrunePolicy, plan_prune
from .prune import apply_prune
from .select import RepositoryPlan, Selector, Work, plan_repository

#: Deletes one manifest ``(repository name, repository, digest)``; raises SociError on failure.
Deleter = Callable[[str, Repository, str], None]
Log = Callable[[str], None]


@dataclass(frozen=True)
class BackfillOptions:
    settings: IndexSettings
    select: Selector
    prune: bool = False
    prune_after: timedelta = timedelta(days=DEFAULT_PRUNE_AFTER_DAYS)
    workers: int = 2
    dry_run: bool = False


@dataclass
class RepositoryReport:
    """The per-repository coverage row of ``--dry-run`` (and of every run)."""

    repository: str
    selected: int = 0
    enabled: int = 0
    would_build: int = 0
    would_prune: int = 0


@dataclass
class BackfillReport:
    built: int = 0
    up_to_date: int = 0
    pruned: int = 0
    failed: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    kept: Counter[str] = field(default_factory=Counter)
    repositories: list[RepositoryReport] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    def fail(self, message: str, log: Log) -> None:
        self.failed += 1
        self.failures.append(message)
        log(f"error: {message}")


def run_backfill(
    lister: Lister,
    open_repository: Callable[[str], Repository],
    delete: Deleter,
    options: BackfillOptions,
    log: Log,
) -> BackfillReport:
    """List, build what needs it, prune what is orphaned; return the counts."""
    report = BackfillReport()
    suffix = options.settings.tag_suffix
    try:
        names = list(lister.repositories())
    except SociError as exc:
        report.fail(f"listing repositories: {exc}", log)
        return report
    for name in names:
        row = RepositoryReport(name)
        report.repositories.append(row)
        try:
            records = lister.images(name)
        except SociError as exc:
            report.fail(f"listing {name}: {exc}; repository skipped", log)
            continue
        plan = plan_repository(
            name, records, options.select, suffix, options.settings.index_version
        )
        report.skipped.update(plan.skipped)
        row.selected, row.enabled = plan.selected, len(plan.enabled)
        repo = open_repository(name)
        _build(repo, plan, options, report, row, log)
        if options.prune:
            policy = PrunePolicy(
                suffix,
                options.settings.build_tool_identifier,
                options.prune_after,
                datetime.now(UTC),
                read_every_live_index=not lister.records_pulls,
            )
            _prune(repo, plan_prune(repo, records, policy), delete, options, report, row, log)
    return report


def _build(
    repo: Repository,
    plan: RepositoryPlan,
    options: BackfillOptions,
    report: BackfillReport,
    row: RepositoryReport,
    log: Log,
) -> None:
    if options.dry_run:
        definite = [w for w in plan.work if w.why != "unverified"]
        row.would_build = len(definite)
        row.enabled += len(plan.work) - len(definite)  # existing outputs: checked when run
        for work in definite:
            log(f"would build {plan.repository}:{work.tag} ({work.why})")
        return
    settings = replace(options.settings, dry_run=False)
    with ThreadPoolExecutor(max_workers=max(1, options.workers)) as pool:
        futures = [(w, pool.submit(_build_one, repo, w, settings)) for w in plan.work]
        for done, (work, future) in enumerate(futures, 1):
            where = f"[{done}/{len(futures)}] {plan.repository}:{work.tag}"
            try:
                result = future.result()
            except SociError as exc:
                report.fail(f"{where}: {exc}", log)
                continue
            _count(result, report, row)
            reason = f" ({result.reason.value})" if result.reason else ""
            log(f"{where}: {result.status}{reason} in {result.seconds:.1f}s")


def _build_one(repo: Repository, work: Work, settings: IndexSettings) -> BuildResult:
    """Pinned to the listed digest, so a tag moving meanwhile cannot mix two images."""
    return build_image_index(repo, work.digest, settings, source_tag=work.tag)


def _count(result: BuildResult, report: BackfillReport, row: RepositoryReport) -> None:
    if result.status == "built":
        report.built += 1
        row.enabled += 1
    elif result.status == "up-to-date":
        report.up_to_date += 1
        row.enabled += 1
    elif result.reason is not None:
        report.skipped[result.reason.value] += 1


def _prune(
    repo: Repository,
    plan: PrunePlan,
    delete: Deleter,
    options: BackfillOptions,
    report: BackfillReport,
    row: RepositoryReport,
    log: Log,
) -> None:
    report.kept.update(plan.kept)
    for note in plan.notes:
        log(f"warning: {note}")
    if plan.kept["no-times"]:
        log(
            f"warning: {plan.repository}: the registry reports no pull or push times; "
            f"{plan.kept['no-times']} orphan(s) kept (prune them with --prune-after 0)"
        )
    row.would_prune = len(plan.delete)
    outcome = apply_prune(
        plan, lambda digest: delete(plan.repository, repo, digest), options.dry_run, log
    )
    report.pruned += outcome.pruned
    for failure in outcome.failures:
        report.fail(failure, log)
