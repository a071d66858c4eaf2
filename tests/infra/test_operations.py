"""Operations in the template: every alarm notifies the alarm topic, each failure path has an alarm, one
dashboard shows jobs, providers, webhooks and dead letters, functions are traced and re-read secrets."""

from __future__ import annotations

import json
from typing import Any

from swapflow.providers.registry import PROVIDER_NAMES

from infra.constructs.observability import PROVIDERS


def resources(tj: dict[str, Any], rtype: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in tj["Resources"].items() if v["Type"] == rtype}


def alarms(tj: dict[str, Any]) -> list[dict[str, Any]]:
    return [a["Properties"] for a in resources(tj, "AWS::CloudWatch::Alarm").values()]


def watched(alarm: dict[str, Any]) -> list[dict[str, Any]]:
    """The metrics an alarm reads: its own, or those of its metric math."""
    if "MetricName" in alarm:
        return [{k: alarm.get(k, []) for k in ("MetricName", "Namespace", "Dimensions")}]
    return [q["MetricStat"]["Metric"] for q in alarm.get("Metrics", []) if "MetricStat" in q]


def dimension(metric: dict[str, Any], name: str) -> Any:
    return next((d["Value"] for d in metric.get("Dimensions", []) if d["Name"] == name), None)


def topic_id(tj: dict[str, Any]) -> str:
    (topic,) = resources(tj, "AWS::SNS::Topic")
    return topic


def test_given_the_alarm_topic_then_it_is_encrypted_with_a_rotating_key_cloudwatch_may_use(synthesized) -> None:
    _, tj = synthesized
    topic = tj["Resources"][topic_id(tj)]["Properties"]
    key_id, attribute = topic["KmsMasterKeyId"]["Fn::GetAtt"]
    assert tj["Resources"][key_id]["Type"] == "AWS::KMS::Key" and attribute == "Arn"
    key = tj["Resources"][key_id]["Properties"]
    assert key["EnableKeyRotation"] is True
    principals = [s.get("Principal", {}).get("Service") for s in key["KeyPolicy"]["Statement"]]
    assert "cloudwatch.amazonaws.com" in principals


def test_given_the_alarm_email_parameter_then_it_subscribes_that_address_only_when_set(synthesized) -> None:
    _, tj = synthesized
    assert tj["Parameters"]["AlarmEmail"]["Default"] == ""
    (subscription,) = resources(tj, "AWS::SNS::Subscription").values()
    assert subscription["Properties"]["Protocol"] == "email"
    assert subscription["Properties"]["Endpoint"] == {"Ref": "AlarmEmail"}
    assert subscription["Properties"]["TopicArn"] == {"Ref": topic_id(tj)}
    condition = tj["Conditions"][subscription["Condition"]]
    assert condition == {"Fn::Not": [{"Fn::Equals": [{"Ref": "AlarmEmail"}, ""]}]}


def test_given_every_alarm_then_it_notifies_the_topic_when_raised_and_when_cleared(synthesized) -> None:
    _, tj = synthesized
    found = alarms(tj)
    assert len(found) >= 20
    for alarm in found:
        assert alarm["AlarmActions"] == [{"Ref": topic_id(tj)}], alarm["AlarmDescription"]
        assert alarm["OKActions"] == [{"Ref": topic_id(tj)}]


def test_given_each_state_machine_then_failed_or_timed_out_executions_raise_an_alarm(synthesized) -> None:
    _, tj = synthesized
    machines = set(resources(tj, "AWS::StepFunctions::StateMachine"))
    assert len(machines) == 4  # the job workflow, the batch and JSONL manifest runners, client-webhook delivery
    alarmed: set[str] = set()
    for alarm in alarms(tj):
        metrics = watched(alarm)
        if {m["MetricName"] for m in metrics} == {"ExecutionsFailed", "ExecutionsTimedOut"}:
            alarmed |= {dimension(m, "StateMachineArn")["Ref"] for m in metrics}
    assert alarmed == machines


