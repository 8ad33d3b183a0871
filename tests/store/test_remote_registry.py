"""RemoteRepository against a real registry (Debian docker-registry on 127.0.0.1)."""

from __future__ import annotations

import io
import json
import os
import uuid
from typing import TYPE_CHECKING, Any

import pytest

from soci_index_builder.digest import sha256_digest
from soci_index_builder.errors import NotFoundError, RegistryError
from soci_index_builder.oci import mediatypes as mt
from soci_index_builder.store.base import ReferrersLister, Repository
from soci_index_builder.streams import copy_stream

if TYPE_CHECKING:
    from soci_index_builder.store.remote.repository import RemoteRepository
    from tests.fixtures.registry import LocalRegistry

pytestmark = pytest.mark.registry


def _repo(registry: LocalRegistry, **options: Any) -> RemoteRepository:
    """A fresh repository per test: tests share the worker's registry."""
    return registry.client(**options).repository(f"test/{uuid.uuid4().hex[:12]}")


def _read_all(repo: RemoteRepository, digest: str, size: int | None = None) -> bytes:
    sink = io.BytesIO()
    with repo.open_blob(digest, size) as reader:
        copy_stream(reader, sink, 1 << 16)
    return sink.getvalue()


def _descriptor(media_type: str, data: bytes) -> dict[str, Any]:
    return {"mediaType": media_type, "digest": sha256_digest(data), "size": len(data)}


def _push_image(repo: RemoteRepository, tag: str | None = "v1") -> tuple[bytes, str]:
    """Push config + one layer + an OCI manifest; returns (manifest bytes, digest)."""
    config, layer = b'{"architecture":"amd64","os":"linux"}', os.urandom(3000)
    repo.push_blob(sha256_digest(config), config)
    repo.push_blob(sha256_digest(layer), layer)
    manifest = {
        "schemaVersion": 2,
        "mediaType": mt.OCI_IMAGE_MANIFEST,
        "config": _descriptor(mt.OCI_IMAGE_CONFIG, config),
        "layers": [_descriptor(mt.OCI_LAYER_TAR_GZIP, layer)],
    }
    raw = json.dumps(manifest, separators=(",", ":")).encode()
    return raw, repo.push_manifest(raw, mt.OCI_IMAGE_MANIFEST, tag)


def test_ping_and_protocols(registry: LocalRegistry) -> None:
    client = registry.client()
    client.ping()
    repo = client.repository("app/x")
    assert isinstance(repo, Repository)
    assert isinstance(repo, ReferrersLister)
    assert repo.name == f"{registry.host}/app/x"


def test_monolithic_blob_roundtrip(registry: LocalRegistry) -> None:
    repo = _repo(registry)
    data = os.urandom(10_000)
    digest = sha256_digest(data)
    assert not repo.has_blob(digest)
    assert repo.push_blob(digest, data) is True
    assert repo.has_blob(digest)
    assert repo.push_blob(digest, data) is False  # already there: no upload
    assert _read_all(repo, digest, len(data)) == data


@pytest.mark.parametrize("size", [0, 1000, 64 << 10, (3 * (64 << 10)) + 123])
def test_chunked_blob_upload(registry: LocalRegistry, size: int) -> None:
    """Streams of 0, under, exactly and over the chunk size (64 KiB here) round-trip."""
    repo = _repo(registry, chunk_size=64 << 10)
    data = os.urandom(size)
    digest, pushed = repo.push_blob_stream(io.BytesIO(data))
    assert (digest, pushed) == (sha256_digest(data), size)
    assert repo.has_blob(digest)
    assert _read_all(repo, digest, size) == data


def test_chunked_upload_sends_several_patches(registry: LocalRegistry) -> None:
    repo = _repo(registry, chunk_size=64 << 10)
    methods: list[str] = []
    original = repo.client.transport.send

    def counting(method: str, url: str, **kwargs: Any) -> Any:
        methods.append(method)
        return original(method, url, **kwargs)

    repo.client.transport.send = counting  # type: ignore[method-assign]
    repo.push_blob_stream(io.BytesIO(os.urandom(200_000)))
    assert methods.count("PATCH") == 4 and methods[-1] == "PUT"


def test_manifest_by_tag_and_digest(registry: LocalRegistry) -> None:
    repo = _repo(registry)
    raw, digest = _push_image(repo)
    assert digest == sha256_digest(raw)
    for reference in ("v1", digest):
        manifest = repo.fetch_manifest(reference)
        assert (manifest.raw, manifest.digest) == (raw, digest)
        assert manifest.media_type == mt.OCI_IMAGE_MANIFEST
        info = repo.resolve(reference)
        assert info is not None
        assert (info.digest, info.size, info.media_type) == (
            digest,
            len(raw),
            mt.OCI_IMAGE_MANIFEST,
        )
    assert repo.resolve("missing") is None
    assert repo.list_tags() == ["v1"]


