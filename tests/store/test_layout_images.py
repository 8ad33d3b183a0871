"""tests/fixtures/images.py against the layout backend: deterministic, well-formed images."""

from __future__ import annotations

import gzip
import io
import json
import tarfile
from pathlib import Path

import pytest

from soci_index_builder.digest import sha256_digest
from soci_index_builder.oci import mediatypes as mt
from soci_index_builder.oci.model import ImageIndex, Manifest, Platform
from soci_index_builder.store.layout import LayoutRepository
from tests.fixtures.images import (
    ATTESTATION_REF_DIGEST,
    ATTESTATION_REF_TYPE,
    FIXED_MTIME,
    Entry,
    LayerSpec,
    build_image,
    directory,
    hardlink,
    make_layer,
    make_tar,
    push_image,
    push_multi_platform_image,
    random_files,
    symlink,
)

TREE = {
    "etc/": directory(),
    "etc/hello.txt": b"hello\n",
    "etc/link": symlink("hello.txt"),
    "etc/hard": hardlink("etc/hello.txt"),
    "bin/tool": Entry(b"#!/bin/sh\n", mode=0o755, xattrs={"security.capability": "x"}),
}


def test_tar_is_pax_with_fixed_metadata() -> None:
    with tarfile.open(fileobj=io.BytesIO(make_tar(TREE))) as tar:
        members = tar.getmembers()
        assert [m.name for m in members] == [
            "etc",
            "etc/hello.txt",
            "etc/link",
            "etc/hard",
            "bin/tool",
        ]
        assert {m.mtime for m in members} == {FIXED_MTIME}
        assert {(m.uid, m.gid, m.uname, m.gname) for m in members} == {(0, 0, "root", "root")}
        assert members[0].isdir() and members[2].issym() and members[3].islnk()
        assert members[4].mode == 0o755
        assert members[4].pax_headers["SCHILY.xattr.security.capability"] == "x"
        extracted = tar.extractfile("etc/hello.txt")
        assert extracted is not None and extracted.read() == b"hello\n"


@pytest.mark.parametrize(
    ("compression", "media_types", "media_type"),
    [
        ("gzip", "oci", mt.OCI_LAYER_TAR_GZIP),
        ("uncompressed", "oci", mt.OCI_LAYER_TAR),
        ("zstd", "oci", mt.OCI_LAYER_TAR_ZSTD),
        ("gzip", "docker", mt.DOCKER_LAYER_GZIP),
        ("uncompressed", "docker", mt.DOCKER_LAYER_TAR),
    ],
)
def test_layers_are_deterministic_and_decode_to_the_tar(
    compression: str, media_types: str, media_type: str
) -> None:
    spec = LayerSpec(TREE, compression=compression)  # type: ignore[arg-type]
    layer = make_layer(spec, media_types)  # type: ignore[arg-type]
    assert layer == make_layer(spec, media_types)  # type: ignore[arg-type]
    assert layer.media_type == media_type
    assert layer.digest == sha256_digest(layer.blob)
    tar = make_tar(TREE)
    if compression == "gzip":
        assert gzip.decompress(layer.blob) == tar
    elif compression == "zstd":
        zstandard = pytest.importorskip("zstandard")
        assert zstandard.ZstdDecompressor().decompress(layer.blob) == tar
    else:
        assert layer.blob == tar
    assert layer.diff_id == sha256_digest(tar)


def test_random_files_are_seeded_sized_and_compressible_on_request() -> None:
    a = random_files(7, 3, 4096)
    assert a == random_files(7, 3, 4096) and a != random_files(8, 3, 4096)
    assert list(a) == ["data/file0000", "data/file0001", "data/file0002"]
    assert {len(v) for v in a.values()} == {4096}
    text = random_files(7, 1, 1 << 16, compressible=True)["data/file0000"]
    assert len(text) == 1 << 16
    assert len(gzip.compress(text)) < len(text) // 3
    noise = a["data/file0000"]
    assert len(gzip.compress(noise)) > len(noise)


