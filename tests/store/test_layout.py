"""LayoutRepository: the Repository contract over an OCI image layout directory."""

from __future__ import annotations

import io
import json
import threading
from pathlib import Path

import pytest

from soci_index_builder.digest import sha256_digest
from soci_index_builder.errors import (
    ConfigError,
    DigestMismatchError,
    InvalidReferenceError,
    ManifestError,
    NotFoundError,
)
from soci_index_builder.oci import mediatypes as mt
from soci_index_builder.store import layout as layout_module
from soci_index_builder.store.base import MAX_MANIFEST_SIZE, ManifestInfo, Repository
from soci_index_builder.store.layout import REF_NAME_ANNOTATION, LayoutRepository
from soci_index_builder.streams import copy_stream, read_exactly
from tests.fixtures.images import LayerSpec, push_image

MISSING = "sha256:" + "f" * 64


def manifest_bytes(n: int = 0) -> bytes:
    config = sha256_digest(b"{}")
    return json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": mt.OCI_IMAGE_MANIFEST,
            "config": {"mediaType": mt.OCI_EMPTY, "digest": config, "size": 2},
            "layers": [],
            "annotations": {"n": str(n)},
        }
    ).encode()


def read_all(repo: LayoutRepository, digest: str, size: int | None = None) -> bytes:
    sink = io.BytesIO()
    with repo.open_blob(digest, size) as stream:
        copy_stream(stream, sink)
    return sink.getvalue()


def test_create_writes_a_minimal_layout(tmp_path: Path) -> None:
    repo = LayoutRepository(tmp_path / "new", create=True)
    assert isinstance(repo, Repository)
    assert repo.name == f"oci:{tmp_path / 'new'}"
    assert (tmp_path / "new/oci-layout").read_bytes() == b'{"imageLayoutVersion":"1.0.0"}'
    index = json.loads((tmp_path / "new/index.json").read_bytes())
    assert index == {"schemaVersion": 2, "mediaType": mt.OCI_IMAGE_INDEX, "manifests": []}
    assert (tmp_path / "new/blobs/sha256").is_dir()
    assert repo.list_tags() == []


def test_reopening_keeps_content(layout_repo: LayoutRepository) -> None:
    digest = layout_repo.push_manifest(manifest_bytes(), mt.OCI_IMAGE_MANIFEST, "v1")
    for create in (False, True):
        again = LayoutRepository(layout_repo.path, create=create)
        assert again.fetch_manifest("v1").digest == digest


def test_missing_directory_is_not_a_layout(tmp_path: Path) -> None:
    with pytest.raises(NotFoundError, match="not an OCI image layout"):
        LayoutRepository(tmp_path / "absent")


