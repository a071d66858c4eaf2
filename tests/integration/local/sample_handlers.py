"""Handlers of the sample stack; the local Lambda runtime runs them in its execution environments.

They run in worker processes, so what they saw goes to ``records`` (files the test process reads), not to
module state the test could see.
"""

from __future__ import annotations

import base64
import json
import os
import time
from typing import Any

import boto3

from tests.integration.local import records


class FlakyError(Exception):
    pass


class FatalError(Exception):
    pass


def _json(status: int, body: Any, headers: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "statusCode": status,
        "headers": {"Content-Type": "application/json", **(headers or {})},
        "body": json.dumps(body),
    }


def api_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    path = event["path"]
    if path.endswith("/boom"):
        raise RuntimeError("boom")
    if path.endswith("/echo"):
        return {
            "statusCode": 201,
            "headers": {"Content-Type": event["headers"].get("content-type", "text/plain")},
            "multiValueHeaders": {"Set-Cookie": ["a=1", "b=2"]},
            "body": event["body"],
            "isBase64Encoded": event["isBase64Encoded"],
        }
    if path.endswith("/secret"):
        value = boto3.client("secretsmanager").get_secret_value(SecretId=os.environ["SECRET_ARN"])
        return _json(200, {"username": json.loads(value["SecretString"])["username"]})
    if path.endswith("/binary"):
        return {
            "statusCode": 200,
            "headers": {"Content-Type": "image/png"},
            "body": base64.b64encode(b"\x89PNG\r\n").decode(),
            "isBase64Encoded": True,
        }
    return _json(
        200,
        {
            "resource": event["resource"],
            "path": path,
            "method": event["httpMethod"],
            "query": event["queryStringParameters"],
            "multi_query": event["multiValueQueryStringParameters"],
            "params": event["pathParameters"],
            "stage": event["requestContext"]["stage"],
            "table": os.environ.get("TABLE_NAME"),
            "service": os.environ.get("POWERTOOLS_SERVICE_NAME"),
        },
    )


def s3_handler(event: dict[str, Any], context: Any) -> None:
    for record in event["Records"]:
        key = record["s3"]["object"]["key"]
        records.record("s3", key=key, bucket=record["s3"]["bucket"]["name"])
        boto3.client("dynamodb").put_item(
            TableName=os.environ["TABLE_NAME"], Item={"pk": {"S": f"s3#{key}"}, "sk": {"S": "upload"}}
        )


def token_handler(event: dict[str, Any], context: Any) -> None:
    token = event["token"]
    data = event["input"]
    attempt = event.get("attempt", 0)
    records.record("tokens", token=token, attempt=attempt, input=data)
    if data.get("hold"):
        return
    sfn = boto3.client("stepfunctions")
    if data.get("reject_first") and attempt == 0:
        sfn.send_task_failure(taskToken=token, error="TokenRejected", cause="first attempt is rejected")
        return
    sfn.send_task_success(taskToken=token, output=json.dumps({"ok": True, "attempt": attempt}))


def flaky_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    mode = event.get("mode")
    job_id = event.get("job_id", "?")
    if mode == "fatal":
        raise FatalError(f"job {job_id} cannot be done")
    records.record("flaky", job_id=job_id)  # a task's retries are sequential: the count is this attempt
    attempt = sum(1 for r in records.read("flaky") if r["job_id"] == job_id)
    if attempt <= int(event.get("fail_times", 0)):
        raise FlakyError(f"attempt {attempt} failed")
    return {"attempts": attempt}


def events_handler(event: dict[str, Any], context: Any) -> None:
    records.record("bus", **event)


def image_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return {
        "image": True,
        "function_name": context.function_name,
        "memory": context.memory_limit_in_mb,
        "pid": os.getpid(),
    }


def slow_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    time.sleep(float(event.get("sleep", 1.0)))
    records.record("slow", id=event.get("id", ""))
    return {"slept": True}
