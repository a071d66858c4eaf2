"""The Step Functions adapter: start a job's execution, complete a waiting step."""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import ClientError

_TOKEN_GONE = {"TaskTimedOut", "InvalidToken", "TaskDoesNotExist"}


class StepFunctionsWorkflow:
    def __init__(self, client: Any, state_machine_arn: str) -> None:
        self.client = client
        self.state_machine_arn = state_machine_arn

    def start(self, job_id: str, payload: dict[str, Any]) -> None:
        """Execution name = job id, so a duplicate start is harmless."""
        try:
            self.client.start_execution(stateMachineArn=self.state_machine_arn, name=job_id, input=json.dumps(payload))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ExecutionAlreadyExists":
                raise

    def send_success(self, token: str, output: dict[str, Any]) -> bool:
        try:
            self.client.send_task_success(taskToken=token, output=json.dumps(output))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in _TOKEN_GONE:
                return False
            raise
        return True

    def send_failure(self, token: str, error: str, cause: str) -> bool:
        try:
            self.client.send_task_failure(taskToken=token, error=error, cause=cause[:32768])
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in _TOKEN_GONE:
                return False
            raise
        return True

    def stop(self, job_id: str, cause: str) -> None:
        """StopExecution of the execution named after the job; one that never started or already ended is fine."""
        arn = self.state_machine_arn.replace(":stateMachine:", ":execution:") + f":{job_id}"
        try:
            self.client.stop_execution(executionArn=arn, error="JobCancelled", cause=cause)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ExecutionDoesNotExist":
                raise


class StepFunctionsWebhookRetries:
    """Starts the client-webhook delivery machine for an event whose first attempt asked for a retry.

    Execution name = the EventBridge event id: a retried invocation starting it again is harmless.
    """

    def __init__(self, client: Any, state_machine_arn: str) -> None:
        self.client = client
        self.state_machine_arn = state_machine_arn

    def start(self, event: Any, result: Any, owner: str) -> None:
        payload = {
            "event": {"id": event.event_id, "detail-type": event.detail_type, "detail": event.detail},
            "delivery": result.to_dict(),
            "owner": owner,
        }
        try:
            self.client.start_execution(
                stateMachineArn=self.state_machine_arn, name=event.event_id, input=json.dumps(payload, default=str)
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ExecutionAlreadyExists":
                raise
