"""In-memory fakes for the native API's use cases: job repository, workflow, inputs, keys, rate limits."""

from __future__ import annotations

import copy
import threading
from dataclasses import dataclass, replace
from typing import Any

from swapflow.jobs.exceptions import JobNotFoundError
from swapflow.jobs.intake import JobIntake
from swapflow.jobs.lifecycle import JobLifecycle
from swapflow.jobs.models import Job, JobError, JobStatus, Output, StoredImage
from swapflow.jobs.queries import JobQueries
from swapflow.jobs.service import JobService
from swapflow.settings import Settings

from tests.shared.fakes import FakeBlobs, FakeEvents

OPEN = (JobStatus.QUEUED, JobStatus.PROCESSING)


class Clock:
    """time.time and time.sleep in one: sleeping moves the clock and runs what was scheduled by then."""

    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now
        self.at: list[tuple[float, Any]] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds
        due = [(t, fn) for t, fn in self.at if t <= self.now]
        self.at = [(t, fn) for t, fn in self.at if t > self.now]
        for _, fn in due:
            fn()


class FakeJobRepository:
    def __init__(self) -> None:
        self.jobs: dict[str, Job] = {}
        self.event_state: dict[str, str] = {}
        self.results: dict[str, dict[str, Any]] = {}
        self.tokens: dict[str, str] = {}
        self.token_pass_at: dict[str, float] = {}  # when the pass whose token is kept started
        self.claims: dict[str, tuple[str, float]] = {}  # job id -> (owner, at): claim_submit
        self.lock = threading.Lock()

    def put_new(self, job: Job) -> None:
        with self.lock:
            assert job.id not in self.jobs
            self.jobs[job.id] = copy.deepcopy(job)

    def put_queued(self, jobs: list[Job]) -> None:
        with self.lock:
            for job in jobs:
                self.jobs[job.id] = copy.deepcopy(job)

    def stage(self, job: Job) -> bool:
        with self.lock:
            held = self.jobs[job.id]
            if held.status is not JobStatus.QUEUED or held.staged:
                return False
            self.jobs[job.id] = replace(held, spec=job.spec, staged=True, updated_at=job.updated_at)
            return True

    def get(self, job_id: str) -> Job:
        if job_id not in self.jobs:
            raise JobNotFoundError(job_id)
        return copy.deepcopy(self.jobs[job_id])

    def finish(
        self,
        job_id: str,
        status: str,
        outputs: list[Output],
        error: JobError | None,
        at: float,
        *,
        expires: tuple[float, float | None] | None = None,
    ) -> Job | None:
        with self.lock:
            job = self.jobs[job_id]
            if job.status not in OPEN:
                return None
            inputs_at, outputs_at = expires or (None, None)
            self.jobs[job_id] = replace(
                job,
                status=JobStatus(status),
                outputs=list(outputs),
                error=error,
                finished_at=at,
                updated_at=at,
                inputs_expire_at=inputs_at,
                outputs_expire_at=outputs_at,
            )
            self.event_state[job_id] = "pending"
            self.tokens.pop(job_id, None)
            return copy.deepcopy(self.jobs[job_id])

    def mark_processing(self, job_id: str, provider_job_id: str, at: float, *, provider: str) -> None:
        with self.lock:
            job = self.jobs[job_id]
            if job.status is JobStatus.QUEUED:
                self.jobs[job_id] = replace(
                    job,
                    status=JobStatus.PROCESSING,
                    provider_job_id=provider_job_id,
                    provider=provider,
                    submitted_at=at,
                    updated_at=at,
                )

    def claim_submit(self, job_id: str, owner: str, at: float, stale_before: float) -> bool:
        with self.lock:
            job = self.jobs[job_id]
            held = self.claims.get(job_id)
            if job.status is not JobStatus.QUEUED or job.provider_job_id:
                return False
            if held is not None and held[0] != owner and held[1] >= stale_before:
                return False
            self.claims[job_id] = (owner, at)
            return True

    def release_submit(self, job_id: str, owner: str) -> None:
        with self.lock:
            if self.claims.get(job_id, ("",))[0] == owner:
                del self.claims[job_id]

    def store_token(
        self, job_id: str, token: str, poll: dict[str, Any], *, pass_started: float
    ) -> tuple[bool, dict[str, Any] | None]:
        """As DynamoDB: a pass that started before the one whose token is kept keeps nothing."""
        with self.lock:
            self.get(job_id)
            if self.token_pass_at.get(job_id, pass_started) > pass_started:
                return False, self.recorded_result(job_id)
            self.tokens[job_id], self.token_pass_at[job_id] = token, pass_started
            return True, self.recorded_result(job_id)

    def record_result(self, job_id: str, result: dict[str, Any]) -> tuple[str, dict[str, Any]] | None:
        """As DynamoDB: the first result of an open job only; (token, poll) when a Run pass is parked."""
        with self.lock:
            if job_id in self.results or self.get(job_id).status not in OPEN:
                return None
            self.results[job_id] = copy.deepcopy(result)
        return (self.tokens[job_id], {}) if job_id in self.tokens else None

    def recorded_result(self, job_id: str) -> dict[str, Any] | None:
        return copy.deepcopy(self.results.get(job_id))

    def get_with_result(self, job_id: str) -> tuple[Job, dict[str, Any] | None]:
        with self.lock:
            return self.get(job_id), self.recorded_result(job_id)

    def tombstone(self, job_id: str, at: float) -> bool:
        with self.lock:
            job = self.jobs[job_id]
            if job.deleted_at:
                return False
            self.jobs[job_id] = replace(
                job, deleted_at=at, metadata={}, webhook_url=None, correlation_id=None, idempotency_key=None
            )
            return True

    def event_pending(self, job_id: str) -> bool:
        return self.event_state.get(job_id) == "pending"

    def claim_event(self, job_id: str) -> bool:
        with self.lock:
            if self.event_state.get(job_id) != "pending":
                return False
            self.event_state[job_id] = "claimed"
            return True

    def release_event(self, job_id: str) -> None:
        if self.event_state.get(job_id) == "claimed":
            self.event_state[job_id] = "pending"

    def mark_event_sent(self, job_id: str) -> None:
        self.event_state[job_id] = "sent"

    def list_for_tenant(self, tenant: str, status: str | None, limit: int, after: str | None) -> tuple[list[Job], bool]:
        found = sorted(
            (j for j in self.jobs.values() if j.tenant == tenant and (status is None or j.status == status)),
            key=lambda j: j.id,
            reverse=True,
        )
        found = [j for j in found if after is None or j.id < after]
        return [copy.deepcopy(j) for j in found[:limit]], len(found) > limit


