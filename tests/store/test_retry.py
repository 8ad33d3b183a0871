"""The one retry policy (finding 8), credentials sent again once (1), redirect challenges (7)."""

from __future__ import annotations

import io
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

import pytest

from soci_index_builder.digest import sha256_digest
from soci_index_builder.errors import DeadlineExceededError, DigestMismatchError, RegistryError
from soci_index_builder.oci import mediatypes as mt
from soci_index_builder.store.remote import uploads
from soci_index_builder.store.remote.auth import Credentials
from soci_index_builder.store.remote.retry import RetryPolicy
from soci_index_builder.streams import copy_stream
from tests.fixtures.registry import FakeRequest, FakeResponse

if TYPE_CHECKING:
    from tests.fixtures.registry import FakeServer

    MakeServer = Callable[..., FakeServer]

BLOB = bytes(range(256)) * 4096  # 1 MiB
DIGEST = sha256_digest(BLOB)
MANIFEST = b'{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json"}'
SECRET = "s3cr3t-password"


def _read(server: FakeServer, **options: object) -> bytes:
    sink = io.BytesIO()
    with server.client(**options).repository("app").open_blob(DIGEST, len(BLOB)) as reader:
        copy_stream(reader, sink)
    return sink.getvalue()


def _ranged(request: FakeRequest) -> FakeResponse:
    start = int(request.headers["range"].removeprefix("bytes=").rstrip("-"))
    headers = {"Content-Range": f"bytes {start}-{len(BLOB) - 1}/{len(BLOB)}"}
    return FakeResponse(206, headers, BLOB[start:])


def test_reset_mid_blob_resumes_with_range(fake_server: MakeServer) -> None:
    def handler(request: FakeRequest) -> FakeResponse:
        if "range" in request.headers:
            return _ranged(request)
        return FakeResponse(200, {"Content-Length": str(len(BLOB))}, BLOB, cut_after=300_000)

    server = fake_server(handler)
    assert _read(server) == BLOB
    assert [r.headers.get("range") for r in server.requests] == [None, "bytes=300000-"]


def test_resume_when_range_is_ignored_skips_what_was_read(fake_server: MakeServer) -> None:
    cuts = iter([100_000, 700_000])

    def handler(request: FakeRequest) -> FakeResponse:
        cut = next(cuts, None)
        return FakeResponse(200, {"Content-Length": str(len(BLOB))}, BLOB, cut_after=cut)

    assert _read(fake_server(handler)) == BLOB


def test_resumed_bytes_are_still_verified(fake_server: MakeServer) -> None:
    def handler(request: FakeRequest) -> FakeResponse:
        if "range" in request.headers:
            start = int(request.headers["range"][6:-1])
            tampered = b"\0" * (len(BLOB) - start)
            headers = {"Content-Range": f"bytes {start}-{len(BLOB) - 1}/{len(BLOB)}"}
            return FakeResponse(206, headers, tampered)
        return FakeResponse(200, {"Content-Length": str(len(BLOB))}, BLOB, cut_after=1000)

    with pytest.raises(DigestMismatchError):
        _read(fake_server(handler))


def test_resumes_are_bounded(fake_server: MakeServer) -> None:
    server = fake_server(lambda r: FakeResponse(200, {"Content-Length": "9"}, b"x", cut_after=0))
    with pytest.raises(RegistryError) as caught:
        _read(server, max_attempts=3)
    assert caught.value.transient and len(server.requests) == 3


@pytest.mark.parametrize("operation", ["upload", "manifest"])
def test_no_nested_retry_loops(fake_server: MakeServer, operation: str) -> None:
    """A 503 storm costs max_attempts requests, not max_attempts squared (was 5 x 5)."""
    server = fake_server(lambda r: FakeResponse(404 if r.method == "HEAD" else 503))
    repo = server.client(max_attempts=4).repository("app")
    with pytest.raises(RegistryError):
        if operation == "upload":
            repo.push_blob(sha256_digest(b"data"), b"data")
        else:
            repo.push_manifest(MANIFEST, mt.OCI_IMAGE_MANIFEST, "v1")
    writes = [r for r in server.requests if r.method in ("POST", "PUT")]
    assert len(writes) == 4


