"""What every function of the app gets alike: its own log group, its own execution role and,
for roles that read images, a pull-time update exclusion.

Both functions (indexer and reconciler) keep logs for ``logRetentionDays`` and are destroyed
with the stack; each role starts empty and is granted exactly what its function needs
(docs/deploy.md).
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_ecr as ecr
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from constructs import Construct

from .settings import RETENTION_DAYS


def function_log_group(scope: Construct, retention_days: int) -> logs.LogGroup:
    """A log group with the configured retention, removed by ``cdk destroy``."""
    return logs.LogGroup(
        scope, "Logs",
        retention=RETENTION_DAYS[retention_days],
        removal_policy=cdk.RemovalPolicy.DESTROY,
    )  # fmt: skip


def function_role(scope: Construct, description: str) -> iam.Role:
    """An execution role Lambda may assume, with no permission yet."""
    return iam.Role(
        scope, "Role",
        assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
        description=description,
    )  # fmt: skip


def pull_time_exclusion(
    scope: Construct, role: iam.IRole, *, enabled: bool
) -> ecr.CfnPullTimeUpdateExclusion | None:
    """Register ``role`` in the registry's pull-time update exclusions, unless not ``enabled``
    (``excludeFromPullTimes``); for every role that reads images.

    ECR counts every manifest or blob read as a pull and records it in ``lastRecordedPullTime``;
    the indexer reads each image it indexes and the reconciler reads images across the fleet, so
    without this, lifecycle rules that expire images "since last pulled" would see them as in use
    (docs/ecr.md 2.5). An excluded principal's reads leave the time alone. The exclusion belongs
    to the registry (account and region, at most 100 of them) and CloudFormation removes it with
    the stack; it names the role by ARN, so it is created after the role and deleted before it.
    """
    if not enabled:
        return None
    return ecr.CfnPullTimeUpdateExclusion(scope, "PullTimeExclusion", principal_arn=role.role_arn)
