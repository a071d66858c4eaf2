"""CloudWatch log groups and alarms, SNS topics."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from infra.local.deployer import Deployer

LOG = logging.getLogger(__name__)


def log_group(d: Deployer, logical_id: str, p: dict[str, Any]) -> None:
    name = p.get("LogGroupName") or d.physical_name(logical_id, max_len=512)
    logs = d.client("logs")
    logs.create_log_group(logGroupName=name)
    if p.get("RetentionInDays"):
        logs.put_retention_policy(logGroupName=name, retentionInDays=int(p["RetentionInDays"]))
    d.set(logical_id, name, Arn=f"arn:aws:logs:{d.region}:{d.account}:log-group:{name}:*")


def sns_topic(d: Deployer, logical_id: str, p: dict[str, Any]) -> None:
    name = p.get("TopicName") or d.physical_name(logical_id, max_len=256)
    arn = d.client("sns").create_topic(Name=name)["TopicArn"]
    d.set(logical_id, arn, TopicArn=arn, TopicName=name)


def cloudwatch_alarm(d: Deployer, logical_id: str, p: dict[str, Any]) -> None:
    name = p.get("AlarmName") or d.physical_name(logical_id, max_len=255)
    arn = f"arn:aws:cloudwatch:{d.region}:{d.account}:alarm:{name}"
    keys = (
        "AlarmDescription",
        "MetricName",
        "Namespace",
        "Statistic",
        "ExtendedStatistic",
        "Dimensions",
        "Period",
        "Unit",
        "EvaluationPeriods",
        "DatapointsToAlarm",
        "Threshold",
        "ComparisonOperator",
        "TreatMissingData",
        "Metrics",
        "ActionsEnabled",
        "AlarmActions",
        "OKActions",
        "InsufficientDataActions",
    )
    kwargs = {k: p[k] for k in keys if k in p}
    try:
        d.client("cloudwatch").put_metric_alarm(AlarmName=name, **kwargs)
    except Exception as exc:
        LOG.info("alarm %s not created locally: %s", logical_id, exc)
    d.set(logical_id, name, Arn=arn)