def test_create_refuses_a_non_empty_foreign_directory(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(ConfigError, match="not empty"):
        LayoutRepository(tmp_path, create=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]


def test_bad_layout_version_is_refused(layout_repo: LayoutRepository) -> None:
    (layout_repo.path / "oci-layout").write_text('{"imageLayoutVersion":"2.0.0"}')
    with pytest.raises(ManifestError, match="imageLayoutVersion"):
        LayoutRepository(layout_repo.path)


def test_corrupt_index_json_is_reported(layout_repo: LayoutRepository) -> None:
    (layout_repo.path / "index.json").write_text("{")
    with pytest.raises(ManifestError, match=r"bad index\.json"):
        layout_repo.list_tags()


def test_push_and_fetch_by_tag_and_digest(layout_repo: LayoutRepository) -> None:
    raw = manifest_bytes()
    digest = layout_repo.push_manifest(raw, mt.OCI_IMAGE_MANIFEST, "v1")
    assert digest == sha256_digest(raw)
    for ref in ("v1", digest):
        found = layout_repo.fetch_manifest(ref)
        assert (found.media_type, found.digest, found.raw) == (mt.OCI_IMAGE_MANIFEST, digest, raw)
    assert layout_repo.resolve("v1") == ManifestInfo(mt.OCI_IMAGE_MANIFEST, digest, len(raw))
    assert layout_repo.list_tags() == ["v1"]


def test_untagged_manifest_is_a_blob_only(layout_repo: LayoutRepository) -> None:
    raw = manifest_bytes()
    digest = layout_repo.push_manifest(raw, mt.OCI_IMAGE_MANIFEST)
    assert layout_repo.has_blob(digest)
    assert json.loads((layout_repo.path / "index.json").read_bytes())["manifests"] == []
    assert layout_repo.fetch_manifest(digest).media_type == mt.OCI_IMAGE_MANIFEST


def test_fetch_by_digest_sniffs_media_type_when_absent(layout_repo: LayoutRepository) -> None:
    raw = json.dumps({"schemaVersion": 2, "manifests": []}).encode()
    layout_repo.push_blob(sha256_digest(raw), raw)
    assert layout_repo.fetch_manifest(sha256_digest(raw)).media_type == mt.OCI_IMAGE_INDEX


def test_tagging_replaces_only_the_same_tag(layout_repo: LayoutRepository) -> None:
    first = layout_repo.push_manifest(manifest_bytes(1), mt.OCI_IMAGE_MANIFEST, "a")
    layout_repo.push_manifest(manifest_bytes(2), mt.OCI_IMAGE_MANIFEST, "b")
    third = layout_repo.push_manifest(manifest_bytes(3), mt.OCI_IMAGE_MANIFEST, "b")
    assert layout_repo.list_tags() == ["a", "b"]
    assert layout_repo.fetch_manifest("a").digest == first
    assert layout_repo.fetch_manifest("b").digest == third
    names = [
        d["annotations"][REF_NAME_ANNOTATION]
        for d in json.loads((layout_repo.path / "index.json").read_bytes())["manifests"]
    ]
    assert names == ["a", "b"]


def test_absent_things_are_not_found(layout_repo: LayoutRepository) -> None:
    assert layout_repo.resolve("nope") is None
    assert layout_repo.resolve(MISSING) is None
    assert not layout_repo.has_blob(MISSING)
    with pytest.raises(NotFoundError):
        layout_repo.fetch_manifest("nope")
    with pytest.raises(NotFoundError):
        layout_repo.fetch_manifest(MISSING)
    with pytest.raises(NotFoundError), layout_repo.open_blob(MISSING):
        pass
    with pytest.raises(NotFoundError):
        layout_repo.read_blob_range(MISSING, 0, 1)


@pytest.mark.parametrize("ref", ["-bad", "a" * 129, "sha256:xyz", "sha512:" + "0" * 128, ""])
def test_invalid_references_are_rejected(layout_repo: LayoutRepository, ref: str) -> None:
    with pytest.raises(InvalidReferenceError):
        layout_repo.fetch_manifest(ref)


def test_invalid_tags_and_digests_are_rejected_on_write(layout_repo: LayoutRepository) -> None:
    with pytest.raises(InvalidReferenceError):
        layout_repo.push_manifest(manifest_bytes(), mt.OCI_IMAGE_MANIFEST, "bad tag")
    with pytest.raises(InvalidReferenceError):
        layout_repo.push_blob("sha256:../../etc", b"x")
    with pytest.raises(InvalidReferenceError):
        layout_repo.has_blob("../oci-layout")


def test_manifest_size_limit(layout_repo: LayoutRepository) -> None:
    big = b'{"schemaVersion":2,"pad":"' + b"x" * MAX_MANIFEST_SIZE + b'"}'
    with pytest.raises(ManifestError, match="exceeds"):
        layout_repo.push_manifest(big, mt.OCI_IMAGE_MANIFEST, "big")
    layout_repo.push_blob(sha256_digest(big), big)
    with pytest.raises(ManifestError, match="exceeds"):
        layout_repo.fetch_manifest(sha256_digest(big))


def test_push_manifest_checks_declared_media_type(layout_repo: LayoutRepository) -> None:
    with pytest.raises(ManifestError, match="differs"):
        layout_repo.push_manifest(manifest_bytes(), mt.DOCKER_MANIFEST_V2, "v1")
    with pytest.raises(ManifestError, match="not valid JSON"):
        layout_repo.push_manifest(b"nope", mt.OCI_IMAGE_MANIFEST, "v1")


def test_blob_round_trip_and_ranges(layout_repo: LayoutRepository) -> None:
    data = bytes(range(256)) * 100
    digest = sha256_digest(data)
    assert layout_repo.push_blob(digest, data) is True
    assert layout_repo.push_blob(digest, data) is False
    assert layout_repo.has_blob(digest)
    assert read_all(layout_repo, digest, len(data)) == data
    assert layout_repo.read_blob_range(digest, 10, 20) == data[10:20]
    assert layout_repo.read_blob_range(digest, len(data) - 5, len(data) + 50) == data[-5:]
    assert layout_repo.read_blob_range(digest, 7, 7) == b""
    with pytest.raises(ValueError, match="range"):
        layout_repo.read_blob_range(digest, 5, 4)


def test_push_blob_verifies_digest(layout_repo: LayoutRepository) -> None:
    with pytest.raises(DigestMismatchError):
        layout_repo.push_blob(sha256_digest(b"a"), b"b")
    assert not layout_repo.has_blob(sha256_digest(b"a"))


def test_push_blob_stream(layout_repo: LayoutRepository) -> None:
    data = b"stream me" * 100_000
    digest, size = layout_repo.push_blob_stream(io.BytesIO(data))
    assert (digest, size) == (sha256_digest(data), len(data))
    assert read_all(layout_repo, digest) == data
    assert layout_repo.push_blob_stream(io.BytesIO(data)) == (digest, size)
    assert not list(layout_repo.path.rglob(".tmp-*"))


def test_corrupt_blob_fails_at_eof(layout_repo: LayoutRepository) -> None:
    data = b"0123456789" * 1000
    digest = sha256_digest(data)
    layout_repo.push_blob(digest, data)
    path = layout_repo.path / "blobs/sha256" / digest.removeprefix("sha256:")
    path.write_bytes(data[:-1] + b"X")
    with layout_repo.open_blob(digest) as stream:
        head = stream.readinto(bytearray(100))  # early reads are not judged yet
        assert head == 100
        with pytest.raises(DigestMismatchError):
            read_exactly(stream, len(data) + 1)


def test_truncated_blob_fails_size_check(layout_repo: LayoutRepository) -> None:
    data = b"abc" * 1000
    digest = sha256_digest(data)
    layout_repo.push_blob(digest, data)
    with pytest.raises(DigestMismatchError):
        read_all(layout_repo, digest, len(data) + 1)


def test_corrupt_manifest_blob_is_detected(layout_repo: LayoutRepository) -> None:
    digest = layout_repo.push_manifest(manifest_bytes(), mt.OCI_IMAGE_MANIFEST, "v1")
    (layout_repo.path / "blobs/sha256" / digest.removeprefix("sha256:")).write_bytes(b"{}")
    with pytest.raises(DigestMismatchError):
        layout_repo.fetch_manifest("v1")


def test_failed_index_write_leaves_old_index(
    layout_repo: LayoutRepository, monkeypatch: pytest.MonkeyPatch
) -> None:
    layout_repo.push_manifest(manifest_bytes(1), mt.OCI_IMAGE_MANIFEST, "v1")
    before = (layout_repo.path / "index.json").read_bytes()
    real_replace = Path.replace

    def failing_replace(self: Path, target: str | Path) -> Path:
        if Path(target).name == "index.json":
            raise OSError("disk full")
        return real_replace(self, target)

    monkeypatch.setattr(layout_module.Path, "replace", failing_replace)
    with pytest.raises(OSError, match="disk full"):
        layout_repo.push_manifest(manifest_bytes(2), mt.OCI_IMAGE_MANIFEST, "v2")
    assert (layout_repo.path / "index.json").read_bytes() == before
    assert not list(layout_repo.path.rglob(".tmp-*"))
    assert layout_repo.list_tags() == ["v1"]


def test_concurrent_tagging_loses_no_tag(layout_repo: LayoutRepository) -> None:
    def tag(i: int) -> None:
        layout_repo.push_manifest(manifest_bytes(i), mt.OCI_IMAGE_MANIFEST, f"t{i}")

    threads = [threading.Thread(target=tag, args=(i,)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(layout_repo.list_tags()) == sorted(f"t{i}" for i in range(16))


def test_foreign_index_json_is_read_and_rewritten(layout_repo: LayoutRepository) -> None:
    # skopeo/containers-image style: no top-level mediaType, a full-reference ref name.
    digest = layout_repo.push_manifest(manifest_bytes(), mt.OCI_IMAGE_MANIFEST)
    entry = {"mediaType": mt.OCI_IMAGE_MANIFEST, "digest": digest, "size": len(manifest_bytes())}
    foreign = {
        "schemaVersion": 2,
        "manifests": [
            {**entry, "annotations": {REF_NAME_ANNOTATION: "old"}},
            {**entry, "annotations": {REF_NAME_ANNOTATION: "example.com/app:1"}},
        ],
    }
    (layout_repo.path / "index.json").write_text(json.dumps(foreign))
    assert layout_repo.list_tags() == ["old"]
    layout_repo.push_manifest(manifest_bytes(), mt.OCI_IMAGE_MANIFEST, "new")
    assert layout_repo.list_tags() == ["old", "new"]
    assert layout_repo.read_index().media_type == mt.OCI_IMAGE_INDEX


def test_images_fixture_round_trip(layout_repo: LayoutRepository) -> None:
    pushed = push_image(layout_repo, "app", [LayerSpec({"a": b"1"})])
    assert layout_repo.fetch_manifest("app") == pushed
