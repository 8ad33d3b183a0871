"""The deployable unit: one builder, its optional alarm topic and its outputs."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct

from .construct import SociIndexBuilder
from .settings import BuilderProps


class SociIndexBuilderStack(cdk.Stack):
    """A stand-alone SOCI index builder; deploy it once per account/region (or more, with
    different stack names and filters)."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        props: BuilderProps | None = None,
        alarm_email: str | None = None,
        alarm_topic_arn: str | None = None,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("description", "SOCI index builder: lazy-loadable images on ECR push")
        super().__init__(scope, construct_id, **kwargs)
        props = props or BuilderProps()
        topic = self._alarm_topic(alarm_email, alarm_topic_arn)
        if topic is not None:
            props = replace(props, alarm_topic=topic)
        self.builder = SociIndexBuilder(self, "Builder", props)
        self._add_outputs()

    def _alarm_topic(self, email: str | None, topic_arn: str | None) -> sns.ITopic | None:
        """An existing topic wins; an e-mail address gets a new topic with one subscription."""
        if topic_arn:
            return sns.Topic.from_topic_arn(self, "AlarmTopic", topic_arn)
        if not email:
            return None
        topic = sns.Topic(self, "AlarmTopic", enforce_ssl=True)
        topic.add_subscription(subscriptions.EmailSubscription(email))
        cdk.Validations.of(topic).acknowledge(
            cdk.Acknowledgment(
                id="AwsSolutions-SNS2",
                reason="Alarm notifications carry no sensitive data; CloudWatch cannot publish "
                "to a topic under the AWS-managed SNS key, and a customer key costs money for "
                "no gain. Pass alarmTopicArn to use your own encrypted topic.",
            )
        )
        return topic

    def _add_outputs(self) -> None:
        """What an operator looks up after deploying (names are generated)."""
        builder = self.builder
        outputs = {
            "FunctionName": builder.function.function_name,
            "QueueUrl": builder.queue.queue_url,
            "DeadLetterQueueUrl": builder.dead_letter_queue.queue_url,
            "ParameterPrefix": builder.parameter_prefix,
            "DashboardName": builder.monitoring.dashboard.dashboard_name,
            "ReconcilerFunctionName": builder.reconciler.function.function_name,
        }
        for name, value in outputs.items():
            cdk.CfnOutput(self, name, value=value)
