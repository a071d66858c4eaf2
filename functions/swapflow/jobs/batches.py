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

`BatchTracker` is told by `JobService` when a batch job starts processing and when it ends; it moves
the member (a write conditional on its state) and the batch's atomic counts (idempotent sets of job
ids, so each transition counts once however often it is reported), delivers manifest outputs to the outbox, rewrites the
manifest's result.json, and releases the job's concurrency slot. Whoever brings the last job to its
end claims the batch's completion with a conditional write and publishes `Swap Batch Completed`: once.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, replace
from typing import TYPE_CHECKING, Any

from ..providers.exceptions import ProviderUnavailableError
from ..settings import Settings
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
from .manifests import ManifestLocation, error_document, parse_manifest
from .models import PENDING_IMAGE, Batch, BatchMember, BatchStatus, Job, JobError, JobStatus, derived_id, new_job_id
from .ports import BatchRepository, BlobStore, EventPublisher, Workflow
from .service import decode_cursor, encode_cursor, swap_spec
from .validation import JobRequest

if TYPE_CHECKING:
    from .retention import JobEraser
    from .service import JobService

LOG = logging.getLogger(__name__)

BATCH_COMPLETED = "Swap Batch Completed"
IMAGE_FIELDS = ("source_image", "target_image")
MAX_ERRORS = 100
CHECK_WORKERS = 8  # image values of a batch judged at once (fetches of distinct URLs)
# A member's request is kept on its DynamoDB item unless it is bigger than this (data: URIs): then in S3.
MAX_INLINE_REQUEST_BYTES = 256 * 1024
# result.json of a big manifest is rewritten about this many times while it runs (and always at the end).
REWRITES_PER_BATCH = 20
# GET /v1/batches/{id}: jobs per page (default, most).
PAGE_SIZE = 100
MAX_PAGE = 1000
# POST /v1/batches/{id}/cancel cancels open jobs for this long (an API request has 29 s); the batch's
# later RunJob steps cancel the rest as their turn comes.
CANCEL_SECONDS = 10.0


class ProviderLimits:
    """How many jobs of a batch run at once: its providers' concurrency (settings, DESIGN 4).

    A batch slot is held for a job's whole life, so one batch never has more of a provider's jobs open
    than the provider runs at once; the limits across batches and single jobs (running and started a
    minute) are enforced by the job workflow's provider leases (jobs/limits.py). A batch that mixes
    providers runs under the strictest concurrency.
    """

    def __init__(self, concurrency: Iterable[tuple[str, float]]):
        self.concurrency = dict(concurrency)

    def for_providers(self, providers: Iterable[str]) -> int:
        """Max concurrency for a batch on these providers."""
        names = list(providers) or ["*"]
        return max(1, int(min(self.concurrency.get(p, self.concurrency.get("*", 1)) for p in names)))


