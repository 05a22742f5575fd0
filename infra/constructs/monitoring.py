"""Monitoring: one dashboard and the alarms, published to an (encrypted) SNS topic.

The dashboard shows calls by status, turn latency, live calls and the gateway's CPU, extraction
failures and the webhook backlog, and the API. Alarms: every dead-letter queue (built by
:class:`~infra.constructs.messaging.Messaging`), the error rate of the API and of each worker,
the API's 5xx rate, unhealthy gateway targets and gateway CPU, and a stale webhook backlog.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Optional

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from ..metrics import CALL_STATUS_METRIC, GATEWAY_SERVICE, NAMESPACE, TURN_LATENCY_METRICS
from .api import API_STAGE
from .voice_gateway import VoiceGateway

__all__ = ["Monitoring", "MonitoredApi", "ERROR_RATE_PERCENT"]

FIVE_MINUTES = cdk.Duration.minutes(5)
ERROR_RATE_PERCENT = 5  # of invocations, over two 5-minute periods
WEBHOOK_BACKLOG_AGE_S = 900  # the oldest undelivered webhook event has waited 15 minutes


@dataclass(frozen=True)
class MonitoredApi:
    """What the dashboard needs of the API: its function's name and API Gateway's ``ApiName``."""

    function_name: str
    api_name: str


def _lambda_metric(function_name: str, metric_name: str, statistic: str = "Sum") -> cloudwatch.Metric:
    return cloudwatch.Metric(namespace="AWS/Lambda", metric_name=metric_name,
                             dimensions_map={"FunctionName": function_name}, statistic=statistic, period=FIVE_MINUTES)


def _error_rate(function_name: str, label: str) -> cloudwatch.MathExpression:
    # Metric ids must be unique within a graph that shows several of these.
    errors, invocations = f"errors_{label}", f"invocations_{label}"
    return cloudwatch.MathExpression(
        expression=f"IF({invocations} > 0, 100 * {errors} / {invocations}, 0)",
        using_metrics={errors: _lambda_metric(function_name, "Errors"),
                       invocations: _lambda_metric(function_name, "Invocations")},
        label=f"{label} error rate (%)", period=FIVE_MINUTES,
    )


class Monitoring(Construct):
    """Attributes: ``topic`` (alarm notifications), ``dashboard``, ``alarms`` (every alarm, by name)."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        key: kms.IKey,
        api: MonitoredApi,
        workers: Mapping[str, lambda_.IFunction],
        queues: Mapping[str, sqs.IQueue],
        dead_letter_queues: Mapping[str, sqs.IQueue],
        dead_letter_alarms: Mapping[str, cloudwatch.IAlarm],
        gateway: VoiceGateway,
        alarm_email: Optional[str],
    ) -> None:
        super().__init__(scope, construct_id)
        self.topic = sns.Topic(self, "Alarms", display_name="CallingBox alarms", master_key=key, enforce_ssl=True)
        # CloudWatch publishes to the encrypted topic with the key.
        key.add_to_resource_policy(iam.PolicyStatement(
            principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
            actions=["kms:Decrypt", "kms:GenerateDataKey"],
            resources=["*"],  # in a key policy, "*" means this key
        ))
        if alarm_email:
            self.topic.add_subscription(subscriptions.EmailSubscription(alarm_email))
        self.alarms: dict[str, cloudwatch.IAlarm] = {f"{name}-dead-letters": alarm
                                                     for name, alarm in dead_letter_alarms.items()}
        self._alarms(api, workers, queues, gateway)
        for alarm in self.alarms.values():
            alarm.add_alarm_action(actions.SnsAction(self.topic))
        self.dashboard = self._dashboard(api, workers, queues, dead_letter_queues, gateway)

    def _alarm(self, name: str, description: str, metric: cloudwatch.IMetric, threshold: float,
               periods: int = 2) -> None:
        self.alarms[name] = cloudwatch.Alarm(
            self, "".join(part.title() for part in name.split("-")),
            alarm_description=description, metric=metric, threshold=threshold,
            evaluation_periods=periods, datapoints_to_alarm=periods,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )

    def _alarms(self, api: MonitoredApi, workers: Mapping[str, lambda_.IFunction],
                queues: Mapping[str, sqs.IQueue], gateway: VoiceGateway) -> None:
        functions = {"api": api.function_name, **{name: fn.function_name for name, fn in workers.items()}}
        for name, function_name in functions.items():
            self._alarm(f"{name}-errors", f"More than {ERROR_RATE_PERCENT}% of {name} invocations failed "
                        "for 10 minutes.", _error_rate(function_name, name), ERROR_RATE_PERCENT)
        self._alarm("api-5xx", "More than 5% of API requests answered 5xx for 10 minutes.",
                    cloudwatch.Metric(namespace="AWS/ApiGateway", metric_name="5XXError",
                                      dimensions_map={"ApiName": api.api_name, "Stage": API_STAGE},
                                      statistic="Average", period=FIVE_MINUTES), 0.05)
        self._alarm("gateway-unhealthy", "A voice gateway task fails its /healthz checks.",
                    gateway.target_group.metrics.unhealthy_host_count(period=cdk.Duration.minutes(1),
                                                                      statistic="Maximum"), 0, periods=3)
        self._alarm("gateway-cpu", "Voice gateway CPU above 85% for 5 minutes: calls may stutter.",
                    gateway.service.metric_cpu_utilization(period=cdk.Duration.minutes(1)), 85, periods=5)
        self._alarm("webhooks-backlog", "A webhook event has waited 15 minutes for delivery.",
                    queues["webhooks"].metric_approximate_age_of_oldest_message(period=FIVE_MINUTES,
                                                                                statistic="Maximum"),
                    WEBHOOK_BACKLOG_AGE_S)

    def _dashboard(self, api: MonitoredApi, workers: Mapping[str, lambda_.IFunction],
                   queues: Mapping[str, sqs.IQueue], dead_letter_queues: Mapping[str, sqs.IQueue],
                   gateway: VoiceGateway) -> cloudwatch.Dashboard:
        dashboard = cloudwatch.Dashboard(self, "Dashboard", dashboard_name=f"CallingBox-{cdk.Aws.REGION}")
        calls_by_status = cloudwatch.MathExpression(
            expression=f"SEARCH('{{{NAMESPACE},service,status}} MetricName=\"{CALL_STATUS_METRIC}\"', 'Sum', 300)",
            using_metrics={}, label="", period=FIVE_MINUTES,
        )
        latency = [cloudwatch.Metric(namespace=NAMESPACE, metric_name=name, dimensions_map={"service": GATEWAY_SERVICE},
                                     statistic=statistic, period=cdk.Duration.minutes(1), label=f"{name} {statistic}")
                   for name in TURN_LATENCY_METRICS for statistic in ("p50", "p90")]
        extraction = workers["extraction"].function_name
        dashboard.add_widgets(
            cloudwatch.GraphWidget(title="Calls by status (changes per 5 min)", left=[calls_by_status], width=8),
            cloudwatch.GraphWidget(title="Live calls", left=[gateway.active_calls,
                                   gateway.active_calls.with_(statistic="Sum", label="Live calls (all tasks)")],
                                   width=8),
            cloudwatch.GraphWidget(title="Gateway CPU and memory (%)", left=[
                gateway.service.metric_cpu_utilization(), gateway.service.metric_memory_utilization()], width=8),
        )
        dashboard.add_widgets(
            cloudwatch.GraphWidget(title="Turn latency (ms)", left=latency, width=12),
            cloudwatch.GraphWidget(title="Extraction failures", left=[
                _lambda_metric(extraction, "Errors").with_(label="failed invocations"),
                dead_letter_queues["extraction"].metric_approximate_number_of_messages_visible(
                    label="calls in the dead-letter queue")], width=6),
            cloudwatch.GraphWidget(title="Webhook backlog", left=[
                queues["webhooks"].metric_approximate_number_of_messages_visible(label="waiting"),
                dead_letter_queues["webhooks"].metric_approximate_number_of_messages_visible(label="dead letters")],
                right=[queues["webhooks"].metric_approximate_age_of_oldest_message(label="oldest (s)")], width=6),
        )
        dashboard.add_widgets(
            cloudwatch.GraphWidget(title="API requests and errors", left=[
                cloudwatch.Metric(namespace="AWS/ApiGateway", metric_name=name,
                                  dimensions_map={"ApiName": api.api_name, "Stage": API_STAGE},
                                  statistic="Sum", period=FIVE_MINUTES)
                for name in ("Count", "4XXError", "5XXError")], width=12),
            cloudwatch.GraphWidget(title="Function error rates (%)", left=[
                _error_rate(api.function_name, "api"),
                *(_error_rate(fn.function_name, name) for name, fn in workers.items())], width=12),
        )
        return dashboard

