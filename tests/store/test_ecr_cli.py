"""The CLI against the ECR stand-in, as a user runs it: ECR credentials, S3 redirects, hosts."""

from __future__ import annotations

import json

import pytest

from soci_index_builder.cli.main import main
from tests.fixtures.ecr import EcrStandIn
from tests.fixtures.images import LayerSpec, push_image, random_files

pytestmark = pytest.mark.registry

SMALL = ["--min-layer-size", "10000", "--span-size", "65536"]


def _layer(seed: int) -> LayerSpec:
    return LayerSpec(random_files(seed=seed, count=3, size=100_000))


@pytest.mark.parametrize("version", ["v2", "v1"])
def test_index_builds_and_verifies_through_s3_redirects(
    ecr: EcrStandIn, capsys: pytest.CaptureFixture[str], version: str
) -> None:
    repo = ecr.repository(f"cli/{version}")
    push_image(repo, "1.0", [_layer(1), _layer(2)])
    ref = f"{ecr.host}/cli/{version}:1.0"
    argv = ["index", ref, *SMALL, *ecr.cli_options(), "--index-version", version]
    assert main([*argv, "--json", "--verify"]) == 0, capsys.readouterr().err
    doc = json.loads(capsys.readouterr().out)
    assert doc["status"] == "built"
    downloads = ecr.s3_downloads()
    assert downloads, "no layer was read through a redirect to S3"
    assert [r for r in downloads if r.authorization] == []
    assert all(r.host == ecr.s3_address for r in downloads)


def test_dualstack_host(ecr: EcrStandIn, capsys: pytest.CaptureFixture[str]) -> None:
    push_image(ecr.repository("cli/dualstack"), "1.0", [_layer(3)])
    ref = f"{ecr.dualstack_host}/cli/dualstack:1.0"
    assert main(["index", ref, *SMALL, *ecr.cli_options(), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["status"] == "built"
    assert {r.host for r in ecr.ecr_requests() if r.authorization} == {
        ecr.host,  # the image pushed by the test
        ecr.dualstack_host,
    }


@pytest.fixture
def token_fetches(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Regions GetAuthorizationToken was called for (the real boto3 call, counted)."""
    from soci_index_builder.store.remote import ecr as ecr_module

    calls: list[str] = []
    real = ecr_module._boto3_client

    def counting(region: str) -> object:
        calls.append(region)
        return real(region)

    monkeypatch.setattr(ecr_module, "_boto3_client", counting)
    return calls


@pytest.fixture
def fast_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    from soci_index_builder.store.remote import retry

    monkeypatch.setattr(retry, "DEFAULT_POLICY", retry.RetryPolicy(backoff_base=0.01))


def test_token_fetched_once_despite_expiry_in_the_past(
    ecr: EcrStandIn, token_fetches: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    """moto's expiresAt lies in 2015: the token is still reused, not fetched per request."""
    push_image(ecr.repository("cli/cache"), "1.0", [_layer(4)])
    token_fetches.clear()
    ecr.requests.clear()
    assert main(["index", f"{ecr.host}/cli/cache:1.0", *SMALL, *ecr.cli_options()]) == 0
    assert token_fetches == [ecr.region]
    assert len([r for r in ecr.ecr_requests() if r.authorization]) > 10


def test_token_rejected_early_is_fetched_again_once(
    ecr: EcrStandIn, token_fetches: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    push_image(ecr.repository("cli/expired"), "1.0", [_layer(5)])
    token_fetches.clear()
    ecr.behaviours.expire_tokens = 1
    ref = f"{ecr.host}/cli/expired:1.0"
    assert main(["index", ref, *SMALL, *ecr.cli_options(), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["status"] == "built"
    assert token_fetches == [ecr.region, ecr.region]
    ecr.behaviours.expire_tokens = 2  # rejected again after the new token: one line, exit 1
    assert main(["index", ref, *SMALL, *ecr.cli_options(), "--replace-tag"]) == 1
    err = capsys.readouterr().err.strip()
    assert "403" in err and "expired" in err and "\n" not in err


def test_six_throttled_manifest_puts_are_ridden_out(
    ecr: EcrStandIn, fast_retries: None, capsys: pytest.CaptureFixture[str]
) -> None:
    push_image(ecr.repository("cli/throttle"), "1.0", [_layer(6)])
    ecr.behaviours.throttle_manifest_puts = 6
    ref = f"{ecr.host}/cli/throttle:1.0"
    assert main(["index", ref, *SMALL, *ecr.cli_options(), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["status"] == "built"
    throttled = [r for r in ecr.ecr_requests() if r.method == "PUT" and "/manifests/" in r.path]
    assert len(throttled) >= 7 and ecr.behaviours.throttle_manifest_puts == 0


def test_default_parts_respect_ecr_part_rules(ecr: EcrStandIn) -> None:
    import io
    import os

    from soci_index_builder.digest import sha256_digest

    data = os.urandom(21 << 20)  # 10 MiB + 10 MiB + 1 MiB
    repo = ecr.repository("cli/parts")
    assert repo.push_blob_stream(io.BytesIO(data)) == (sha256_digest(data), len(data))
    patches = [r for r in ecr.ecr_requests() if r.method == "PATCH"]
    assert [r.body_size for r in patches] == [10 << 20, 10 << 20, 1 << 20]
