"""``soci-index-builder index REF``: index a whole image in a layout or a registry.

REF is ``oci:DIR[:TAG|@DIGEST]`` or ``host[:port]/repo[:TAG|@DIGEST]``. Credentials come from
the keychain (docs/credentials.md): ECR tokens for ECR hosts, docker/containers auth files and
credential helpers for other registries. Exit codes as in ``cli.main``.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

from ..errors import ConfigError, InvalidReferenceError
from ..oci.model import Platform
from ..soci.catalogue import Catalogue
from ..soci.settings import (
    DEFAULT_MIN_LAYER_SIZE,
    DEFAULT_TAG_SUFFIX,
    MIN_SPAN_SIZE,
    IndexSettings,
    SettingError,
)
from ..store.base import Repository
from ..ztoc.model import DEFAULT_SPAN_SIZE
from .output import parse_size, write_json, write_text
from .progress import human_bytes

EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2


def add_index_parser(commands: Any) -> None:
    """Register the ``index`` subcommand on ``commands`` (an argparse subparsers object)."""
    p = commands.add_parser(
        "index",
        help="build SOCI indexes for every platform of an image and push them",
        description="Build SOCI indexes (v2 by default) for an image in an OCI layout or "
        "registry, push them next to it and tag the SOCI-enabled index <tag><suffix>.",
    )
    p.add_argument(
        "ref", metavar="REF", help="oci:DIR[:TAG] or host[:port]/repo:tag or ...@sha256:..."
    )
    p.add_argument(
        "--platform",
        action="append",
        default=[],
        metavar="OS/ARCH[/VARIANT]",
        help="index only these platforms (repeatable; default: all)",
    )
    p.add_argument(
        "--index-version",
        choices=["v2", "v1"],
        default="v2",
        help="v2: SOCI-enabled index tagged <tag><suffix>; v1: referrers (default: v2)",
    )
    p.add_argument(
        "--span-size",
        type=parse_size,
        default=DEFAULT_SPAN_SIZE,
        metavar="SIZE",
        help="uncompressed bytes between checkpoints (the unit of lazy fetching), e.g. 4MiB "
        f"(default: {human_bytes(DEFAULT_SPAN_SIZE)}; at least {human_bytes(MIN_SPAN_SIZE)})",
    )
    p.add_argument(
        "--min-layer-size",
        type=parse_size,
        default=DEFAULT_MIN_LAYER_SIZE,
        metavar="SIZE",
        help="skip layers smaller than this (compressed), e.g. 10MB "
        f"(default: {human_bytes(DEFAULT_MIN_LAYER_SIZE)})",
    )
    p.add_argument(
        "--tag-suffix",
        default=DEFAULT_TAG_SUFFIX,
        help=f"v2: the output tag is <tag><suffix> (default: {DEFAULT_TAG_SUFFIX})",
    )
    p.add_argument("--replace-tag", action="store_true", help="also move the source tag")
    p.add_argument("--recompress-zstd", action="store_true", help="re-encode zstd layers as gzip")
    add_connection_options(p)
    p.add_argument(
        "--timeout",
        type=_positive_seconds,
        metavar="SECONDS",
        help="give up (exit 1) after this long overall, retries and slow transfers included",
    )
    p.add_argument("--dry-run", action="store_true", help="plan only: read, push nothing")
    p.add_argument("--json", action="store_true", help="print the result as JSON on stdout")
    p.add_argument(
        "--verify",
        action="store_true",
        help="read the pushed SOCI-enabled index back and check its structure",
    )
    p.add_argument(
        "--workers",
        type=int,
        default=IndexSettings().max_workers,
        help=f"layers indexed at once (default: {IndexSettings().max_workers})",
    )
    p.add_argument(
        "--cache",
        metavar="PATH|none",
        help="zTOC catalogue file, so that layers indexed before are not streamed again "
        "(default: ~/.cache/soci-index-builder/ztocs.sqlite; none: no catalogue)",
    )
    p.add_argument(
        "--no-reuse",
        action="store_true",
        help="build every zTOC: neither the catalogue nor the previous output is consulted",
    )
    p.set_defaults(handler=run_index)


def add_connection_options(p: argparse.ArgumentParser) -> None:
    """How to reach and authenticate to the registry (``index`` and ``backfill``)."""
    p.add_argument("--plain-http", action="store_true", help="talk HTTP to the registry")
    p.add_argument(
        "--ca-bundle",
        metavar="FILE",
        help="PEM file of the CAs to trust for the registry instead of the system's",
    )
    p.add_argument(
        "--connect-to",
        action="append",
        default=[],
        type=_connect_to,
        metavar="HOST:PORT:ADDRESS:PORT",
        help="connect to ADDRESS:PORT for requests to HOST:PORT, keeping HOST for TLS "
        "(like curl --connect-to; repeatable)",
    )
    p.add_argument(
        "--credentials",
        choices=["auto", "ecr", "config", "none"],
        default="auto",
        help="auto: ECR tokens for ECR hosts, auth files for others (default); ecr: ECR only; "
        "config: auth files only (docker config.json, containers auth.json, helpers); "
        "none: anonymous",
    )
    p.add_argument(
        "--auth-file",
        metavar="FILE",
        help="docker config.json or containers auth.json to use instead of the default files",
    )


def run_index(args: argparse.Namespace) -> int:
    """Run ``index``; returns the exit code (SociError propagates to ``cli.main``)."""
    from ..soci.build import build_image_index

    deadline = None if args.timeout is None else time.monotonic() + args.timeout
    try:
        settings = _settings(args)
        repo, reference, source_tag = open_reference(
            args.ref,
            plain_http=args.plain_http,
            ca_bundle=args.ca_bundle,
            connect_to=dict(args.connect_to),
            credentials=args.credentials,
            auth_file=args.auth_file,
            deadline=deadline,
        )
    except (ConfigError, InvalidReferenceError) as exc:
        print(f"usage error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    progress = None
    if sys.stderr.isatty() and not args.json:
        from .progress import TerminalProgress

        progress = TerminalProgress(sys.stderr)
    result = build_image_index(
        repo,
        reference,
        settings,
        source_tag=source_tag,
        deadline=deadline,
        progress=progress,
        catalogue=None if args.no_reuse else _catalogue(args.cache),
        reuse=not args.no_reuse,
    )
    _print_result(result, args.json)
    if not args.verify or settings.dry_run:
        return EXIT_OK
    if settings.index_version == "v1":
        return _report_problems(_verify_v1(repo, list(result.index_digests.values())))
    if result.output_tag:
        return _verify(repo, result.output_tag, result.reason is None)
    return EXIT_OK


def open_reference(
    text: str,
    *,
    plain_http: bool = False,
    ca_bundle: str | None = None,
    connect_to: dict[str, str] | None = None,
    credentials: str = "auto",
    auth_file: str | None = None,
    deadline: float | None = None,
) -> tuple[Repository, str, str | None]:
    """(repository, manifest reference, source tag) for a CLI ``REF``.

    Registry credentials come from the keychain (``store/remote/keychain.py``, mode
    ``credentials``); ``deadline`` (monotonic) bounds every request, retry and transfer.
    """
    from ..oci.reference import parse_reference

    ref = parse_reference(text)
    source_tag = ref.tag
    if ref.is_layout:
        from ..store.layout import LayoutRepository

        return LayoutRepository(ref.repository), ref.manifest_reference, source_tag
    from ..store.remote.client import RegistryClient
    from ..store.remote.keychain import MODES, Keychain

    mode = next((m for m in MODES if m == credentials), None)
    if mode is None:
        raise ConfigError(f"--credentials must be one of {', '.join(MODES)}")
    client = RegistryClient(
        ref.registry,
        credentials=Keychain(mode, auth_file=auth_file),
        plain_http=plain_http,
        ca_bundle=ca_bundle,
        connect_to=connect_to,
        deadline=deadline,
    )
    return client.repository(ref.repository), ref.manifest_reference, source_tag


#: Settings fields whose flag is not ``--<field with dashes>``.
_FLAGS = {"max_workers": "--workers", "platforms": "--platform"}


def _settings(args: argparse.Namespace) -> IndexSettings:
    """The settings model checks every value; its refusal names the flag the user typed."""
    platforms = tuple(str(Platform.parse(p)) for p in args.platform)
    try:
        return IndexSettings(
            span_size=args.span_size,
            min_layer_size=args.min_layer_size,
            index_version=args.index_version,
            tag_suffix=args.tag_suffix,
            platforms=platforms,
            recompress_zstd=args.recompress_zstd,
            replace_tag=args.replace_tag,
            max_workers=args.workers,
            dry_run=args.dry_run,
        )
    except SettingError as exc:
        flag = _FLAGS.get(exc.key, "--" + exc.key.replace("_", "-"))
        raise ConfigError(f"{flag} {exc.problem}") from None


def _catalogue(option: str | None) -> Catalogue | None:
    """``--cache``: the SQLite catalogue at PATH (default: the user cache dir), or none."""
    from ..soci.catalogue.sqlite import SqliteCatalogue, default_path

    if option is not None and option.lower() == "none":
        return None
    return SqliteCatalogue(option or default_path())


def _print_result(result: Any, as_json: bool) -> None:
    from .progress import result_summary, result_to_dict

    if as_json:
        write_json(result_to_dict(result))
    else:
        write_text(result_summary(result))


def _verify(repo: Repository, tag: str, indexed: bool) -> int:
    from ..soci.validate import validate_soci_image

    if not indexed:  # "nothing to index": the tag is the original image, nothing to check
        return EXIT_OK
    return _report_problems(validate_soci_image(repo, tag))


def _verify_v1(repo: Repository, digests: list[str]) -> list[str]:
    from ..soci.validate import validate_v1_indexes

    return validate_v1_indexes(repo, digests)


def _report_problems(problems: list[str]) -> int:
    for problem in problems:
        print(f"verify: {problem}", file=sys.stderr)
    return EXIT_FAILURE if problems else EXIT_OK


def _connect_to(text: str) -> tuple[str, str]:
    """``HOST:PORT:ADDRESS:PORT`` -> ``("HOST:PORT", "ADDRESS:PORT")``."""
    from ..store.remote.transport import split_host_port

    host, _, rest = text.partition(":")
    port, _, address = rest.partition(":")
    try:
        split_host_port(address)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"expected HOST:PORT:ADDRESS:PORT ({exc})") from None
    if not host or not port.isdigit():
        raise argparse.ArgumentTypeError("expected HOST:PORT:ADDRESS:PORT")
    return f"{host.lower()}:{port}", address


def _positive_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError("must be a number of seconds") from None
    if not value > 0:
        raise argparse.ArgumentTypeError("must be > 0")
    return value
