"""Batch jobs as users see them (issue 16): recorded `queued` at acceptance, cancelled as a batch, paged.

The real JobService and BatchService over the in-memory fakes (batch_fakes, native_fakes).
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from batch_fakes import INPUT_BUCKET, FakeBatchRepository, FakeJobs, FakeWorkflow
from native_fakes import Clock, FakeJobRepository
from native_fakes import make_service as make_jobs
from swapflow.events import BATCH_COMPLETED, JOB_CANCELLED, JOB_FAILED
from swapflow.jobs.batches import BatchService, BatchTracker
from swapflow.jobs.exceptions import BatchEndedError, BatchNotFoundError, RequestInvalidError
from swapflow.jobs.models import JobStatus, derived_id
from swapflow.settings import Settings

from tests.shared.fakes import FakeEvents

IMAGE = "https://images.example/a.jpg"


class World:
    """One tenant's batch machinery: jobs, batches, the bus, the job workflow and the batch runner."""

    def __init__(self) -> None:
        self.clock = Clock()
        self.events = FakeEvents()
        self.batch_repo = FakeBatchRepository()
        self.runner = FakeWorkflow()
        fakes = FakeJobs()
        self.blobs = fakes.blobs
        self.tracker = BatchTracker(repo=self.batch_repo, blobs=self.blobs, events=self.events, workflow=self.runner)
        self.jobs = make_jobs(
            settings=Settings(archive_bucket="archive", input_bucket=INPUT_BUCKET),
            blobs=self.blobs,
            inputs=fakes.inputs,
            events=self.events,
            clock=self.clock,
            on_job_changed=self.tracker.job_changed,
        )
        self.batches = BatchService(
            settings=Settings(input_bucket=INPUT_BUCKET),
            jobs=self.jobs,
            repo=self.batch_repo,
            runner=self.runner,
            tracker=self.tracker,
            clock=self.clock,
        )

    @property
    def job_repo(self) -> FakeJobRepository:
        return self.jobs.repo  # type: ignore[return-value]

    def accept(self, n: int, **job: Any) -> tuple[str, list[str]]:
        body = {"defaults": {"source_image": IMAGE, "target_image": IMAGE}, "jobs": [job] * n}
        batch, _ = self.batches.accept("t", body)
        return batch.id, self.runner.started[-1][1]["jobs"]

    def published(self, detail_type: str) -> list[dict[str, Any]]:
        return [d for t, d in self.events.published if t == detail_type]


def test_GIVEN_an_accepted_batch_WHEN_no_job_started_yet_THEN_every_job_is_queued_gettable_and_listable() -> None:
    world = World()

    batch_id, job_ids = world.accept(20, metadata={"shoot": "day1"})

    assert len(job_ids) == 20 and not world.jobs.workflow.started  # type: ignore[attr-defined]
    for job_id in job_ids:
        job = world.jobs.get_job("t", job_id)
        assert job.status is JobStatus.QUEUED and job.batch_id == batch_id and job.metadata == {"shoot": "day1"}
    listed, _ = world.jobs.list_jobs("t", limit=100)
    assert {j.id for j in listed} == set(job_ids)
    with pytest.raises(Exception, match="not found"):
        world.jobs.get_job("other", job_ids[0])


def test_GIVEN_a_recorded_job_WHEN_its_turn_comes_twice_THEN_the_same_record_is_staged_once_and_nothing_is_announced():
    world = World()
    batch_id, (job_id,) = world.accept(1)

    world.batches.run_item(batch_id, job_id, "slot-0")
    world.batches.run_item(batch_id, job_id, "slot-0")  # a retried RunJob step

    job = world.job_repo.get(job_id)
    assert job.staged and job.status is JobStatus.QUEUED and job.spec.source_image.key.startswith("inputs/t/")
    assert list(world.job_repo.jobs) == [job_id] and world.jobs.workflow.started == [job_id, job_id]  # type: ignore[attr-defined]
    assert world.events.published == []


def test_GIVEN_a_job_whose_inputs_went_WHEN_its_turn_comes_THEN_it_fails_with_one_event_and_frees_its_slot() -> None:
    world = World()
    batch_id, (job_id,) = world.accept(1)
    gone = {"source_image": "https://down.example/a.jpg", "target_image": IMAGE}  # unreachable since acceptance
    world.batch_repo.requests[(batch_id, job_id)] = json.dumps(gone)

    world.batches.run_item(batch_id, job_id, "slot-0")

    job = world.jobs.get_job("t", job_id)
    assert job.status is JobStatus.FAILED and job.error is not None and job.error.code == "image_unreadable"
    assert len(world.published(JOB_FAILED)) == 1 and world.runner.released == ["slot-0"]
    (done,) = world.published(BATCH_COMPLETED)
    assert done["batch"]["counts"]["failed"] == 1


