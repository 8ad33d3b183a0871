"""Alarms and a dashboard for one builder: what an operator needs to see a stuck pipeline.

The product metrics come from the function through Powertools EMF (namespace
``POWERTOOLS_METRICS_NAMESPACE``, dimension ``service``). Skips and failures carry one more
dimension (``reason``/``kind``); they are summed and broken down with SEARCH, so a new reason
shows up without a redeploy.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_cloudwatch_actions as cw_actions
from constructs import Construct

if TYPE_CHECKING:
    from aws_cdk import aws_lambda as lambda_
    from aws_cdk import aws_sns as sns
    from aws_cdk import aws_sqs as sqs

#: Metric names the indexer emits (functions/indexer), with the statistic that summarises them.
PRODUCT_METRICS: dict[str, str] = {
    "ImagesIndexed": "Sum",
    "ImagesSkipped": "Sum",
    "Failures": "Sum",
    "LayersIndexed": "Sum",
    "LayersSkipped": "Sum",
    "LayersReused": "Sum",
    "ZtocsBuilt": "Sum",
    "ZtocsReused": "Sum",
    "BytesProcessed": "Sum",
    "IndexDuration": "p90",
}
#: Metrics emitted only with this extra dimension (functions/indexer/reporting.py).
CAUSE_DIMENSION: dict[str, str] = {
    "ImagesSkipped": "reason",
    "LayersSkipped": "reason",
    "Failures": "kind",
}
_PERIOD = cdk.Duration.minutes(5)
#: The reconciler publishes its run totals about once a day (docs/fleet.md).
_FLEET_PERIOD = cdk.Duration.hours(6)


class BuilderMonitoring(Construct):
    """Alarms on the DLQ, function errors and throttles; one dashboard with everything."""

    def __init__(
        self, scope: Construct, construct_id: str, *,
        function: lambda_.IFunction, queue: sqs.IQueue, dead_letter_queue: sqs.IQueue,
        namespace: str, service_name: str, alarm_topic: sns.ITopic | None = None,
    ) -> None:  # fmt: skip
        super().__init__(scope, construct_id)
        self.namespace, self.service_name = namespace, service_name
        self.alarms = [
            self._alarm(
                "DeadLetterAlarm",
                dead_letter_queue.metric_approximate_number_of_messages_visible(
                    period=_PERIOD, statistic="Maximum"
                ),
                "Events in the SOCI builder DLQ: inspect, fix, then redrive them",
            ),
            self._alarm(
                "ErrorsAlarm",
                function.metric_errors(period=_PERIOD, statistic="Sum"),
                "The SOCI indexer function failed (see its log group)",
            ),
            self._alarm(
                "ThrottlesAlarm",
                function.metric_throttles(period=_PERIOD, statistic="Sum"),
                "The SOCI indexer function was throttled (concurrency too low?)",
            ),
        ]
        self.alarm_topic = alarm_topic
        if alarm_topic is not None:
            for alarm in self.alarms:
                alarm.add_alarm_action(cw_actions.SnsAction(alarm_topic))
                alarm.add_ok_action(cw_actions.SnsAction(alarm_topic))
        self.dashboard = cw.Dashboard(self, "Dashboard")
        self._add_widgets(function, queue, dead_letter_queue)

    def _alarm(self, construct_id: str, metric: cw.IMetric, description: str) -> cw.Alarm:
        """Any non-zero datapoint alarms; no data (an idle builder) is healthy."""
        return cw.Alarm(
            self, construct_id, metric=metric, threshold=0, evaluation_periods=1,
            comparison_operator=cw.ComparisonOperator.GREATER_THAN_THRESHOLD,
            treat_missing_data=cw.TreatMissingData.NOT_BREACHING,
            alarm_description=description,
        )  # fmt: skip

    def metric(self, name: str, statistic: str | None = None) -> cw.IMetric:
        """A product metric: its total, whatever extra dimension it is emitted with."""
        if name in CAUSE_DIMENSION:
            search = self._search(name, CAUSE_DIMENSION[name])
            return cw.MathExpression(expression=f"SUM({search})", label=name, period=_PERIOD)
        return cw.Metric(
            namespace=self.namespace, metric_name=name,
            dimensions_map={"service": self.service_name},
            statistic=statistic or PRODUCT_METRICS.get(name, "Sum"), period=_PERIOD,
        )  # fmt: skip

    def _search(self, name: str, dimension: str) -> str:
        """Every ``dimension`` value of a metric, found at render time."""
        return (
            f'SEARCH(\'{{{self.namespace},service,{dimension}}} MetricName="{name}" '
            f"service=\"{self.service_name}\"', 'Sum', {_PERIOD.to_seconds()})"
        )

    def _breakdown(self, name: str) -> cw.MathExpression:
        dimension = CAUSE_DIMENSION[name]
        return cw.MathExpression(
            expression=self._search(name, dimension), label=f"{name} by {dimension}",
            period=_PERIOD,
        )  # fmt: skip

    def _add_widgets(self, function: lambda_.IFunction, queue: sqs.IQueue, dlq: sqs.IQueue) -> None:
        """Outcome first (what got indexed), then throughput, then the plumbing."""
        graph = cw.GraphWidget
        self.dashboard.add_widgets(
            graph(title="Images", width=8, left=[self.metric(n) for n in
                  ("ImagesIndexed", "ImagesSkipped", "Failures")]),
            graph(title="Skips and failures by cause", width=8,
                  left=[self._breakdown(n) for n in CAUSE_DIMENSION]),
            graph(title="Layers", width=8, left=[self.metric(n) for n in
                  ("LayersIndexed", "LayersReused", "LayersSkipped")]),
        )  # fmt: skip
        self.dashboard.add_widgets(
            graph(title="zTOCs built and reused", width=6, left=[self.metric(n) for n in
                  ("ZtocsBuilt", "ZtocsReused")]),
            graph(title="Bytes processed", width=6, left=[self.metric("BytesProcessed")]),
            graph(title="Index duration", width=6, left=[self.metric("IndexDuration", s)
                  for s in ("p50", "p90", "Maximum")]),
            cw.AlarmStatusWidget(title="Alarms", width=6, alarms=list(self.alarms)),
        )  # fmt: skip
        self.dashboard.add_widgets(
            graph(title="Function", width=12, left=[function.metric_invocations(),
                  function.metric_errors(), function.metric_throttles()],
                  right=[function.metric_duration(statistic="p90")]),
            graph(title="Queues", width=12, left=[
                queue.metric_approximate_number_of_messages_visible(),
                dlq.metric_approximate_number_of_messages_visible(label="DLQ")],
                right=[queue.metric_approximate_age_of_oldest_message()]),
        )  # fmt: skip

    def add_fleet_widgets(self, reconciler: lambda_.IFunction) -> None:
        """Coverage (% of selected images SOCI-enabled), each reconcile's counts, an alarm."""
        alarm = self._alarm(
            "ReconcilerErrorsAlarm",
            reconciler.metric_errors(period=_PERIOD, statistic="Sum"),
            "The SOCI reconciler failed (see its log group); the next run retries",
        )
        if self.alarm_topic is not None:
            alarm.add_alarm_action(cw_actions.SnsAction(self.alarm_topic))
        self.alarms.append(alarm)

        def run_total(name: str) -> cw.Metric:
            return cw.Metric(
                namespace=self.namespace, metric_name=name,
                dimensions_map={"service": self.service_name},
                statistic="Maximum", period=_FLEET_PERIOD,
            )  # fmt: skip

        coverage = cw.MathExpression(
            expression="100 * enabled / selected", label="SOCI coverage %",
            using_metrics={"enabled": run_total("ImagesSociEnabled"),
                           "selected": run_total("ImagesSelected")},
            period=_FLEET_PERIOD,
        )  # fmt: skip
        self.dashboard.add_widgets(
            cw.GraphWidget(title="Fleet coverage (%)", width=8, left=[coverage],
                           left_y_axis=cw.YAxisProps(min=0, max=100)),
            cw.GraphWidget(title="Reconcile runs", width=8, left=[run_total(n) for n in
                           ("ImagesSeen", "ImagesEnqueued", "ImagesPruned", "ReconcileFailures")]),
            cw.GraphWidget(title="Reconciler", width=8, left=[reconciler.metric_invocations(),
                           reconciler.metric_errors()],
                           right=[reconciler.metric_duration(statistic="Maximum")]),
        )  # fmt: skip
