"""``delete_manifest`` (the optional ManifestDeleter capability) on both store backends."""

from __future__ import annotations

import pytest

from soci_index_builder.errors import NotFoundError
from soci_index_builder.store.base import ManifestDeleter
from soci_index_builder.store.layout import LayoutRepository
from tests.fixtures.images import push_image
from tests.fixtures.registry import LocalRegistry

from .fleet_images import layers

ABSENT = "sha256:" + "0" * 64


def test_layout_delete_drops_every_tag_of_the_digest(layout_repo: LayoutRepository) -> None:
    assert isinstance(layout_repo, ManifestDeleter)
    raw = push_image(layout_repo, "a", layers(41))
    layout_repo.push_manifest(raw.raw, raw.media_type, "b")
    other = push_image(layout_repo, "c", layers(42))
    layout_repo.delete_manifest(raw.digest)
    assert layout_repo.list_tags() == ["c"]
    assert layout_repo.resolve("c").digest == other.digest  # type: ignore[union-attr]
    layout_repo.delete_manifest(raw.digest)  # the blob is still there: no error, no change
    with pytest.raises(NotFoundError):
        layout_repo.delete_manifest(ABSENT)


@pytest.mark.registry
def test_registry_delete_by_digest(registry: LocalRegistry) -> None:
    repo = registry.client().repository("delete/app")
    raw = push_image(repo, "a", layers(43))
    assert isinstance(repo, ManifestDeleter)
    repo.delete_manifest(raw.digest)
    assert repo.resolve("a") is None and repo.resolve(raw.digest) is None
    with pytest.raises(NotFoundError):
        repo.delete_manifest(raw.digest)
