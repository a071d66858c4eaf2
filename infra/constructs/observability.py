"""Alarms that reach someone, and one dashboard.

Every alarm notifies the `Alarms` SNS topic (in alarm and back to OK); the stack parameter `AlarmEmail`
subscribes an address to it (empty: no subscription; subscribe anything else to the topic yourself).
Alarms: failed or timed-out executions of each state machine, errors of each function, messages in
each dead-letter queue, API 5xx and latency, and each provider's error rate. The metrics with a
`provider` dimension are the ones the functions write (swapflow/observability.py).
"""

from __future__ import annotations

from aws_cdk import CfnCondition, CfnParameter, Duration, Fn
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct
from swapflow.providers.registry import PROVIDER_NAMES

NAMESPACE = "Swapflow"
SERVICE = "swapflow"
# One dashboard line and one error-rate alarm per provider of the registry.
PROVIDERS = PROVIDER_NAMES
PERIOD = Duration.minutes(5)
# A provider's error rate (%) that pages someone, once it served at least MIN_PROVIDER_CALLS in a period.
PROVIDER_ERROR_RATE = 20
MIN_PROVIDER_CALLS = 10
# Sync waits (`wait`, `Prefer: wait`) hold requests up to 25 s, so alarm on the median, not the tail.
API_P50_LATENCY_MS = 3000


def service_metric(name: str, statistic: str = "Sum", **dimensions: str) -> cloudwatch.Metric:
    """A metric the functions write through powertools (dimensions: service, plus `provider` for some)."""
    return cloudwatch.Metric(
        namespace=NAMESPACE,
        metric_name=name,
        dimensions_map={"service": SERVICE, **dimensions},
        statistic=statistic,
        period=PERIOD,
    )


def by_provider(name: str, statistic: str = "Sum") -> list[cloudwatch.IMetric]:
    return [service_metric(name, statistic, provider=p).with_(label=f"{p} {statistic}") for p in PROVIDERS]


