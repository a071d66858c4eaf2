"""The sample CDK stack deployed into patched moto behaves end to end like AWS."""

from __future__ import annotations

import json
import os
import time
import urllib.request
import uuid
from typing import Any
from urllib.parse import quote_plus

import pytest
from botocore.exceptions import ClientError

from infra.local.patches import lambda_runtime
from tests.integration.local import records
from tests.integration.local.helpers import wait_execution, wait_for


def _start(local_sample: Any, payload: dict[str, Any], name: str | None = None) -> str:
    sfn = local_sample.client("stepfunctions")
    kwargs: dict[str, Any] = {
        "stateMachineArn": local_sample.outputs["MachineArn"],
        "input": json.dumps(payload),
    }
    if name:
        kwargs["name"] = name
    return str(sfn.start_execution(**kwargs)["executionArn"])


# ------------------------------------------------------------------------------ deployment


def test_GIVEN_sample_stack_WHEN_deployed_THEN_resources_have_their_template_attributes(
    local_sample: Any,
) -> None:
    out = local_sample.outputs
    ddb = local_sample.client("dynamodb")
    table = ddb.describe_table(TableName=out["TableName"])["Table"]
    assert [k["AttributeName"] for k in table["KeySchema"]] == ["pk", "sk"]
    assert table["GlobalSecondaryIndexes"][0]["IndexName"] == "by-status"
    assert table["StreamSpecification"]["StreamViewType"] == "NEW_AND_OLD_IMAGES"
    ttl = ddb.describe_time_to_live(TableName=out["TableName"])["TimeToLiveDescription"]
    assert ttl == {"TimeToLiveStatus": "ENABLED", "AttributeName": "expires_at"}

    s3 = local_sample.client("s3")
    assert s3.get_bucket_versioning(Bucket=out["BucketName"])["Status"] == "Enabled"
    rules = s3.get_bucket_encryption(Bucket=out["BucketName"])["ServerSideEncryptionConfiguration"]["Rules"]
    assert rules[0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    assert s3.get_public_access_block(Bucket=out["BucketName"])["PublicAccessBlockConfiguration"]["BlockPublicAcls"]

    secret = json.loads(
        local_sample.client("secretsmanager").get_secret_value(SecretId=out["SecretArn"])["SecretString"]
    )
    assert secret["username"] == "swap" and len(secret["password"]) == 24 and secret["password"].isalnum()

    attrs = local_sample.client("sqs").get_queue_attributes(QueueUrl=out["QueueUrl"], AttributeNames=["All"])
    assert json.loads(attrs["Attributes"]["RedrivePolicy"])["maxReceiveCount"] == 3
    assert local_sample.client("ssm").get_parameter(Name="/sample/greeting")["Parameter"]["Value"] == "hello"

    dep = local_sample.deployment
    assert dep.function_env["TABLE_NAME"] == out["TableName"]
    assert "POWERTOOLS_SERVICE_NAME" not in dep.function_env
    assert out["ApiUrl"].startswith("https://") and out["ApiUrl"].endswith(".execute-api.us-east-1.amazonaws.com/prod/")
    assert all(not name.startswith("BucketNotificationsHandler") for name in dep.functions)
    assert any(t == "AWS::Lambda::Permission" for t in (dep.types[k] for k in dep.skipped))


# ------------------------------------------------------------------------------ Lambda / P1


def test_GIVEN_image_function_WHEN_invoked_THEN_its_command_runs_in_an_environment_with_a_lambda_context(
    local_sample: Any,
) -> None:
    lam = local_sample.client("lambda")
    resp = lam.invoke(FunctionName=local_sample.outputs["ImageFnName"], Payload=b"{}")
    assert resp["StatusCode"] == 200 and "FunctionError" not in resp
    answer = json.loads(resp["Payload"].read())
    assert answer == {
        "image": True,
        "function_name": local_sample.outputs["ImageFnName"],
        "memory": 1024,
        "pid": answer["pid"],
    }
    assert answer["pid"] != os.getpid()  # an execution environment of its own, not the caller's process


def test_GIVEN_handler_raising_WHEN_invoked_THEN_error_surfaces_as_unhandled_like_aws(
    local_sample: Any,
) -> None:
    lam = local_sample.client("lambda")
    name = local_sample.deployment.functions[
        next(k for k in local_sample.deployment.functions if k.startswith("FlakyFn"))
    ]
    resp = lam.invoke(FunctionName=name, Payload=json.dumps({"mode": "fatal", "job_id": "x"}).encode())
    assert resp["StatusCode"] == 200
    assert resp["FunctionError"] == "Unhandled"
    error = json.loads(resp["Payload"].read())
    assert error["errorType"] == "FatalError"
    assert error["errorMessage"] == "job x cannot be done"
    assert isinstance(error["stackTrace"], list) and "flaky_handler" in "".join(error["stackTrace"])


def test_GIVEN_slow_function_WHEN_invoked_with_event_type_THEN_202_returns_at_once_and_handler_runs_later(
    local_sample: Any,
) -> None:
    lam = local_sample.client("lambda")
    name = local_sample.deployment.functions[
        next(k for k in local_sample.deployment.functions if k.startswith("SlowFn"))
    ]
    marker = uuid.uuid4().hex
    started = time.monotonic()
    resp = lam.invoke(
        FunctionName=name, InvocationType="Event", Payload=json.dumps({"sleep": 2.0, "id": marker}).encode()
    )
    elapsed = time.monotonic() - started

    def done() -> list[str]:
        return [r["id"] for r in records.read("slow")]

    assert resp["StatusCode"] == 202
    assert elapsed < 2.0 and marker not in done()  # answered before the handler could have finished
    assert lambda_runtime.wait_async_idle(30)
    assert marker in done()


# ------------------------------------------------------------------------------ S3 notifications


def test_GIVEN_bucket_notification_WHEN_object_put_THEN_lambda_gets_quote_plus_encoded_key_asynchronously(
    local_sample: Any,
) -> None:
    key = f"uploads/my photo+{uuid.uuid4().hex[:6]}.jpg"
    local_sample.client("s3").put_object(Bucket=local_sample.outputs["BucketName"], Key=key, Body=b"x")
    event = wait_for(lambda: next((e for e in records.read("s3") if e["key"] == quote_plus(key)), None))
    assert event["bucket"] == local_sample.outputs["BucketName"]
    assert event["key"] != key  # encoded, as in AWS ("+" for spaces, "%2B" for "+")
    assert lambda_runtime.wait_async_idle(30)
    item = local_sample.client("dynamodb").get_item(
        TableName=local_sample.outputs["TableName"],
        Key={"pk": {"S": f"s3#{quote_plus(key)}"}, "sk": {"S": "upload"}},
    )
    assert "Item" in item


def test_GIVEN_bucket_notification_with_prefix_WHEN_other_key_put_THEN_lambda_not_invoked(
    local_sample: Any,
) -> None:
    key = f"other/{uuid.uuid4().hex}.jpg"
    local_sample.client("s3").put_object(Bucket=local_sample.outputs["BucketName"], Key=key, Body=b"x")
    lambda_runtime.wait_async_idle(30)
    assert all(e["key"] != quote_plus(key) for e in records.read("s3"))


# ------------------------------------------------------------------------------ gateway


def test_GIVEN_rest_api_WHEN_get_through_gateway_THEN_proxy_event_and_response_round_trip(
    local_sample: Any,
) -> None:
    status, headers, body = local_sample.gateway.handle(
        "GET", "/prod/items/42", {"Accept": "application/json", "Host": "localhost:8000"}, "x=1&x=2&y=3", None
    )
    assert status == 200, body
    assert headers["Content-Type"] == "application/json"
    doc = json.loads(body)
    assert doc["resource"] == "/{proxy+}"
    assert doc["path"] == "/items/42"
    assert doc["params"] == {"proxy": "items/42"}
    assert doc["query"] == {"x": "2", "y": "3"}
    assert doc["multi_query"] == {"x": ["1", "2"], "y": ["3"]}
    assert doc["stage"] == "prod"
    assert doc["table"] == local_sample.outputs["TableName"]


def test_GIVEN_rest_api_WHEN_root_requested_THEN_root_any_method_answers(local_sample: Any) -> None:
    status, _, body = local_sample.gateway.handle("GET", "/", {}, None, None)
    assert status == 200
    assert json.loads(body)["resource"] == "/"


def test_GIVEN_binary_body_WHEN_posted_THEN_it_travels_base64_and_comes_back_identical(
    local_sample: Any,
) -> None:
    payload = bytes(range(256))
    status, headers, body = local_sample.gateway.handle("POST", "/echo", {"content-type": "image/png"}, None, payload)
    assert status == 201
    assert body == payload
    assert headers.multi["Set-Cookie"] == ["a=1", "b=2"]


def test_GIVEN_text_body_WHEN_posted_THEN_it_arrives_as_text(local_sample: Any) -> None:
    status, _, body = local_sample.gateway.handle(
        "POST", "/echo", {"content-type": "application/json"}, None, '{"a": 1}'
    )
    assert status == 201 and json.loads(body) == {"a": 1}


def test_GIVEN_handler_raising_WHEN_requested_THEN_gateway_answers_502(local_sample: Any) -> None:
    status, _, body = local_sample.gateway.handle("GET", "/boom", {}, None, None)
    assert status == 502
    assert json.loads(body) == {"message": "Internal server error"}


def test_GIVEN_cors_preflight_WHEN_options_THEN_mock_integration_headers(local_sample: Any) -> None:
    status, headers, body = local_sample.gateway.handle("OPTIONS", "/items/1", {"Origin": "http://x"}, None, None)
    assert status == 204 and body == b""
    assert headers["Access-Control-Allow-Origin"] == "*"
    assert "POST" in headers["Access-Control-Allow-Methods"]


def test_GIVEN_handler_reading_the_secret_WHEN_requested_THEN_shared_environment_reaches_it(
    local_sample: Any,
) -> None:
    status, _, body = local_sample.gateway.handle("GET", "/secret", {}, None, None)
    assert status == 200 and json.loads(body) == {"username": "swap"}


def test_GIVEN_served_gateway_WHEN_http_request_THEN_same_answer_over_a_socket(local_sample: Any) -> None:
    server = local_sample.gateway.serve(port=0)
    try:
        port = server.server_address[1]
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/prod/items/7?z=1", timeout=10) as resp:
            assert resp.status == 200
            assert json.loads(resp.read())["params"] == {"proxy": "items/7"}
        req = urllib.request.Request(f"http://127.0.0.1:{port}/binary")
        with urllib.request.urlopen(req, timeout=10) as resp:
            assert resp.headers["Content-Type"] == "image/png"
            assert resp.read() == b"\x89PNG\r\n"
    finally:
        server.shutdown()
        server.server_close()


# ------------------------------------------------------------------------------ Step Functions


def test_GIVEN_state_machine_WHEN_started_THEN_token_retry_wait_dynamodb_and_events_all_work(
    local_sample: Any,
) -> None:
    job_id = f"job-{uuid.uuid4().hex[:8]}"
    arn = _start(local_sample, {"job_id": job_id, "fail_times": 2})
    desc = wait_execution(local_sample.client("stepfunctions"), arn)
    assert desc["status"] == "SUCCEEDED", desc
    output = json.loads(desc["output"])
    assert output["token_result"] == {"ok": True, "attempt": 0}
    # Retry on the custom error class name: two FlakyErrors, then success on attempt 3.
    assert output["flaky"] == {"attempts": 3}
    assert sum(1 for r in records.read("flaky") if r["job_id"] == job_id) == 3
    # dynamodb:updateItem integration
    item = local_sample.client("dynamodb").get_item(
        TableName=local_sample.outputs["TableName"], Key={"pk": {"S": job_id}, "sk": {"S": "state"}}
    )["Item"]
    assert item["status"] == {"S": "DONE"}
    # events:putEvents -> rule -> SQS and -> Lambda
    sqs = local_sample.client("sqs")

    def queued() -> dict[str, Any] | None:
        msgs = sqs.receive_message(QueueUrl=local_sample.outputs["QueueUrl"], MaxNumberOfMessages=10).get(
            "Messages", []
        )
        for m in msgs:
            body = json.loads(m["Body"])
            if body.get("detail", {}).get("job_id") == job_id:
                return dict(body)
        return None

    message = wait_for(queued)
    assert message["detail-type"] == "JobDone" and message["source"] == "sample.local"
    event = wait_for(lambda: next((e for e in records.read("bus") if e["detail"].get("job_id") == job_id), None))
    assert event["detail-type"] == "JobDone"
    assert event["account"] == "123456789012"
    assert isinstance(event["time"], str) and event["time"].endswith("Z")
    history = local_sample.client("stepfunctions").get_execution_history(executionArn=arn)["events"]
    assert sum(1 for e in history if e["type"] == "LambdaFunctionFailed" or e["type"] == "TaskFailed") >= 2


def test_GIVEN_fatal_error_WHEN_task_fails_THEN_catch_routes_to_recovery(local_sample: Any) -> None:
    arn = _start(local_sample, {"job_id": f"job-{uuid.uuid4().hex[:8]}", "mode": "fatal"})
    desc = wait_execution(local_sample.client("stepfunctions"), arn)
    assert desc["status"] == "SUCCEEDED", desc
    output = json.loads(desc["output"])
    assert output["recovered"] == {"recovered": True}
    assert output["error"]["Error"] == "FatalError"
    assert json.loads(output["error"]["Cause"])["errorType"] == "FatalError"


def test_GIVEN_token_task_rejected_once_WHEN_retried_THEN_second_attempt_gets_a_fresh_token(
    local_sample: Any,
) -> None:
    job_id = f"job-{uuid.uuid4().hex[:8]}"
    arn = _start(local_sample, {"job_id": job_id, "reject_first": True})
    desc = wait_execution(local_sample.client("stepfunctions"), arn)
    assert desc["status"] == "SUCCEEDED", desc
    tokens = records.tokens_for(job_id)
    assert [t["attempt"] for t in tokens] == [0, 1]
    assert tokens[0]["token"] != tokens[1]["token"]
    assert json.loads(desc["output"])["token_result"] == {"ok": True, "attempt": 1}


def test_GIVEN_token_wait_WHEN_execution_stopped_THEN_aborted_at_once_and_stays_aborted(
    local_sample: Any,
) -> None:
    sfn = local_sample.client("stepfunctions")
    job_id = f"job-{uuid.uuid4().hex[:8]}"
    arn = _start(local_sample, {"job_id": job_id, "hold": True})
    wait_for(lambda: records.tokens_for(job_id))
    stopped = sfn.stop_execution(executionArn=arn, error="Cancelled", cause="by test")
    assert stopped["stopDate"] is not None
    assert sfn.describe_execution(executionArn=arn)["status"] == "ABORTED"
    time.sleep(0.3)
    assert sfn.describe_execution(executionArn=arn)["status"] == "ABORTED"
    # the token is closed now
    with pytest.raises(ClientError) as err:
        sfn.send_task_success(taskToken=records.tokens_for(job_id)[0]["token"], output="{}")
    assert err.value.response["Error"]["Code"] == "TaskTimedOut"


def test_GIVEN_map_of_token_tasks_WHEN_execution_stopped_THEN_aborted(local_sample: Any) -> None:
    sfn = local_sample.client("stepfunctions")
    job_id = f"job-{uuid.uuid4().hex[:8]}"
    items = [{"job_id": job_id, "hold": True, "timeout_s": 600, "i": i} for i in range(4)]
    arn = _start(local_sample, {"mode": "map", "items": items})
    wait_for(lambda: len(records.tokens_for(job_id)) >= 2)
    sfn.stop_execution(executionArn=arn)
    assert sfn.describe_execution(executionArn=arn)["status"] == "ABORTED"
    time.sleep(0.3)
    assert sfn.describe_execution(executionArn=arn)["status"] == "ABORTED"
    assert len(records.tokens_for(job_id)) == 2  # MaxConcurrency 2: the other items never started


def test_GIVEN_token_never_returned_WHEN_timeout_expires_THEN_states_timeout_and_late_callback_is_rejected(
    local_sample: Any,
) -> None:
    sfn = local_sample.client("stepfunctions")
    job_id = f"job-{uuid.uuid4().hex[:8]}"
    started = time.monotonic()
    arn = _start(local_sample, {"job_id": job_id, "hold": True})
    desc = wait_execution(sfn, arn)
    # TimeoutSeconds 60 at time_scale 0.05 -> 3 s
    assert time.monotonic() - started < 60
    assert desc["status"] == "FAILED" and desc["error"] == "States.Timeout"
    token = records.tokens_for(job_id)[0]["token"]
    for call in (
        lambda: sfn.send_task_success(taskToken=token, output="{}"),
        lambda: sfn.send_task_failure(taskToken=token, error="E"),
        lambda: sfn.send_task_heartbeat(taskToken=token),
    ):
        with pytest.raises(ClientError) as err:
            call()
        assert err.value.response["Error"]["Code"] == "TaskTimedOut"


def test_GIVEN_unknown_token_WHEN_callback_sent_THEN_invalid_token(local_sample: Any) -> None:
    with pytest.raises(ClientError) as err:
        local_sample.client("stepfunctions").send_task_success(taskToken="not-a-token", output="{}")
    assert err.value.response["Error"]["Code"] == "InvalidToken"


def test_GIVEN_no_name_WHEN_execution_started_THEN_a_uuid_name_is_generated(local_sample: Any) -> None:
    sfn = local_sample.client("stepfunctions")
    arn = _start(local_sample, {"job_id": f"job-{uuid.uuid4().hex[:8]}"})
    name = arn.rsplit(":", 1)[1]
    assert str(uuid.UUID(name)) == name
    assert wait_execution(sfn, arn)["status"] == "SUCCEEDED"


def test_GIVEN_same_name_and_input_WHEN_started_twice_THEN_idempotent(local_sample: Any) -> None:
    payload = {"job_id": f"job-{uuid.uuid4().hex[:8]}"}
    first = _start(local_sample, payload, name="same-name-" + payload["job_id"])
    second = _start(local_sample, payload, name="same-name-" + payload["job_id"])
    assert first == second
    wait_execution(local_sample.client("stepfunctions"), first)


# ------------------------------------------------------------------------------ EventBridge -> state machine


def test_GIVEN_rule_targeting_state_machine_WHEN_event_put_THEN_execution_starts_with_input_path(
    local_sample: Any,
) -> None:
    job_id = f"job-{uuid.uuid4().hex[:8]}"
    resp = local_sample.client("events").put_events(
        Entries=[
            {
                "EventBusName": "sample-bus",
                "Source": "sample.local",
                "DetailType": "StartJob",
                "Detail": json.dumps({"job_id": job_id}),
            }
        ]
    )
    assert resp["FailedEntryCount"] == 0
    sfn = local_sample.client("stepfunctions")

    def started() -> str | None:
        for ex in sfn.list_executions(stateMachineArn=local_sample.outputs["MachineArn"])["executions"]:
            desc = sfn.describe_execution(executionArn=ex["executionArn"])
            if json.loads(desc["input"]) == {"job_id": job_id}:
                return str(ex["executionArn"])
        return None

    arn = wait_for(started)
    assert wait_execution(sfn, arn)["status"] == "SUCCEEDED"
