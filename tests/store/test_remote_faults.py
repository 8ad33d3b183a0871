"""Registry misbehaviour, scripted with a fake HTTP server: errors, retries, limits, redirects."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from typing import TYPE_CHECKING

import pytest

from soci_index_builder.digest import sha256_digest
from soci_index_builder.errors import (
    DigestMismatchError,
    InvalidReferenceError,
    ManifestError,
    NotFoundError,
    RegistryError,
)
from soci_index_builder.oci import mediatypes as mt
from soci_index_builder.store.remote.auth import Credentials
from soci_index_builder.store.remote.client import RegistryClient
from soci_index_builder.streams import copy_stream
from tests.fixtures.registry import FakeRequest, FakeResponse

if TYPE_CHECKING:
    from tests.fixtures.registry import FakeServer

    MakeServer = Callable[..., FakeServer]

MANIFEST = b'{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json"}'
MANIFEST_DIGEST = sha256_digest(MANIFEST)
BLOB = b"the real blob content"
BLOB_DIGEST = sha256_digest(BLOB)
SECRET = "s3cr3t-password"


def _manifest(request: FakeRequest) -> FakeResponse:
    return FakeResponse(200, {"Content-Type": mt.OCI_IMAGE_MANIFEST}, MANIFEST)


def _read(reader_cm: object) -> bytes:
    sink = io.BytesIO()
    with reader_cm as reader:  # type: ignore[attr-defined]
        copy_stream(reader, sink)
    return sink.getvalue()


def test_wrong_blob_body_raises_digest_mismatch(fake_server: MakeServer) -> None:
    server = fake_server(lambda r: FakeResponse(200, {}, b"tampered bytes, same length"))
    repo = server.client().repository("app")
    with pytest.raises(DigestMismatchError):
        _read(repo.open_blob(BLOB_DIGEST))
    with pytest.raises(DigestMismatchError):  # right bytes, wrong declared size
        server.handler = lambda r: FakeResponse(200, {}, BLOB)
        _read(repo.open_blob(BLOB_DIGEST, len(BLOB) + 1))
    assert _read(repo.open_blob(BLOB_DIGEST, len(BLOB))) == BLOB


def test_wrong_manifest_digest(fake_server: MakeServer) -> None:
    other = sha256_digest(b"other")
    server = fake_server(_manifest)
    repo = server.client().repository("app")
    with pytest.raises(DigestMismatchError):
        repo.fetch_manifest(other)
    server.handler = lambda r: FakeResponse(
        200, {"Content-Type": mt.OCI_IMAGE_MANIFEST, "Docker-Content-Digest": other}, MANIFEST
    )
    with pytest.raises(DigestMismatchError):
        repo.fetch_manifest("latest")
    server.handler = _manifest  # by tag, no header: the computed digest is the answer
    assert repo.fetch_manifest("latest").digest == MANIFEST_DIGEST


@pytest.mark.parametrize("status", [401, 403])
def test_denied_is_not_transient(fake_server: MakeServer, status: int) -> None:
    body = json.dumps({"errors": [{"code": "DENIED", "message": "no way"}]}).encode()
    server = fake_server(lambda r: FakeResponse(status, {"Content-Type": "application/json"}, body))
    client = server.client(credentials=lambda host: Credentials("user", SECRET))
    with pytest.raises(RegistryError) as caught:
        client.repository("app").fetch_manifest("latest")
    error = caught.value
    assert (error.status, error.code, error.transient) == (status, "DENIED", False)
    assert f"HTTP {status}" in str(error) and "no way" in str(error)
    assert SECRET not in str(error)
    assert len(server.requests) == 1  # never retried
    if status == 401:
        assert "no WWW-Authenticate challenge" in str(error)


def test_429_is_retried_then_succeeds(fake_server: MakeServer) -> None:
    def handler(request: FakeRequest) -> FakeResponse:
        if len(server.requests) <= 2:
            return FakeResponse(
                429, {"Retry-After": "0"}, b'{"errors":[{"code":"TOOMANYREQUESTS"}]}'
            )
        return _manifest(request)

    server = fake_server(handler)
    manifest = server.client(max_attempts=5).repository("app").fetch_manifest("latest")
    assert manifest.raw == MANIFEST
    assert len(server.requests) == 3


def test_500_is_bounded_and_transient(fake_server: MakeServer) -> None:
    server = fake_server(lambda r: FakeResponse(500, {}, b"internal error"))
    with pytest.raises(RegistryError) as caught:
        server.client(max_attempts=3).repository("app").fetch_manifest("latest")
    assert caught.value.status == 500 and caught.value.transient
    assert len(server.requests) == 3


def test_upload_patch_is_not_replayed_on_500(fake_server: MakeServer) -> None:
    """Only the upload status is asked (failing too, within the budget): the PATCH's error."""

    def handler(request: FakeRequest) -> FakeResponse:
        if request.method == "POST":
            return FakeResponse(202, {"Location": "/v2/app/blobs/uploads/u1"})
        return FakeResponse(503)

    server = fake_server(handler)
    with pytest.raises(RegistryError) as caught:
        server.client(max_attempts=3).repository("app").push_blob_stream(io.BytesIO(b"data"))
    assert caught.value.transient and caught.value.status == 503
    assert str(caught.value).startswith("chunked upload at byte 0: HTTP 503")
    assert [r.method for r in server.requests] == ["POST", "PATCH", "GET", "GET"]
    assert server.requests[1].headers["content-range"] == "0-3"