class Observability(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        state_machines: dict[str, sfn.StateMachine],
        functions: list[lambda_.Function],
        dead_letter_queues: list[sqs.Queue],
        rest_api: apigw.RestApi,
    ) -> None:
        super().__init__(scope, construct_id)
        self.topic = self._build_topic()
        self.alarms = [
            *(self._execution_alarm(name, machine) for name, machine in state_machines.items()),
            *(
                self._alarm(f"{fn.node.id}Errors", fn.metric_errors(period=PERIOD), 5, f"Errors in {fn.node.id}")
                for fn in functions
            ),
            *(
                self._alarm(
                    f"{q.node.id}NotEmpty",
                    q.metric_approximate_number_of_messages_visible(period=PERIOD),
                    1,
                    "Messages arrived in a dead-letter queue",
                )
                for q in dead_letter_queues
            ),
            *self._api_alarms(rest_api),
            *(self._provider_error_alarm(p) for p in PROVIDERS),
        ]
        action = actions.SnsAction(self.topic)
        for alarm in self.alarms:
            alarm.add_alarm_action(action)
            alarm.add_ok_action(action)
        self.dashboard = self._build_dashboard(dead_letter_queues)

    def _build_topic(self) -> sns.Topic:
        key = kms.Key(self, "AlarmsKey", enable_key_rotation=True, description="swapflow alarm notifications")
        # CloudWatch publishes to an encrypted topic only with a customer managed key it may use.
        key.grant(iam.ServicePrincipal("cloudwatch.amazonaws.com"), "kms:Decrypt", "kms:GenerateDataKey*")
        topic = sns.Topic(self, "Alarms", display_name="swapflow alarms", master_key=key, enforce_ssl=True)
        email = CfnParameter(
            self,
            "AlarmEmail",
            type="String",
            default="",
            allowed_pattern=r"^$|^[^@\s]+@[^@\s]+$",
            description="E-mail address that gets every alarm (confirm the subscription mail); empty: none",
        )
        email.override_logical_id("AlarmEmail")  # `cdk deploy --parameters AlarmEmail=ops@example.com`
        subscribed = CfnCondition(self, "HasAlarmEmail", expression=Fn.condition_not(Fn.condition_equals(email, "")))
        subscription = sns.CfnSubscription(
            self, "AlarmEmailSubscription", protocol="email", topic_arn=topic.topic_arn, endpoint=email.value_as_string
        )
        subscription.cfn_options.condition = subscribed
        return topic

    def _alarm(
        self, construct_id: str, metric: cloudwatch.IMetric, threshold: float, description: str, periods: int = 1
    ) -> cloudwatch.Alarm:
        return cloudwatch.Alarm(
            self,
            construct_id,
            metric=metric,
            threshold=threshold,
            evaluation_periods=periods,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            alarm_description=description,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )

    def _execution_alarm(self, name: str, machine: sfn.StateMachine) -> cloudwatch.Alarm:
        ended_badly = cloudwatch.MathExpression(
            expression="failed + timedOut",
            using_metrics={
                "failed": machine.metric_failed(period=PERIOD),
                "timedOut": machine.metric_timed_out(period=PERIOD),
            },
            label=f"{name} executions failed or timed out",
            period=PERIOD,
        )
        return self._alarm(f"{name}ExecutionsFailed", ended_badly, 1, f"{name} executions failed or timed out")

    def _api_alarms(self, api: apigw.RestApi) -> list[cloudwatch.Alarm]:
        return [
            self._alarm("Api5xx", api.metric_server_error(period=PERIOD, statistic="Sum"), 5, "API answered 5xx"),
            self._alarm(
                "ApiLatency",
                api.metric_latency(period=PERIOD, statistic="p50"),
                API_P50_LATENCY_MS,
                f"API median latency at or over {API_P50_LATENCY_MS} ms for 15 minutes",
                periods=3,
            ),
        ]

    def _provider_error_alarm(self, provider: str) -> cloudwatch.Alarm:
        rate = cloudwatch.MathExpression(
            expression=f"IF(calls >= {MIN_PROVIDER_CALLS}, 100 * errors / calls, 0)",
            using_metrics={
                "calls": service_metric("ProviderCalls", provider=provider),
                "errors": service_metric("ProviderErrors", provider=provider),
            },
            label=f"{provider} error rate (%)",
            period=PERIOD,
        )
        return self._alarm(
            f"Provider{provider.title().replace('-', '')}ErrorRate",
            rate,
            PROVIDER_ERROR_RATE,
            f"{provider}: {PROVIDER_ERROR_RATE}% or more of its calls failed (busy, refused, unreachable)",
            periods=2,
        )

    def _build_dashboard(self, dead_letter_queues: list[sqs.Queue]) -> cloudwatch.Dashboard:
        def graph(title: str, metrics: list[cloudwatch.IMetric]) -> cloudwatch.GraphWidget:
            return cloudwatch.GraphWidget(title=title, left=metrics, width=8, height=6)

        webhooks = ["ClientWebhookDelivered", "ClientWebhookRetry", "ClientWebhookDeadLetter", "ClientWebhookGone"]
        dashboard = cloudwatch.Dashboard(self, "Dashboard", default_interval=Duration.hours(6))
        dashboard.add_widgets(
            graph("Jobs accepted by provider", by_provider("JobsAccepted")),
            graph("Jobs completed by provider", by_provider("JobsCompleted")),
            graph("Jobs failed by provider", by_provider("JobsFailed")),
        )
        dashboard.add_widgets(
            graph("Job time p50 / p95 (ms)", [*by_provider("JobTime", "p50"), *by_provider("JobTime", "p95")]),
            graph("Provider calls and errors", [*by_provider("ProviderCalls"), *by_provider("ProviderErrors")]),
            graph(
                "Webhooks: client deliveries, provider callbacks refused",
                [*(service_metric(name) for name in webhooks), service_metric("WebhooksRejected")],
            ),
        )
        dashboard.add_widgets(
            graph(
                "Dead-letter queue depths",
                [
                    q.metric_approximate_number_of_messages_visible(period=PERIOD, label=q.node.path)
                    for q in dead_letter_queues
                ],
            ),
            cloudwatch.AlarmStatusWidget(title="Alarms", alarms=self.alarms, width=16, height=6),
        )
        return dashboard
