"""Authentication: challenge parsing, the Bearer token flow, ECR credentials (moto)."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, ClassVar

import pytest

from soci_index_builder.errors import RegistryError
from soci_index_builder.oci import mediatypes as mt
from soci_index_builder.store.remote import auth
from soci_index_builder.store.remote.auth import Credentials, parse_challenge
from soci_index_builder.store.remote.ecr import EcrCredentialsProvider
from soci_index_builder.store.remote.ecr_hosts import ecr_registry_host
from soci_index_builder.store.remote.errors import parse_retry_after, redact_url
from tests.fixtures.registry import FakeRequest, FakeResponse

if TYPE_CHECKING:
    from tests.fixtures.registry import FakeServer

    MakeServer = Callable[..., FakeServer]

MANIFEST = b'{"schemaVersion":2}'
SECRET = "hunter2"


def test_parse_challenge() -> None:
    header = 'Bearer realm="https://auth.example/token",service="reg.example",scope="repository:a/b:pull,push"'
    challenge = parse_challenge(header)
    assert challenge is not None
    assert challenge.scheme == "bearer"
    assert challenge.params == {
        "realm": "https://auth.example/token",
        "service": "reg.example",
        "scope": "repository:a/b:pull,push",
    }
    basic = parse_challenge(
        'Basic realm="https://123.dkr.ecr.us-east-1.amazonaws.com/",service="ecr"'
    )
    assert basic is not None and basic.scheme == "basic"
    assert parse_challenge('Bearer realm="a\\"b", error=insufficient_scope') == (
        "bearer",
        {"realm": 'a"b', "error": "insufficient_scope"},
    )
    assert parse_challenge(None) is None and parse_challenge("  ") is None


def test_credentials_repr_hides_password() -> None:
    assert SECRET not in repr(Credentials("user", SECRET))
    assert SECRET not in str(Credentials("user", SECRET))


def test_retry_after_and_redaction() -> None:
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412470.0) == 10.0
    assert parse_retry_after("soon") is None and parse_retry_after(None) is None
    url = "https://user:pw@bucket.s3.amazonaws.com/key?X-Amz-Signature=abc&X-Amz-Credential=x"
    assert redact_url(url) == "https://bucket.s3.amazonaws.com/key"


def _token_server(fake_server: MakeServer, expires_in: int = 300) -> FakeServer:
    """A registry wanting ``Bearer tok-N``; its token endpoint (Basic-protected) is on itself."""

    def handler(request: FakeRequest) -> FakeResponse:
        if request.path.startswith("/token"):
            expected = "Basic " + base64.b64encode(f"user:{SECRET}".encode()).decode()
            if request.headers.get("authorization") != expected:
                return FakeResponse(401, {}, b"bad credentials")
            tokens.append(request.path)
            body = {"token": f"tok-{len(tokens)}", "expires_in": expires_in}
            return FakeResponse(
                200, {"Content-Type": "application/json"}, json.dumps(body).encode()
            )
        if request.headers.get("authorization") != f"Bearer tok-{len(tokens)}" or not tokens:
            realm = f"{server.url}/token"
            challenge = f'Bearer realm="{realm}",service="fake",scope="repository:app:pull"'
            return FakeResponse(401, {"WWW-Authenticate": challenge}, b'{"errors":[]}')
        return FakeResponse(200, {"Content-Type": mt.OCI_IMAGE_MANIFEST}, MANIFEST)

    tokens: list[str] = []
    server = fake_server(handler)
    server.tokens = tokens  # type: ignore[attr-defined]
    return server


def test_bearer_token_flow_and_cache(fake_server: MakeServer) -> None:
    server = _token_server(fake_server)
    client = server.client(credentials=lambda host: Credentials("user", SECRET))
    repo = client.repository("app")
    assert repo.fetch_manifest("v1").raw == MANIFEST
    assert repo.fetch_manifest("v2").raw == MANIFEST
    tokens: list[str] = server.tokens  # type: ignore[attr-defined]
    assert tokens == ["/token?service=fake&scope=repository%3Aapp%3Apull"]
    paths = [r.path for r in server.requests]
    # anonymous try -> challenge -> token -> retry with token -> next request uses the cache
    assert paths == [
        "/v2/app/manifests/v1",
        tokens[0],
        "/v2/app/manifests/v1",
        "/v2/app/manifests/v2",
    ]
    assert server.requests[-1].headers["authorization"] == "Bearer tok-1"
    repo.push_manifest(MANIFEST, mt.OCI_IMAGE_MANIFEST)  # another scope: another token
    assert tokens[-1].endswith("scope=repository%3Aapp%3Apull%2Cpush")


def test_bearer_token_expiry_refetches(
    fake_server: MakeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = [1000.0]
    monkeypatch.setattr(auth, "_now", lambda: now[0])
    server = _token_server(fake_server, expires_in=120)
    repo = server.client(credentials=lambda host: Credentials("user", SECRET)).repository("app")
    repo.fetch_manifest("v1")
    now[0] += 100
    repo.fetch_manifest("v1")
    assert len(server.tokens) == 1  # type: ignore[attr-defined]
    now[0] += 15  # within the renewal margin of the 120 s lifetime
    repo.fetch_manifest("v1")
    assert len(server.tokens) == 2  # type: ignore[attr-defined]


def test_bearer_token_denied(fake_server: MakeServer) -> None:
    server = _token_server(fake_server)
    repo = server.client(credentials=lambda host: Credentials("user", "wrong")).repository("app")
    with pytest.raises(RegistryError) as caught:
        repo.fetch_manifest("v1")
    assert caught.value.status == 401 and not caught.value.transient
    assert "token request" in str(caught.value) and "wrong" not in str(caught.value)


def test_basic_with_wrong_credentials_is_not_retried_forever(fake_server: MakeServer) -> None:
    server = fake_server(lambda r: FakeResponse(401, {"WWW-Authenticate": 'Basic realm="r"'}))
    client = server.client(credentials=lambda host: Credentials("AWS", SECRET))
    with pytest.raises(RegistryError) as caught:
        client.ping()
    assert caught.value.status == 401 and SECRET not in str(caught.value)
    assert len(server.requests) == 2  # anonymous, then Basic once
    assert server.requests[1].headers["authorization"].startswith("Basic ")
    assert "authorization" not in server.requests[0].headers


# --- ECR ------------------------------------------------------------------------------------


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(key, value)


def test_ecr_credentials_from_moto_are_cached(aws_env: None) -> None:
    import boto3  # type: ignore[import-untyped]
    from moto import mock_aws

    moto_expiry = datetime(2015, 1, 1, tzinfo=UTC).timestamp()
    now = [moto_expiry - 7200]  # moto's token "expires" in 2015: put the clock before it
    calls: list[str] = []

    def factory(region: str) -> Any:
        calls.append(region)
        return boto3.client("ecr", region_name=region)

    with mock_aws():
        provider = EcrCredentialsProvider(client_factory=factory, margin=600, clock=lambda: now[0])
        host = ecr_registry_host("123456789012", "eu-west-1")
        credentials = provider(host)
        assert credentials == Credentials("AWS", "123456789012-auth-token")
        assert provider(host) == credentials and calls == ["eu-west-1"]  # cached
        assert provider("127.0.0.1:5000") is None
        now[0] = moto_expiry - 300  # inside the margin: renewed
        assert provider(host) == credentials and calls == ["eu-west-1", "eu-west-1"]


def test_ecr_credentials_default_client(aws_env: None) -> None:
    from moto import mock_aws

    with mock_aws():
        provider = EcrCredentialsProvider()
        credentials = provider(ecr_registry_host("123456789012", "us-east-1"))
    assert credentials is not None and credentials.username == "AWS"


def test_ecr_token_errors_are_classified() -> None:
    class Throttled(Exception):
        response: ClassVar = {"Error": {"Code": "ThrottlingException"}}

    class Client:
        def get_authorization_token(self) -> Any:
            raise Throttled("slow down")

    provider = EcrCredentialsProvider(client_factory=lambda region: Client())
    with pytest.raises(RegistryError) as caught:
        provider(ecr_registry_host("123456789012", "us-east-1"))
    assert caught.value.transient and caught.value.code == "ThrottlingException"