@pytest.mark.parametrize("chunked", [False, True])
def test_manifest_over_4_mib_is_refused(fake_server: MakeServer, chunked: bool) -> None:
    big = b"{" + b" " * (4 << 20) + b"}"
    server = fake_server(
        lambda r: FakeResponse(200, {"Content-Type": mt.OCI_IMAGE_MANIFEST}, big, chunked=chunked)
    )
    with pytest.raises(ManifestError, match="limit"):
        server.client().repository("app").fetch_manifest("latest")


def test_dropped_connection_is_transient_after_bounded_retries(fake_server: MakeServer) -> None:
    server = fake_server(lambda r: FakeResponse(drop=True))
    with pytest.raises(RegistryError) as caught:
        server.client(max_attempts=4).repository("app").has_blob(BLOB_DIGEST)
    assert caught.value.transient and caught.value.status is None
    assert "connection failed" in str(caught.value)
    assert len(server.requests) == 4


def test_connection_refused_is_transient() -> None:
    client = RegistryClient("127.0.0.1:1", plain_http=True, max_attempts=2, backoff_base=0.001)
    with pytest.raises(RegistryError) as caught:
        client.ping()
    assert caught.value.transient


def test_redirect_to_other_host_drops_authorization(fake_server: MakeServer) -> None:
    """ECR-style 307 to S3: the registry sees Basic credentials, the other host never does."""
    storage = fake_server(lambda r: FakeResponse(200, {}, BLOB), address="127.0.0.2")

    def registry(request: FakeRequest) -> FakeResponse:
        if "authorization" not in request.headers:
            return FakeResponse(401, {"WWW-Authenticate": 'Basic realm="test"'})
        target = f"{storage.url}/bucket/blob?X-Amz-Signature=abcdef"
        return FakeResponse(307, {"Location": target})

    server = fake_server(registry)
    client = server.client(credentials=lambda host: Credentials("AWS", SECRET))
    assert _read(client.repository("app").open_blob(BLOB_DIGEST, len(BLOB))) == BLOB
    assert server.requests[-1].headers["authorization"].startswith("Basic ")
    assert storage.requests and all("authorization" not in r.headers for r in storage.requests)
    storage.handler = lambda r: FakeResponse(403, {}, b"<Error>SignatureDoesNotMatch</Error>")
    with pytest.raises(RegistryError) as caught:
        _read(client.repository("app").open_blob(BLOB_DIGEST))
    assert "X-Amz-Signature" not in str(caught.value) and SECRET not in str(caught.value)
    assert caught.value.status == 403


