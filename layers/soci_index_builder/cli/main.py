"""The ``soci-index-builder`` command: argument parsing and the error -> exit code mapping.

Exit codes: 0 success (including "skipped" results), 1 a failure with a one-line reason on
stderr, 2 bad usage (including an invalid reference or setting). The library never prints;
this module and its siblings do.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from .. import __version__
from ..errors import ConfigError, InvalidReferenceError, SociError
from ..interpreter import tune_for_builds

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2


def build_parser() -> argparse.ArgumentParser:
    from .backfill_cmd import add_backfill_parser
    from .index_cmd import add_index_parser
    from .ztoc_cmd import add_ztoc_parser

    parser = argparse.ArgumentParser(
        prog="soci-index-builder",
        description="Build SOCI zTOCs and indexes (byte-identical to soci-snapshotter) so "
        "container images start lazily on AWS Fargate and the SOCI snapshotter.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    add_ztoc_parser(commands)
    add_index_parser(commands)
    add_backfill_parser(commands)
    demo = commands.add_parser(
        "demo",
        help="index a sample two-platform image built from files on this machine",
        description="Build a small multi-layer, two-platform image into an OCI layout from "
        "files on this machine and index it; no server and no AWS account needed.",
    )
    demo.add_argument("--dir", default=".demo", help="where to write the OCI layout")
    demo.set_defaults(handler=_run_demo)
    return parser


def _run_demo(args: argparse.Namespace) -> int:
    from .demo import run_demo

    return run_demo(args.dir)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script; returns the process exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    tune_for_builds()
    try:
        code: int = args.handler(args)
    except (ConfigError, InvalidReferenceError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except SociError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    except MemoryError:
        print(
            "error: out of memory (try --workers 1, or a machine with more memory)", file=sys.stderr
        )
        return EXIT_FAILURE
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except OSError as exc:
        print(f"error: {exc.strerror or exc}: {exc.filename or ''}".rstrip(": "), file=sys.stderr)
        return EXIT_FAILURE
    return code


if __name__ == "__main__":
    sys.exit(main())