def test_large_layer_exceeds_soci_min_layer_size() -> None:
    layer = make_layer(LayerSpec(random_files(1, 11, 1 << 20)))
    assert len(layer.blob) >= 10 << 20


def test_push_image_config_and_manifest(layout_repo: LayoutRepository) -> None:
    specs = [LayerSpec(TREE), LayerSpec({"x": b"y"}, compression="uncompressed")]
    pushed = push_image(layout_repo, "v1", specs, platform="linux/arm64/v8")
    assert pushed == layout_repo.fetch_manifest("v1")
    manifest = Manifest.from_json(pushed.raw)
    assert manifest.to_json() == pushed.raw  # canonical bytes
    config = json.loads(layout_repo.read_blob_range(manifest.config.digest, 0, 1 << 20))
    assert (config["os"], config["architecture"], config["variant"]) == ("linux", "arm64", "v8")
    assert config["rootfs"]["diff_ids"] == [make_layer(s).diff_id for s in specs]
    for desc in manifest.layers:
        assert layout_repo.has_blob(desc.digest)
    assert push_image(layout_repo, "v1", specs, platform="linux/arm64/v8") == pushed


def test_docker_media_types(layout_repo: LayoutRepository) -> None:
    pushed = push_image(layout_repo, "d", [LayerSpec(TREE)], media_types="docker")
    manifest = Manifest.from_json(pushed.raw)
    assert pushed.media_type == manifest.media_type == mt.DOCKER_MANIFEST_V2
    assert manifest.config.media_type == mt.DOCKER_IMAGE_CONFIG
    assert manifest.layers[0].media_type == mt.DOCKER_LAYER_GZIP


def test_untagged_push(layout_repo: LayoutRepository) -> None:
    pushed = push_image(layout_repo, None, [LayerSpec(TREE)])
    assert layout_repo.list_tags() == []
    assert layout_repo.fetch_manifest(pushed.digest) == pushed


def test_multi_platform_index_with_attestations(layout_repo: LayoutRepository) -> None:
    per_platform = {"linux/amd64": [LayerSpec(TREE)], "linux/arm64/v8": [LayerSpec({"a": b"b"})]}
    pushed = push_multi_platform_image(layout_repo, "multi", per_platform, attestations=True)
    assert pushed.media_type == mt.OCI_IMAGE_INDEX
    index = ImageIndex.from_json(layout_repo.fetch_manifest("multi").raw)
    images, attestations = index.manifests[:2], index.manifests[2:]
    assert [str(d.platform) for d in images] == ["linux/amd64", "linux/arm64/v8"]
    expected = build_image([LayerSpec(TREE)], platform="linux/amd64").digest
    assert images[0].digest == expected
    for image, att in zip(images, attestations, strict=True):
        assert att.platform == Platform("unknown", "unknown")
        assert att.annotations == {
            ATTESTATION_REF_DIGEST: image.digest,
            ATTESTATION_REF_TYPE: "attestation-manifest",
        }
        att_manifest = Manifest.from_json(layout_repo.fetch_manifest(att.digest).raw)
        assert [layer.media_type for layer in att_manifest.layers] == [mt.IN_TOTO]
        assert layout_repo.has_blob(att_manifest.layers[0].digest)


def test_docker_manifest_list(layout_repo: LayoutRepository) -> None:
    pushed = push_multi_platform_image(
        layout_repo, "list", {"linux/amd64": [LayerSpec(TREE)]}, media_types="docker"
    )
    assert pushed.media_type == mt.DOCKER_MANIFEST_LIST
    index = ImageIndex.from_json(pushed.raw)
    assert index.manifests[0].media_type == mt.DOCKER_MANIFEST_V2


def test_layout_fixture_is_empty(layout_repo: LayoutRepository, tmp_path: Path) -> None:
    assert layout_repo.path.parent == tmp_path
    assert layout_repo.list_tags() == []
