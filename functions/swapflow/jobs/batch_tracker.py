"""Batch bookkeeping on the finisher path: counts, outbox deliveries, result.json, the one completion event.

`BatchTracker` is told (jobs/announce.py `on_job_changed`) when a batch job starts processing and when it
ends; it moves the member (a write conditional on its state) and the batch's atomic counts (idempotent
sets of job ids, so each transition counts once however often it is reported), delivers manifest outputs
to the outbox, rewrites the manifest's result.json, and releases the job's concurrency slot. Whoever brings
the last job to its end claims the batch's completion with a conditional write and publishes
`Swap Batch Completed`: once.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from ..events import BATCH_COMPLETED
from .manifests import OUTPUTS, RESULT, ManifestLocation
from .models import Batch, BatchMember, Job, JobStatus, iso_time
from .ports import BatchRepository, BlobStore, EventPublisher, Workflow

LOG = logging.getLogger(__name__)

# result.json of a big manifest is rewritten about this many times while it runs (and always at the end).
REWRITES_PER_BATCH = 20


@dataclass(eq=False, kw_only=True)
class BatchTracker:
    """The finisher path's batch bookkeeping (called through `Announcer.on_job_changed`)."""

    repo: BatchRepository
    blobs: BlobStore
    events: EventPublisher
    workflow: Workflow
    clock: Callable[[], float] = time.time

    def job_changed(self, job: Job) -> None:
        """Idempotent: a job's start and end each count once however often they are reported."""
        if not job.batch_id:
            return
        if job.status is JobStatus.PROCESSING:
            self.repo.transition(job.batch_id, job.id, str(JobStatus.PROCESSING))
            return
        if not job.terminal:
            return
        outputs = self._deliver(self.repo.manifest(job.batch_id), job)
        self._ended(job.batch_id, job.id, str(job.status), outputs, asdict(job.error) if job.error else None)

    def release(self, member: BatchMember) -> None:
        """End the runner's wait for this job: its concurrency slot goes to the next one."""
        if not member.token:
            return
        try:
            self.workflow.send_success(member.token, {"job_id": member.job_id, "status": member.status})
        except Exception:  # best effort: an unreleased slot ends at the runner's slot timeout
            LOG.exception("batch slot of job %s not released", member.job_id)

    def _deliver(self, manifest: dict[str, Any] | None, job: Job) -> list[dict[str, Any]]:
        """The outputs as the batch reports them; a manifest's are copied to its outbox folder."""
        outputs = []
        location = ManifestLocation.from_dict(manifest) if manifest else None
        for i, out in enumerate(job.outputs):
            item = asdict(out)
            if location is not None:
                ext = out.key.rsplit(".", 1)[-1]
                key = f"{location.outbox(OUTPUTS)}{job.id}{f'-{i}' if i else ''}.{ext}"
                self.blobs.copy(out.bucket, out.key, location.bucket, key)
                item.update(bucket=location.bucket, key=key)
            outputs.append(item)
        return outputs

    def _ended(
        self, batch_id: str, job_id: str, status: str, outputs: list[dict[str, Any]], error: dict[str, Any] | None
    ) -> None:
        moved = self.repo.transition(batch_id, job_id, status, outputs, error)
        batch = moved.batch or self.repo.get(batch_id)
        if batch.manifest and moved.changed and _rewrite_due(batch):
            self.write_result(batch.id)
            if self.repo.get(batch.id).completion:  # the final result.json may have been written meanwhile
                self.write_result(batch.id)
        if batch.sealed and batch.done >= batch.total:
            self.complete(batch, job_id)
        self.release(moved.member)

    def complete(self, batch: Batch, by: str) -> None:
        """Claim the batch's completion (one winner) and publish its one `Swap Batch Completed`."""
        if not self.repo.claim_completion(batch.id, by, self.clock()):
            return
        batch = self.repo.get(batch.id)
        if batch.manifest:
            self.write_result(batch.id)
        self.events.publish(BATCH_COMPLETED, completed_detail(batch))
        self.repo.mark_completion_sent(batch.id)

    def write_result(self, batch_id: str) -> None:
        """result.json of a manifest batch: the whole batch as it stands now."""
        batch = self.repo.get(batch_id)
        if not batch.manifest:
            return
        location = ManifestLocation.from_dict(batch.manifest)
        document = {
            "manifest": batch.manifest,
            "batch_id": batch.id,
            "status": str(batch.status),
            "counts": batch.counts_view(),
            "jobs": [m.view() for m in self.repo.members(batch.id)],
        }
        self.blobs.put(location.bucket, location.outbox(RESULT), json_bytes(document), "application/json")


def completed_detail(batch: Batch) -> dict[str, Any]:
    """The `Swap Batch Completed` detail (schemas/events/swap-batch-completed.json)."""
    location = ManifestLocation.from_dict(batch.manifest) if batch.manifest else None
    return {
        "version": 1,
        "batch": {
            "id": batch.id,
            "status": str(batch.status),
            "counts": batch.counts_view(),
            "created_at": iso_time(batch.created_at),
            "finished_at": iso_time(batch.finished_at) if batch.finished_at else None,
        },
        "manifest": batch.manifest,
        "result": {"bucket": location.bucket, "key": location.outbox(RESULT)} if location else None,
    }


def _rewrite_due(batch: Batch) -> bool:
    every = max(1, batch.total // REWRITES_PER_BATCH)
    return batch.done < batch.total and (batch.total <= 50 or batch.done % every == 0)  # the last: _complete


def json_bytes(document: Any) -> bytes:
    return json.dumps(document, indent=2, default=str).encode()
