"""Interrupted and bad-input runs: clear errors, the source untouched, no output tag.

GIVEN a run that fails before tagging (injected push failure, deadline, bad content), THEN no
tag points at partial content and nothing pushed references a missing blob.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from soci_index_builder.digest import sha256_digest
from soci_index_builder.errors import (
    ConfigError,
    DeadlineExceededError,
    DigestMismatchError,
    ManifestError,
    NotFoundError,
)
from soci_index_builder.oci import mediatypes as mt
from soci_index_builder.oci.model import Manifest
from soci_index_builder.soci.build import build_image_index
from soci_index_builder.store.base import Repository
from soci_index_builder.store.layout import LayoutRepository
from tests.fixtures.images import push_image, push_multi_platform_image
from tests.fixtures.registry import FakeRequest, FakeResponse, FakeServer, LocalRegistry

from .conftest import SETTINGS, Recording, big_gzip, small
from .proxies import forward


def test_failure_before_tag_leaves_no_output_tag(repo: Repository) -> None:
    source = push_multi_platform_image(
        repo, "app", {"linux/amd64": [big_gzip(1)], "linux/arm64": [big_gzip(2)]}
    )
    failing = Recording(repo, fail_on_tag=True)
    with pytest.raises(RuntimeError, match="injected"):
        build_image_index(failing, "app", SETTINGS)  # type: ignore[arg-type]
    assert repo.resolve("app-soci") is None
    assert repo.fetch_manifest("app") == source
    assert all(tag is None for _, tag in failing.manifests)
    # A retry completes and reuses the blobs the failed run uploaded.
    retry = Recording(repo)
    assert build_image_index(retry, "app", SETTINGS).status == "built"  # type: ignore[arg-type]
    assert retry.uploads == []


def test_deadline_passed_raises_before_tagging(repo: Repository) -> None:
    push_image(repo, "late", [big_gzip(3)])
    with pytest.raises(DeadlineExceededError):
        build_image_index(repo, "late", SETTINGS, deadline=time.monotonic() - 1)
    assert repo.resolve("late-soci") is None


def test_unknown_reference(repo: Repository) -> None:
    with pytest.raises(NotFoundError):
        build_image_index(repo, "nope", SETTINGS)


def test_digest_reference_needs_source_tag(repo: Repository) -> None:
    source = push_image(repo, None, [big_gzip(4)])
    with pytest.raises(ConfigError):
        build_image_index(repo, source.digest, SETTINGS)


def test_non_layer_media_type_is_an_error(repo: Repository) -> None:
    """An image listing a layer and a non-layer is malformed (soci fails it); all-non-layer
    manifests are artifacts (test_artifacts.py)."""
    manifest = Manifest.from_json(push_image(repo, None, [big_gzip(4)]).raw)
    weird = replace(manifest.config, media_type="application/json")
    layers = (weird, *manifest.layers)
    repo.push_manifest(replace(manifest, layers=layers).to_json(), mt.OCI_IMAGE_MANIFEST, "weird")
    with pytest.raises(ManifestError, match="non-layer"):
        build_image_index(repo, "weird", SETTINGS)
    assert repo.resolve("weird-soci") is None


def test_platform_not_in_image(repo: Repository) -> None:
    push_image(repo, "amd", [big_gzip(5)])
    with pytest.raises(ConfigError, match="no platform"):
        build_image_index(repo, "amd", replace(SETTINGS, platforms=("linux/s390x",)))


def test_missing_layer_blob(tmp_path: Path) -> None:
    repo = LayoutRepository(tmp_path / "l", create=True)
    source = push_image(repo, "gone", [big_gzip(6), small(1)])
    layer = Manifest.from_json(source.raw).layers[0]
    (tmp_path / "l" / "blobs" / "sha256" / layer.digest[7:]).unlink()
    with pytest.raises(NotFoundError):
        build_image_index(repo, "gone", SETTINGS)
    assert repo.resolve("gone-soci") is None


def test_manifest_over_4_mib(tmp_path: Path) -> None:
    repo = LayoutRepository(tmp_path / "l", create=True)
    manifest = Manifest.from_json(push_image(repo, "ok", [big_gzip(7)]).raw)
    huge = replace(manifest, annotations={"padding": "x" * (4 << 20)}).to_json()
    repo.push_blob(sha256_digest(huge), huge)  # only a blob: push_manifest refuses it
    with pytest.raises(ManifestError):
        build_image_index(repo, sha256_digest(huge), SETTINGS, source_tag="big")
    assert repo.resolve("big-soci") is None


def _tampering_proxy(registry: LocalRegistry, target: str) -> Callable[[FakeRequest], FakeResponse]:
    """Forwards to the real registry, but serves ``target`` blob with one byte flipped."""

    def handle(request: FakeRequest) -> FakeResponse:
        response = forward(registry, request)
        body = response.body
        if request.method == "GET" and request.path.endswith(f"/blobs/{target}") and body:
            response.body = bytes([body[0] ^ 1]) + body[1:]
        return response

    return handle


@pytest.mark.registry
def test_wrong_digest_served_by_registry(registry: LocalRegistry, fake_server: Any) -> None:
    real = registry.client().repository("soci/tamper")
    source = push_image(real, "t", [big_gzip(8)])
    layer = Manifest.from_json(source.raw).layers[0]
    proxy: FakeServer = fake_server(_tampering_proxy(registry, layer.digest))
    repo = proxy.client().repository("soci/tamper")
    with pytest.raises(DigestMismatchError):
        build_image_index(repo, "t", SETTINGS)
    assert real.resolve("t-soci") is None


class _Slow:
    """A progress listener that makes the first layer outlive the deadline."""

    def layer_started(self, digest: str, size: int) -> None:
        time.sleep(0.3)

    def layer_progress(self, digest: str, done: int) -> None:
        pass

    def layer_finished(self, result: object) -> None:
        pass


def test_deadline_passing_mid_build_stops_workers(repo: Repository) -> None:
    push_image(repo, "slow", [big_gzip(9), big_gzip(10)])
    with pytest.raises(DeadlineExceededError):
        build_image_index(repo, "slow", SETTINGS, deadline=time.monotonic() + 0.2, progress=_Slow())  # type: ignore[arg-type]
    assert repo.resolve("slow-soci") is None
