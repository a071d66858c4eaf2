"""SQS queues with their attributes (FIFO, redrive)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from infra.local.deployer import Deployer


def sqs_queue(d: Deployer, logical_id: str, p: dict[str, Any]) -> None:
    fifo = bool(p.get("FifoQueue"))
    name = p.get("QueueName") or d.physical_name(logical_id, max_len=75 if fifo else 80)
    if fifo and not name.endswith(".fifo"):
        name += ".fifo"
    attributes: dict[str, str] = {}
    for key in (
        "VisibilityTimeout",
        "MessageRetentionPeriod",
        "DelaySeconds",
        "ReceiveMessageWaitTimeSeconds",
        "MaximumMessageSize",
        "FifoQueue",
        "ContentBasedDeduplication",
        "KmsMasterKeyId",
        "KmsDataKeyReusePeriodSeconds",
        "SqsManagedSseEnabled",
        "DeduplicationScope",
        "FifoThroughputLimit",
    ):
        if key in p:
            value = p[key]
            attributes[key] = ("true" if value else "false") if isinstance(value, bool) else str(value)
    for key in ("RedrivePolicy", "RedriveAllowPolicy"):
        if key in p:
            attributes[key] = json.dumps(p[key]) if not isinstance(p[key], str) else p[key]
    sqs = d.client("sqs")
    url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    d.set(logical_id, url, Arn=arn, QueueName=name, QueueUrl=url)
