"""``backfill`` on an ECR host: the listing through ECR's control plane (botocore stubs that
mirror what the test pushed), the data path through the ECR stand-in (ECR credentials, TLS,
S3 redirects), orphans deleted with BatchDeleteImage only."""

from __future__ import annotations

import json
import uuid

import pytest

from soci_index_builder.cli.main import main
from soci_index_builder.fleet import aws
from soci_index_builder.oci import mediatypes as mt
from soci_index_builder.oci.model import ImageIndex
from soci_index_builder.soci.build import build_image_index
from soci_index_builder.soci.validate import validate_soci_image
from tests.fixtures.ecr import EcrStandIn
from tests.fixtures.images import push_image

from .ecr_stub import EcrStub, detail
from .fleet_images import SETTINGS, layers

pytestmark = pytest.mark.registry


def test_backfill_an_ecr_registry(
    ecr: EcrStandIn, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    name = f"e{uuid.uuid4().hex[:8]}/app"
    repo = ecr.repository(name)
    fresh = push_image(repo, "fresh", layers(61)).digest
    gone = push_image(repo, "gone", layers(62)).digest
    output = build_image_index(repo, "gone", SETTINGS).output_digest
    assert output is not None
    children = [d.digest for d in ImageIndex.from_json(repo.fetch_manifest(output).raw).manifests]
    repo.delete_manifest(gone)  # the source is gone: its output is an orphan
    stub = EcrStub()
    stub.repositories([name, "other/app"])
    stub.images(
        name,
        [
            detail(name, fresh, tags=("fresh",), age_days=1),
            detail(name, output, tags=("gone-soci",), media_type=mt.OCI_IMAGE_INDEX,
                   artifact=None, pulled_days=10),
            detail(name, children[0]),
            detail(name, children[1], artifact=mt.SOCI_INDEX_V2),
        ],
    )  # fmt: skip
    stub.deletes(name, [output, *children])
    monkeypatch.setattr(aws, "ecr_client", lambda region: stub.client)

    argv = ["backfill", f"{ecr.host}/{name.split('/')[0]}", *ecr.cli_options(), "--json"]
    with stub.stub:
        code = main([*argv, "--min-layer-size", "0", "--prune"])
    out, err = capsys.readouterr()
    stub.stub.assert_no_pending_responses()
    assert code == 0, err
    report = json.loads(out)
    assert report["built"] == 1 and report["pruned"] == 3 and report["failed"] == 0
    assert [r["repository"] for r in report["repositories"]] == [name]  # the prefix applies
    assert validate_soci_image(repo, "fresh-soci") == []