def test_GIVEN_a_batch_mid_run_WHEN_cancelled_twice_THEN_each_open_job_one_cancelled_event_and_one_batch_completed():
    world = World()
    batch_id, job_ids = world.accept(3)
    world.batches.run_item(batch_id, job_ids[0], "slot-0")
    world.job_repo.mark_processing(job_ids[0], "engine-1", world.clock(), provider="engine")  # running

    batch = world.batches.cancel("t", batch_id)
    again = world.batches.cancel("t", batch_id)

    assert [world.jobs.get_job("t", j).status for j in job_ids] == [JobStatus.CANCELLED] * 3
    assert sorted(d["job"]["id"] for d in world.published(JOB_CANCELLED)) == sorted(job_ids)
    (done,) = world.published(BATCH_COMPLETED)
    assert done["batch"]["counts"] == {
        "queued": 0,
        "processing": 0,
        "completed": 0,
        "failed": 0,
        "cancelled": 3,
        "total": 3,
    }
    assert str(batch.status) == str(again.status) == "completed" and again.cancelled_at
    assert job_ids[0] in [name for name, _ in world.jobs.workflow.stopped]  # type: ignore[attr-defined]
    assert "slot-0" in world.runner.released  # the running job's slot is freed
    # the runner's children that had not started end at once: no inputs fetched, nothing announced
    stored = set(world.blobs.objects)
    for i, job_id in enumerate(job_ids[1:], 1):
        world.batches.run_item(batch_id, job_id, f"slot-{i}")
    assert set(world.blobs.objects) == stored and len(world.events.published) == 4
    assert {"slot-1", "slot-2"} <= set(world.runner.released)


def test_GIVEN_a_cancelled_batch_WHEN_a_job_the_cancel_did_not_reach_gets_its_turn_THEN_it_ends_cancelled_unfetched():
    world = World()
    batch_id, job_ids = world.accept(2)
    world.batch_repo.mark_cancelled(batch_id, world.clock())  # as a cancel that ran out of time leaves it
    stored = set(world.blobs.objects)

    for i, job_id in enumerate(job_ids):
        world.batches.run_item(batch_id, job_id, f"slot-{i}")

    assert [world.jobs.get_job("t", j).status for j in job_ids] == [JobStatus.CANCELLED] * 2
    assert set(world.blobs.objects) == stored and len(world.published(JOB_CANCELLED)) == 2
    assert len(world.published(BATCH_COMPLETED)) == 1 and world.runner.released == ["slot-0", "slot-1"]


def test_GIVEN_batches_WHEN_cancelled_by_another_tenant_or_after_they_ended_THEN_404_and_409() -> None:
    world = World()
    batch_id, (job_id,) = world.accept(1)
    with pytest.raises(BatchNotFoundError):
        world.batches.cancel("other", batch_id)
    world.jobs.cancel_job("t", job_id)  # its last job ended: the batch ended without a batch cancel

    with pytest.raises(BatchEndedError):
        world.batches.cancel("t", batch_id)
    assert len(world.published(JOB_CANCELLED)) == 1


def test_GIVEN_a_batch_WHEN_viewed_in_pages_THEN_jobs_come_in_index_order_and_counts_cover_the_whole_batch() -> None:
    world = World()
    batch_id, job_ids = world.accept(5)
    world.jobs.cancel_job("t", job_ids[4])
    batch = world.batches.get("t", batch_id)

    pages, token = [], None
    while True:
        view = world.batches.view(batch, limit=2, next_token=token)
        pages.append([j["index"] for j in view["jobs"]])
        assert view["counts"]["total"] == 5 and view["counts"]["cancelled"] == 1
        token = view["next_token"]
        if token is None:
            break

    assert pages == [[0, 1], [2, 3], [4]]
    assert world.batches.view(batch)["next_token"] is None and len(world.batches.view(batch)["jobs"]) == 5


@pytest.mark.parametrize(
    ("limit", "token", "field"),
    [(0, None, "limit"), (1001, None, "limit"), (10, "garbage", "next_token"), (10, "eyJhZnRlciI6IDF9", "next_token")],
)
def test_GIVEN_a_bad_page_request_WHEN_viewed_THEN_refused_naming_the_parameter(limit, token, field) -> None:
    world = World()
    batch_id, _ = world.accept(1)

    with pytest.raises(RequestInvalidError) as caught:
        world.batches.view(world.batches.get("t", batch_id), limit=limit, next_token=token)

    assert caught.value.code == "invalid_request" and caught.value.field == field


def test_GIVEN_a_100000_job_batch_WHEN_its_job_ids_are_derived_THEN_they_sort_by_index_so_pages_run_in_order() -> None:
    indexes = [0, 1, 2, 9, 10, 4095, 65535, 65536, 99_999]

    ids = [derived_id(f"01BATCH/{i}", 1_800_000_000.0, i) for i in indexes]

    assert ids == sorted(ids) and len(set(ids)) == len(ids)
