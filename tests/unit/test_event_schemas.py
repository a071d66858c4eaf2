"""The published event schemas (schemas/events/, draft 2020-12) describe what we really emit and accept."""

from __future__ import annotations

import json
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from batch_fakes import FakeBatchRepository, FakeDeadLetters, FakeJobs, FakeWorkflow
from swapflow import events as event_names
from swapflow.jobs.batches import BATCH_COMPLETED, BatchTracker
from swapflow.jobs.exceptions import JobNotFoundError, SwapRequestRejectedError
from swapflow.jobs.idempotency import Idempotency
from swapflow.jobs.ingest import REQUEST_REJECTED, SwapRequestIngest
from swapflow.jobs.models import Batch, BatchMember, Job, JobError, JobStatus, Output, StoredImage, SwapSpec
from swapflow.jobs.service import JobService
from swapflow.settings import Settings

from infra.constructs.event_schemas import envelope_draft4, load_detail_schemas
from tests.shared.fakes import FakeBlobs, FakeEvents

SCHEMAS = Path(__file__).resolve().parents[2] / "schemas" / "events"


def schema(detail_type: str) -> dict[str, Any]:
    return dict(json.loads((SCHEMAS / event_names.SCHEMAS[detail_type]).read_text()))


def check(detail_type: str, detail: dict[str, Any]) -> None:
    jsonschema.Draft202012Validator(schema(detail_type)).validate(json.loads(json.dumps(detail)))
    envelope = {
        "version": "0",
        "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718",
        "detail-type": detail_type,
        "source": "swapflow" if detail_type != event_names.SWAP_REQUESTED else "acme.orders",
        "account": "123456789012",
        "time": "2026-11-26T03:46:04Z",
        "region": "us-east-1",
        "resources": [],
        "detail": detail,
    }
    registry_doc = envelope_draft4(detail_type, schema(detail_type))
    jsonschema.Draft4Validator.check_schema(registry_doc)
    jsonschema.Draft4Validator(registry_doc).validate(json.loads(json.dumps(envelope)))


class OneJobRepo:
    def __init__(self, job: Job) -> None:
        self.job = job

    def get(self, job_id: str) -> Job:
        if job_id != self.job.id:
            raise JobNotFoundError(job_id)
        return self.job

    def finish(
        self, job_id: str, status: str, outputs: list[Output], error: JobError | None, at: float, **_: Any
    ) -> Job | None:
        self.job = replace(self.job, status=JobStatus(status), outputs=outputs, error=error, finished_at=at)
        return self.job

    def claim_event(self, job_id: str) -> bool:
        return True

    def mark_event_sent(self, job_id: str) -> None: ...

    def release_event(self, job_id: str) -> None: ...


def emitted_job_event(status: JobStatus, **job_fields: Any) -> tuple[str, dict[str, Any]]:
    image = StoredImage("in", "inputs/t/j/source.jpg", "image/jpeg", 512, 512)
    now = time.time()
    job = Job(
        id="01M8AZBPD6XB6M0GAS913AT000",
        tenant="t",
        provider="engine",
        spec=SwapSpec(image, image),
        metadata={"order": 42},
        created_at=now,
        updated_at=now,
        **job_fields,
    )
    events = FakeEvents()
    repo = OneJobRepo(job)
    svc = JobService.build(
        settings=Settings(),
        repo=repo,  # type: ignore[arg-type]
        blobs=FakeBlobs(),
        workflow=FakeWorkflow(),  # type: ignore[arg-type]
        events=events,
        providers=lambda name: None,  # type: ignore[arg-type,return-value]
        provider_names=["engine"],
        inputs=None,  # type: ignore[arg-type]
    )
    out = Output("archive", f"outputs/t/{job.id}/0.jpg", "image/jpeg", 512, 512, 70438, "a" * 64)
    error = None if status is JobStatus.COMPLETED else JobError("no_face_in_source", "no face in the source")
    repo.finish(job.id, status, [out] if status is JobStatus.COMPLETED else [], error, now + 1)
    svc.announcer.announce(repo.get(job.id))
    ((detail_type, detail),) = events.published
    return detail_type, detail