def test_monolithic_upload_is_retried_as_a_whole(fake_server: MakeServer) -> None:
    puts = iter([500, 201])

    def handler(request: FakeRequest) -> FakeResponse:
        if request.method == "HEAD":
            return FakeResponse(404)
        if request.method == "POST":
            return FakeResponse(202, {"Location": "/v2/app/blobs/uploads/s1"})
        return FakeResponse(next(puts))

    server = fake_server(handler)
    assert server.client().repository("app").push_blob(sha256_digest(b"data"), b"data")
    assert [r.method for r in server.requests] == ["HEAD", "POST", "PUT", "POST", "PUT"]


def test_retry_after_is_honoured_and_capped() -> None:
    waits: list[float] = []
    policy = RetryPolicy(max_attempts=3, max_backoff=7.0, sleep=waits.append)
    errors = [
        RegistryError("busy", status=503, transient=True, retry_after=2.0),
        RegistryError("busy", status=503, transient=True, retry_after=3600.0),
    ]

    def operation() -> str:
        if errors:
            raise errors.pop(0)
        return "done"

    assert policy.run(operation, what="test") == "done"
    assert waits == [2.0, 7.0]


def test_deadline_bounds_retries(fake_server: MakeServer) -> None:
    """A 503 storm asking for Retry-After: 20 stops at the deadline, not after minutes."""
    server = fake_server(lambda r: FakeResponse(503, {"Retry-After": "20"}))
    client = server.client(max_attempts=10, deadline=time.monotonic() + 1.0)
    started = time.monotonic()
    with pytest.raises(DeadlineExceededError, match="deadline"):
        client.repository("app").fetch_manifest("v1")
    assert time.monotonic() - started < 1.0 and len(server.requests) == 1


def test_deadline_ends_a_dripping_body(fake_server: MakeServer) -> None:
    server = fake_server(
        lambda r: FakeResponse(200, {"Content-Length": str(len(BLOB))}, BLOB, drip=0.05)
    )
    started = time.monotonic()
    with pytest.raises(DeadlineExceededError):
        _read(server, deadline=time.monotonic() + 0.5)
    assert time.monotonic() - started < 2.0


def test_throttling_is_ridden_out_longer_than_failures(fake_server: MakeServer) -> None:
    answers = iter([429] * 6)

    def handler(request: FakeRequest) -> FakeResponse:
        status = next(answers, 201)
        return FakeResponse(status, {"Docker-Content-Digest": sha256_digest(MANIFEST)})

    server = fake_server(handler)
    repo = server.client(max_attempts=3).repository("app")
    assert repo.push_manifest(MANIFEST, mt.OCI_IMAGE_MANIFEST) == sha256_digest(MANIFEST)
    assert len(server.requests) == 7


def test_part_sizes_fit_ecr_limits() -> None:
    mib = 1 << 20
    sizes = [uploads.part_size(i, uploads.PART_SIZE) for i in range(4200)]
    assert sum(sizes) >= 52_000 * mib  # ECR's largest layer in 4,200 parts
    assert sizes[0] == 10 * mib and min(sizes) >= 5 * mib


# --- credentials ------------------------------------------------------------------------------


class Rotating:
    """A provider whose credentials change when invalidated (like ECR tokens)."""

    def __init__(self, refreshable: bool = True) -> None:
        self.fetches = 0
        self.refreshable = refreshable

    def __call__(self, host: str) -> Credentials:
        return Credentials("AWS", f"token-{self.fetches}")

    def invalidate(self, host: str) -> bool:
        self.fetches += 1
        return self.refreshable


