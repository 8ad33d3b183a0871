"""Smaller ECR findings (issue 8, points 9 and 10): each a clear outcome instead of a failure.

GIVEN an output whose SOCI manifests a lifecycle rule deleted, a non-distributable layer with
``urls``, a v1 re-run or ``--verify`` on v1, or a manifest nesting JSON absurdly deep, THEN the
build rebuilds, skips, reports up-to-date, verifies, or fails with one line.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from soci_index_builder.cli.main import main
from soci_index_builder.digest import sha256_digest
from soci_index_builder.errors import SkipReason
from soci_index_builder.oci import mediatypes as mt
from soci_index_builder.oci.model import Descriptor, Manifest, descriptor_for
from soci_index_builder.soci.build import build_image_index
from soci_index_builder.soci.index import parse_soci_index
from soci_index_builder.soci.validate import validate_v1_indexes
from soci_index_builder.store.base import Repository
from soci_index_builder.store.layout import LayoutRepository
from tests.fixtures.images import push_image, push_multi_platform_image

from .conftest import SETTINGS, Recording, big_gzip

V1 = replace(SETTINGS, index_version="v1")
REF_NAME = "org.opencontainers.image.ref.name"
SMALL = ["--min-layer-size", "10000", "--span-size", "65536"]


def test_output_with_deleted_soci_manifests_is_rebuilt(tmp_path: Path) -> None:
    repo = LayoutRepository(tmp_path / "l", create=True)
    push_multi_platform_image(
        repo, "app", {"linux/amd64": [big_gzip(1)], "linux/arm64": [big_gzip(2)]}
    )
    first = build_image_index(repo, "app", SETTINGS)
    # A lifecycle rule on untagged images deletes the SOCI index manifests, not the tag.
    for digest in first.index_digests.values():
        (tmp_path / "l" / "blobs" / "sha256" / digest[7:]).unlink()
    again = build_image_index(repo, "app", SETTINGS)
    assert again.status == "built" and again.output_digest == first.output_digest
    assert all(repo.resolve(d) is not None for d in first.index_digests.values())


def test_non_distributable_layer_with_urls_is_skipped(repo: Repository) -> None:
    """The foreign layer's blob is nowhere in the repository, as on ECR: it must not be read."""
    manifest = Manifest.from_json(push_image(repo, None, [big_gzip(3)]).raw)
    foreign = Descriptor(
        mt.DOCKER_FOREIGN_LAYER_GZIP,
        sha256_digest(b"windows base layer"),
        300_000,
        urls=("https://mcr.microsoft.com/v2/windows/blobs/sha256:00",),
    )
    raw = replace(manifest, layers=(foreign, *manifest.layers)).to_json()
    repo.push_manifest(raw, mt.OCI_IMAGE_MANIFEST, "win")
    result = build_image_index(repo, "win", SETTINGS)
    assert result.status == "built"
    assert [(layer.status, layer.reason) for layer in result.layers] == [
        ("skipped", SkipReason.NON_DISTRIBUTABLE),
        ("indexed", None),
    ]


def test_v1_rerun_is_up_to_date(repo: Repository) -> None:
    push_multi_platform_image(
        repo, "app", {"linux/amd64": [big_gzip(4)], "linux/arm64": [big_gzip(5)]}
    )
    first = build_image_index(repo, "app", V1)
    again = Recording(repo)
    second = build_image_index(again, "app", V1)  # type: ignore[arg-type]
    assert (second.status, second.index_digests) == ("up-to-date", first.index_digests)
    assert again.events == []
    assert {layer.status for layer in second.layers} == {"reused"}
    # Other settings are not up to date: a new index is built and listed next to the first.
    assert build_image_index(repo, "app", replace(V1, span_size=32 << 10)).status == "built"


def test_cli_verify_with_v1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    repo = LayoutRepository(tmp_path / "img", create=True)
    push_image(repo, "app", [big_gzip(6)])
    ref = f"oci:{tmp_path / 'img'}:app"
    assert main(["index", ref, *SMALL, "--index-version", "v1", "--verify", "--json"]) == 0
    (index,) = json.loads(capsys.readouterr().out)["index_digests"].values()
    source = repo.resolve("app")
    assert source is not None and validate_v1_indexes(repo, [index]) == []
    # Without its referrers fallback tag and a zTOC, the index is unusable: verify says both.
    _edit_tags(tmp_path / "img", _without(source.digest.replace(":", "-")))
    ztoc = parse_soci_index(repo.fetch_manifest(index).raw).ztocs[0].digest
    (tmp_path / "img" / "blobs" / "sha256" / ztoc[7:]).unlink()
    assert validate_v1_indexes(repo, [index]) == [
        f"SOCI index {index}: zTOC blob {ztoc} is missing",
        f"SOCI index {index}: not listed as a referrer of {source.digest}",
    ]


def _edit_tags(layout: Path, edit: Callable[[list[Any]], list[Any]]) -> None:
    path = layout / "index.json"
    doc = json.loads(path.read_text())
    doc["manifests"] = edit(doc["manifests"])
    path.write_text(json.dumps(doc))


def _tag_descriptor(desc: Descriptor, tag: str) -> dict[str, Any]:
    return {**desc.to_dict(), "annotations": {REF_NAME: tag}}


def _without(tag: str) -> Callable[[list[Any]], list[Any]]:
    return lambda tags: [d for d in tags if (d.get("annotations") or {}).get(REF_NAME) != tag]


def test_deeply_nested_manifest_is_one_line_in_the_cli(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = LayoutRepository(tmp_path / "img", create=True)
    raw = (
        b'{"schemaVersion":2,"mediaType":"%s","annotations":{"a":' % mt.OCI_IMAGE_MANIFEST.encode()
    )
    raw += b"[" * 100_000 + b"]" * 100_000 + b"}}"
    repo.push_blob(sha256_digest(raw), raw)  # push_manifest would refuse it: tag it by hand
    _edit_tags(
        tmp_path / "img",
        lambda tags: [*tags, _tag_descriptor(descriptor_for(raw, mt.OCI_IMAGE_MANIFEST), "deep")],
    )
    assert main(["index", f"oci:{tmp_path / 'img'}:deep"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "nests JSON too deeply" in err


def test_out_of_memory_is_one_line_in_the_cli(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Injected where a large allocation fails: in the inflater, mid-layer."""
    repo = LayoutRepository(tmp_path / "img", create=True)
    push_image(repo, "app", [big_gzip(7)])

    def exhausted(*args: object, **kwargs: object) -> None:
        raise MemoryError

    monkeypatch.setattr("soci_index_builder.soci.layers.build_ztoc", exhausted)
    assert main(["index", f"oci:{tmp_path / 'img'}:app", *SMALL]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "out of memory" in err
