"""``soci-index-builder backfill``: make a whole registry SOCI-enabled, and prune orphans.

``backfill REGISTRY[/PREFIX]`` lists through ``/v2/_catalog`` + tags (ECR hosts: through
DescribeRepositories/DescribeImages), builds inline, prints progress on stderr and a summary on
stdout. ``backfill --stack NAME`` starts the deployed reconciler instead. See docs/fleet.md.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from ..errors import ConfigError, SkipReason
from ..filters import Filters, parse_rule
from ..soci.settings import (
    DEFAULT_MIN_LAYER_SIZE,
    DEFAULT_PRUNE_AFTER_DAYS,
    DEFAULT_TAG_SUFFIX,
    IndexSettings,
)
from .index_cmd import add_connection_options

if TYPE_CHECKING:
    from ..fleet.backfill import BackfillOptions, BackfillReport, Deleter
    from ..fleet.model import Lister
    from ..store.base import Repository

EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2


def add_backfill_parser(commands: Any) -> None:
    """Register the ``backfill`` subcommand on ``commands`` (an argparse subparsers object)."""
    p = commands.add_parser(
        "backfill",
        help="index every selected image of a registry; optionally prune orphaned outputs",
        description="List a registry (REGISTRY[/PREFIX]), build SOCI indexes for every "
        "selected tag that lacks an up-to-date <tag><suffix> output, and with --prune delete "
        "outputs whose source is gone. --stack NAME starts the deployed reconciler instead.",
    )
    p.add_argument("target", nargs="?", metavar="REGISTRY[/PREFIX]", help="host[:port][/prefix]")
    p.add_argument("--stack", help="start the reconciler of this deployed stack and return")
    p.add_argument(
        "--include",
        action="append",
        default=[],
        metavar="REPO_GLOB:TAG_GLOB",
        help="index only matching tags (repeatable; default *:*; grammar as the SSM filters)",
    )
    p.add_argument(
        "--exclude",
        action="append",
        default=[],
        metavar="REPO_GLOB:TAG_GLOB",
        help="skip matching tags (repeatable; wins over --include)",
    )
    p.add_argument("--prune", action="store_true", help="delete orphaned outputs")
    p.add_argument(
        "--prune-after",
        type=float,
        default=float(DEFAULT_PRUNE_AFTER_DAYS),
        metavar="DAYS",
        help=f"only orphans idle this long (default {DEFAULT_PRUNE_AFTER_DAYS}; registries "
        "without pull/push times need 0)",
    )
    p.add_argument("--dry-run", action="store_true", help="change nothing; print the plan")
    p.add_argument("--json", action="store_true", help="print the summary as JSON on stdout")
    p.add_argument("--workers", type=int, default=2, help="images built at once (default 2)")
    add_connection_options(p)
    p.add_argument("--index-version", choices=["v2", "v1"], default="v2")
    p.add_argument("--tag-suffix", default=DEFAULT_TAG_SUFFIX, help="output tag suffix (v2)")
    p.add_argument(
        "--min-layer-size",
        type=int,
        default=DEFAULT_MIN_LAYER_SIZE,
        help="skip layers smaller than this many compressed bytes",
    )
    p.set_defaults(handler=run_backfill_command)


def run_backfill_command(args: argparse.Namespace) -> int:
    from ..fleet.backfill import run_backfill

    if args.stack:
        return _start_stack(args)
    if not args.target:
        print("usage error: give REGISTRY[/PREFIX] or --stack NAME", file=sys.stderr)
        return EXIT_USAGE
    try:
        options = _options(args)
        lister, open_repository, delete = _backend(args)
    except ConfigError as exc:
        print(f"usage error: {exc}", file=sys.stderr)
        return EXIT_USAGE

    def log(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    report = run_backfill(lister, open_repository, delete, options, log)
    for name in getattr(lister, "invalid", ()):
        log(f"warning: skipped {name[:200]!r}: not a valid repository or tag name")
        report.skipped[SkipReason.INVALID_NAME.value] += 1
    sys.stdout.write(_json(report) if args.json else _table(report, args.dry_run))
    return EXIT_FAILURE if report.failed else EXIT_OK


def _options(args: argparse.Namespace) -> BackfillOptions:
    from ..fleet.backfill import BackfillOptions

    if args.workers < 1:
        raise ConfigError("--workers must be at least 1")
    if args.prune_after < 0:
        raise ConfigError("--prune-after must be >= 0 days")
    if args.min_layer_size < 0:
        raise ConfigError("--min-layer-size must be >= 0")
    include = tuple(parse_rule(r, "--include") for r in args.include or ["*:*"])
    exclude = tuple(parse_rule(r, "--exclude") for r in args.exclude)
    filters = Filters(include, exclude)
    settings = IndexSettings(
        index_version=args.index_version,
        tag_suffix=args.tag_suffix,
        min_layer_size=args.min_layer_size,
    )
    return BackfillOptions(
        settings=settings,
        select=lambda repository, tag: filters.decide(repository, tag).reason,
        prune=args.prune,
        prune_after=timedelta(days=args.prune_after),
        workers=args.workers,
        dry_run=args.dry_run,
    )


def _backend(args: argparse.Namespace) -> tuple[Lister, Any, Deleter]:
    """(lister, repository opener, deleter) for ``host[:port][/prefix]``."""
    from ..errors import InvalidReferenceError
    from ..oci.reference import validate_host, validate_repository
    from ..store.base import ManifestDeleter
    from ..store.remote.client import RegistryClient
    from ..store.remote.ecr_hosts import parse_ecr_host
    from ..store.remote.keychain import Keychain

    host, _, prefix = args.target.partition("/")
    try:
        validate_host(host)
        if prefix:
            validate_repository(prefix.rstrip("/"))
    except InvalidReferenceError as exc:
        raise ConfigError(str(exc)) from None
    prefix = prefix.rstrip("/")
    ecr = parse_ecr_host(host)
    client = RegistryClient(
        host,  # --credentials is one of keychain.MODES (argparse choices)
        credentials=Keychain(args.credentials, auth_file=args.auth_file),
        plain_http=args.plain_http,
        ca_bundle=args.ca_bundle,
        connect_to=dict(args.connect_to),
    )
    if ecr is not None:
        from ..fleet.aws import EcrLister, ecr_client

        ecr_lister = EcrLister(ecr_client(ecr.region), prefix)

        def delete_ecr(name: str, repo: Repository, digest: str) -> None:
            ecr_lister.delete(name, digest)

        return ecr_lister, client.repository, delete_ecr
    from ..fleet.registry_lister import RegistryLister

    def delete(name: str, repo: Repository, digest: str) -> None:
        if not isinstance(repo, ManifestDeleter):
            raise ConfigError(f"{repo.name} cannot delete manifests")
        repo.delete_manifest(digest)

    return RegistryLister(client, prefix), client.repository, delete


def _start_stack(args: argparse.Namespace) -> int:
    from ..fleet.aws import invoke_reconciler

    payload = {"source": "soci-index-builder.cli", "dry_run": bool(args.dry_run)}
    name = invoke_reconciler(args.stack, payload)
    print(f"reconciler {name} started; its summary is logged when the run ends")
    return EXIT_OK


def _json(report: BackfillReport) -> str:
    return (
        json.dumps(
            {
                "built": report.built,
                "up_to_date": report.up_to_date,
                "pruned": report.pruned,
                "failed": report.failed,
                "skipped": dict(sorted(report.skipped.items())),
                "kept": dict(sorted(report.kept.items())),
                "repositories": [vars(row) for row in report.repositories],
                "failures": report.failures,
            },
            indent=2,
        )
        + "\n"
    )


def _table(report: BackfillReport, dry_run: bool) -> str:
    lines = []
    if dry_run:
        lines.append(f"{'REPOSITORY':40} {'SELECTED':>8} {'ENABLED':>8} {'BUILD':>6} {'PRUNE':>6}")
        for row in report.repositories:
            lines.append(
                f"{row.repository[:40]:40} {row.selected:8} {row.enabled:8} "
                f"{row.would_build:6} {row.would_prune:6}"
            )
    selected = sum(row.selected for row in report.repositories)
    enabled = sum(row.enabled for row in report.repositories)
    coverage = f"{100 * enabled / selected:.0f}%" if selected else "-"
    lines += [
        f"built       {report.built}",
        f"up-to-date  {report.up_to_date}",
        f"pruned      {report.pruned}",
        f"failed      {report.failed}",
        f"coverage    {enabled}/{selected} selected tags SOCI-enabled ({coverage})",
    ]
    lines += [f"skipped     {reason}: {n}" for reason, n in sorted(report.skipped.items())]
    lines += [f"kept        {reason}: {n}" for reason, n in sorted(report.kept.items())]
    return "\n".join(lines) + "\n"