class FakeWorkflow:
    def __init__(self) -> None:
        self.started: list[str] = []
        self.inputs: dict[str, dict[str, Any]] = {}
        self.stopped: list[tuple[str, str]] = []
        self.succeeded: list[tuple[str, dict[str, Any]]] = []
        self.failed: list[tuple[str, str]] = []

    def start(self, job_id: str, payload: dict[str, Any]) -> None:
        self.started.append(job_id)
        self.inputs[job_id] = payload

    def send_failure(self, token: str, error: str, cause: str) -> bool:
        self.failed.append((token, error))
        return True

    def send_success(self, token: str, output: dict[str, Any]) -> bool:
        self.succeeded.append((token, output))
        return True

    def stop(self, job_id: str, cause: str) -> None:
        self.stopped.append((job_id, cause))


class FakeInputs:
    """Stores every ref as a 64x64 JPEG; refs starting `bad:` are refused like an undecodable image."""

    def __init__(self) -> None:
        self.stored: list[str] = []

    def store(
        self,
        ref: str,
        field: str,
        key_stem: str,
        tenant: str | None = None,
        scopes: tuple[str, ...] = (),
        *,
        by_content: bool = False,
    ) -> StoredImage:
        from swapflow.jobs.exceptions import RequestInvalidError

        if ref.startswith("bad:"):
            raise RequestInvalidError("invalid_image", f"{field}: not an image", field)
        self.stored.append(key_stem)
        return StoredImage("inputs", f"{key_stem}.jpg", "image/jpeg", 64, 64)

    def check_callback_url(self, url: str, field: str) -> None:
        pass


class FakeIdempotency:
    def __init__(self) -> None:
        self.records: dict[tuple[str, str], tuple[str, str]] = {}
        self.lock = threading.Lock()

    def held(self, tenant: str, key: str) -> tuple[str, str] | None:
        return self.records.get((tenant, key))

    def reserve(self, tenant: str, key: str, body_hash: str, job_id: str) -> tuple[str, str]:
        with self.lock:
            return self.records.setdefault((tenant, key), (job_id, body_hash))

    def release(self, tenant: str, key: str, job_id: str) -> None:
        with self.lock:
            if self.records.get((tenant, key), ("",))[0] == job_id:
                del self.records[(tenant, key)]


@dataclass
class Rig:
    """The job service built on fakes, with the fakes at hand to arrange and assert with."""

    jobs: JobService
    repo: Any
    blobs: Any
    workflow: Any
    events: Any
    idempotency: Any
    clock: Clock

    @property
    def intake(self) -> JobIntake:
        return self.jobs.intake

    @property
    def queries(self) -> JobQueries:
        return self.jobs.queries

    @property
    def lifecycle(self) -> JobLifecycle:
        return self.jobs.lifecycle


def make_service(**overrides: Any) -> Rig:
    clock = overrides.pop("clock", None) or Clock()
    parts: dict[str, Any] = {
        "settings": Settings(archive_bucket="archive", input_bucket="inputs"),
        "repo": FakeJobRepository(),
        "blobs": FakeBlobs(),
        "workflow": FakeWorkflow(),
        "events": FakeEvents(),
        "providers": lambda name: object(),
        "provider_names": ("engine", "akool"),
        "inputs": FakeInputs(),
        "idempotency": FakeIdempotency(),
        "clock": clock,
        "sleep": clock.sleep,
        **overrides,
    }
    fakes = {name: parts[name] for name in ("repo", "blobs", "workflow", "events", "idempotency")}
    return Rig(JobService.build(**parts), clock=clock, **fakes)
