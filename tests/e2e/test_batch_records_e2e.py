"""Batches through real HTTP on the local stack (issue 16): job records from acceptance, cancel, pages."""

from __future__ import annotations

from typing import Any

import pytest
from test_native_api import new_tenant
from test_triggers import FIXTURES, bus_events, wait_for

from infra.local.client import data_uri

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]

TERMINAL_EVENTS = ("Swap Job Completed", "Swap Job Failed", "Swap Job Cancelled")
BAD_PAGES = [
    ("limit=0", "limit"),
    ("limit=1001", "limit"),
    ("limit=%C2%B2", "limit"),  # "²": a digit to str.isdigit, not to int()
    ("next_token=no", "next_token"),
    ("next_token=eyJhZnRlciI6IDF9", "next_token"),  # {"after": 1}
]
ENGINE_SLOTS = 16  # a batch of engine jobs runs this many at once (SWAPFLOW_PROVIDER_CONCURRENCY)


def post_batch(api: Any, n: int) -> dict[str, Any]:
    job = {"source_image": data_uri(FIXTURES / "source.jpg"), "target_image": data_uri(FIXTURES / "target.jpg")}
    status, _, accepted = api.request("POST", "/v1/batches", {"jobs": [job] * n})
    assert status == 202, accepted
    return dict(accepted)


def all_jobs(api: Any, batch_id: str, limit: int) -> list[dict[str, Any]]:
    """Every job of the batch, page by page."""
    jobs: list[dict[str, Any]] = []
    path = f"/v1/batches/{batch_id}?limit={limit}"
    while True:
        status, _, page = api.request("GET", path)
        assert status == 200 and page["counts"]["total"] >= len(jobs), page
        jobs.extend(page["jobs"])
        if page["next_token"] is None:
            return jobs
        path = f"/v1/batches/{batch_id}?limit={limit}&next_token={page['next_token']}"


def test_GIVEN_a_20_job_batch_WHEN_read_right_after_acceptance_THEN_every_job_is_listed_and_readable_queued(
    slow_stack: Any,
) -> None:
    api = slow_stack.client(new_tenant(slow_stack))

    accepted = post_batch(api, 20)
    jobs = all_jobs(api, accepted["id"], limit=7)

    assert accepted["counts"]["queued"] == 20 and [j["index"] for j in jobs] == list(range(20))
    for listed in jobs:
        status, _, job = api.request("GET", f"/v1/jobs/{listed['id']}")
        assert status == 200 and job["batch_id"] == accepted["id"], job  # never 404
        if listed["index"] >= ENGINE_SLOTS:  # its turn needs a freed slot: an engine job takes >= 3 s here
            ended = api.request("GET", f"/v1/batches/{accepted['id']}?limit=1")[2]["counts"]
            assert job["status"] == "queued" or ended["completed"] + ended["failed"] > 0, (job, ended)
    status, _, page = api.request("GET", "/v1/jobs?limit=100")
    assert status == 200 and {j["id"] for j in jobs} <= {j["id"] for j in page["jobs"]}
    done = wait_for(
        lambda: (b := api.request("GET", f"/v1/batches/{accepted['id']}")[2]) and b["status"] == "completed" and b,
        timeout=300,
    )
    assert done["counts"]["completed"] == 20 and len(done["jobs"]) == 20 and done["next_token"] is None


def test_GIVEN_a_3_job_batch_mid_run_WHEN_cancelled_twice_THEN_one_terminal_event_each_and_one_batch_completed(
    slow_stack: Any,
) -> None:
    api = slow_stack.client(new_tenant(slow_stack))
    accepted = post_batch(api, 3)
    batch_id = accepted["id"]
    wait_for(lambda: api.request("GET", f"/v1/batches/{batch_id}")[2]["counts"]["processing"] > 0, timeout=120)

    status, _, cancelled = api.request("POST", f"/v1/batches/{batch_id}/cancel")
    assert status == 202 and cancelled["id"] == batch_id and "cancelled_at" in cancelled, cancelled
    intruder = slow_stack.client(new_tenant(slow_stack))
    assert intruder.request("POST", f"/v1/batches/{batch_id}/cancel")[0] == 404

    batch = wait_for(
        lambda: (b := api.request("GET", f"/v1/batches/{batch_id}")[2]) and b["status"] == "completed" and b,
        timeout=120,
    )
    statuses = {j["id"]: j["status"] for j in batch["jobs"]}
    assert set(statuses.values()) <= {"cancelled", "completed"} and "cancelled" in statuses.values(), statuses
    for job_id, status in statuses.items():
        assert api.request("GET", f"/v1/jobs/{job_id}")[2]["status"] == status
    terminal = wait_for(lambda: (t := terminal_events(slow_stack, statuses)) and all(t.values()) and t)
    assert {job_id: [e["detail-type"] for e in events] for job_id, events in terminal.items()} == {
        job_id: ["Swap Job Cancelled" if status == "cancelled" else "Swap Job Completed"]
        for job_id, status in statuses.items()
    }
    (completed,) = wait_for(lambda: batch_completed(slow_stack, batch_id))
    assert completed["detail"]["batch"]["counts"]["cancelled"] == list(statuses.values()).count("cancelled")

    status, _, again = api.request("POST", f"/v1/batches/{batch_id}/cancel")  # idempotent: nothing new

    assert status == 202 and again["counts"] == batch["counts"]
    assert len(batch_completed(slow_stack, batch_id)) == 1 and terminal_events(slow_stack, statuses) == terminal


def test_GIVEN_a_batch_WHEN_paged_with_a_bad_limit_or_token_THEN_400_naming_the_parameter(stack: Any) -> None:
    """(409 `batch_ended` for a batch that ended: test_native_api's TRIGGERS.)"""
    api = stack.client(new_tenant(stack))
    batch_id = post_batch(api, 1)["id"]

    for query, field in BAD_PAGES:
        status, _, body = api.request("GET", f"/v1/batches/{batch_id}?{query}")
        assert status == 400 and body["error"]["code"] == "invalid_request", (query, body)
        assert body["error"]["field"] == field


def terminal_events(stack: Any, job_ids: Any) -> dict[str, list[dict[str, Any]]]:
    return {job_id: [e for e in stack.events_for(job_id) if e["detail-type"] in TERMINAL_EVENTS] for job_id in job_ids}


def batch_completed(stack: Any, batch_id: str) -> list[dict[str, Any]]:
    return [e for e in bus_events(stack, "Swap Batch Completed") if e["detail"]["batch"]["id"] == batch_id]
