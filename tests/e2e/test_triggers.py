"""Jobs that do not come one by one from the API: S3 manifests, Swap Requested events and batches.

Each entry point as a user drives it on the local stack: objects put with the AWS CLI's calls, events
put on the bus, HTTP requests; what they see is the outbox, the events on the bus, the DLQ and the API.
"""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus

import jsonschema
import pytest

from infra.local.client import data_uri

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "images"
SCHEMAS = ROOT / "schemas" / "events"


def wait_for(check: Any, timeout: float = 60.0, interval: float = 0.3) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up after {timeout} s")
        time.sleep(interval)


def bus_events(stack: Any, detail_type: str) -> list[dict[str, Any]]:
    """Everything the stack emitted of one detail-type (the bus's audit log)."""
    logs = stack.boto("logs")
    found = []
    for page in logs.get_paginator("filter_log_events").paginate(logGroupName="/aws/events/swapflow"):
        for record in page.get("events", []):
            event = json.loads(record["message"])
            if event.get("detail-type") == detail_type:
                found.append(event)
    return found


def assert_schema(event: dict[str, Any]) -> None:
    name = event["detail-type"].lower().replace(" ", "-") + ".json"
    jsonschema.Draft202012Validator(json.loads((SCHEMAS / name).read_text())).validate(event["detail"])


def get_json(stack: Any, key: str) -> dict[str, Any] | None:
    try:
        body = stack.boto("s3").get_object(Bucket=stack.summary["input_bucket"], Key=key)["Body"].read()
    except Exception:
        return None
    return dict(json.loads(body))


def put(stack: Any, key: str, body: bytes) -> dict[str, Any]:
    return dict(stack.boto("s3").put_object(Bucket=stack.summary["input_bucket"], Key=key, Body=body))


def executions(stack: Any, machine: str) -> list[str]:
    sfn = stack.boto("stepfunctions")
    names = []
    for page in sfn.get_paginator("list_executions").paginate(stateMachineArn=stack.summary[machine]):
        names.extend(e["name"] for e in page["executions"])
    return names


def test_GIVEN_a_manifest_in_the_inbox_WHEN_put_and_delivered_twice_THEN_outputs_and_result_land_in_the_outbox_once(
    stack,
) -> None:
    folder = f"e2e-{uuid.uuid4().hex[:8]}"
    bucket = stack.summary["input_bucket"]
    put(stack, f"inbox/{folder}/photos/source.jpg", (FIXTURES / "source.jpg").read_bytes())
    put(stack, f"inbox/{folder}/photos/target.jpg", (FIXTURES / "target.jpg").read_bytes())
    manifest = {
        "defaults": {"source_image": "photos/source.jpg", "metadata": {"shoot": folder}},
        "jobs": [
            {"target_image": "photos/target.jpg"},
            {"target_image": f"s3://{bucket}/inbox/{folder}/photos/target.jpg", "output_format": "png"},
        ],
    }
    key = f"inbox/{folder}/day 1.json"  # a space: S3 events carry the key URL-encoded
    put_result = put(stack, key, json.dumps(manifest).encode())

    result = wait_for(
        lambda: (doc := get_json(stack, f"outbox/{folder}/day 1.result.json")) and doc["status"] == "completed" and doc
    )

    assert result["manifest"]["key"] == key and result["counts"]["completed"] == 2
    first, second = result["jobs"]
    assert (first["index"], first["status"], second["status"]) == (0, "completed", "completed")
    assert first["outputs"][0]["key"] == f"outbox/{folder}/day 1/{first['id']}.jpg"
    assert second["outputs"][0]["key"] == f"outbox/{folder}/day 1/{second['id']}.png"
    output = stack.boto("s3").get_object(Bucket=bucket, Key=first["outputs"][0]["key"])["Body"].read()
    assert len(output) == first["outputs"][0]["bytes"]
    job = stack.client().request("GET", f"/v1/jobs/{first['id']}")[2]  # the local tenant's key sees them
    assert job["status"] == "completed" and job["batch_id"] == result["batch_id"]
    assert job["metadata"] == {"shoot": folder}
    (done,) = wait_for(
        lambda: [
            e for e in bus_events(stack, "Swap Batch Completed") if e["detail"]["batch"]["id"] == result["batch_id"]
        ]
    )
    assert_schema(done)
    assert done["detail"]["result"] == {"bucket": bucket, "key": f"outbox/{folder}/day 1.result.json"}

    # S3 delivers at least once: the same object event again starts nothing new.
    trigger = next(f for f in stack.boto("lambda").list_functions()["Functions"] if "S3TriggerFn" in f["FunctionName"])
    record = {
        "eventTime": "2030-01-01T00:00:00.000Z",
        "s3": {
            "bucket": {"name": bucket},
            # as S3 sends it (moto leaves out versionId; AWS sends it for versioned buckets, and then it is used)
            "object": {"key": quote_plus(key), "eTag": put_result["ETag"].strip('"'), "size": 1},
        },
    }
    answer = stack.boto("lambda").invoke(
        FunctionName=trigger["FunctionName"], Payload=json.dumps({"Records": [record]})
    )
    assert json.loads(answer["Payload"].read()) == {"batches": [result["batch_id"]]}
    time.sleep(1.0)
    assert executions(stack, "batch_state_machine").count(result["batch_id"]) == 1
    jobs = executions(stack, "state_machine")
    assert jobs.count(first["id"]) == 1 and jobs.count(second["id"]) == 1
    assert get_json(stack, f"outbox/{folder}/day 1.result.json") == result
    time.sleep(0.5)
    assert (
        len(
            [
                e
                for e in bus_events(stack, "Swap Batch Completed")
                if e["detail"]["batch"]["id"] == done["detail"]["batch"]["id"]
            ]
        )
        == 1
    )


