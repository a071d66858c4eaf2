"""Batches: many job requests accepted at once, run under per-provider limits, ended by one event.

Entry points: `POST /v1/batches` {jobs: [... up to 1,000 job requests], defaults?} and S3 manifests
(jobs/manifests.py). Acceptance is all or nothing: every request is judged as `POST /v1/jobs` judges it
(fields, provider, each image value: stored objects inside the caller's prefixes, URLs and data: URIs
fetched and decoded) before anything is stored, and every problem is reported as {path, message}.
An accepted batch is stored (a batch record with counters, one member per job with its request, and
each job's record `queued`, so it is listed and readable from the start) and its runner is started:
one Step Functions execution (name = batch id) whose Distributed Map runs each job as its own
execution, as many at once as its providers run (`ProviderLimits`); the global limits (jobs/limits.py)
hold across batches. A job is staged (its inputs fetched, checked and stored onto its record) when its
turn comes, so accepting 1,000 jobs takes a second. `cancel` ends every open job of a batch.

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
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from ..providers.exceptions import ProviderUnavailableError
from ..settings import Settings
from .access import owned_by
from .batch_requests import judge_batch, scopes
from .batch_tracker import BATCH_COMPLETED, BatchTracker, completed_detail, json_bytes
from .exceptions import (
    BatchEndedError,
    BatchInvalidError,
    BatchNotFoundError,
    BlobMissingError,
    JobAlreadyTerminalError,
    JobNotFoundError,
    JobStillRunningError,
    RequestInvalidError,
)
from .idempotency import Idempotency
from .intake import swap_spec
from .limits import ProviderLimits
from .manifests import ERROR, RESULT, ManifestLocation, error_document, parse_manifest
from .models import PENDING_IMAGE, Batch, BatchMember, BatchStatus, Job, JobError, derived_id, iso_time, new_job_id
from .ports import BatchRepository, BlobStore, Workflow
from .queries import decode_cursor, encode_cursor
from .validation import JobRequest

if TYPE_CHECKING:
    from .intake import JobIntake
    from .lifecycle import JobLifecycle
    from .queries import JobQueries
    from .retention import JobEraser

__all__ = ["BATCH_COMPLETED", "BatchService", "BatchTracker", "ProviderLimits", "completed_detail"]

LOG = logging.getLogger(__name__)

# A member's request is kept on its DynamoDB item unless it is bigger than this (data: URIs): then in S3.
MAX_INLINE_REQUEST_BYTES = 256 * 1024
# GET /v1/batches/{id}: jobs per page (default, most).
PAGE_SIZE = 100
MAX_PAGE = 1000
# POST /v1/batches/{id}/cancel cancels open jobs for this long (an API request has 29 s); the batch's
# later RunJob steps cancel the rest as their turn comes.
CANCEL_SECONDS = 10.0


@dataclass(eq=False, kw_only=True)
class BatchService:
    settings: Settings
    intake: JobIntake
    queries: JobQueries
    lifecycle: JobLifecycle
    blobs: BlobStore
    idempotency: Idempotency
    repo: BatchRepository
    runner: Workflow
    tracker: BatchTracker
    clock: Callable[[], float] = time.time
    limits: ProviderLimits = field(init=False)

    def __post_init__(self) -> None:
        self.limits = ProviderLimits(self.settings.provider_concurrency)

    # ---- accepting --------------------------------------------------------------------------------

    def accept(
        self,
        tenant: str,
        body: Any,
        *,
        batch_id: str | None = None,
        manifest: ManifestLocation | None = None,
    ) -> tuple[Batch, bool]:
        """Judge, record and start a batch: (batch, created). Every job is recorded `queued` now (listable
        and readable by id); an existing, sealed `batch_id` records nothing and starts nothing new."""
        requests = self.validate(body, manifest, tenant)
        now = self.clock()
        providers = sorted({str(r.get("provider") or self.settings.default_provider) for r in requests})
        batch = Batch(
            id=batch_id or new_job_id(now),
            tenant=tenant,
            total=0,
            providers=providers,
            created_at=now,
            manifest=manifest.to_dict() if manifest else None,
            sealed=False,
        )
        created = self.repo.create_open(batch, shards=1)
        batch = self.repo.get(batch.id)  # the stored one: a re-delivery derives the same job ids from it
        if not batch.sealed:  # new, or a delivery that crashed before sealing: (re)write the same records
            self.register(batch, [(i, r, None) for i, r in enumerate(requests)])
            self.repo.seal(batch.id, len(requests), providers)
            batch = self.repo.get(batch.id)
            if manifest:
                self.tracker.write_result(batch.id)
        self._start(batch, [self.member_id(batch, i) for i in range(batch.total)])  # idempotent (by name)
        return batch, created

    def member_id(self, batch: Batch, index: int) -> str:
        """A job's id: a function of its batch (id, creation time) and index, sorting by index."""
        return derived_id(f"{batch.id}/{index}", batch.created_at, index)

    def register(self, batch: Batch, entries: list[tuple[int, dict[str, Any] | None, str | None]]) -> None:
        """Record jobs of a batch at acceptance: each (index, request, refusal) is a job record `queued` and
        a member (written in BatchWriteItem chunks; records first, so a listed job can always be read), or,
        for a refused line, a member `failed` with the reason and no job."""
        jobs: list[Job] = []
        members: list[tuple[BatchMember, str]] = []
        for index, request, refusal in entries:
            job_id = self.member_id(batch, index)
            if request is None:
                error = {"code": "invalid_request", "message": refusal or "refused"}
                members.append((BatchMember(index, job_id, status="failed", error=error), "{}"))
                continue
            jobs.append(self._queued_job(batch, job_id, self.intake.parse(request)))
            members.append((BatchMember(index, job_id), self.store_request(batch.tenant, batch.id, index, request)))
        self.intake.repo.put_queued(jobs)
        self.repo.add_members(batch, members)

    @staticmethod
    def _queued_job(batch: Batch, job_id: str, request: JobRequest) -> Job:
        pending = tuple(PENDING_IMAGE for _ in request.faces)
        return Job(
            id=job_id,
            tenant=batch.tenant,
            provider=request.provider,
            spec=swap_spec(request, PENDING_IMAGE, PENDING_IMAGE, pending),
            metadata=dict(request.metadata or {}),
            webhook_url=request.webhook_url,
            batch_id=batch.id,
            created_at=batch.created_at,
            updated_at=batch.created_at,
            staged=False,
        )

    def accept_manifest(self, location: ManifestLocation, *, at: float) -> Batch | None:
        """An object put under inbox/: its batch, or None when it was refused (error.json) or gone."""
        tenant = self.settings.trigger_tenant
        try:
            body = parse_manifest(self.blobs.get(location.bucket, location.key))
            batch_id = self._claim_manifest(tenant, location, at)
            batch, created = self.accept(tenant, body, batch_id=batch_id, manifest=location)
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
        self.blobs.put(location.bucket, location.outbox(ERROR), json_bytes(document), "application/json")
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

    def _load_request(self, batch_id: str, job_id: str, raw: str | None = None) -> dict[str, Any]:
        """The member's accepted request (`raw`: as read with the member already)."""
        request: dict[str, Any] = json.loads(raw if raw is not None else self.repo.request(batch_id, job_id))
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
        return owned_by(tenant, self.repo.get(batch_id), BatchNotFoundError(batch_id))

    def view(
        self, batch: Batch, *, with_jobs: bool = True, limit: int = PAGE_SIZE, next_token: str | None = None
    ) -> dict[str, Any]:
        """The batch with its counts (always the whole batch's, from the count records) and, `with_jobs`,
        one page of its jobs in index order: `limit` (1..MAX_PAGE) after `next_token`; the view's
        `next_token` names the next page (None on the last)."""
        view: dict[str, Any] = {
            "id": batch.id,
            "status": str(batch.status),
            "counts": batch.counts_view(),
            "created_at": iso_time(batch.created_at),
            "urls": {"get": f"/v1/batches/{batch.id}", "cancel": f"/v1/batches/{batch.id}/cancel"},
        }
        if batch.finished_at and batch.completion:
            view["finished_at"] = iso_time(batch.finished_at)
        if batch.cancelled_at:
            view["cancelled_at"] = iso_time(batch.cancelled_at)
        if batch.manifest:
            location = ManifestLocation.from_dict(batch.manifest)
            view["manifest"] = batch.manifest
            view["result"] = {"bucket": location.bucket, "key": location.outbox(RESULT)}
        if with_jobs:
            if not 1 <= limit <= MAX_PAGE:
                raise RequestInvalidError("invalid_request", f"limit must be from 1 to {MAX_PAGE}", "limit")
            after = decode_cursor(next_token, "next_token") if next_token else None
            members, more = self.repo.members_page(batch.id, limit, after)
            view["jobs"] = [m.view() for m in members]
            view["next_token"] = encode_cursor(members[-1].job_id) if more and members else None
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
        """Stage and start one job of the batch (recorded at acceptance); the runner waits (token) until
        the job ends.

        Safe to run twice: a job already staged is (re)started, never created again; a job already ended
        (cancelled before its turn) releases the slot at once; in a cancelled or deleted batch the job is
        cancelled here, without fetching anything, and the slot goes at once.
        """
        member = self.repo.set_token(batch_id, job_id, token)
        if member is None:  # not a member of this batch (a stale runner input): free the slot, start nothing
            LOG.warning("batch %s has no job %s: its slot is released", batch_id, job_id)
            self.tracker.release(BatchMember(-1, job_id, token=token))
            return
        if member.terminal:
            self.tracker.release(member)
            return
        job = self.queries.by_id(job_id)
        if job.terminal:
            self.tracker.job_changed(job)
            return
        if job.staged:
            self.intake.start_workflow(job)
            return
        batch = self.repo.get(batch_id, counts=False)
        if batch.deleted_at or batch.cancelled_at:
            self._cancel_job(batch.tenant, job_id)
            return
        try:
            request = self.intake.parse(self._load_request(batch_id, job_id, member.request))
            shared = f"inputs/{batch.tenant}/{batch_id}"  # the batch's jobs share inputs stored once
            prepared = self.intake.prepare_job(
                batch.tenant, request, job_id=job_id, shared_inputs=shared, scopes=scopes(batch.manifest)
            )
        except (RequestInvalidError, ProviderUnavailableError, BlobMissingError) as exc:
            # Its inputs went (or its provider's credentials) since acceptance: failed, with its one event
            # (the tracker then frees the slot).
            code = "provider_auth" if isinstance(exc, ProviderUnavailableError) else "image_unreadable"
            self.lifecycle.fail(job_id, JobError(code, str(exc)))
            return
        staged = replace(prepared, batch_id=batch_id, created_at=job.created_at, staged=True)
        if not self.intake.start_staged(staged):  # it ended meanwhile (cancelled): its slot goes now
            self.tracker.job_changed(self.queries.by_id(job_id))
            return
        batch = self.repo.get(batch_id, counts=False)
        if batch.deleted_at or batch.cancelled_at:  # cancelled while this job was being staged: cancel it too
            self._cancel_job(batch.tenant, job_id)

    def _cancel_job(self, tenant: str, job_id: str) -> None:
        with contextlib.suppress(JobAlreadyTerminalError):
            self.lifecycle.cancel_job(tenant, job_id)

    # ---- cancelling (POST /v1/batches/{id}/cancel) ---------------------------------------------------

    def cancel(self, tenant: str, batch_id: str) -> Batch:
        """Cancel every job of the batch that has not ended, each with its one `Swap Job Cancelled` (a
        running provider job finishes at the provider, its result discarded); the last one ends the batch
        with its one `Swap Batch Completed`. Idempotent: a batch already cancelled is answered as it stands.

        The batch is marked first, so every job whose turn comes later ends cancelled in its own RunJob
        step (without fetching its inputs); this request cancels the open jobs it reaches within
        CANCEL_SECONDS, running ones included (they hold the slots), in index order.
        """
        batch = self.get(tenant, batch_id)
        if batch.status is BatchStatus.COMPLETED:
            if batch.cancelled_at:
                return batch
            raise BatchEndedError(batch_id)
        self.repo.mark_cancelled(batch_id, self.clock())
        deadline = self.clock() + CANCEL_SECONDS
        after: str | None = None
        more = True
        while more and self.clock() < deadline:
            members, more = self.repo.members_page(batch_id, MAX_PAGE, after)
            for member in members:
                if not member.terminal:
                    with contextlib.suppress(JobNotFoundError):
                        self._cancel_job(tenant, member.job_id)
            after = members[-1].job_id if members else None
        return self.repo.get(batch_id)
