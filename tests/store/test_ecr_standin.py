"""The ECR stand-in itself: ECR's credential path, redirects to S3, and each behaviour."""

from __future__ import annotations

import io

import pytest

from soci_index_builder.digest import sha256_digest
from soci_index_builder.errors import RegistryError
from soci_index_builder.oci import mediatypes as mt
from soci_index_builder.store.remote.repository import RemoteRepository
from soci_index_builder.store.remote.retry import RetryPolicy
from soci_index_builder.streams import copy_stream
from tests.fixtures.ecr import EcrStandIn

pytestmark = pytest.mark.registry

BLOB = b"layer bytes " * 1000


def _manifest(config_digest: str, layer_digest: str, **extra: object) -> bytes:
    import json

    return json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": mt.OCI_IMAGE_MANIFEST,
            "config": {"mediaType": mt.OCI_IMAGE_CONFIG, "digest": config_digest, "size": 2},
            "layers": [
                {"mediaType": mt.OCI_LAYER_TAR_GZIP, "digest": layer_digest, "size": len(BLOB)}
            ],
            **extra,
        },
        separators=(",", ":"),
    ).encode()


def test_blob_round_trip_through_s3_redirect(ecr: EcrStandIn) -> None:
    repo = ecr.repository("standin/basic")
    digest = sha256_digest(BLOB)
    repo.push_blob(digest, BLOB)
    sink = io.BytesIO()
    with repo.open_blob(digest, len(BLOB)) as reader:
        copy_stream(reader, sink)
    assert sink.getvalue() == BLOB
    downloads = ecr.s3_downloads()
    assert downloads, "the blob GET was not redirected to S3"
    assert all(r.authorization is None for r in downloads)
    assert all(r.host == ecr.s3_address for r in downloads)
    assert any(r.authorization == "Basic" for r in ecr.ecr_requests())


def _push_image(repo: RemoteRepository, tag: str | None = None, **extra: object) -> str:
    config = b"{}"
    repo.push_blob(sha256_digest(config), config)
    repo.push_blob(sha256_digest(BLOB), BLOB)
    raw = _manifest(sha256_digest(config), sha256_digest(BLOB), **extra)
    return repo.push_manifest(raw, mt.OCI_IMAGE_MANIFEST, tag)


def test_dualstack_and_fips_hosts_reach_the_same_registry(ecr: EcrStandIn) -> None:
    digest = _push_image(ecr.repository("standin/hosts"), "v1")
    for host in (ecr.dualstack_host, ecr.fips_host):
        info = ecr.client(host).repository("standin/hosts").resolve("v1")
        assert info is not None and info.digest == digest
    assert {r.host for r in ecr.ecr_requests()} >= {ecr.dualstack_host, ecr.fips_host}


def test_immutable_tags_refuse_overwrites_but_not_exclusions(ecr: EcrStandIn) -> None:
    repo = ecr.repository("standin/immutable")
    first = _push_image(repo, "v1")
    _push_image(repo, "out-soci")
    ecr.behaviours.immutable_tags = True
    ecr.behaviours.immutable_exclusions = ("*-soci",)
    assert _push_image(repo, "v1") == first  # the identical manifest again is no overwrite
    with pytest.raises(RegistryError) as caught:
        _push_image(repo, "v1", annotations={"changed": "yes"})
    assert caught.value.code == "TAG_INVALID" and caught.value.status == 400
    assert "immutable" in str(caught.value)
    _push_image(repo, "out-soci", annotations={"changed": "yes"})  # excluded glob: allowed
    _push_image(repo, "v2", annotations={"changed": "yes"})  # a new tag: allowed


def test_throttled_manifest_puts_answer_429(ecr: EcrStandIn) -> None:
    repo = ecr.repository("standin/throttle", retry_policy=RetryPolicy(throttle_attempts=1))
    ecr.behaviours.throttle_manifest_puts = 1
    with pytest.raises(RegistryError) as caught:
        _push_image(repo, "v1")
    assert caught.value.status == 429 and caught.value.code == "TOOMANYREQUESTS"
    _push_image(repo, "v1")


def test_manifest_size_limit(ecr: EcrStandIn) -> None:
    repo = ecr.repository("standin/size")
    ecr.behaviours.max_manifest_size = 200
    with pytest.raises(RegistryError) as caught:
        _push_image(repo, "v1", annotations={"pad": "x" * 300})
    assert caught.value.status == 400


def test_part_size_rules(ecr: EcrStandIn) -> None:
    small = ecr.client(chunk_size=1 << 20).repository("standin/parts")
    with pytest.raises(RegistryError, match="5 MiB"):
        small.push_blob_stream(io.BytesIO(b"x" * (3 << 20)))
    big = ecr.client(chunk_size=11 << 20).repository("standin/parts")
    with pytest.raises(RegistryError, match="10 MiB"):
        big.push_blob_stream(io.BytesIO(b"x" * (12 << 20)))
    ok = ecr.client(chunk_size=5 << 20).repository("standin/parts")
    data = b"y" * ((5 << 20) * 2 + 3)
    assert ok.push_blob_stream(io.BytesIO(data)) == (sha256_digest(data), len(data))
    ecr.behaviours.enforce_part_sizes = False
    assert small.push_blob_stream(io.BytesIO(b"z" * (3 << 20)))[1] == 3 << 20


def test_referrers_api_lists_manifests_with_a_subject(ecr: EcrStandIn) -> None:
    repo = ecr.repository("standin/referrers")
    subject = _push_image(repo, "v1")
    size = len(repo.fetch_manifest(subject).raw)
    descriptor = {"mediaType": mt.OCI_IMAGE_MANIFEST, "digest": subject, "size": size}
    referrer = _push_image(repo, None, subject=descriptor, artifactType="application/x.test")
    found = repo.list_referrers(subject, "application/x.test")
    assert [d["digest"] for d in found] == [referrer]
    assert repo.list_referrers(subject, "application/x.other") == []
    ecr.behaviours.referrers_api = False
    assert repo.list_referrers(subject) == []  # 404: the client falls back to the tag schema


def test_expired_token_answers_403_denied(ecr: EcrStandIn) -> None:
    repo = ecr.repository("standin/tokens")
    _push_image(repo, "v1")
    ecr.behaviours.expire_tokens = 100
    with pytest.raises(RegistryError) as caught:
        repo.fetch_manifest("v1")
    assert caught.value.status == 403 and caught.value.code == "DENIED"
    assert "expired" in str(caught.value)
    ecr.behaviours.expire_tokens = 0
    assert repo.resolve("v1") is not None


def test_reset_download_resumes_with_range_at_s3(ecr: EcrStandIn) -> None:
    data = bytes(range(256)) * 8192  # 2 MiB
    repo = ecr.repository("standin/resume")
    digest = sha256_digest(data)
    repo.push_blob(digest, data)
    ecr.requests.clear()
    ecr.behaviours.reset_s3_downloads = 1
    sink = io.BytesIO()
    with repo.open_blob(digest, len(data)) as reader:
        copy_stream(reader, sink)
    assert sink.getvalue() == data
    downloads = ecr.s3_downloads()
    assert [r.headers.get("range") for r in downloads] == [None, f"bytes={len(data) // 2}-"]
    assert all(r.authorization is None for r in downloads)
