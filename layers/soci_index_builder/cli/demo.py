"""``make demo``: the main job on an embedded default, with no server and no AWS account.

Builds a small two-platform image from files on this machine into an OCI image layout
(a shared base layer, one layer per platform, a small config layer under the minimum size),
makes it SOCI-enabled with the default settings, then reads one file back through a zTOC's
checkpoints to show that lazy loading would work.
"""

from __future__ import annotations

import gzip as stdlib_gzip
import io
import json
import os
import shutil
import sys
import tarfile
from collections.abc import Iterator
from pathlib import Path

from ..digest import sha256_digest
from ..oci import mediatypes as mt
from ..oci.model import Descriptor, ImageIndex, Manifest, Platform, descriptor_for
from ..soci.build import build_image_index
from ..soci.model import IndexSettings
from ..store.base import BlobRanges
from ..store.layout import LayoutRepository
from ..streams import read_exactly
from .progress import TerminalProgress, result_summary

#: Sources of the demo layers; the first existing directories are used, bounded in size.
BASE_SOURCES = ("/usr/lib/python3.11", "/usr/lib/python3")
PLATFORM_SOURCES = {"linux/amd64": "/usr/share/doc", "linux/arm64": "/usr/share/perl"}
LAYER_BUDGET = 48 << 20  # uncompressed bytes per layer: big enough to index, quick to build
FIXED_MTIME = 1_700_000_000


def run_demo(directory: str) -> int:
    root = Path(directory) / "image"
    if root.exists():
        shutil.rmtree(root)
    repo = LayoutRepository(root, create=True)
    print(f"building a two-platform image from files on this machine into oci:{root} ...")
    base = _layer(repo, _files(BASE_SOURCES))
    manifests = [
        _image(
            repo,
            Platform.parse(platform),
            [base, _layer(repo, _files((src,))), _config_layer(repo)],
        )
        for platform, src in PLATFORM_SOURCES.items()
    ]
    index = ImageIndex(manifests=tuple(manifests))
    repo.push_manifest(index.to_json(), mt.OCI_IMAGE_INDEX, tag="latest")
    print(f"indexing oci:{root}:latest (span 4 MiB, layers >= 10 MiB) ...")
    result = build_image_index(
        repo, "latest", IndexSettings(), progress=TerminalProgress(sys.stderr)
    )
    print(result_summary(result))
    _show_lazy_read(repo, result.index_digests)
    print(f"\ntry: soci-index-builder index oci:{root}:latest --json   (up to date: no rebuild)")
    return 0


def _files(sources: tuple[str, ...]) -> Iterator[Path]:
    """Regular files and directories under the first existing source, up to the budget."""
    total = 0
    for source in sources:
        if not Path(source).is_dir():
            continue
        for top, dirs, names in os.walk(source):
            dirs.sort()
            yield Path(top)
            for name in sorted(names):
                path = Path(top, name)
                if path.is_file() and not path.is_symlink() and os.access(path, os.R_OK):
                    total += path.stat().st_size
                    if total > LAYER_BUDGET:
                        return
                    yield path
        return


def _layer(repo: LayoutRepository, paths: Iterator[Path]) -> tuple[Descriptor, str]:
    """A reproducible tar+gzip layer (fixed owners and mtimes); returns (descriptor, diff id)."""
    tar_bytes = io.BytesIO()
    with tarfile.open(fileobj=tar_bytes, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for path in paths:
            info = tar.gettarinfo(str(path), arcname=str(path).lstrip("/"))
            info.mtime, info.uid, info.gid, info.uname, info.gname = (
                FIXED_MTIME,
                0,
                0,
                "root",
                "root",
            )
            if info.isreg():
                with path.open("rb") as content:
                    tar.addfile(info, content)
            else:
                tar.addfile(info)
    raw_tar = tar_bytes.getvalue()
    blob = stdlib_gzip.compress(raw_tar, compresslevel=6, mtime=0)
    repo.push_blob(sha256_digest(blob), blob)
    return descriptor_for(blob, mt.OCI_LAYER_TAR_GZIP), sha256_digest(raw_tar)


def _config_layer(repo: LayoutRepository) -> tuple[Descriptor, str]:
    info = tarfile.TarInfo("etc/demo.conf")
    content = b"greeting = hello from soci-index-builder\n"
    info.size, info.mtime = len(content), FIXED_MTIME
    tar_bytes = io.BytesIO()
    with tarfile.open(fileobj=tar_bytes, mode="w", format=tarfile.PAX_FORMAT) as tar:
        tar.addfile(info, io.BytesIO(content))
    blob = stdlib_gzip.compress(tar_bytes.getvalue(), mtime=0)
    repo.push_blob(sha256_digest(blob), blob)
    return descriptor_for(blob, mt.OCI_LAYER_TAR_GZIP), sha256_digest(tar_bytes.getvalue())


def _image(
    repo: LayoutRepository, platform: Platform, layers: list[tuple[Descriptor, str]]
) -> Descriptor:
    config = {
        "architecture": platform.architecture,
        "os": platform.os,
        "rootfs": {"type": "layers", "diff_ids": [diff_id for _, diff_id in layers]},
        "config": {"Cmd": ["/bin/sh"]},
    }
    raw_config = json.dumps(config, separators=(",", ":")).encode()
    repo.push_blob(sha256_digest(raw_config), raw_config)
    manifest = Manifest(
        config=descriptor_for(raw_config, mt.OCI_IMAGE_CONFIG),
        layers=tuple(desc for desc, _ in layers),
    )
    raw = manifest.to_json()
    repo.push_manifest(raw, mt.OCI_IMAGE_MANIFEST)
    return descriptor_for(raw, mt.OCI_IMAGE_MANIFEST, platform=platform)


def _show_lazy_read(repo: LayoutRepository, index_digests: dict[str, str]) -> None:
    """Read one file through the first zTOC's checkpoints, as the snapshotter would."""
    from ..soci.index import parse_soci_index
    from ..ztoc.codec import decode_ztoc
    from ..ztoc.extract import ZtocReader

    if not index_digests:
        return
    platform, digest = next(iter(index_digests.items()))
    soci_index = parse_soci_index(repo.fetch_manifest(digest).raw)
    ztoc_desc = soci_index.ztocs[0]
    with repo.open_blob(ztoc_desc.digest, ztoc_desc.size) as stream:
        ztoc = decode_ztoc(read_exactly(stream, ztoc_desc.size))
    files = [e for e in ztoc.entries if e.type == "reg" and e.uncompressed_size > 0]
    entry = files[len(files) // 2]
    reader = ZtocReader(ztoc, BlobRanges(repo, ztoc_desc.layer_digest))
    data = reader.read_file(entry)
    print(
        f"\nlazy read ({platform}): {entry.name} ({len(data)} bytes) inflated from the "
        f"nearest checkpoint of zTOC {ztoc_desc.digest[:19]}... "
        f"({len(ztoc.entries)} entries, {ztoc.compression.max_span_id + 1} spans)"
    )
