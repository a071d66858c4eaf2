"""JSONL manifests end to end: one job request per line, in the inbox or POSTed, run by the manifest
runner (Register passes, then a Distributed Map reading the object as JSONL)."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from test_triggers import FIXTURES, bus_events, get_json, put, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]


def lines(*requests: Any) -> bytes:
    return b"".join((r if isinstance(r, bytes) else json.dumps(r).encode()) + b"\n" for r in requests)


def test_GIVEN_a_jsonl_manifest_in_the_inbox_WHEN_put_THEN_every_line_is_a_job_and_a_bad_line_fails_alone(
    stack: Any,
) -> None:
    folder = f"jsonl-{uuid.uuid4().hex[:8]}"
    put(stack, f"inbox/{folder}/source.jpg", (FIXTURES / "source.jpg").read_bytes())
    put(stack, f"inbox/{folder}/target.jpg", (FIXTURES / "target.jpg").read_bytes())
    good = {"source_image": "source.jpg", "target_image": "target.jpg"}
    body = lines(
        good, {**good, "output_format": "png"}, {**good, "face_enhance": "yes"}, {"target_image": "target.jpg"}, good
    )
    put(stack, f"inbox/{folder}/big.jsonl", body)

    result = wait_for(
        lambda: (doc := get_json(stack, f"outbox/{folder}/big.result.json")) and doc["status"] == "completed" and doc,
        timeout=120,
    )

    assert result["counts"] == {"queued": 0, "processing": 0, "completed": 3, "failed": 2, "cancelled": 0, "total": 5}
    jobs = sorted(result["jobs"], key=lambda j: j["index"])
    assert [j["status"] for j in jobs] == ["completed", "completed", "failed", "failed", "completed"]
    assert (
        jobs[2]["error"]["message"].startswith("line 3.face_enhance") and jobs[3]["error"]["code"] == "invalid_request"
    )
    assert jobs[1]["outputs"][0]["key"] == f"outbox/{folder}/big/{jobs[1]['id']}.png"
    completed = [
        e for e in bus_events(stack, "Swap Batch Completed") if e["detail"]["batch"]["id"] == result["batch_id"]
    ]
    assert len(completed) == 1


def test_GIVEN_an_uploaded_jsonl_manifest_WHEN_posted_THEN_its_jobs_are_listed_and_all_end(stack: Any) -> None:
    api = stack.client()
    tenant = stack.summary.get("tenant", "local")
    key = f"uploads/{tenant}/{uuid.uuid4().hex[:8]}/m.jsonl"
    bucket = stack.summary["input_bucket"]
    put(stack, key.replace("m.jsonl", "s.jpg"), (FIXTURES / "source.jpg").read_bytes())
    put(stack, key.replace("m.jsonl", "t.jpg"), (FIXTURES / "target.jpg").read_bytes())
    put(
        stack, key, lines(*[{"source_image": "s.jpg", "target_image": "t.jpg", "metadata": {"n": i}} for i in range(4)])
    )

    status, _, accepted = api.request("POST", "/v1/batches", {"manifest": f"s3://{bucket}/{key}"})
    assert status == 202, accepted
    batch = wait_for(
        lambda: (b := api.request("GET", f"/v1/batches/{accepted['id']}")[2]) and b["status"] == "completed" and b,
        timeout=120,
    )
    assert batch["counts"]["completed"] == 4 and len({j["id"] for j in batch["jobs"]}) == 4

    status, _, refused = api.request("POST", "/v1/batches", {"manifest": "uploads/someone-else/m.jsonl"})
    assert status == 400 and refused["error"]["field"] == "manifest"


def test_GIVEN_a_jsonl_manifest_with_a_line_that_is_not_json_WHEN_put_THEN_refused_with_no_jobs(stack: Any) -> None:
    folder = f"jsonl-{uuid.uuid4().hex[:8]}"
    put(stack, f"inbox/{folder}/bad.jsonl", lines({"target_image": "t.jpg", "source_image": "s.jpg"}, b"{not json"))

    error = wait_for(lambda: get_json(stack, f"outbox/{folder}/bad.error.json"), timeout=60)

    assert [e["path"] for e in error["errors"]] == ["line 2"]
    result = wait_for(lambda: get_json(stack, f"outbox/{folder}/bad.result.json"), timeout=30)
    assert result["status"] == "completed" and result["counts"]["total"] == 0 and result["jobs"] == []