def test_GIVEN_an_invalid_manifest_WHEN_put_THEN_error_json_names_each_problem_and_no_job_starts(stack) -> None:
    folder = f"e2e-{uuid.uuid4().hex[:8]}"
    manifest = {"jobs": [{"source_image": "missing.jpg", "target_image": "missing.jpg"}, {"output_format": "gif"}]}
    batches_before = len(executions(stack, "batch_state_machine"))

    put(stack, f"inbox/{folder}/bad.json", json.dumps(manifest).encode())
    put(stack, f"inbox/{folder}/broken.json", b"{not json")

    bad = wait_for(lambda: get_json(stack, f"outbox/{folder}/bad.error.json"))
    assert bad["manifest"]["key"] == f"inbox/{folder}/bad.json"
    paths = [e["path"] for e in bad["errors"]]
    # each job's first problem: job 1 lacks its target image (before its unknown output format counts)
    assert paths == ["jobs[0].source_image", "jobs[0].target_image", "jobs[1].target_image"]
    assert "no such object" in bad["errors"][0]["message"]
    broken = wait_for(lambda: get_json(stack, f"outbox/{folder}/broken.error.json"))
    assert "not valid JSON" in broken["errors"][0]["message"]
    assert get_json(stack, f"outbox/{folder}/bad.result.json") is None
    assert len(executions(stack, "batch_state_machine")) == batches_before


def put_swap_request(stack: Any, detail: dict[str, Any], source: str = "e2e.orders") -> None:
    answer = stack.boto("events").put_events(
        Entries=[
            {"EventBusName": "swapflow", "Source": source, "DetailType": "Swap Requested", "Detail": json.dumps(detail)}
        ]
    )
    assert answer["FailedEntryCount"] == 0


def test_GIVEN_a_swap_requested_event_sent_twice_WHEN_put_THEN_one_job_and_its_event_carries_the_correlation_id(
    stack,
) -> None:
    correlation_id = f"order-{uuid.uuid4().hex[:8]}"
    detail = {
        "correlation_id": correlation_id,
        "source_image": data_uri(FIXTURES / "source.jpg"),
        "target_image": data_uri(FIXTURES / "target.jpg"),
        "metadata": {"order": 7},
    }

    put_swap_request(stack, detail)
    put_swap_request(stack, detail)  # a producer's retry: same source and correlation_id

    def terminal() -> list[dict[str, Any]]:
        return [
            e for e in bus_events(stack, "Swap Job Completed") if e["detail"].get("correlation_id") == correlation_id
        ]

    (event,) = wait_for(terminal)
    assert_schema(event)
    assert event["detail"]["job"]["correlation_id"] == correlation_id and event["detail"]["metadata"] == {"order": 7}
    time.sleep(1.5)
    assert len(terminal()) == 1
    assert stack.client().request("GET", f"/v1/jobs/{event['detail']['job']['id']}")[2]["status"] == "completed"


