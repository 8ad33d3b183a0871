"""The SOCI index builder as one reusable construct: push event -> queue -> indexer function.

Everything an operator tunes at run time lives in SSM (filters, settings); everything that
shapes resources is a :class:`~infra.settings.BuilderProps` field. No physical name is fixed,
so any number of builders coexist in one account and region.
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from soci_index_builder.oci.mediatypes import SOCI_INDEX_ARTIFACT_TYPES

from .bundling import function_code, layer_code
from .catalogue import ZtocCatalogue
from .function_parts import function_log_group, function_role, pull_time_exclusion
from .monitoring import BuilderMonitoring
from .reconciler import FleetReconciler
from .settings import BuilderProps

HANDLER = "functions.indexer.handler.handler"
FUNCTION_TIMEOUT = cdk.Duration.minutes(15)
#: The artifact types of our own outputs; their push events must cost no invocation.
SOCI_INDEX_MEDIA_TYPES = tuple(sorted(SOCI_INDEX_ARTIFACT_TYPES))
#: Repository-level ECR actions: read the image, upload blobs and manifests, list existing ones.
ECR_REPOSITORY_ACTIONS = (
    "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability",
    "ecr:InitiateLayerUpload", "ecr:UploadLayerPart", "ecr:CompleteLayerUpload",
    "ecr:PutImage", "ecr:DescribeImages", "ecr:ListImages",
)  # fmt: skip
SSM_READ_ACTIONS = ("ssm:GetParameter", "ssm:GetParameters", "ssm:GetParametersByPath")
_ARCHITECTURES = {"arm64": lambda_.Architecture.ARM_64, "x86_64": lambda_.Architecture.X86_64}
#: Must agree with bundling.PYTHON_VERSION (the layer wheels are built for it).
_RUNTIME = lambda_.Runtime.PYTHON_3_13


class SociIndexBuilder(Construct):
    """Indexes every matching image pushed to ECR in this account and region.

    Example::

        from infra.construct import SociIndexBuilder
        from infra.settings import BuilderProps

        builder = SociIndexBuilder(
            self, "Soci", BuilderProps(include=("prod/*:*",), repository_prefixes=("prod/",))
        )
        builder.function  # the indexer; .queue, .dead_letter_queue, .monitoring, ...
    """

    def __init__(self, scope: Construct, construct_id: str, props: BuilderProps | None = None):
        super().__init__(scope, construct_id)
        self.props = props = props or BuilderProps()
        stack = cdk.Stack.of(self)
        self.parameter_prefix = props.parameter_prefix or f"/{stack.stack_name}/"
        self._create_parameters()
        self._create_queues()
        self.rule = self._create_rule()
        self.layer = lambda_.LayerVersion(
            self, "EngineLayer",
            code=layer_code(props.architecture),
            compatible_runtimes=[_RUNTIME],
            compatible_architectures=[_ARCHITECTURES[props.architecture]],
            description="soci_index_builder engine and its pinned dependencies",
        )  # fmt: skip
        self.log_group = function_log_group(self, props.log_retention_days)
        self.role = function_role(
            self, "SOCI index builder: read images, push indexes (see docs/deploy.md)"
        )
        self.pull_time_exclusion = pull_time_exclusion(
            self, self.role, enabled=props.exclude_from_pull_times
        )
        self.function_code = function_code()
        self.ztoc_catalogue = (
            ZtocCatalogue(self, "ZtocCatalogue", point_in_time_recovery=props.ztoc_table_pitr)
            if props.ztoc_catalogue
            else None
        )
        self.function = self._create_function()
        self._grant_permissions()
        self.monitoring = BuilderMonitoring(
            self, "Monitoring", function=self.function, queue=self.queue,
            dead_letter_queue=self.dead_letter_queue, log_group=self.log_group,
            namespace=props.metrics_namespace,
            service_name=props.service_name, alarm_topic=props.alarm_topic,
        )  # fmt: skip
        self.reconciler = FleetReconciler(self, "Reconciler", self)
        if props.permissions_boundary:
            iam.PermissionsBoundary.of(self).apply(
                _managed_policy(self, props.permissions_boundary)
            )

    def _create_parameters(self) -> None:
        """Filters and settings, seeded once: CloudFormation only rewrites a parameter when its
        template value changes, so operator edits survive deploys (docs/deploy.md)."""
        prefix, props = self.parameter_prefix, self.props
        self.include_parameter = ssm.StringListParameter(
            self, "IncludeFilters", parameter_name=f"{prefix}include",
            string_list_value=list(props.include),
            description="SOCI index builder: repo-glob:tag-glob rules to index",
        )  # fmt: skip
        self.exclude_parameter = ssm.StringListParameter(
            self, "ExcludeFilters", parameter_name=f"{prefix}exclude",
            string_list_value=props.exclude_value,
            description="SOCI index builder: repo-glob:tag-glob rules to skip ('-' = none)",
        )  # fmt: skip
        self.settings_parameter = ssm.StringParameter(
            self, "Settings", parameter_name=f"{prefix}settings",
            string_value=props.settings_value,
            description="SOCI index builder: index settings as JSON",
        )  # fmt: skip

    def _create_queues(self) -> None:
        """A buffer with back-pressure; six function timeouts of visibility, as Lambda advises."""
        self.dead_letter_queue = sqs.Queue(
            self, "DeadLetterQueue",
            encryption=sqs.QueueEncryption.SQS_MANAGED, enforce_ssl=True,
            retention_period=cdk.Duration.days(14),
        )  # fmt: skip
        self.queue = sqs.Queue(
            self, "Queue",
            encryption=sqs.QueueEncryption.SQS_MANAGED, enforce_ssl=True,
            visibility_timeout=cdk.Duration.seconds(FUNCTION_TIMEOUT.to_seconds() * 6),
            retention_period=cdk.Duration.days(4),
            dead_letter_queue=sqs.DeadLetterQueue(
                queue=self.dead_letter_queue, max_receive_count=self.props.max_receive_count
            ),
        )  # fmt: skip

    def _create_rule(self) -> events.Rule:
        """Successful pushes only, minus our own outputs (``<tag><suffix>`` and SOCI index
        manifests), so they cost no invocation. An absent ``image-tag`` (untagged push) never
        matches ``anything-but``: untagged pushes are dropped here by design."""
        stack = cdk.Stack.of(self)
        rule = events.Rule(
            self, "PushRule",
            description="ECR pushes that may need a SOCI index",
            event_pattern=events.EventPattern(
                source=["aws.ecr"], detail_type=["ECR Image Action"],
                account=[stack.account], region=[stack.region],
                detail={
                    "action-type": ["PUSH"],
                    "result": ["SUCCESS"],
                    "image-tag": events.Match.anything_but_suffix(self.props.tag_suffix),
                    "artifact-media-type": events.Match.any_of(
                        events.Match.does_not_exist(),
                        events.Match.anything_but(*SOCI_INDEX_MEDIA_TYPES),
                    ),
                },
            ),
        )  # fmt: skip
        rule.add_target(targets.SqsQueue(self.queue, dead_letter_queue=self.dead_letter_queue))
        return rule

    def _create_function(self) -> lambda_.Function:
        """The indexer: two vCPUs, 15 minutes, small /tmp because the engine streams."""
        props = self.props
        function = lambda_.Function(
            self, "Function",
            description="Builds SOCI indexes for images pushed to ECR",
            runtime=_RUNTIME, architecture=_ARCHITECTURES[props.architecture],
            handler=HANDLER,
            code=self.function_code,
            layers=[self.layer], role=self.role, log_group=self.log_group,
            memory_size=props.memory_size, timeout=FUNCTION_TIMEOUT,
            ephemeral_storage_size=cdk.Size.mebibytes(512),
            reserved_concurrent_executions=props.reserved_concurrency,
            environment=self._environment(),
        )  # fmt: skip
        cdk.Validations.of(function).acknowledge(
            cdk.Acknowledgment(
                id="AwsSolutions::AwsSolutions-L1",
                reason="Python 3.13 is a supported Lambda runtime; the layer's native wheels "
                "(zstandard) are built and tested for it (infra/bundling.PYTHON_VERSION). Move "
                "both together after testing a newer runtime.",
            )
        )
        function.add_event_source(
            sources.SqsEventSource(
                self.queue, batch_size=1, report_batch_item_failures=True,
                max_concurrency=props.effective_max_concurrency,
            )
        )  # fmt: skip
        return function

    def _environment(self) -> dict[str, str]:
        """The function's contract with this stack (names listed in docs/deploy.md)."""
        env = {
            "FILTERS_PARAMETER_PATH": self.parameter_prefix,
            "POWERTOOLS_SERVICE_NAME": self.props.service_name,
            "POWERTOOLS_METRICS_NAMESPACE": self.props.metrics_namespace,
            "LOG_LEVEL": self.props.log_level,
        }
        if self.result_bus_arn:
            env["RESULT_EVENT_BUS"] = self.result_bus_arn
        if self.ztoc_catalogue is not None:
            env.update(self.ztoc_catalogue.environment)
        return env

    @property
    def result_bus_arn(self) -> str | None:
        """The result bus as an ARN (PutEvents accepts it as EventBusName), or None."""
        bus = self.props.result_bus
        if not bus or bus.startswith("arn:"):
            return bus or None
        stack = cdk.Stack.of(self)
        return stack.format_arn(service="events", resource="event-bus", resource_name=bus)

    def _grant_permissions(self) -> None:
        """Least privilege: only GetAuthorizationToken (no resource form exists) is on '*'."""
        stack, role = cdk.Stack.of(self), self.role
        self.log_group.grant_write(role)
        if self.ztoc_catalogue is not None:
            self.ztoc_catalogue.grant(role)
        role.add_to_policy(
            iam.PolicyStatement(actions=["ecr:GetAuthorizationToken"], resources=["*"])
        )
        self._acknowledge("Resource::*", "ecr:GetAuthorizationToken has no resource-level form")
        repositories = self.repository_arns
        role.add_to_policy(
            iam.PolicyStatement(actions=list(ECR_REPOSITORY_ACTIONS), resources=repositories)
        )
        for arn in repositories:
            self._acknowledge(
                f"Resource::{_nag_form(stack, arn)}",
                "repositories are scoped by configured name prefix (every repository by "
                "default): images are indexed as they are pushed, names are unknown at deploy",
            )
        parameters = self.parameter_arns
        role.add_to_policy(
            iam.PolicyStatement(actions=list(SSM_READ_ACTIONS), resources=parameters)
        )
        self._acknowledge(
            f"Resource::{_nag_form(stack, parameters[1])}",
            "read-only access to this builder's own SSM subtree (filters and settings)",
        )
        if self.result_bus_arn:
            role.add_to_policy(
                iam.PolicyStatement(actions=["events:PutEvents"], resources=[self.result_bus_arn])
            )
        if self.props.signing_profile_arns:
            role.add_to_policy(
                iam.PolicyStatement(
                    actions=["signer:SignPayload"], resources=list(self.props.signing_profile_arns)
                )
            )

    @property
    def repository_arns(self) -> list[str]:
        """The repositories the builder may write: ``repository/<prefix>*`` (all by default)."""
        stack = cdk.Stack.of(self)
        return [
            stack.format_arn(service="ecr", resource="repository", resource_name=f"{prefix}*")
            for prefix in (self.props.repository_prefixes or ("",))
        ]

    @property
    def parameter_arns(self) -> list[str]:
        """This builder's SSM subtree: the prefix parameter and everything under it."""
        stack, path = cdk.Stack.of(self), self.parameter_prefix.strip("/")
        return [
            stack.format_arn(service="ssm", resource="parameter", resource_name=name)
            for name in (path, f"{path}/*")
        ]

    def _acknowledge(self, finding: str, reason: str) -> None:
        """Record why an AwsSolutions-IAM5 wildcard finding on the role is intended."""
        cdk.Validations.of(self.role).acknowledge(
            cdk.Acknowledgment(id=f"AwsSolutions::AwsSolutions-IAM5[{finding}]", reason=reason)
        )


def _nag_form(stack: cdk.Stack, value: str) -> str:
    """A token string as cdk-nag prints it (``<AWS::Region>``), to name one finding exactly."""

    def render(node: object) -> str:
        if isinstance(node, str):
            return node
        if isinstance(node, dict) and "Ref" in node:
            return f"<{node['Ref']}>"
        if isinstance(node, dict) and "Fn::Join" in node:
            separator, parts = node["Fn::Join"]
            return str(separator).join(render(part) for part in parts)
        raise ValueError(f"cannot render {node!r} for cdk-nag")

    return render(stack.resolve(value))


def _managed_policy(scope: Construct, name_or_arn: str) -> iam.IManagedPolicy:
    """A permissions boundary given by ARN or by customer-managed policy name."""
    if name_or_arn.startswith("arn:"):
        return iam.ManagedPolicy.from_managed_policy_arn(scope, "Boundary", name_or_arn)
    return iam.ManagedPolicy.from_managed_policy_name(scope, "Boundary", name_or_arn)