def test_push_manifest_without_tag(registry: LocalRegistry) -> None:
    repo = _repo(registry)
    raw, digest = _push_image(repo, tag=None)
    assert repo.fetch_manifest(digest).raw == raw
    with pytest.raises(NotFoundError):
        repo.list_tags()  # no tag at all: docker-registry says NAME_UNKNOWN


def test_blob_ranges(registry: LocalRegistry) -> None:
    repo = _repo(registry)
    data = bytes(range(256)) * 40
    digest = sha256_digest(data)
    repo.push_blob(digest, data)
    assert repo.read_blob_range(digest, 0, 10) == data[:10]
    assert repo.read_blob_range(digest, 1000, 5000) == data[1000:5000]
    assert repo.read_blob_range(digest, len(data) - 5, len(data) + 100) == data[-5:]
    assert repo.read_blob_range(digest, 7, 7) == b""
    assert repo.read_blob_range(digest, len(data) + 10, len(data) + 20) == b""


def test_tags_with_small_pages(registry: LocalRegistry) -> None:
    """docker-registry 2.8 ignores ``n`` (one page); Link paging is covered by a fake server."""
    repo = _repo(registry, page_size=2)
    raw, _ = _push_image(repo)
    for tag in ("b", "c", "d", "e"):
        repo.push_manifest(raw, mt.OCI_IMAGE_MANIFEST, tag)
    assert sorted(repo.list_tags()) == ["b", "c", "d", "e", "v1"]


def test_mount_from_other_repository(registry: LocalRegistry) -> None:
    client = registry.client()
    source, target = client.repository("mount/src"), client.repository("mount/dst")
    data = os.urandom(5000)
    digest = sha256_digest(data)
    source.push_blob(digest, data)
    assert target.mount_blob(digest, "mount/src") is True
    assert target.has_blob(digest)
    other = sha256_digest(b"not in the source repository")
    assert target.mount_blob(other, "mount/src") is False  # 202: caller uploads instead
    assert not target.has_blob(other)


def test_referrers_fall_back_to_tag_schema(registry: LocalRegistry) -> None:
    """docker-registry has no referrers API (404): the sha256-<hex> index is read instead."""
    repo = _repo(registry)
    _, subject = _push_image(repo)
    assert repo.list_referrers(subject) == []
    empty = b"{}"
    repo.push_blob(sha256_digest(empty), empty)
    referrer = {
        "schemaVersion": 2,
        "mediaType": mt.OCI_IMAGE_MANIFEST,
        "artifactType": mt.SOCI_INDEX_V1,
        "config": _descriptor(mt.OCI_EMPTY, empty),
        "layers": [_descriptor(mt.OCI_EMPTY, empty)],
        "subject": {"mediaType": mt.OCI_IMAGE_MANIFEST, "digest": subject, "size": 1},
    }
    raw_referrer = json.dumps(referrer).encode()
    referrer_digest = repo.push_manifest(raw_referrer, mt.OCI_IMAGE_MANIFEST)
    entry = {**_descriptor(mt.OCI_IMAGE_MANIFEST, raw_referrer), "artifactType": mt.SOCI_INDEX_V1}
    index = {"schemaVersion": 2, "mediaType": mt.OCI_IMAGE_INDEX, "manifests": [entry]}
    tag = subject.replace(":", "-")
    repo.push_manifest(json.dumps(index).encode(), mt.OCI_IMAGE_INDEX, tag)
    found = repo.list_referrers(subject)
    assert [d["digest"] for d in found] == [referrer_digest]
    assert repo.list_referrers(subject, mt.SOCI_INDEX_V1) == found
    assert repo.list_referrers(subject, "application/x-other") == []


def test_unknown_things_are_not_found(registry: LocalRegistry) -> None:
    repo = _repo(registry)
    missing = sha256_digest(b"missing")
    with pytest.raises(NotFoundError) as caught:
        repo.fetch_manifest("latest")
    assert caught.value.status == 404 and not caught.value.transient
    assert repo.name in str(caught.value)
    with pytest.raises(NotFoundError):
        repo.fetch_manifest(missing)
    with pytest.raises(NotFoundError), repo.open_blob(missing):
        pass
    assert repo.has_blob(missing) is False
    with pytest.raises(NotFoundError):
        repo.list_tags()
    _push_image(repo)
    with pytest.raises(NotFoundError) as caught:
        repo.fetch_manifest("no-such-tag")
    assert caught.value.code == "MANIFEST_UNKNOWN"


def test_manifest_with_missing_blob_is_rejected(registry: LocalRegistry) -> None:
    repo = _repo(registry)
    manifest = {
        "schemaVersion": 2,
        "mediaType": mt.OCI_IMAGE_MANIFEST,
        "config": _descriptor(mt.OCI_IMAGE_CONFIG, b"never pushed"),
        "layers": [],
    }
    with pytest.raises(RegistryError) as caught:
        repo.push_manifest(json.dumps(manifest).encode(), mt.OCI_IMAGE_MANIFEST, "v1")
    assert caught.value.status == 400 and caught.value.code == "MANIFEST_BLOB_UNKNOWN"
    assert not caught.value.transient