def test_GIVEN_an_invalid_swap_requested_event_WHEN_put_THEN_it_lands_in_the_dlq_and_a_rejection_is_emitted(
    stack,
) -> None:
    correlation_id = f"bad-{uuid.uuid4().hex[:8]}"
    put_swap_request(stack, {"correlation_id": correlation_id, "source_image": "https://x.example/a.jpg"})

    (rejected,) = wait_for(
        lambda: [
            e for e in bus_events(stack, "Swap Request Rejected") if e["detail"]["correlation_id"] == correlation_id
        ]
    )
    assert_schema(rejected)
    assert rejected["detail"]["errors"] == [
        {"path": "target_image", "message": rejected["detail"]["errors"][0]["message"]}
    ]
    assert rejected["detail"]["request"]["source"] == "e2e.orders"
    sqs = stack.boto("sqs")

    def parked() -> list[dict[str, Any]]:
        found = []
        url = stack.summary["rejected_requests_queue"]
        for message in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
            body = json.loads(message["Body"])
            if body["event"]["detail"].get("correlation_id") == correlation_id:
                found.append(body)
        return found

    (message,) = wait_for(parked, timeout=10)
    assert "target_image" in message["reason"] and message["errors"] == rejected["detail"]["errors"]


def test_GIVEN_a_batch_of_three_WHEN_posted_THEN_counts_reach_completed_and_one_batch_event(stack) -> None:
    api = stack.client()
    job = {"source_image": data_uri(FIXTURES / "source.jpg"), "target_image": data_uri(FIXTURES / "target.jpg")}

    status, _, accepted = api.request("POST", "/v1/batches", {"jobs": [job, job, job], "defaults": {}})

    assert status == 202 and accepted["status"] == "queued" and accepted["counts"]["total"] == 3
    assert accepted["urls"]["get"] == f"/v1/batches/{accepted['id']}"
    batch = wait_for(
        lambda: (b := api.request("GET", f"/v1/batches/{accepted['id']}")[2]) and b["status"] == "completed" and b
    )
    assert batch["counts"] == {"queued": 0, "processing": 0, "completed": 3, "failed": 0, "cancelled": 0, "total": 3}
    assert [j["index"] for j in batch["jobs"]] == [0, 1, 2] and all(j["outputs"] for j in batch["jobs"])
    runner = stack.boto("stepfunctions").describe_execution(
        executionArn=stack.summary["batch_state_machine"].replace(":stateMachine:", ":execution:")
        + f":{accepted['id']}"
    )
    assert json.loads(runner["input"])["max_concurrency"] == 16  # the engine's limit (SWAPFLOW_PROVIDER_CONCURRENCY)
    (done,) = wait_for(
        lambda: [e for e in bus_events(stack, "Swap Batch Completed") if e["detail"]["batch"]["id"] == accepted["id"]]
    )
    assert done["detail"]["batch"]["counts"]["completed"] == 3 and done["detail"]["manifest"] is None
    assert api.request("GET", f"/v1/batches/{accepted['id']}", headers={"x-api-key": "nope"})[0] == 401


def test_GIVEN_a_batch_with_a_bad_job_WHEN_posted_THEN_400_lists_every_problem(stack) -> None:
    status, _, body = stack.client().request(
        "POST", "/v1/batches", {"jobs": [{"source_image": "https://x.example/a.jpg"}, {"provider": "nope"}]}
    )
    assert status == 400
    assert [e["path"] for e in body["error"]["errors"]] == ["jobs[0].target_image", "jobs[1].provider"]
    assert stack.client().request("GET", "/v1/batches/01M8AZBPD6VEFZSFCW47GFN8RV")[0] == 404
