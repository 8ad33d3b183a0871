"""Whole-image v2 builds on a layout and a real registry: structure, bytes, order, idempotency.

GIVEN images made by tests.fixtures.images, WHEN build_image_index runs, THEN the output passes
validate_soci_image, matches the engine byte for byte, and is tagged only when complete.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import replace

import pytest

from soci_index_builder.errors import SkipReason
from soci_index_builder.oci import mediatypes as mt
from soci_index_builder.oci.model import ImageIndex, Manifest
from soci_index_builder.soci.build import build_image_index
from soci_index_builder.soci.constants import (
    ANNOTATION_DOCKER_REFERENCE_DIGEST,
    ANNOTATION_INDEX_DIGEST,
)
from soci_index_builder.soci.convert import is_attestation, is_soci_descriptor
from soci_index_builder.soci.index import encode_soci_index, parse_soci_index
from soci_index_builder.soci.validate import validate_soci_image
from soci_index_builder.store.base import Repository
from soci_index_builder.ztoc.builder import build_ztoc
from soci_index_builder.ztoc.model import CompressionAlgorithm
from tests.fixtures.images import push_image, push_multi_platform_image

from .conftest import SETTINGS, Recording, big_gzip, big_tar, big_zstd, small


def _read_blob(repo: Repository, digest: str) -> bytes:
    with repo.open_blob(digest) as stream:
        out = bytearray()
        buf = bytearray(1 << 16)
        while n := stream.readinto(buf):
            out += buf[:n]
    return bytes(out)


def _multi(repo: Repository, media_types: str = "oci") -> str:
    push_multi_platform_image(
        repo,
        "app",
        {
            "linux/amd64": [big_gzip(1), small(1), big_zstd(2), big_tar(3)],
            "linux/arm64/v8": [big_gzip(1), big_gzip(4)],
        },
        attestations=True,
        media_types=media_types,  # type: ignore[arg-type]
    )
    return "app"


@pytest.mark.parametrize("media_types", ["oci", "docker"])
def test_multi_platform_v2_is_valid_and_canonical(repo: Repository, media_types: str) -> None:
    source = repo.fetch_manifest(_multi(repo, media_types))
    result = build_image_index(repo, "app", SETTINGS)

    assert result.status == "built" and result.output_tag == "app-soci"
    assert validate_soci_image(repo, "app-soci") == []
    assert repo.fetch_manifest("app") == source, "the source tag never moves"
    assert set(result.index_digests) == {"linux/amd64", "linux/arm64/v8"}
    output = ImageIndex.from_json(repo.fetch_manifest("app-soci").raw)
    for digest in result.index_digests.values():
        raw = repo.fetch_manifest(digest).raw
        assert encode_soci_index(parse_soci_index(raw)) == raw
    images = {
        d.digest for d in output.manifests if not is_attestation(d) and not is_soci_descriptor(d)
    }
    attestations = [d for d in output.manifests if is_attestation(d)]
    assert len(attestations) == 2
    assert {d.annotations[ANNOTATION_DOCKER_REFERENCE_DIGEST] for d in attestations} == images
    kinds = [is_soci_descriptor(d) for d in output.manifests if not is_attestation(d)]
    assert kinds == [False, False, True, True]


def test_layer_statuses_and_shared_layer_built_once(repo: Repository) -> None:
    _multi(repo)
    result = build_image_index(repo, "app", SETTINGS)
    by_status = {(layer.status, layer.reason) for layer in result.layers}
    assert by_status == {
        ("indexed", None),
        ("skipped", SkipReason.BELOW_MIN_SIZE),
        ("skipped", SkipReason.ZSTD),
    }
    shared = [layer for layer in result.layers if len(layer.platforms) == 2]
    assert len(shared) == 1 and shared[0].status == "indexed"
    assert len(result.layers) == 5  # distinct blobs, the shared one once


def test_each_ztoc_equals_the_engine_output(repo: Repository) -> None:
    _multi(repo)
    result = build_image_index(repo, "app", SETTINGS)
    for layer in (r for r in result.layers if r.status == "indexed"):
        blob = _read_blob(repo, layer.digest)
        compression = (
            CompressionAlgorithm.GZIP
            if mt.layer_compression(layer.media_type) == "gzip"
            else CompressionAlgorithm.UNCOMPRESSED
        )
        expected = build_ztoc(
            io.BytesIO(blob),
            compression=compression,
            span_size=SETTINGS.span_size,
            build_tool_identifier=SETTINGS.build_tool_identifier,
        )
        assert layer.ztoc_digest == expected.digest
        assert _read_blob(repo, expected.digest) == expected.raw


def test_second_run_uploads_nothing_and_returns_same_digests(repo: Repository) -> None:
    _multi(repo)
    first = build_image_index(repo, "app", SETTINGS)
    recorder = Recording(repo)
    second = build_image_index(recorder, "app", SETTINGS)  # type: ignore[arg-type]
    assert second.status == "up-to-date"
    assert (second.output_digest, second.index_digests) == (
        first.output_digest,
        first.index_digests,
    )
    assert recorder.uploads == [] and recorder.manifests == []
    built = {(r.digest, r.ztoc_digest) for r in first.layers if r.status == "indexed"}
    assert {(r.digest, r.ztoc_digest) for r in second.layers if r.status == "reused"} == built


def test_changed_settings_rebuild(repo: Repository) -> None:
    _multi(repo)
    first = build_image_index(repo, "app", SETTINGS)
    second = build_image_index(repo, "app", replace(SETTINGS, span_size=32 << 10))
    assert second.status == "built" and second.output_digest != first.output_digest
    assert validate_soci_image(repo, "app-soci") == []


def test_same_image_same_digests_in_another_repository(
    make_repo: Callable[[], Repository],
) -> None:
    results = []
    for _ in range(2):
        repo = make_repo()
        _multi(repo)
        results.append(build_image_index(repo, "app", SETTINGS))
    assert results[0].output_digest == results[1].output_digest
    assert results[0].index_digests == results[1].index_digests


@pytest.mark.parametrize("media_types", ["oci", "docker"])
def test_single_manifest_image(repo: Repository, media_types: str) -> None:
    push_image(
        repo, "one", [big_gzip(5), small(2)], media_types=media_types, platform="linux/arm64"
    )  # type: ignore[arg-type]
    result = build_image_index(repo, "one", SETTINGS)
    assert validate_soci_image(repo, "one-soci") == []
    output = ImageIndex.from_json(repo.fetch_manifest("one-soci").raw)
    assert [str(d.platform) for d in output.manifests] == ["linux/arm64", "linux/arm64"]
    image = Manifest.from_json(repo.fetch_manifest(output.manifests[0].digest).raw)
    assert image.media_type == mt.OCI_IMAGE_MANIFEST
    assert image.config.media_type == mt.OCI_IMAGE_CONFIG
    assert image.annotations == {ANNOTATION_INDEX_DIGEST: result.index_digests["linux/arm64"]}


def test_platform_allow_list(repo: Repository) -> None:
    _multi(repo)
    result = build_image_index(repo, "app", replace(SETTINGS, platforms=("linux/arm64",)))
    assert list(result.index_digests) == ["linux/arm64/v8"]
    assert validate_soci_image(repo, "app-soci") == []
    output = ImageIndex.from_json(repo.fetch_manifest("app-soci").raw)
    assert sum(is_soci_descriptor(d) for d in output.manifests) == 1


def test_nothing_to_index_tags_the_original(repo: Repository) -> None:
    source = push_image(repo, "tiny", [small(1), small(2)])
    result = build_image_index(repo, "tiny", SETTINGS)
    assert (result.status, result.reason) == ("skipped", SkipReason.NOTHING_TO_INDEX)
    assert result.output_digest == source.digest
    assert repo.resolve("tiny-soci").digest == source.digest  # type: ignore[union-attr]
    recorder = Recording(repo)
    again = build_image_index(recorder, "tiny", SETTINGS)  # type: ignore[arg-type]
    assert again.output_digest == source.digest and recorder.manifests == []
    own = build_image_index(repo, "tiny-soci", SETTINGS)  # our own output, not re-indexed
    assert (own.status, own.reason) == ("skipped", SkipReason.OWN_OUTPUT)
    assert repo.resolve("tiny-soci-soci") is None


def test_already_soci_input_is_skipped(repo: Repository) -> None:
    _multi(repo)
    build_image_index(repo, "app", SETTINGS)
    result = build_image_index(repo, "app-soci", SETTINGS)
    assert (result.status, result.reason) == ("skipped", SkipReason.ALREADY_SOCI)
    assert repo.resolve("app-soci-soci") is None


def test_digest_reference_with_source_tag(repo: Repository) -> None:
    source = push_image(repo, None, [big_gzip(6)])
    result = build_image_index(repo, source.digest, SETTINGS, source_tag="pinned")
    assert result.output_tag == "pinned-soci"
    assert validate_soci_image(repo, "pinned-soci") == []


def test_replace_tag_moves_the_source_tag(repo: Repository) -> None:
    push_image(repo, "moving", [big_gzip(7)])
    result = build_image_index(repo, "moving", replace(SETTINGS, replace_tag=True))
    assert repo.resolve("moving").digest == result.output_digest  # type: ignore[union-attr]


def test_recompress_zstd(repo: Repository) -> None:
    source = push_image(repo, "z", [big_zstd(8), big_gzip(9)])
    settings = replace(SETTINGS, recompress_zstd=True)
    result = build_image_index(repo, "z", settings)
    assert validate_soci_image(repo, "z-soci") == []
    zstd_layer = next(r for r in result.layers if r.media_type == mt.OCI_LAYER_TAR_ZSTD)
    assert zstd_layer.status == "indexed" and zstd_layer.recompressed_digest
    output = ImageIndex.from_json(repo.fetch_manifest("z-soci").raw)
    image = Manifest.from_json(repo.fetch_manifest(output.manifests[0].digest).raw)
    original = Manifest.from_json(source.raw)
    assert image.config.digest == original.config.digest
    assert image.layers[0].digest == zstd_layer.recompressed_digest
    assert image.layers[0].media_type == mt.OCI_LAYER_TAR_GZIP
    blob = _read_blob(repo, zstd_layer.recompressed_digest)
    expected = build_ztoc(
        io.BytesIO(blob), compression=CompressionAlgorithm.GZIP, span_size=SETTINGS.span_size
    )
    assert expected.digest == zstd_layer.ztoc_digest
    again = build_image_index(repo, "z", settings)
    assert again.status == "up-to-date" and again.output_digest == result.output_digest
    reused = next(r for r in again.layers if r.digest == zstd_layer.digest)
    assert reused.recompressed_digest == zstd_layer.recompressed_digest


def test_recompressed_gzip_is_deterministic(make_repo: Callable[[], Repository]) -> None:
    digests = set()
    for _ in range(2):
        repo = make_repo()
        push_image(repo, "z", [big_zstd(11)])
        result = build_image_index(repo, "z", replace(SETTINGS, recompress_zstd=True))
        digests.add((result.output_digest, result.layers[0].recompressed_digest))
    assert len(digests) == 1


def test_push_order_blobs_indexes_manifests_index_tag(repo: Repository) -> None:
    _multi(repo)
    recorder = Recording(repo)
    result = build_image_index(recorder, "app", SETTINGS)  # type: ignore[arg-type]
    kinds = [kind for kind, *_ in recorder.events]
    assert kinds == sorted(kinds), "every blob before the first manifest"
    manifests = [(d, t) for kind, d, _, t in recorder.events if kind == "manifest"]
    socis = set(result.index_digests.values())
    n = len(socis)
    assert {d for d, _ in manifests[:n]} == socis, "SOCI indexes first"
    assert manifests[-1] == (result.output_digest, "app-soci"), "the tagged index last"
    assert all(t is None for _, t in manifests[:-1])
