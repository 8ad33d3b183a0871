"""The fleet reconciler: a second function that lists ECR and feeds the indexer's queue.

It runs on a schedule (``reconcileSchedule``), after every successful deploy of the stack
(``backfillOnDeploy``: an EventBridge rule on the stack's own CloudFormation status events, so
no helper function is needed), and on demand (``soci-index-builder backfill --stack``).
Least privilege: Describe* on the account's repositories (new ones included), reads and
BatchDeleteImage only where the builder may write (``repositoryPrefixes``). docs/fleet.md.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import aws_cdk as cdk
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from .function_parts import function_log_group, function_role, pull_time_exclusion

if TYPE_CHECKING:
    from .construct import SociIndexBuilder

HANDLER = "functions.reconciler.handler.handler"
TIMEOUT = cdk.Duration.minutes(15)
#: Listing and sending are I/O; pruning reads a few manifests. One vCPU's worth is plenty.
MEMORY_MB = 1024
LIST_ACTIONS = ("ecr:DescribeRepositories", "ecr:DescribeImages")
#: Reading manifests (prune checks) and deleting orphans, where the builder may write.
PRUNE_ACTIONS = ("ecr:BatchGetImage", "ecr:BatchDeleteImage")
#: CloudFormation's own status events: the run after a deploy.
DEPLOYED = ("CREATE_COMPLETE", "UPDATE_COMPLETE")


class FleetReconciler(Construct):
    """Backfill, catch missed pushes, prune orphans: see the module docstring."""

    def __init__(self, scope: Construct, construct_id: str, builder: SociIndexBuilder) -> None:
        super().__init__(scope, construct_id)
        props = builder.props
        stack = cdk.Stack.of(self)
        self.log_group = function_log_group(self, props.log_retention_days)
        self.role = function_role(
            self, "SOCI reconciler: list ECR, enqueue work, prune orphans (docs/fleet.md)"
        )
        self.pull_time_exclusion = pull_time_exclusion(
            self, self.role, enabled=props.exclude_from_pull_times
        )
        self.function = lambda_.Function(
            self, "Function",
            description="Reconciles ECR with the SOCI index builder: backfill, catch-up, prune",
            runtime=builder.function.runtime, architecture=builder.function.architecture,
            handler=HANDLER, code=builder.function_code,
            layers=[builder.layer], role=self.role, log_group=self.log_group,
            memory_size=MEMORY_MB, timeout=TIMEOUT,
            environment={
                "FILTERS_PARAMETER_PATH": builder.parameter_prefix,
                "QUEUE_URL": builder.queue.queue_url,
                "REPOSITORY_PREFIXES": ",".join(props.repository_prefixes),
                "POWERTOOLS_SERVICE_NAME": props.service_name,
                "POWERTOOLS_METRICS_NAMESPACE": props.metrics_namespace,
                "LOG_LEVEL": props.log_level,
            },
        )  # fmt: skip
        cdk.Validations.of(self.function).acknowledge(
            cdk.Acknowledgment(
                id="AwsSolutions::AwsSolutions-L1",
                reason="Same runtime as the indexer: the shared layer's native wheels are built "
                "and tested for Python 3.13 (infra/bundling.PYTHON_VERSION).",
            )
        )
        self._grant(builder, stack)
        self.rules = self._triggers(props.reconcile_schedule, props.backfill_on_deploy, stack)
        builder.monitoring.add_fleet_widgets(self.function)

    def _grant(self, builder: SociIndexBuilder, stack: cdk.Stack) -> None:
        role = self.role
        self.log_group.grant_write(role)
        builder.queue.grant_send_messages(role)
        role.add_to_policy(
            iam.PolicyStatement(actions=["ecr:GetAuthorizationToken"], resources=["*"])
        )
        self._acknowledge("Resource::*", "ecr:GetAuthorizationToken has no resource-level form")
        every = stack.format_arn(service="ecr", resource="repository", resource_name="*")
        role.add_to_policy(iam.PolicyStatement(actions=list(LIST_ACTIONS), resources=[every]))
        self._acknowledge(
            f"Resource::{_nag_form(stack, every)}",
            "the reconciler must see every repository, including ones created after deploy; "
            "Describe* only (no content, no writes)",
        )
        writable = builder.repository_arns
        role.add_to_policy(iam.PolicyStatement(actions=list(PRUNE_ACTIONS), resources=writable))
        for arn in writable:
            self._acknowledge(
                f"Resource::{_nag_form(stack, arn)}",
                "orphans are read and deleted only in the repositories the builder may write "
                "(repositoryPrefixes); names are unknown at deploy",
            )
        parameters = builder.parameter_arns
        role.add_to_policy(
            iam.PolicyStatement(
                actions=["ssm:GetParameter", "ssm:GetParameters", "ssm:GetParametersByPath"],
                resources=parameters,
            )
        )
        self._acknowledge(
            f"Resource::{_nag_form(stack, parameters[1])}",
            "read-only access to this builder's own SSM subtree (filters and settings)",
        )
        # A separate policy: granting the function to itself in the role's default policy
        # would make the function depend on itself.
        iam.Policy(
            self, "ContinuePolicy",
            statements=[iam.PolicyStatement(
                actions=["lambda:InvokeFunction"], resources=[self.function.function_arn]
            )],
            roles=[role],
        )  # fmt: skip

    def _triggers(self, schedule: str, on_deploy: bool, stack: cdk.Stack) -> list[events.Rule]:
        rules = []
        target = targets.LambdaFunction(self.function, retry_attempts=2)
        if schedule != "off":
            rules.append(
                events.Rule(
                    self,
                    "Schedule",
                    description="Periodic SOCI reconcile (missed pushes, replicas, pruning)",
                    schedule=events.Schedule.expression(schedule),
                    targets=[target],
                )
            )
        if on_deploy:
            rules.append(
                events.Rule(
                    self,
                    "AfterDeploy",
                    description="SOCI backfill once each deploy of this stack completes",
                    event_pattern=events.EventPattern(
                        source=["aws.cloudformation"],
                        detail_type=["CloudFormation Stack Status Change"],
                        detail={
                            "stack-id": [stack.stack_id],
                            "status-details": {"status": list(DEPLOYED)},
                        },
                    ),
                    targets=[target],
                )
            )
        return rules

    def _acknowledge(self, finding: str, reason: str) -> None:
        cdk.Validations.of(self.role).acknowledge(
            cdk.Acknowledgment(id=f"AwsSolutions::AwsSolutions-IAM5[{finding}]", reason=reason)
        )


def _nag_form(stack: cdk.Stack, value: str) -> str:
    from .construct import _nag_form as render

    return render(stack, value)
