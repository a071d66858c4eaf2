"""Batches: many job requests accepted at once, run under per-provider limits, ended by one event.

Entry points: `POST /v1/batches` {jobs: [... up to 1,000 job requests], defaults?} and S3 manifests
(jobs/manifests.py). Acceptance is all or nothing: every request is judged as `POST /v1/jobs` judges it
(fields, provider, each image value: stored objects inside the caller's prefixes, URLs and data: URIs
fetched and decoded) before anything is stored, and every problem is reported as {path, message}.
An accepted batch is stored (a batch record with counters, one member per job with its request) and
its runner is started: one Step Functions execution (name = batch id) whose Distributed Map runs each
job as its own execution, as many at once as its providers run (`ProviderLimits`); the global limits
(jobs/limits.py) hold across batches. A job is created (its inputs fetched, checked and stored) when its
turn comes, so accepting 1,000 jobs takes a second.

Batches create jobs through the job intake and delete them through the job lifecycle, like the API;
their progress and their one `Swap Batch Completed` are kept by `BatchTracker` (jobs/batch_tracker.py).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import time
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from ..providers.exceptions import ProviderUnavailableError
from ..settings import Settings
from .batch_requests import judge_batch, scopes
from .batch_tracker import BATCH_COMPLETED, BatchTracker, completed_detail, json_bytes
from .exceptions import (
    BatchInvalidError,
    BatchNotFoundError,
    BlobMissingError,
    JobNotFoundError,
    JobStillRunningError,
    RequestInvalidError,
)
from .idempotency import Idempotency
from .limits import ProviderLimits
from .manifests import ManifestLocation, error_document, parse_manifest
from .models import Batch, BatchMember, BatchStatus, derived_id, iso_time, new_job_id
from .ports import BatchRepository, BlobStore, Workflow

if TYPE_CHECKING:
    from .intake import JobIntake
    from .lifecycle import JobLifecycle
    from .queries import JobQueries
    from .retention import JobEraser

__all__ = ["BATCH_COMPLETED", "BatchService", "BatchTracker", "ProviderLimits", "completed_detail"]

LOG = logging.getLogger(__name__)

# A member's request is kept on its DynamoDB item unless it is bigger than this (data: URIs): then in S3.
MAX_INLINE_REQUEST_BYTES = 256 * 1024


class BatchService:
    def __init__(
        self,
        *,
        settings: Settings,
        intake: JobIntake,
        queries: JobQueries,
        lifecycle: JobLifecycle,
        blobs: BlobStore,
        idempotency: Idempotency,
        repo: BatchRepository,
        runner: Workflow,
        tracker: BatchTracker,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self.intake = intake
        self.queries = queries
        self.lifecycle = lifecycle
        self.blobs = blobs
        self.idempotency = idempotency
        self.repo = repo
        self.runner = runner
        self.tracker = tracker
        self.clock = clock
        self.limits = ProviderLimits(settings.provider_concurrency)

    # ---- accepting --------------------------------------------------------------------------------

    def accept(
        self,
        tenant: str,
        body: Any,
        *,
        batch_id: str | None = None,
        at: float | None = None,
        manifest: ManifestLocation | None = None,
    ) -> tuple[Batch, bool]:
        """Judge, store and start a batch: (batch, created). An existing `batch_id` starts nothing new."""
        requests = self.validate(body, manifest, tenant)
        now = self.clock()
        at = now if at is None else at
        batch_id = batch_id or new_job_id(now)
        providers = sorted({str(r.get("provider") or self.settings.default_provider) for r in requests})
        batch = Batch(
            id=batch_id,
            tenant=tenant,
            total=len(requests),
            providers=providers,
            created_at=now,
            manifest=manifest.to_dict() if manifest else None,
        )
        members = [
            (BatchMember(i, derived_id(f"{batch_id}/{i}", at, i)), self.store_request(tenant, batch_id, i, r))
            for i, r in enumerate(requests)
        ]
        created = self.repo.create(batch, members)
        if created and manifest:
            self.tracker.write_result(batch.id)
        job_ids = [m.job_id for m, _ in members]
        if not created:  # the batch was made before (a re-delivered event): run its own members, not these
            batch = self.repo.get(batch_id)
            job_ids = [m.job_id for m in self.repo.members(batch_id)]
        self._start(batch, job_ids)  # idempotent: a re-run after a crash
        return batch, created

    def accept_manifest(self, location: ManifestLocation, *, at: float) -> Batch | None:
        """An object put under inbox/: its batch, or None when it was refused (error.json) or gone."""
        tenant = self.settings.trigger_tenant
        try:
            body = parse_manifest(self.blobs.get(location.bucket, location.key))
            batch_id = self._claim_manifest(tenant, location, at)
            batch, created = self.accept(tenant, body, batch_id=batch_id, at=at, manifest=location)
        except BlobMissingError:
            LOG.warning("manifest %s was deleted before it was read", location.key)
            return None
        except BatchInvalidError as exc:
            errors = exc.errors
        except RequestInvalidError as exc:
            errors = [{"path": exc.field or "", "message": exc.message}]
        else:
            LOG.info("manifest accepted", extra={"batch_id": batch.id, "jobs": batch.total, "new": created})
            return batch
        document = error_document(location, errors)
        self.blobs.put(location.bucket, location.error_key, json_bytes(document), "application/json")
        return None

    def _claim_manifest(self, tenant: str, location: ManifestLocation, at: float) -> str:
        """The batch id of this manifest version: derived from it, and held for 24 h as an idempotency
        record keyed by (bucket, key, version id or ETag), so a re-delivered S3 event (whatever its
        eventTime) names the batch the first delivery made and starts nothing new."""
        batch_id = location.batch_id(at)
        key = "manifest:" + hashlib.sha256(location.identity.encode()).hexdigest()
        return self.idempotency.claim(tenant, key, batch_id)

    def validate(
        self, body: Any, manifest: ManifestLocation | None = None, tenant: str | None = None
    ) -> list[dict[str, Any]]:
        """Every job request of a batch body, defaults merged (jobs/batch_requests.py); all or nothing."""
        return judge_batch(body, self.intake, max_jobs=self.settings.max_batch_jobs, manifest=manifest, tenant=tenant)

    def store_request(self, tenant: str, batch_id: str, index: int, request: dict[str, Any]) -> str:
        text = json.dumps(request, separators=(",", ":"))
        if len(text) <= MAX_INLINE_REQUEST_BYTES:
            return text
        key = f"batches/{tenant}/{batch_id}/{index}.json"
        self.blobs.put(self.settings.input_bucket, key, text.encode(), "application/json")
        return json.dumps({"$stored": key})

    def _load_request(self, batch_id: str, job_id: str) -> dict[str, Any]:
        request: dict[str, Any] = json.loads(self.repo.request(batch_id, job_id))
        if set(request) == {"$stored"}:
            request = json.loads(self.blobs.get(self.settings.input_bucket, request["$stored"]))
        return request

    def _start(self, batch: Batch, job_ids: list[str]) -> None:
        self.runner.start(
            batch.id,
            {"batch_id": batch.id, "jobs": job_ids, "max_concurrency": self.limits.for_providers(batch.providers)},
        )

    # ---- reading ----------------------------------------------------------------------------------

    def get(self, tenant: str, batch_id: str) -> Batch:
        """A tenant sees only its own batches."""
        batch = self.repo.get(batch_id)
        if batch.tenant != tenant:
            raise BatchNotFoundError(batch_id)
        return batch

    def view(self, batch: Batch, *, with_jobs: bool = True) -> dict[str, Any]:
        view: dict[str, Any] = {
            "id": batch.id,
            "status": str(batch.status),
            "counts": batch.counts_view(),
            "created_at": iso_time(batch.created_at),
            "urls": {"get": f"/v1/batches/{batch.id}"},
        }
        if batch.finished_at and batch.completion:
            view["finished_at"] = iso_time(batch.finished_at)
        if batch.manifest:
            location = ManifestLocation.from_dict(batch.manifest)
            view["manifest"] = batch.manifest
            view["result"] = {"bucket": location.bucket, "key": location.result_key}
        if with_jobs:
            view["jobs"] = [m.view() for m in self.repo.members(batch.id)]
        return view

    def delete(self, tenant: str, batch_id: str, *, cancel: bool = False, by: str | None = None) -> Batch:
        """Delete every job of a batch (or manifest): marked and stopped here, done by the deleting function
        (`purge`) one job after another, so a 1,000-job batch fits neither in an API request nor in 1,000
        invocations. A batch still running is refused unless `cancel`."""
        batch = self.get(tenant, batch_id)
        if batch.status is not BatchStatus.COMPLETED and not cancel:
            raise JobStillRunningError(batch_id, str(batch.status))
        if self.lifecycle.erase is None:
            raise RuntimeError("no deleting function is configured (SWAPFLOW_ERASER_FUNCTION)")
        # First the mark: a RunJob step now either sees it and starts nothing, or has already recorded its
        # job (which `purge` then finds), or sees it right after recording and deletes its own job.
        self.repo.mark_deleted(batch_id, time.time())
        if batch.status is not BatchStatus.COMPLETED:
            with contextlib.suppress(Exception):  # an ended or never started runner is fine
                self.runner.stop(batch_id, "batch deleted by the client")
        self.lifecycle.erase.request({"batch_id": batch_id, "tenant": tenant, "by": by})
        return self.repo.get(batch_id)

    def purge(self, tenant: str, batch_id: str, eraser: JobEraser, *, by: str | None = None) -> int:
        """The deleting function's part: delete each job of the batch (cancelled first if open), then the
        requests the batch stored. Returns how many jobs were deleted."""
        self.get(tenant, batch_id)
        deleted = 0
        for member in self.repo.members(batch_id):
            try:
                self.lifecycle.delete_job(tenant, member.job_id, cancel=True, by=by, hand_off=False)
            except JobNotFoundError:  # its turn never came: no job, no photos stored for it
                continue
            eraser.delete(member.job_id)
            deleted += 1
        self.repo.forget_requests(batch_id)
        eraser.forget_batch(tenant, batch_id)
        return deleted

    # ---- running (the batch runner's RunJob step) -------------------------------------------------

    def run_item(self, batch_id: str, job_id: str, token: str) -> None:
        """Create and start one job of the batch; the runner waits (token) until the job ends.

        Safe to run twice: a job already recorded is (re)started, never created again; a job already
        ended releases the slot at once.
        """
        member = self.repo.set_token(batch_id, job_id, token)
        if member is None:  # not a member of this batch (a stale runner input): free the slot, start nothing
            LOG.warning("batch %s has no job %s: its slot is released", batch_id, job_id)
            self.tracker.release(BatchMember(-1, job_id, token=token))
            return
        if member.terminal:
            self.tracker.release(member)
            return
        try:
            job = self.queries.by_id(job_id)
        except JobNotFoundError:
            job = None
        if job is not None:
            if job.terminal:
                self.tracker.job_changed(job)
            else:
                self.intake.start_workflow(job)
            return
        batch = self.repo.get(batch_id)
        if batch.deleted_at:
            self.tracker.item_failed(batch, job_id, {"code": "cancelled", "message": "the batch was deleted"})
            return
        try:
            request = self.intake.parse(self._load_request(batch_id, job_id))
            shared = f"inputs/{batch.tenant}/{batch_id}"  # the batch's jobs share inputs stored once
            prepared = self.intake.prepare_job(
                batch.tenant, request, job_id=job_id, shared_inputs=shared, scopes=scopes(batch.manifest)
            )
        except RequestInvalidError as exc:
            self.tracker.item_failed(batch, job_id, {"code": exc.code, "message": exc.message, "field": exc.field})
            return
        except ProviderUnavailableError as exc:
            self.tracker.item_failed(batch, job_id, {"code": "provider_unavailable", "message": str(exc)})
            return
        except BlobMissingError as exc:
            self.tracker.item_failed(batch, job_id, {"code": "image_unreadable", "message": str(exc)})
            return
        self.intake.start_job(replace(prepared, batch_id=batch_id))
        if self.repo.get(batch_id).deleted_at:  # deleted while this job was being created: delete it too
            self.lifecycle.delete_job(batch.tenant, job_id, cancel=True)