def test_given_the_api_then_5xx_and_latency_raise_alarms(synthesized) -> None:
    _, tj = synthesized
    by_metric = {m["MetricName"]: a for a in alarms(tj) for m in watched(a) if m["Namespace"] == "AWS/ApiGateway"}
    assert by_metric["5XXError"]["Statistic"] == "Sum"
    assert by_metric["Latency"]["ExtendedStatistic"] == "p50" and by_metric["Latency"]["EvaluationPeriods"] == 3


def test_given_each_dead_letter_queue_then_a_message_raises_an_alarm(synthesized) -> None:
    _, tj = synthesized
    queues = [
        dimension(m, "QueueName")
        for a in alarms(tj)
        for m in watched(a)
        if m["MetricName"] == "ApproximateNumberOfMessagesVisible"
    ]
    assert len(queues) == 3  # engine invocations, undelivered client webhooks, rejected Swap Requested


def test_given_each_provider_then_its_error_rate_raises_an_alarm(synthesized) -> None:
    _, tj = synthesized
    assert set(PROVIDERS) == set(PROVIDER_NAMES)
    rates = {}
    for alarm in alarms(tj):
        metrics = {m["MetricName"]: m for m in watched(alarm)}
        if set(metrics) == {"ProviderCalls", "ProviderErrors"}:
            rates[dimension(metrics["ProviderErrors"], "provider")] = alarm
            assert all(m["Namespace"] == "Swapflow" for m in metrics.values())
    assert set(rates) == set(PROVIDER_NAMES)
    expression = next(q["Expression"] for q in rates["akool"]["Metrics"] if "Expression" in q)
    assert "errors / calls" in expression


def dashboard_body(tj: dict[str, Any]) -> dict[str, Any]:
    (dashboard,) = resources(tj, "AWS::CloudWatch::Dashboard").values()
    parts = dashboard["Properties"]["DashboardBody"]["Fn::Join"][1]
    return dict(json.loads("".join(p if isinstance(p, str) else "TOKEN" for p in parts)))  # tokens sit in strings


def line_dimensions(line: list[Any]) -> dict[str, str]:
    """A dashboard metric line is [namespace, name, dim, value, dim, value, ..., {options}]."""
    return dict(zip(line[2:-1:2], line[3:-1:2], strict=True))


def test_given_the_dashboard_then_it_shows_jobs_and_provider_errors_by_provider_webhooks_and_dead_letters(
    synthesized,
) -> None:
    _, tj = synthesized
    widgets = {w["properties"].get("title"): w["properties"] for w in dashboard_body(tj)["widgets"]}
    for title, metric in [
        ("Jobs accepted by provider", "JobsAccepted"),
        ("Jobs completed by provider", "JobsCompleted"),
        ("Jobs failed by provider", "JobsFailed"),
    ]:
        lines = widgets[title]["metrics"]
        assert {(line[1], line_dimensions(line)["provider"]) for line in lines} == {(metric, p) for p in PROVIDER_NAMES}
    job_time = widgets["Job time p50 / p95 (ms)"]["metrics"]
    assert {line[-1]["stat"] for line in job_time} == {"p50", "p95"}
    assert {line[1] for line in widgets["Provider calls and errors"]["metrics"]} == {"ProviderCalls", "ProviderErrors"}
    webhooks = {line[1] for line in widgets["Webhooks: client deliveries, provider callbacks refused"]["metrics"]}
    assert {"ClientWebhookDelivered", "ClientWebhookDeadLetter", "WebhooksRejected"} <= webhooks
    assert len(widgets["Dead-letter queue depths"]["metrics"]) == 3
    assert len(widgets["Alarms"]["alarms"]) == len(alarms(tj))


def test_given_the_functions_then_each_is_traced_and_re_reads_provider_secrets_within_five_minutes(
    synthesized,
) -> None:
    _, tj = synthesized
    for name, fn in resources(tj, "AWS::Lambda::Function").items():
        props = fn["Properties"]
        if not props.get("Handler", "").startswith("swapflow.handlers."):
            continue
        assert props["TracingConfig"] == {"Mode": "Active"}, name
        assert props["Environment"]["Variables"]["SWAPFLOW_SECRET_MAX_AGE_SECONDS"] == "300", name
