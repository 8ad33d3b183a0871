"""The fleet's AWS adapter (the only boto3 user of the package besides ``store/remote/ecr``):
ECR's control plane as a :class:`~.model.Lister`, ``BatchDeleteImage``, and starting the
deployed reconciler for ``backfill --stack`` (docs/fleet.md).

ECR has no ``/v2/_catalog``; DescribeRepositories and DescribeImages give more than the
registry API would anyway: untagged manifests, artifact media types, push and pull times and
the archive status, which is what pruning's grace period needs.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from ..errors import NotFoundError, RegistryError, SociError
from .model import ImageRecord

#: BatchDeleteImage takes at most 100 image ids a call.
DELETE_BATCH = 100


def aws_error(what: str, exc: Exception) -> SociError:
    """A botocore error as one line: the AWS error code, never a traceback."""
    response = getattr(exc, "response", None)
    code = ""
    if isinstance(response, dict):
        code = str(response.get("Error", {}).get("Code", ""))
    if code in {"RepositoryNotFoundException", "ImageNotFoundException"}:
        return NotFoundError(f"{what}: {code}", code=code)
    transient = code in {"ThrottlingException", "ServerException"}
    return RegistryError(f"{what}: {code or type(exc).__name__}", code=code, transient=transient)


class EcrLister:
    """DescribeRepositories + DescribeImages of one registry (account and region of ``ecr``)."""

    lists_untagged = True
    records_pulls = True

    def __init__(self, ecr: Any, prefix: str = "") -> None:
        self.ecr = ecr
        self.prefix = prefix
        self.invalid: list[str] = []

    def repositories(self, after: str = "") -> Iterator[str]:
        """Names in lexical order (a continuation resumes strictly after ``after``)."""
        names: list[str] = []
        try:
            for page in self.ecr.get_paginator("describe_repositories").paginate():
                names += [r["repositoryName"] for r in page.get("repositories", ())]
        except Exception as exc:
            raise aws_error("DescribeRepositories", exc) from exc
        prefix = self.prefix
        for name in sorted(names):
            if name > after and (not prefix or name == prefix or name.startswith(prefix + "/")):
                yield name

    def images(self, repository: str) -> list[ImageRecord]:
        """Every manifest of ``repository``, all pages (a thousand a call)."""
        records: list[ImageRecord] = []
        token: str | None = None
        while True:
            args: dict[str, Any] = {"repositoryName": repository, "maxResults": 1000}
            if token:
                args["nextToken"] = token
            try:
                page = self.ecr.describe_images(**args)
            except Exception as exc:
                raise aws_error(f"DescribeImages {repository}", exc) from exc
            records += [_record(repository, d) for d in page.get("imageDetails", ())]
            token = page.get("nextToken")
            if not token:
                return records

    def delete(self, repository: str, digest: str) -> None:
        """BatchDeleteImage of one digest (its tags go with it); failures raise."""
        try:
            answer = self.ecr.batch_delete_image(
                repositoryName=repository, imageIds=[{"imageDigest": digest}]
            )
        except Exception as exc:
            raise aws_error(f"BatchDeleteImage {repository}", exc) from exc
        for failure in answer.get("failures", ()):
            code = str(failure.get("failureCode", ""))
            reason = str(failure.get("failureReason", ""))[:200]
            if code == "ImageNotFound":
                raise NotFoundError(f"{repository}@{digest}: {code}", code=code)
            raise RegistryError(f"{repository}@{digest}: {code} {reason}".strip(), code=code)


def _record(repository: str, detail: dict[str, Any]) -> ImageRecord:
    return ImageRecord(
        repository,
        str(detail["imageDigest"]),
        tuple(detail.get("imageTags") or ()),
        manifest_media_type=detail.get("imageManifestMediaType") or None,
        artifact_media_type=detail.get("artifactMediaType") or None,
        pushed_at=detail.get("imagePushedAt"),
        last_pulled=detail.get("lastRecordedPullTime"),
        status=str(detail.get("imageStatus") or "ACTIVE"),
        subject=detail.get("subjectManifestDigest") or None,
    )


def ecr_client(region: str) -> Any:
    import boto3  # type: ignore[import-untyped]  # optional extra: imported on use

    return boto3.client("ecr", region_name=region)


def invoke_reconciler(
    stack: str,
    payload: dict[str, Any],
    cloudformation: Any = None,
    lambda_client: Any = None,
) -> str:
    """Start the deployed reconciler of ``stack`` asynchronously; returns the function name."""
    import boto3

    cloudformation = cloudformation or boto3.client("cloudformation")
    lambda_client = lambda_client or boto3.client("lambda")
    try:
        outputs = cloudformation.describe_stacks(StackName=stack)["Stacks"][0].get("Outputs", ())
    except Exception as exc:
        raise aws_error(f"DescribeStacks {stack}", exc) from exc
    names = [o["OutputValue"] for o in outputs if o["OutputKey"] == "ReconcilerFunctionName"]
    if not names:
        raise RegistryError(f"stack {stack} has no reconciler (output ReconcilerFunctionName)")
    try:
        lambda_client.invoke(
            FunctionName=names[0], InvocationType="Event", Payload=json.dumps(payload).encode()
        )
    except Exception as exc:
        raise aws_error(f"Invoke {names[0]}", exc) from exc
    return str(names[0])
