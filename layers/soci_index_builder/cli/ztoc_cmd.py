"""``soci-index-builder ztoc build|info|extract|verify``: one layer, one zTOC."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from ..streams import write_atomically
from ..ztoc.model import DEFAULT_BUILD_TOOL_IDENTIFIER, DEFAULT_SPAN_SIZE, CompressionAlgorithm
from .output import parse_size, write_json, write_text
from .progress import human_bytes


def add_ztoc_parser(commands: Any) -> None:
    ztoc = commands.add_parser("ztoc", help="build, inspect, extract from and verify one zTOC")
    sub = ztoc.add_subparsers(dest="ztoc_command", metavar="SUBCOMMAND", required=True)

    build = sub.add_parser("build", help="build the zTOC of a layer file")
    build.add_argument("layer", help="layer blob (tar, tar+gzip)")
    build.add_argument("-o", "--output", required=True, help="where to write the zTOC")
    build.add_argument(
        "--span-size",
        type=parse_size,
        default=DEFAULT_SPAN_SIZE,
        metavar="SIZE",
        help=f"uncompressed bytes between checkpoints, e.g. 1MiB (default: "
        f"{human_bytes(DEFAULT_SPAN_SIZE)}; 0 = at every deflate block, as soci allows)",
    )
    build.add_argument(
        "--compression",
        choices=["auto", "gzip", "uncompressed"],
        default="auto",
        help="layer compression (default: auto, from the first bytes)",
    )
    build.add_argument(
        "--build-tool-identifier",
        default=DEFAULT_BUILD_TOOL_IDENTIFIER,
        help=f"written into the zTOC (default: {DEFAULT_BUILD_TOOL_IDENTIFIER!r})",
    )
    build.add_argument("--layer-digest", help="expected sha256:... of the layer (verified)")
    build.set_defaults(handler=run_build)

    info = sub.add_parser("info", help="print every field of a zTOC")
    info.add_argument("ztoc")
    info.add_argument("--json", action="store_true", help="machine-readable output")
    info.add_argument(
        "--raw-checkpoints",
        action="store_true",
        help="with --json: include the raw checkpoints blob (base64), for `ztoc encode`",
    )
    info.set_defaults(handler=run_info)

    encode = sub.add_parser(
        "encode",
        help="encode a zTOC from its JSON description (ztoc info --json --raw-checkpoints)",
    )
    encode.add_argument("spec", help="JSON file")
    encode.add_argument("-o", "--output", required=True, help="where to write the zTOC")
    encode.set_defaults(handler=run_encode)

    extract = sub.add_parser("extract", help="extract one file through the zTOC's checkpoints")
    extract.add_argument("ztoc")
    extract.add_argument("layer")
    extract.add_argument("path", help="file name as in the TOC (./, leading / ignored)")
    extract.add_argument("-o", "--output", help="write here instead of stdout")
    extract.set_defaults(handler=run_extract)

    verify = sub.add_parser(
        "verify", help="check span digests and extract every file through the checkpoints"
    )
    verify.add_argument("ztoc")
    verify.add_argument("layer")
    verify.set_defaults(handler=run_verify)


def run_build(args: argparse.Namespace) -> int:
    from ..ztoc.builder import build_ztoc, detect_compression

    with open(args.layer, "rb") as layer:
        if args.compression == "auto":
            compression = detect_compression(layer.read(4))
            layer.seek(0)
        else:
            compression = CompressionAlgorithm(args.compression)
        built = build_ztoc(
            layer,
            compression=compression,
            span_size=args.span_size,
            build_tool_identifier=args.build_tool_identifier,
            expected_digest=args.layer_digest,
        )
    write_atomically(Path(args.output), built.raw)
    print(f"{built.digest} {built.size}")
    return 0


def run_info(args: argparse.Namespace) -> int:
    from ..ztoc.codec import decode_ztoc
    from .ztoc_json import ztoc_summary, ztoc_to_dict

    ztoc = decode_ztoc(Path(args.ztoc).read_bytes())
    if args.json:
        write_json(ztoc_to_dict(ztoc, args.raw_checkpoints))
    else:
        write_text(ztoc_summary(ztoc))
    return 0


def run_encode(args: argparse.Namespace) -> int:
    from ..digest import sha256_digest
    from ..errors import ConfigError
    from ..ztoc.codec import encode_ztoc
    from .ztoc_json import ztoc_from_dict

    try:
        spec = json.loads(Path(args.spec).read_bytes().decode())
    except (ValueError, RecursionError) as exc:  # not JSON, not UTF-8, or nested too deep
        raise ConfigError(f"{args.spec}: not a JSON file: {exc}") from None
    raw = encode_ztoc(ztoc_from_dict(spec))
    write_atomically(Path(args.output), raw)
    print(f"{sha256_digest(raw)} {len(raw)}")
    return 0


def run_extract(args: argparse.Namespace) -> int:
    from ..streams import FileRangeReader
    from ..ztoc.codec import decode_ztoc
    from ..ztoc.extract import extract_file

    ztoc = decode_ztoc(Path(args.ztoc).read_bytes())
    with open(args.layer, "rb") as layer:
        data = extract_file(ztoc, FileRangeReader(layer), args.path)
    if args.output:
        write_atomically(Path(args.output), data)
    else:
        sys.stdout.buffer.write(data)
    return 0


def run_verify(args: argparse.Namespace) -> int:
    from ..streams import FileRangeReader
    from ..ztoc.codec import decode_ztoc
    from ..ztoc.verify import verify_ztoc

    ztoc = decode_ztoc(Path(args.ztoc).read_bytes())
    with open(args.layer, "rb") as ranges, open(args.layer, "rb") as stream:
        report = verify_ztoc(ztoc, FileRangeReader(ranges), stream)
    for problem in report.problems:
        print(f"FAIL {problem}", file=sys.stderr)
    print(
        f"{'ok' if report.ok else 'FAILED'}: {report.spans_checked} spans, "
        f"{report.files_checked} files checked through the checkpoints"
    )
    return 0 if report.ok else 1
