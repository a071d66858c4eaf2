"""Canaries for what the client webhook delivery machine needs from moto 5.2.5 (no patch of its own).

* T1 scales `Wait` with `SecondsPath` too (it goes through the patched `WaitFunction._wait_interval`,
  whose source the main canaries hash), so the 3-day retry schedule shrinks with SWAPFLOW_TIME_SCALE;
* the `sqs:sendMessage` service integration puts the state (JSON) on the queue, as the DLQ step expects.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from infra.local import patches
from infra.local.patches import time_scaling
from tests.integration.local.helpers import wait_execution

SCALE = 0.01


@pytest.fixture(scope="module")
def aws() -> Iterator[Any]:
    import boto3
    from moto import mock_aws

    mp = pytest.MonkeyPatch()
    for name, value in {
        "AWS_ACCESS_KEY_ID": "t",
        "AWS_SECRET_ACCESS_KEY": "t",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        mp.setenv(name, value)
    previous = time_scaling.time_scale()
    patches.apply_all(time_scale=SCALE)
    mock = mock_aws(config={"stepfunctions": {"execute_state_machine": True}})
    mock.start()
    try:
        yield boto3.session.Session(region_name="us-east-1")
    finally:
        mock.stop()
        patches.apply_all(time_scale=previous)
        mp.undo()


def _run(session: Any, states: dict[str, Any], payload: dict[str, Any]) -> tuple[dict[str, Any], float]:
    sfn = session.client("stepfunctions")
    arn = sfn.create_state_machine(
        name=f"m-{uuid.uuid4().hex[:8]}",
        definition=json.dumps({"StartAt": next(iter(states)), "States": states}),
        roleArn="arn:aws:iam::123456789012:role/delivery",
    )["stateMachineArn"]
    started = time.monotonic()
    execution = sfn.start_execution(stateMachineArn=arn, name=uuid.uuid4().hex, input=json.dumps(payload))
    return wait_execution(sfn, execution["executionArn"]), time.monotonic() - started


def test_GIVEN_T1_WHEN_a_wait_reads_SecondsPath_THEN_it_is_scaled(aws: Any) -> None:
    states = {"Backoff": {"Type": "Wait", "SecondsPath": "$.delivery.wait", "End": True}}

    desc, took = _run(aws, states, {"delivery": {"wait": 100}})

    assert desc["status"] == "SUCCEEDED"
    assert 100 * SCALE * 0.9 <= took < 100 * SCALE + 2.5  # 1 s scaled; unscaled it would be 100 s


def test_GIVEN_sqs_send_message_integration_WHEN_the_body_is_the_state_THEN_the_queue_gets_it_as_json(
    aws: Any,
) -> None:
    sqs = aws.client("sqs")
    url = sqs.create_queue(QueueName=f"dlq-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    states = {
        "ToDeadLetters": {
            "Type": "Task",
            "Resource": "arn:aws:states:::sqs:sendMessage",
            "Parameters": {"QueueUrl": url, "MessageBody.$": "$"},
            "ResultPath": None,
            "Next": "Undelivered",
        },
        "Undelivered": {"Type": "Fail", "Error": "WebhookUndelivered", "Cause": "in the DLQ"},
    }
    state = {"event": {"detail-type": "Swap Job Failed"}, "delivery": {"error": "HTTP 500", "attempt": 3}}

    desc, _ = _run(aws, states, state)

    assert desc["status"] == "FAILED"
    (message,) = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=0)["Messages"]
    assert json.loads(message["Body"]) == state
