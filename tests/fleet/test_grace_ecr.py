"""Grace period with an ECR listing (botocore Stubber) over outputs in the real registry.

ECR's DescribeImages gives push and pull times and untagged manifests; the registry holds the
content the pruner reads to prove an orphan is ours. An orphan pulled yesterday stays, one idle
for 8 days goes (with everything only it references), nothing else is touched.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from soci_index_builder.fleet.aws import EcrLister
from soci_index_builder.fleet.orphans import PrunePolicy, plan_prune
from soci_index_builder.oci import mediatypes as mt
from soci_index_builder.oci.model import ImageIndex
from soci_index_builder.soci.build import build_image_index
from soci_index_builder.store.remote.repository import RemoteRepository
from tests.fixtures.images import push_image
from tests.fixtures.registry import LocalRegistry

from .fleet_images import SETTINGS, layers

pytestmark = pytest.mark.registry
NOW = datetime(2026, 11, 29, 12, tzinfo=UTC)
POLICY = PrunePolicy("-soci", SETTINGS.build_tool_identifier, timedelta(days=7), NOW)


def detail(
    repo: str,
    digest: str,
    media_type: str,
    artifact: str,
    *,
    tags: tuple[str, ...] = (),
    **extra: Any,
) -> dict[str, Any]:
    return {
        "registryId": "123456789012",
        "repositoryName": repo,
        "imageDigest": digest,
        "imageTags": list(tags),
        "imageManifestMediaType": media_type,
        "artifactMediaType": artifact,
        "imagePushedAt": NOW - timedelta(days=30),
        "imageStatus": "ACTIVE",
        **extra,
    }


def orphan_output(repo: RemoteRepository, tag: str, seed: int) -> tuple[str, list[str]]:
    """Build ``<tag>-soci``, then delete the source: returns (index digest, its children)."""
    source = push_image(repo, tag, layers(seed))
    result = build_image_index(repo, tag, SETTINGS)
    assert result.status == "built" and result.output_digest
    repo.delete_manifest(source.digest)
    index = ImageIndex.from_json(repo.fetch_manifest(result.output_digest).raw)
    return result.output_digest, [d.digest for d in index.manifests]


def listing(repo: str, root: str, children: list[str], tag: str, pulled: datetime) -> list[Any]:
    rewritten, soci = children
    return [
        detail(repo, root, mt.OCI_IMAGE_INDEX, "", tags=(tag,), lastRecordedPullTime=pulled),
        detail(repo, rewritten, mt.OCI_IMAGE_MANIFEST, mt.OCI_IMAGE_CONFIG),
        detail(repo, soci, mt.OCI_IMAGE_MANIFEST, mt.SOCI_INDEX_V2),
    ]


def test_orphan_pulled_yesterday_stays_idle_one_goes(registry: LocalRegistry) -> None:
    import uuid

    repo = registry.client().repository(f"g{uuid.uuid4().hex[:8]}/app")
    recent, recent_children = orphan_output(repo, "a", 11)
    idle, idle_children = orphan_output(repo, "b", 12)
    live = push_image(repo, "c", layers(13))
    ecr = boto3.client("ecr", region_name="us-east-1")
    stub = Stubber(ecr)
    first = listing(repo.path, recent, recent_children, "a-soci", NOW - timedelta(days=1))
    second = listing(repo.path, idle, idle_children, "b-soci", NOW - timedelta(days=8))
    second.append(
        detail(repo.path, live.digest, mt.OCI_IMAGE_MANIFEST, mt.OCI_IMAGE_CONFIG, tags=("c",))
    )
    params = {"repositoryName": repo.path, "maxResults": 1000}
    stub.add_response("describe_images", {"imageDetails": first, "nextToken": "t1"}, params)
    stub.add_response("describe_images", {"imageDetails": second}, {**params, "nextToken": "t1"})
    with stub:
        records = EcrLister(ecr).images(repo.path)
    stub.assert_no_pending_responses()

    plan = plan_prune(repo, records, POLICY)

    assert [o.digest for o in plan.delete] == [idle, *idle_children]
    assert plan.delete[0].idle_since == NOW - timedelta(days=8)
    assert plan.kept == {"recently-used": 1, "referenced": 1}
    # Without times at all (no pull, no push), a non-zero grace period keeps everything.
    timeless = [r.__class__(r.repository, r.digest, r.tags, r.manifest_media_type) for r in records]
    assert plan_prune(repo, timeless, POLICY).delete == []
