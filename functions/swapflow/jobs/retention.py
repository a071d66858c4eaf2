"""Retention and deletion of the photos a job holds: on request (DELETE /v1/jobs/{id}) and on schedule.

A job's face photos live in a few places, all named by the job id: its inputs (`inputs/<tenant>/<id>/`)
and the engine's staged result (`staging/<id>/`) in the input bucket, its outputs
(`outputs/<tenant>/<id>/`) in the archive, and, for a manifest's jobs, the copies in the manifest's
`outbox/`. The buckets are versioned, so deleting means deleting every version and delete marker;
presigned URLs handed out before then answer 404 from that moment.

Retention is per tenant: inputs go `inputs_days` after the job ended (default 1), outputs
`outputs_days` after (default 30, or kept). The dates are fixed on the job when it ends (its view
shows them as `expires_at`), and the sweeper (a scheduled Lambda; locally `swapflow retention sweep`)
deletes what is due through the same code as a deletion on request.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..events import JOB_DELETED
from .exceptions import JobNotFoundError
from .models import Job, iso_time
from .ports import AuditLog, BlobStore, EventPublisher, JobRepository

if TYPE_CHECKING:
    from .ports import BatchRepository

LOG = logging.getLogger(__name__)
DAY = 86400.0
INPUTS, OUTPUTS = "inputs", "outputs"


@dataclass(frozen=True)
class Retention:
    """A tenant's retention: days after a job ends until its inputs / outputs are deleted (None: kept)."""

    inputs_days: float = 1.0
    outputs_days: float | None = 30.0

    def expiry(self, ended_at: float) -> tuple[float, float | None]:
        outputs = None if self.outputs_days is None else ended_at + self.outputs_days * DAY
        return ended_at + self.inputs_days * DAY, outputs

    def view(self) -> dict[str, Any]:
        return {
            "inputs_days": self.inputs_days,
            "outputs_days": "keep" if self.outputs_days is None else self.outputs_days,
        }


def parse_days(value: str, *, allow_keep: bool) -> float | None:
    """`"7"`, `"0.5"` or (outputs only) `"keep"`; ValueError with the rule otherwise."""
    if allow_keep and value.strip().lower() == "keep":
        return None
    try:
        days = float(value)
    except ValueError:
        days = -1.0
    if not 0 <= days <= 3650:
        raise ValueError(f"retention must be a number of days from 0 to 3650{' or keep' if allow_keep else ''}")
    return days


def _shared_inputs(job: Job) -> set[str]:
    """The job's inputs stored outside its own prefix: a batch's copies kept once by content
    (`inputs/<tenant>/<batch>/<sha256>.<ext>`). They go with the job's: a later job of the batch that
    needs the same photo stores it again."""
    spec = job.spec
    images = (spec.source_image, spec.target_image, *(f.source_image for f in spec.faces))
    own = f"inputs/{job.tenant}/{job.id}/"
    return {image.key for image in images if image.key and not image.key.startswith(own)}


@dataclass(eq=False, kw_only=True)
class JobEraser:
    """The one place objects are deleted: a job's inputs, its outputs, or both (then it is announced)."""

    repo: JobRepository
    blobs: BlobStore
    events: EventPublisher
    input_bucket: str
    archive_bucket: str
    batches: BatchRepository | None = None
    audit: AuditLog | None = None
    clock: Callable[[], float] = time.time

    def erase(self, job: Job, parts: tuple[str, ...]) -> int:
        """Delete the job's objects of `parts` (every version); returns how many object versions went."""
        deleted = 0
        if INPUTS in parts:
            deleted += self.blobs.delete_all_versions(self.input_bucket, f"inputs/{job.tenant}/{job.id}/")
            deleted += self.blobs.delete_all_versions(self.input_bucket, f"staging/{job.id}/")
            for key in _shared_inputs(job):
                deleted += self.blobs.delete_all_versions(self.input_bucket, key)
            self.repo.mark_erased(job.id, INPUTS, self.clock())
        if OUTPUTS in parts:
            deleted += self.blobs.delete_all_versions(self.archive_bucket, f"outputs/{job.tenant}/{job.id}/")
            for bucket, key in self._outbox_copies(job):
                deleted += self.blobs.delete_all_versions(bucket, key)
            self.repo.mark_erased(job.id, OUTPUTS, self.clock())
        return deleted

    def _outbox_copies(self, job: Job) -> list[tuple[str, str]]:
        if not job.batch_id or self.batches is None:
            return []
        try:
            member = self.batches.member(job.batch_id, job.id)
        except Exception:  # a batch record past its ttl: nothing of it to find
            return []
        return [(o["bucket"], o["key"]) for o in member.outputs if o.get("bucket") and o.get("key")]

    def delete(self, job_id: str) -> Job | None:
        """Finish a deletion the API recorded (the job is a tombstone): erase everything, announce once."""
        try:
            job = self.repo.get(job_id)
        except JobNotFoundError:
            return None
        if not job.deleted_at:
            return job  # only tombstoned jobs are deleted here; the API records the request first
        self.erase(job, (INPUTS, OUTPUTS))
        job = self.repo.get(job_id)
        if self.repo.claim_deleted_event(job_id):
            self.events.publish(JOB_DELETED, deleted_detail(job))
        return job

    def forget_batch(self, tenant: str, batch_id: str) -> int:
        """A deleted batch's stored job requests (big ones, with data: URIs, are parked in S3)."""
        return self.blobs.delete_all_versions(self.input_bucket, f"batches/{tenant}/{batch_id}/")

    def sweep(self, now: float | None = None) -> dict[str, int]:
        """Delete what retention says is due, each job's parts once; finish deletions whose eraser run was
        lost. One job's failure is logged and does not stop the sweep: it is due again next time."""
        now = self.clock() if now is None else now
        counts = {"jobs": 0, INPUTS: 0, OUTPUTS: 0, "deleted": 0, "objects": 0}
        for job in self.repo.due_for_erasure(now):
            try:
                if job.deleted_at:
                    self.delete(job.id)
                    counts["deleted"] += 1
                    continue
                parts = _due_parts(job, now)
                if not parts:
                    continue
                counts["objects"] += self.erase(job, parts)
            except Exception:
                LOG.exception("retention: job %s not erased", job.id)
                continue
            counts["jobs"] += 1
            for part in parts:
                counts[part] += 1
            if self.audit is not None:
                self.audit.record(job.tenant, {"action": "job.expired", "job_id": job.id, "parts": list(parts)}, now)
        return counts


def _due_parts(job: Job, now: float) -> tuple[str, ...]:
    return tuple(
        part
        for part, due, done in (
            (INPUTS, job.inputs_expire_at, job.inputs_erased_at),
            (OUTPUTS, job.outputs_expire_at, job.outputs_erased_at),
        )
        if due is not None and due <= now and done is None
    )


def deleted_detail(job: Job) -> dict[str, Any]:
    """`Swap Job Deleted`: the tombstone (ids, status, timestamps, hashes), never metadata."""
    return {
        "version": 1,
        "job": {
            "id": job.id,
            "tenant": job.tenant,
            "status": str(job.status),
            "provider": job.provider,
            "created_at": iso_time(job.created_at),
            "finished_at": iso_time(job.finished_at) if job.finished_at else None,
            "deleted_at": iso_time(job.deleted_at) if job.deleted_at else None,
            "inputs": job.input_hashes(),
            "outputs": [o.sha256 for o in job.outputs],
        },
    }
