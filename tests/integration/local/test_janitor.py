"""The local stack's janitor forgets finished executions (moto keeps them forever otherwise)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import boto3

from infra.local.patches import housekeeping
from tests.integration.local.helpers import embedded_aws


def test_given_finished_and_waiting_executions_when_swept_then_only_finished_ones_are_forgotten(
    tmp_path: Path,
) -> None:
    with embedded_aws(tmp_path):
        sfn = boto3.client("stepfunctions", region_name="us-east-1")
        role = "arn:aws:iam::123456789012:role/sfn"
        quick = sfn.create_state_machine(
            name="quick",
            roleArn=role,
            definition=json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}),
        )["stateMachineArn"]
        slow = sfn.create_state_machine(
            name="slow",
            roleArn=role,
            definition=json.dumps({"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 30, "End": True}}}),
        )["stateMachineArn"]
        sfn.start_execution(stateMachineArn=quick, name="done")
        sfn.start_execution(stateMachineArn=slow, name="waiting")
        deadline = time.monotonic() + 30
        while sfn.list_executions(stateMachineArn=quick)["executions"][0]["status"] == "RUNNING":
            assert time.monotonic() < deadline
            time.sleep(0.05)

        assert housekeeping.forget_finished_executions(3600) == 0
        assert housekeeping.forget_finished_executions(0) == 1

        assert sfn.list_executions(stateMachineArn=quick)["executions"] == []
        assert [e["name"] for e in sfn.list_executions(stateMachineArn=slow)["executions"]] == ["waiting"]
        sfn.stop_execution(executionArn=slow.replace(":stateMachine:", ":execution:") + ":waiting")
