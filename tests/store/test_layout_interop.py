"""Interoperability: skopeo (containers/image) reads and writes the layouts we write and read."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from soci_index_builder.oci import mediatypes as mt
from soci_index_builder.store.layout import LayoutRepository
from tests.fixtures.images import LayerSpec, push_image, push_multi_platform_image, random_files

SKOPEO = shutil.which("skopeo")
pytestmark = pytest.mark.skipif(
    SKOPEO is None, reason="skopeo not installed (apt-get install skopeo, or `make system-deps`)"
)


def skopeo_copy(src: str, dst: str, *extra: str) -> None:
    assert SKOPEO is not None
    result = subprocess.run(
        [SKOPEO, "--insecure-policy", "copy", "--quiet", "--preserve-digests", *extra, src, dst],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr


def layers() -> list[LayerSpec]:
    return [
        LayerSpec(random_files(3, 2, 4096)),
        LayerSpec({"etc/os-release": b"ID=test\n"}, compression="uncompressed"),
    ]


def test_skopeo_copies_a_single_image_we_wrote(
    layout_repo: LayoutRepository, tmp_path: Path
) -> None:
    pushed = push_image(layout_repo, "v1", layers())
    dst = tmp_path / "copy"
    skopeo_copy(f"oci:{layout_repo.path}:v1", f"oci:{dst}:v1")
    copied = LayoutRepository(dst)
    assert copied.list_tags() == ["v1"]
    assert copied.fetch_manifest("v1") == pushed


def test_skopeo_copies_a_multi_platform_index_we_wrote(
    layout_repo: LayoutRepository, tmp_path: Path
) -> None:
    per_platform = {"linux/amd64": layers(), "linux/arm64": [LayerSpec({"a": b"b"})]}
    pushed = push_multi_platform_image(layout_repo, "multi", per_platform, attestations=True)
    dst = tmp_path / "copy"
    skopeo_copy(f"oci:{layout_repo.path}:multi", f"oci:{dst}:multi", "--all")
    copied = LayoutRepository(dst)
    assert copied.fetch_manifest("multi") == pushed
    assert copied.fetch_manifest("multi").media_type == mt.OCI_IMAGE_INDEX


def test_we_read_a_layout_skopeo_wrote(layout_repo: LayoutRepository, tmp_path: Path) -> None:
    pushed = push_image(layout_repo, "v1", layers())
    dst = tmp_path / "copy"
    skopeo_copy(f"oci:{layout_repo.path}:v1", f"oci:{dst}:other")
    copied = LayoutRepository(dst)
    manifest = copied.fetch_manifest("other")
    assert manifest.digest == pushed.digest
    # and we can add a tag to skopeo's layout that skopeo then reads back
    copied.push_manifest(manifest.raw, manifest.media_type, "again")
    skopeo_copy(f"oci:{dst}:again", f"oci:{tmp_path / 'third'}:again")
    assert LayoutRepository(tmp_path / "third").fetch_manifest("again").digest == pushed.digest
