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
