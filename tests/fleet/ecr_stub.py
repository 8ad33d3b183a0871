"""A botocore Stubber for ECR's control plane: DescribeRepositories/DescribeImages pages that
mirror what the test pushed to the real registry, with the times and statuses ECR adds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
from botocore.stub import ANY, Stubber

from soci_index_builder.oci import mediatypes as mt

NOW = datetime.now(UTC)
ACCOUNT = "123456789012"


def detail(
    repo: str,
    digest: str,
    *,
    tags: tuple[str, ...] = (),
    media_type: str = mt.OCI_IMAGE_MANIFEST,
    artifact: str | None = mt.OCI_IMAGE_CONFIG,
    age_days: float = 30,
    pulled_days: float | None = None,
    status: str = "ACTIVE",
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "registryId": ACCOUNT,
        "repositoryName": repo,
        "imageDigest": digest,
        "imageManifestMediaType": media_type,
        "imagePushedAt": NOW - timedelta(days=age_days),
        "imageStatus": status,
    }
    if tags:
        out["imageTags"] = list(tags)
    if artifact:
        out["artifactMediaType"] = artifact
    if pulled_days is not None:
        out["lastRecordedPullTime"] = NOW - timedelta(days=pulled_days)
    return out


class EcrStub:
    """A real boto3 ECR client whose answers are queued in order."""

    def __init__(self) -> None:
        self.client = boto3.client("ecr", region_name="us-east-1")
        self.stub = Stubber(self.client)

    def repositories(self, *pages: list[str]) -> None:
        for i, names in enumerate(pages):
            page: dict[str, Any] = {
                "repositories": [
                    {
                        "repositoryName": n,
                        "repositoryArn": f"arn:aws:ecr:us-east-1:{ACCOUNT}:repository/{n}",
                    }
                    for n in names
                ]
            }
            if i < len(pages) - 1:
                page["nextToken"] = f"r{i}"
            self.stub.add_response("describe_repositories", page, None)

    def images(self, repo: str, *pages: list[dict[str, Any]]) -> None:
        for i, details in enumerate(pages):
            page: dict[str, Any] = {"imageDetails": details}
            params: dict[str, Any] = {"repositoryName": repo, "maxResults": 1000}
            if i:
                params["nextToken"] = f"{repo}-{i - 1}"
            if i < len(pages) - 1:
                page["nextToken"] = f"{repo}-{i}"
            self.stub.add_response("describe_images", page, params)

    def deletes(self, repo: str, digests: list[str]) -> None:
        for digest in digests:
            self.stub.add_response(
                "batch_delete_image",
                {"imageIds": [{"imageDigest": digest}], "failures": []},
                {"repositoryName": repo, "imageIds": [{"imageDigest": digest}]},
            )

    def denied(self, repo: str) -> None:
        self.stub.add_client_error(
            "batch_delete_image",
            "AccessDeniedException",
            expected_params={"repositoryName": repo, "imageIds": ANY},
        )