def test_range_ignored_by_server_is_sliced(fake_server: MakeServer) -> None:
    data = bytes(range(256)) * 8
    server = fake_server(lambda r: FakeResponse(200, {}, data))
    repo = server.client().repository("app")
    assert repo.read_blob_range(sha256_digest(data), 300, 700) == data[300:700]
    assert server.requests[0].headers["range"] == "bytes=300-699"


def test_tags_follow_link_pages(fake_server: MakeServer) -> None:
    pages = {
        "/v2/app/tags/list?n=2": (["a", "b"], '</v2/app/tags/list?n=2&last=b>; rel="next"'),
        "/v2/app/tags/list?n=2&last=b": (["c", "d"], '<?n=2&last=d>; rel="next"'),
        "/v2/app/tags/list?n=2&last=d": (["e"], None),
    }

    def handler(request: FakeRequest) -> FakeResponse:
        tags, link = pages[request.path]
        headers = {"Link": link} if link else {}
        return FakeResponse(200, headers, json.dumps({"name": "app", "tags": tags}).encode())

    server = fake_server(handler)
    assert server.client(page_size=2).repository("app").list_tags() == ["a", "b", "c", "d", "e"]
    assert [r.path for r in server.requests] == list(pages)


def test_referrers_api_is_used_when_present(fake_server: MakeServer) -> None:
    entries = [
        {"mediaType": mt.OCI_IMAGE_MANIFEST, "digest": BLOB_DIGEST, "size": 1, "artifactType": "a"},
        {
            "mediaType": mt.OCI_IMAGE_MANIFEST,
            "digest": MANIFEST_DIGEST,
            "size": 1,
            "artifactType": "b",
        },
    ]
    body = json.dumps({"schemaVersion": 2, "manifests": entries}).encode()
    server = fake_server(lambda r: FakeResponse(200, {"Content-Type": mt.OCI_IMAGE_INDEX}, body))
    found = server.client().repository("app").list_referrers(MANIFEST_DIGEST, "b")
    assert [d["digest"] for d in found] == [MANIFEST_DIGEST]  # filtered even if server did not
    assert server.requests[0].path == f"/v2/app/referrers/{MANIFEST_DIGEST}?artifactType=b"


def test_not_found_carries_code(fake_server: MakeServer) -> None:
    body = b'{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}'
    server = fake_server(lambda r: FakeResponse(404, {}, body))
    with pytest.raises(NotFoundError) as caught:
        server.client().repository("app").fetch_manifest("v1")
    assert caught.value.code == "MANIFEST_UNKNOWN" and "app:v1" in str(caught.value)


def test_invalid_input_is_rejected_before_any_request(fake_server: MakeServer) -> None:
    server = fake_server(_manifest)
    client = server.client()
    repo = client.repository("app")
    calls: list[Callable[[], object]] = [
        lambda: client.repository("Bad/Name"),
        lambda: client.repository("a//b"),
        lambda: repo.fetch_manifest("bad tag"),
        lambda: repo.fetch_manifest("sha256:abc"),
        lambda: repo.resolve("../etc"),
        lambda: repo.open_blob("sha256:" + "G" * 64).__enter__(),
        lambda: repo.read_blob_range("md5:00", 0, 1),
        lambda: repo.has_blob("latest"),
        lambda: repo.push_manifest(MANIFEST, mt.OCI_IMAGE_MANIFEST, "bad/tag"),
        lambda: repo.mount_blob(BLOB_DIGEST, "UPPER"),
        lambda: repo.list_referrers("sha256:short"),
        lambda: RegistryClient("bad host!"),
    ]
    for call in calls:
        with pytest.raises(InvalidReferenceError):
            call()
    with pytest.raises(DigestMismatchError):
        repo.push_blob(BLOB_DIGEST, b"not the blob")
    assert server.requests == []
