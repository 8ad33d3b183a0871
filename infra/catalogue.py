"""The zTOC catalogue table of the indexer (docs/reuse.md): DynamoDB, on demand, with a TTL.

The function looks a zTOC up before building one and records each one it pushed, so a layer
shared by tags, pushes and repositories is indexed once. The table is a cache: losing it only
costs rebuilds, hence point-in-time recovery off by default (``ztocTablePitr`` turns it on),
``RemovalPolicy.DESTROY`` and nothing but ``GetItem``/``PutItem`` for the function (a bad entry
is overwritten by the rebuild it causes, never deleted). Items: functions/indexer/catalogue.py.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import aws_cdk as cdk
from aws_cdk import aws_dynamodb as dynamodb
from constructs import Construct

if TYPE_CHECKING:
    from aws_cdk import aws_iam as iam

#: The function's environment variable naming the table (functions/indexer/catalogue.py).
ENV_TABLE = "ZTOC_TABLE_NAME"
#: The actions the function needs, and nothing else.
TABLE_ACTIONS = ("dynamodb:GetItem", "dynamodb:PutItem")


class ZtocCatalogue(Construct):
    """The table, and :meth:`grant_to` for the indexer's role and environment."""

    def __init__(
        self, scope: Construct, construct_id: str, *, point_in_time_recovery: bool = False
    ) -> None:
        super().__init__(scope, construct_id)
        self.table = dynamodb.Table(
            self, "Table",
            partition_key=dynamodb.Attribute(name="layer", type=dynamodb.AttributeType.STRING),
            sort_key=dynamodb.Attribute(name="variant", type=dynamodb.AttributeType.STRING),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            time_to_live_attribute="expires_at",
            encryption=dynamodb.TableEncryption.AWS_MANAGED,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=point_in_time_recovery
            ),
            removal_policy=cdk.RemovalPolicy.DESTROY,
        )  # fmt: skip
        if not point_in_time_recovery:
            cdk.Validations.of(self.table).acknowledge(
                cdk.Acknowledgment(
                    id="AwsSolutions::AwsSolutions-DDB3",
                    reason="The zTOC catalogue is a cache of where zTOCs already are: a lost "
                    "table only costs rebuilds, so point-in-time recovery is off by default "
                    "(context ztocTablePitr=true turns it on).",
                )
            )

    def grant(self, role: iam.IGrantable) -> None:
        """GetItem and PutItem on this table, nothing else."""
        self.table.grant(role, *TABLE_ACTIONS)

    @property
    def environment(self) -> dict[str, str]:
        """What the function needs to find the table."""
        return {ENV_TABLE: self.table.table_name}