def _basic_registry(accept: str, denied_status: int) -> Callable[[FakeRequest], FakeResponse]:
    import base64

    good = "Basic " + base64.b64encode(f"AWS:{accept}".encode()).decode()

    def handler(request: FakeRequest) -> FakeResponse:
        sent = request.headers.get("authorization")
        if sent is None:
            return FakeResponse(401, {"WWW-Authenticate": 'Basic realm="r"'})
        if sent != good:
            body = b'{"errors":[{"code":"DENIED","message":"token expired"}]}'
            challenge = {"WWW-Authenticate": 'Basic realm="r"'} if denied_status == 401 else {}
            return FakeResponse(denied_status, challenge, body)
        return FakeResponse(200, {"Content-Type": mt.OCI_IMAGE_MANIFEST}, MANIFEST)

    return handler


@pytest.mark.parametrize("status", [401, 403])
def test_rejected_token_is_fetched_again_once(fake_server: MakeServer, status: int) -> None:
    provider = Rotating()
    server = fake_server(_basic_registry("token-1", status))
    repo = server.client(credentials=provider).repository("app")
    repo.fetch_manifest("v1")  # challenge, token-0 (stale, rejected), token-1 accepted
    assert provider.fetches == 1
    repo.fetch_manifest("v1")
    assert provider.fetches == 1  # the fresh token is kept


def test_token_rejected_twice_fails_after_one_refetch(fake_server: MakeServer) -> None:
    provider = Rotating()
    server = fake_server(_basic_registry("never", 403))
    with pytest.raises(RegistryError) as caught:
        server.client(credentials=provider).repository("app").fetch_manifest("v1")
    assert caught.value.status == 403 and caught.value.code == "DENIED"
    assert provider.fetches == 1


def test_static_credentials_are_not_sent_again(fake_server: MakeServer) -> None:
    server = fake_server(_basic_registry("other", 401))
    with pytest.raises(RegistryError):
        server.client(credentials=Rotating(refreshable=False)).repository("app").fetch_manifest(
            "v1"
        )
    assert len(server.requests) == 2  # anonymous, then the credentials once


def test_redirect_target_challenge_gets_no_credentials(fake_server: MakeServer) -> None:
    """Registry -> 307 to host B; B answers 401 Bearer realm=C: nothing goes to B or C."""
    realm = fake_server(lambda r: FakeResponse(200, {}, b'{"token":"t"}'))
    storage = fake_server(
        lambda r: FakeResponse(
            401, {"WWW-Authenticate": f'Bearer realm="{realm.url}/token",service="x"'}
        )
    )

    def registry_handler(request: FakeRequest) -> FakeResponse:
        if request.headers.get("authorization") is None:
            return FakeResponse(401, {"WWW-Authenticate": 'Basic realm="r"'})
        return FakeResponse(307, {"Location": f"{storage.url}/blob?sig=1"})

    registry = fake_server(registry_handler)
    client = registry.client(credentials=lambda host: Credentials("user", SECRET))
    with pytest.raises(RegistryError) as caught:
        _read_from(client)
    assert caught.value.status == 401
    assert realm.requests == []
    assert all("authorization" not in r.headers for r in storage.requests)


def _read_from(client: object) -> None:
    with client.repository("app").open_blob(DIGEST) as reader:  # type: ignore[attr-defined]
        copy_stream(reader, io.BytesIO())


def test_cli_timeout_ends_a_dripping_registry(
    fake_server: MakeServer, capsys: pytest.CaptureFixture[str]
) -> None:
    server = fake_server(
        lambda r: FakeResponse(
            200, {"Content-Type": mt.OCI_IMAGE_MANIFEST}, MANIFEST * 100, drip=0.05
        )
    )
    from soci_index_builder.cli.main import main

    started = time.monotonic()
    assert main(["index", f"{server.host}/app:1.0", "--plain-http", "--timeout", "0.5"]) == 1
    assert time.monotonic() - started < 3.0
    err = capsys.readouterr().err.strip()
    assert "deadline" in err and "\n" not in err
