"""What every function of the app gets alike: its own log group and its own execution role.

Both functions (indexer and reconciler) keep logs for ``logRetentionDays`` and are destroyed
with the stack; each role starts empty and is granted exactly what its function needs
(docs/deploy.md).
"""

from __future__ import annotations

import aws_cdk as cdk
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