@pytest.mark.parametrize("status", [JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED])
def test_GIVEN_a_job_that_ended_WHEN_its_event_is_emitted_THEN_the_detail_matches_its_schema(status: JobStatus) -> None:
    detail_type, detail = emitted_job_event(status, correlation_id="order-42", batch_id="01M8AZBMRVM2X8MANHW6BGW001")

    assert detail_type == f"Swap Job {str(status).capitalize()}"
    assert detail["correlation_id"] == "order-42"
    check(detail_type, detail)


def test_GIVEN_a_completed_event_WHEN_it_lacks_an_output_THEN_the_schema_refuses_it() -> None:
    _, detail = emitted_job_event(JobStatus.COMPLETED)
    detail["outputs"] = []
    with pytest.raises(jsonschema.ValidationError):
        check("Swap Job Completed", detail)


def test_GIVEN_a_batch_whose_last_job_ended_WHEN_announced_THEN_swap_batch_completed_matches_its_schema() -> None:
    repo, events = FakeBatchRepository(), FakeEvents()
    batch = Batch("01M8AZBPD6VEFZSFCW47GFN8RV", "t", 1, ["engine"], time.time())
    repo.create_open(batch, shards=1)
    repo.add_members(batch, [(BatchMember(0, "01M8AZBPD6XB6M0GAS913AT000"), "{}")])
    repo.seal(batch.id, 1, ["engine"])
    tracker = BatchTracker(repo=repo, blobs=FakeBlobs(), events=events, workflow=FakeWorkflow())
    image = StoredImage("in", "k", "image/jpeg", 8, 8)
    job = Job("01M8AZBPD6XB6M0GAS913AT000", "t", "engine", SwapSpec(image, image), JobStatus.FAILED, batch_id=batch.id)

    tracker.job_changed(job)

    ((detail_type, detail),) = events.published
    assert detail_type == BATCH_COMPLETED
    check(detail_type, detail)


def test_GIVEN_an_invalid_swap_request_WHEN_rejected_THEN_the_rejection_matches_its_schema() -> None:
    events, dead = FakeEvents(), FakeDeadLetters()
    jobs = FakeJobs()
    ingest = SwapRequestIngest(
        intake=jobs,  # type: ignore[arg-type]
        queries=jobs,  # type: ignore[arg-type]
        idempotency=Idempotency(None),
        dead_letters=dead,
        events=events,
        tenant="t",
    )
    event = {
        "id": "e-1",
        "source": "acme.orders",
        "time": "2026-11-26T03:46:04Z",
        "detail": {"source_image": "https://images.example/a.jpg", "target_image": 7},
    }

    with pytest.raises(SwapRequestRejectedError) as caught:
        ingest.accept(event)
    ingest.reject(event, caught.value)

    ((detail_type, detail),) = events.published
    assert detail_type == REQUEST_REJECTED
    assert [e["path"] for e in detail["errors"]] == ["correlation_id", "target_image"]
    check(detail_type, detail)
    assert dead.messages[0]["event"] == event and dead.messages[0]["errors"] == detail["errors"]


def test_GIVEN_the_documented_swap_request_WHEN_checked_THEN_schema_and_parser_both_accept_it() -> None:
    detail = {
        "correlation_id": "order-42",
        "source_image": "https://images.example/a.jpg",
        "target_image": "https://images.example/b.jpg",
        "output_format": "png",
        "metadata": {"order": 42},
    }
    check(event_names.SWAP_REQUESTED, detail)
    FakeJobs().parse({k: v for k, v in detail.items() if k != "correlation_id"})
    with pytest.raises(jsonschema.ValidationError):
        check(event_names.SWAP_REQUESTED, {**detail, "colour": "red"})


def test_GIVEN_the_schema_folder_THEN_every_event_we_emit_or_accept_has_one() -> None:
    assert set(load_detail_schemas()) == set(event_names.SCHEMAS)
    for name in event_names.SCHEMAS.values():
        jsonschema.Draft202012Validator.check_schema(json.loads((SCHEMAS / name).read_text()))