class BatchTracker:
    """The finisher path's batch bookkeeping (called through `JobService.on_job_changed`)."""

    def __init__(
        self,
        *,
        repo: BatchRepository,
        blobs: BlobStore,
        events: EventPublisher,
        workflow: Workflow,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.repo = repo
        self.blobs = blobs
        self.events = events
        self.workflow = workflow
        self.clock = clock

    def job_changed(self, job: Job) -> None:
        """Idempotent: a job's start and end each count once however often they are reported."""
        if not job.batch_id:
            return
        if job.status is JobStatus.PROCESSING:
            self.repo.transition(job.batch_id, job.id, str(JobStatus.PROCESSING))
            return
        if not job.terminal:
            return
        batch = self.repo.get(job.batch_id)
        outputs = self._deliver(batch, job)
        self._ended(batch, job.id, str(job.status), outputs, asdict(job.error) if job.error else None)

    def release(self, member: BatchMember) -> None:
        """End the runner's wait for this job: its concurrency slot goes to the next one."""
        if not member.token:
            return
        try:
            self.workflow.send_success(member.token, {"job_id": member.job_id, "status": member.status})
        except Exception:  # best effort: an unreleased slot ends at the runner's slot timeout
            LOG.exception("batch slot of job %s not released", member.job_id)

    def _deliver(self, batch: Batch, job: Job) -> list[dict[str, Any]]:
        """The outputs as the batch reports them; a manifest's are copied to its outbox folder."""
        outputs = []
        location = ManifestLocation.from_dict(batch.manifest) if batch.manifest else None
        for i, out in enumerate(job.outputs):
            item = asdict(out)
            if location is not None:
                ext = out.key.rsplit(".", 1)[-1]
                key = f"{location.output_prefix}{job.id}{f'-{i}' if i else ''}.{ext}"
                self.blobs.copy(out.bucket, out.key, location.bucket, key)
                item.update(bucket=location.bucket, key=key)
            outputs.append(item)
        return outputs

    def _ended(
        self, batch: Batch, job_id: str, status: str, outputs: list[dict[str, Any]], error: dict[str, Any] | None
    ) -> None:
        changed = self.repo.transition(batch.id, job_id, status, outputs, error)
        batch = self.repo.get(batch.id)
        if batch.manifest and changed and _rewrite_due(batch):
            self.write_result(batch.id)
            if self.repo.get(batch.id).completion:  # the final result.json may have been written meanwhile
                self.write_result(batch.id)
        if batch.sealed and batch.done >= batch.total:
            self.complete(batch, job_id)
        self.release(self.repo.member(batch.id, job_id))

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
        self.blobs.put(location.bucket, location.result_key, _json_bytes(document), "application/json")


def completed_detail(batch: Batch) -> dict[str, Any]:
    """The `Swap Batch Completed` detail (schemas/events/swap-batch-completed.json)."""
    location = ManifestLocation.from_dict(batch.manifest) if batch.manifest else None
    return {
        "version": 1,
        "batch": {
            "id": batch.id,
            "status": str(batch.status),
            "counts": batch.counts_view(),
            "created_at": _iso(batch.created_at),
            "finished_at": _iso(batch.finished_at) if batch.finished_at else None,
        },
        "manifest": batch.manifest,
        "result": {"bucket": location.bucket, "key": location.result_key} if location else None,
    }


class BatchService:
    def __init__(
        self,
        *,
        settings: Settings,
        jobs: JobService,
        repo: BatchRepository,
        runner: Workflow,
        tracker: BatchTracker,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self.jobs = jobs
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
            jobs.append(self._queued_job(batch, job_id, self.jobs.parse(request)))
            members.append((BatchMember(index, job_id), self.store_request(batch.tenant, batch.id, index, request)))
        self.jobs.repo.put_queued(jobs)
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
            body = parse_manifest(self.jobs.blobs.get(location.bucket, location.key))
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
        self.jobs.blobs.put(location.bucket, location.error_key, _json_bytes(document), "application/json")
        return None

    def _claim_manifest(self, tenant: str, location: ManifestLocation, at: float) -> str:
        """The batch id of this manifest version: derived from it, and held for 24 h as an idempotency
        record keyed by (bucket, key, version id or ETag), so a re-delivered S3 event (whatever its
        eventTime) names the batch the first delivery made and starts nothing new."""
        batch_id = location.batch_id(at)
        records = self.jobs.idempotency
        if records is None:
            return batch_id
        key = "manifest:" + hashlib.sha256(location.identity.encode()).hexdigest()
        held = records.held(tenant, key)
        return held[0] if held else records.reserve(tenant, key, "", batch_id)[0]

    def validate(
        self, body: Any, manifest: ManifestLocation | None = None, tenant: str | None = None
    ) -> list[dict[str, Any]]:
        """Every job request of a batch body, defaults merged (and manifest refs resolved); all or nothing:
        image values are judged as `POST /v1/jobs` judges them (see `_image_errors`)."""
        if not isinstance(body, dict):
            raise BatchInvalidError([{"path": "", "message": "a batch is a JSON object {jobs: [...], defaults?}"}])
        errors = [{"path": name, "message": "unknown field"} for name in sorted(set(body) - {"jobs", "defaults"})]
        jobs, defaults = body.get("jobs"), body.get("defaults", {})
        limit = self.settings.max_batch_jobs
        if not isinstance(jobs, list) or not 1 <= len(jobs) <= limit:
            errors.append({"path": "jobs", "message": f"jobs must be a list of 1 to {limit} job requests"})
        if not isinstance(defaults, dict):
            errors.append({"path": "defaults", "message": "defaults must be a JSON object of job request fields"})
        if errors or not isinstance(jobs, list):
            raise BatchInvalidError(errors)
        requests: list[dict[str, Any]] = []
        indexes: list[int] = []
        first_use: dict[str, int] = {}
        for i, item in enumerate(jobs):
            path = f"jobs[{i}]"
            if not isinstance(item, dict):
                errors.append({"path": path, "message": "each job is a JSON object with the fields of POST /v1/jobs"})
                continue
            merged = {**defaults, **item}
            merged.pop("wait", None)  # batch jobs never answer synchronously
            try:
                if manifest is not None:
                    merged = _resolve_images(merged, manifest)
                request = self.jobs.parse(merged)
            except RequestInvalidError as exc:
                errors.append({"path": f"{path}.{exc.field}" if exc.field else path, "message": exc.message})
                continue
            first_use.setdefault(request.provider, i)
            requests.append(merged)
            indexes.append(i)
        errors.extend(self._image_errors(requests, indexes, tenant, _scopes(manifest)))
        errors.sort(key=_job_index)  # stable: each job's problems together, in the order found
        for provider, i in first_use.items():
            try:
                self.jobs.available_providers(provider)
            except ProviderUnavailableError as exc:
                errors.append({"path": f"jobs[{i}].provider", "message": str(exc)})
        if errors:
            raise BatchInvalidError(errors[:MAX_ERRORS])
        return requests

    def _image_errors(
        self, requests: list[dict[str, Any]], indexes: list[int], tenant: str | None, scopes: tuple[str, ...]
    ) -> list[dict[str, str]]:
        """Each distinct image value judged once, as POST /v1/jobs judges it: stored objects (uploads,
        s3:// refs) by a HEAD inside the caller's prefixes, data: URIs and URLs fetched and decoded
        (CHECK_WORKERS at a time). Nothing is stored: the job reads its inputs again when its turn comes."""
        inputs = self.jobs.inputs

        def judge(ref: str) -> str | None:
            try:
                key = inputs.stored_key(ref, "image", tenant, scopes)
                if key is not None:
                    inputs.stored_size(key, "image")
                else:
                    inputs.check(inputs.load(ref, "image", tenant, scopes), "image")
            except RequestInvalidError as exc:
                return exc.message.removeprefix("image: ")
            return None

        refs = [
            (f"jobs[{i}].{field}", ref) for i, r in zip(indexes, requests, strict=True) for field, ref in _image_refs(r)
        ]
        distinct = list(dict.fromkeys(ref for _, ref in refs))
        with ThreadPoolExecutor(CHECK_WORKERS) as pool:
            verdicts = dict(zip(distinct, pool.map(judge, distinct), strict=True))
        return [{"path": path, "message": message} for path, ref in refs if (message := verdicts[ref])]

    def store_request(self, tenant: str, batch_id: str, index: int, request: dict[str, Any]) -> str:
        text = json.dumps(request, separators=(",", ":"))
        if len(text) <= MAX_INLINE_REQUEST_BYTES:
            return text
        key = f"batches/{tenant}/{batch_id}/{index}.json"
        self.jobs.blobs.put(self.settings.input_bucket, key, text.encode(), "application/json")
        return json.dumps({"$stored": key})

    def _load_request(self, batch_id: str, job_id: str) -> dict[str, Any]:
        request: dict[str, Any] = json.loads(self.repo.request(batch_id, job_id))
        if set(request) == {"$stored"}:
            request = json.loads(self.jobs.blobs.get(self.settings.input_bucket, request["$stored"]))
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
            "created_at": _iso(batch.created_at),
            "urls": {"get": f"/v1/batches/{batch.id}", "cancel": f"/v1/batches/{batch.id}/cancel"},
        }
        if batch.finished_at and batch.completion:
            view["finished_at"] = _iso(batch.finished_at)
        if batch.cancelled_at:
            view["cancelled_at"] = _iso(batch.cancelled_at)
        if batch.manifest:
            location = ManifestLocation.from_dict(batch.manifest)
            view["manifest"] = batch.manifest
            view["result"] = {"bucket": location.bucket, "key": location.result_key}
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
        if self.jobs.erase is None:
            raise RuntimeError("no deleting function is configured (SWAPFLOW_ERASER_FUNCTION)")
        # First the mark: a RunJob step now either sees it and starts nothing, or has already recorded its
        # job (which `purge` then finds), or sees it right after recording and deletes its own job.
        self.repo.mark_deleted(batch_id, time.time())
        if batch.status is not BatchStatus.COMPLETED:
            with contextlib.suppress(Exception):  # an ended or never started runner is fine
                self.runner.stop(batch_id, "batch deleted by the client")
        self.jobs.erase.request({"batch_id": batch_id, "tenant": tenant, "by": by})
        return self.repo.get(batch_id)

    def purge(self, tenant: str, batch_id: str, eraser: JobEraser, *, by: str | None = None) -> int:
        """The deleting function's part: delete each job of the batch (cancelled first if open), then the
        requests the batch stored. Returns how many jobs were deleted."""
        self.get(tenant, batch_id)
        deleted = 0
        for member in self.repo.members(batch_id):
            try:
                self.jobs.delete_job(tenant, member.job_id, cancel=True, by=by, hand_off=False)
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
        job = self.jobs.repo.get(job_id)
        if job.terminal:
            self.tracker.job_changed(job)
            return
        if job.staged:
            self.jobs.start_workflow(job)
            return
        batch = self.repo.get(batch_id)
        if batch.deleted_at or batch.cancelled_at:
            self._cancel_job(batch.tenant, job_id)
            return
        try:
            request = self.jobs.parse(self._load_request(batch_id, job_id))
            shared = f"inputs/{batch.tenant}/{batch_id}"  # the batch's jobs share inputs stored once
            prepared = self.jobs.prepare_job(
                batch.tenant, request, job_id=job_id, shared_inputs=shared, scopes=_scopes(batch.manifest)
            )
        except (RequestInvalidError, ProviderUnavailableError, BlobMissingError) as exc:
            # Its inputs went (or its provider's credentials) since acceptance: failed, with its one event
            # (the tracker then frees the slot).
            code = "provider_auth" if isinstance(exc, ProviderUnavailableError) else "image_unreadable"
            self.jobs.fail(job_id, JobError(code, str(exc)))
            return
        staged = replace(prepared, batch_id=batch_id, created_at=job.created_at, staged=True)
        if not self.jobs.start_staged(staged):  # it ended meanwhile (cancelled): its slot goes now
            self.tracker.job_changed(self.jobs.repo.get(job_id))
            return
        batch = self.repo.get(batch_id)
        if batch.deleted_at or batch.cancelled_at:  # cancelled while this job was being staged: cancel it too
            self._cancel_job(batch.tenant, job_id)

    def _cancel_job(self, tenant: str, job_id: str) -> None:
        with contextlib.suppress(JobAlreadyTerminalError):
            self.jobs.cancel_job(tenant, job_id)

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


def _job_index(error: dict[str, str]) -> int:
    """The job an error {path: "jobs[3]...."} is about; -1 for the batch itself."""
    path = error["path"]
    return int(path[5 : path.index("]")]) if path.startswith("jobs[") and "]" in path else -1


def _scopes(manifest: ManifestLocation | dict[str, Any] | None) -> tuple[str, ...]:
    """Where a batch's jobs may read stored images besides the tenant's uploads: a manifest's folder."""
    if manifest is None:
        return ()
    location = manifest if isinstance(manifest, ManifestLocation) else ManifestLocation.from_dict(manifest)
    return (location.folder,)


def _image_refs(request: dict[str, Any]) -> list[tuple[str, str]]:
    refs = [(name, request[name]) for name in IMAGE_FIELDS if isinstance(request.get(name), str)]
    faces = request.get("faces")
    if isinstance(faces, list):
        for i, face in enumerate(faces):
            if isinstance(face, dict) and isinstance(face.get("source_image"), str):
                refs.append((f"faces[{i}].source_image", face["source_image"]))
    return refs


def _resolve_images(request: dict[str, Any], location: ManifestLocation) -> dict[str, Any]:
    resolved = dict(request)
    for name in IMAGE_FIELDS:
        if isinstance(resolved.get(name), str) and resolved[name].strip():
            resolved[name] = location.resolve(resolved[name].strip(), name)
    faces = resolved.get("faces")
    if isinstance(faces, list):
        resolved["faces"] = [
            {**face, "source_image": location.resolve(face["source_image"].strip(), f"faces[{i}].source_image")}
            if isinstance(face, dict) and isinstance(face.get("source_image"), str) and face["source_image"].strip()
            else face
            for i, face in enumerate(faces)
        ]
    return resolved


def _rewrite_due(batch: Batch) -> bool:
    every = max(1, batch.total // REWRITES_PER_BATCH)
    return batch.done < batch.total and (batch.total <= 50 or batch.done % every == 0)  # the last: _complete


def _json_bytes(document: Any) -> bytes:
    return json.dumps(document, indent=2, default=str).encode()


def _iso(ts: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts)) + f".{int(ts * 1000) % 1000:03d}Z"
