"""v1 indexes: subject binding, discoverable by the referrers API or its fallback tag."""

from __future__ import annotations

from dataclasses import replace

from soci_index_builder.oci.mediatypes import SOCI_INDEX_V1
from soci_index_builder.oci.model import ImageIndex
from soci_index_builder.soci.build import build_image_index
from soci_index_builder.soci.convert import fallback_tag
from soci_index_builder.soci.index import encode_soci_index, parse_soci_index
from soci_index_builder.store.base import ReferrersLister, Repository
from tests.fixtures.images import push_multi_platform_image

from .conftest import SETTINGS, big_gzip

V1 = replace(SETTINGS, index_version="v1")


def _referrers(repo: Repository, subject: str) -> list[str]:
    if isinstance(repo, ReferrersLister):
        found = repo.list_referrers(subject, SOCI_INDEX_V1)
        return [str(d["digest"]) for d in found]
    index = ImageIndex.from_json(repo.fetch_manifest(fallback_tag(subject)).raw)
    return [d.digest for d in index.manifests if d.artifact_type == SOCI_INDEX_V1]


def test_v1_binds_subject_and_is_discoverable(repo: Repository) -> None:
    push_multi_platform_image(
        repo, "app", {"linux/amd64": [big_gzip(1)], "linux/arm64": [big_gzip(2)]}
    )
    source = ImageIndex.from_json(repo.fetch_manifest("app").raw)
    result = build_image_index(repo, "app", V1)
    assert result.status == "built" and result.output_tag is None
    assert repo.resolve("app-soci") is None, "v1 tags nothing but the referrers fallback"
    for desc in source.manifests:
        digest = result.index_digests[str(desc.platform)]
        raw = repo.fetch_manifest(digest).raw
        index = parse_soci_index(raw)
        assert encode_soci_index(index) == raw
        assert index.subject is not None and index.subject.digest == desc.digest
        assert index.subject.media_type == desc.media_type
        assert _referrers(repo, desc.digest) == [digest]
    again = build_image_index(repo, "app", V1)
    assert again.index_digests == result.index_digests
    assert all(
        _referrers(repo, d.digest) == [result.index_digests[str(d.platform)]]
        for d in source.manifests
    )
