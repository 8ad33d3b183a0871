"""Pushes racing other clients' pushes of the same content: the registry's race answers.

docker-registry's filesystem driver rewrites a repository link file in place (truncate, then
write) each time a blob upload is committed or a manifest is put. A manifest PUT whose check
reads that file meanwhile gets ``400 DIGEST_INVALID`` (then ``MANIFEST_BLOB_UNKNOWN``) although
its digest is right; the client retries that answer and marks it transient when it persists.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING

import pytest

from soci_index_builder.digest import sha256_digest
from soci_index_builder.errors import RegistryError
from soci_index_builder.oci import mediatypes as mt
from soci_index_builder.store.remote import uploads
from soci_index_builder.store.remote.retry import RetryPolicy
from tests.fixtures.registry import FakeRequest, FakeResponse

if TYPE_CHECKING:
    from tests.fixtures.registry import FakeServer, LocalRegistry

    MakeServer = Callable[..., FakeServer]

CONFIG = b"{}"
CONFIG_DIGEST = sha256_digest(CONFIG)
MANIFEST = json.dumps(
    {
        "schemaVersion": 2,
        "mediaType": mt.OCI_IMAGE_MANIFEST,
        "config": {"mediaType": mt.OCI_EMPTY, "digest": CONFIG_DIGEST, "size": 2},
        "layers": [],
    }
).encode()
RACE_BODY = json.dumps(
    {
        "errors": [
            {"code": "DIGEST_INVALID", "message": "provided digest did not match uploaded content"},
            {"code": "MANIFEST_BLOB_UNKNOWN", "message": "blob unknown", "detail": CONFIG_DIGEST},
        ]
    }
).encode()


def _scripted(failures: int) -> Callable[[FakeRequest], FakeResponse]:
    """Manifest PUTs get the race answer ``failures`` times, then 201."""
    left = [failures]

    def handler(request: FakeRequest) -> FakeResponse:
        if request.method == "PUT" and left[0] > 0:
            left[0] -= 1
            return FakeResponse(400, {"Content-Type": "application/json"}, RACE_BODY)
        digest = sha256_digest(request.body)
        return FakeResponse(201, {"Docker-Content-Digest": digest})

    return handler


def test_race_answer_is_retried(fake_server: MakeServer) -> None:
    server = fake_server(_scripted(failures=2))
    repo = server.client(max_attempts=3).repository("app")
    assert repo.push_manifest(MANIFEST, mt.OCI_IMAGE_MANIFEST) == sha256_digest(MANIFEST)
    assert [r.method for r in server.requests] == ["PUT"] * 3


def test_persistent_race_answer_is_transient(fake_server: MakeServer) -> None:
    """Bounded by the busy budget (race answers are waited out like throttling)."""
    server = fake_server(_scripted(failures=100))
    policy = RetryPolicy(max_attempts=1, throttle_attempts=3, backoff_base=0.001)
    repo = server.client(retry_policy=policy).repository("app")
    with pytest.raises(RegistryError) as caught:
        repo.push_manifest(MANIFEST, mt.OCI_IMAGE_MANIFEST, "v1")
    assert caught.value.code == "DIGEST_INVALID" and caught.value.status == 400
    assert caught.value.transient, "a redelivery converges: the Lambda must retry"
    assert len(server.requests) == 3


def test_other_manifest_errors_are_not_retried(fake_server: MakeServer) -> None:
    body = json.dumps({"errors": [{"code": "MANIFEST_INVALID", "message": "bad"}]}).encode()
    server = fake_server(lambda r: FakeResponse(400, {}, body))
    repo = server.client(max_attempts=3).repository("app")
    with pytest.raises(RegistryError) as caught:
        repo.push_manifest(MANIFEST, mt.OCI_IMAGE_MANIFEST)
    assert caught.value.code == "MANIFEST_INVALID" and not caught.value.transient
    assert len(server.requests) == 1


@pytest.mark.registry
def test_manifest_push_while_its_blob_is_committed_again(registry: LocalRegistry) -> None:
    """Real registry: another client re-commits the config blob in a loop; pushes all succeed."""
    client = registry.client()
    repo = client.repository(f"race/{uuid.uuid4().hex[:12]}")
    repo.push_blob(CONFIG_DIGEST, CONFIG)
    other = registry.client(max_attempts=1)
    stop = threading.Event()

    def recommit() -> None:  # what a concurrent delivery's upload of the same blob does
        while not stop.is_set():
            uploads.push_bytes(other, repo._url, repo._push, CONFIG_DIGEST, CONFIG)

    thread = threading.Thread(target=recommit)
    thread.start()
    try:
        for i in range(200):
            repo.push_manifest(MANIFEST, mt.OCI_IMAGE_MANIFEST, f"t{i % 4}")
    finally:
        stop.set()
        thread.join()
    assert repo.resolve("t0") is not None
