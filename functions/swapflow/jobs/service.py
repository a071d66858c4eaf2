"""Use cases of the job lifecycle: accept, submit, wait, poll, complete, finish.

Every step is idempotent: the workflow may run any of them twice (retries, crashes) and the job still
reaches exactly one terminal state with exactly one terminal event.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import logging
import math
import re
import time
from collections.abc import Callable, Collection
from dataclasses import asdict, dataclass, replace
from typing import TYPE_CHECKING, Any

from ..providers.base import (
    FacePair,
    ImageRef,
    Provider,
    ProviderFailure,
    ProviderOutput,
    ProviderResult,
    ProviderState,
    Submission,
    SwapRequest,
)
from ..providers.exceptions import ProviderBusyError, ProviderError, ProviderUnavailableError
from ..providers.registry import AUTO, family_of, internal_callback, refusal
from ..providers.spec import Asked
from ..settings import Settings
from .exceptions import (
    IdempotencyKeyReusedError,
    JobAlreadyTerminalError,
    JobNotFoundError,
    JobStillRunningError,
    OutputRefusedError,
    RequestInvalidError,
)
from .inputs import InputLoader
from .limits import ProviderGate, ProviderSlotBusyError
from .models import FaceSpec, Job, JobError, JobStatus, Output, StoredImage, SwapSpec, new_job_id
from .ports import (
    AuditLog,
    BlobStore,
    EraseRequests,
    EventPublisher,
    IdempotencyRecords,
    JobRepository,
    OutputMarker,
    Workflow,
)
from .retention import Retention
from .validation import MAX_WAIT_SECONDS, JobRequest, parse_job_request

if TYPE_CHECKING:
    from ..provenance import OutputFacts

ProviderFactory = Callable[[str], Provider]

MAX_LIST_LIMIT = 100
WAIT_POLL_SECONDS = 0.25
REPLAY_WAIT_SECONDS = 20.0  # a concurrent duplicate waits this long for the winner (API Gateway allows 29 s)
# A Lambda response is capped at 6 MB: bigger outputs are served by URL only.
MAX_BASE64_OUTPUT_BYTES = 4 * 1024 * 1024
_JOB_ID = re.compile(r"[0-9A-HJKMNP-TV-Z]{26}")

# `provider: "auto"` follows settings.auto_providers, moving on when a provider is out of quota,
# refuses our credentials, or stays busy.
FALLBACK_CODES = frozenset({"provider_quota", "provider_auth"})

EXTENSIONS = {"image/jpeg": "jpg", "image/png": "png", "image/webp": "webp"}

# Errors the workflow catches, mapped to job errors (Step Functions reports the exception class name).
_CAUGHT_ERRORS = {
    "ProviderBusyError": ("provider_failed", "the provider stayed busy through every retry"),
    "States.Timeout": ("provider_timeout", "the provider did not answer in time"),
    "ProviderSlotBusyError": ("provider_failed", "no slot of the provider came free in time"),
}


def result_to_dict(result: ProviderResult) -> dict[str, Any]:
    return {
        "state": str(result.state),
        "outputs": [asdict(o) for o in result.outputs],
        "failure": asdict(result.failure) if result.failure else None,
    }


def result_from_dict(data: dict[str, Any]) -> ProviderResult:
    failure = data.get("failure")
    return ProviderResult(
        state=ProviderState(data["state"]),
        outputs=tuple(ProviderOutput(**o) for o in data.get("outputs") or ()),
        failure=ProviderFailure(**failure) if failure else None,
    )


@dataclass(frozen=True)
class Step:
    """Where a Run pass left the job: running, succeeded or failed (with the job error)."""

    job_id: str
    state: str
    error: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"job_id": self.job_id, "state": self.state}
        if self.error:
            out["error"] = self.error
        return out


class JobService:
    def __init__(
        self,
        *,
        settings: Settings,
        repo: JobRepository,
        blobs: BlobStore,
        workflow: Workflow,
        events: EventPublisher,
        providers: ProviderFactory,
        provider_names: Collection[str],
        inputs: InputLoader,
        public_url: Callable[[], str] = lambda: "",
        clock: Callable[[], float] = time.time,
        idempotency: IdempotencyRecords | None = None,
        sleep: Callable[[float], None] = time.sleep,
        on_job_changed: Callable[[Job], None] | None = None,
        gate: ProviderGate | None = None,
        marker: OutputMarker | None = None,
        retention: Callable[[str], Retention] | None = None,
        audit: AuditLog | None = None,
        erase: EraseRequests | None = None,
    ) -> None:
        self.settings = settings
        self.repo = repo
        self.blobs = blobs
        self.workflow = workflow
        self.events = events
        self.providers = providers
        self.provider_names = provider_names
        self.inputs = inputs
        self.public_url = public_url
        self.clock = clock
        self.idempotency = idempotency
        self.sleep = sleep
        # Batch bookkeeping (jobs/batches.py BatchTracker): told when a batch job starts processing
        # and, on every announce of a terminal job (it is idempotent), when it ended.
        self.on_job_changed = on_job_changed
        # Global provider limits (jobs/limits.py): a lease per running job, released at its end.
        self.gate = gate
        # Provenance (swapflow.provenance): every archived output is marked before it is written.
        self.marker = marker
        # Responsible use (jobs/retention.py): the tenant's retention fixes each ended job's expiry; the
        # audit trail records submissions and deletions; `erase` hands deletions to the deleting function.
        self.retention = retention or (lambda tenant: Retention())
        self.audit = audit
        self.erase = erase

    # ---- accepting jobs -------------------------------------------------------------------------

    def parse(self, body: Any) -> JobRequest:
        return parse_job_request(
            body,
            providers=self.provider_names,
            default_provider=self.settings.default_provider,
            auto_chain=self.settings.auto_providers,
        )

    def create_job(
        self,
        tenant: str,
        request: JobRequest,
        *,
        idempotency_key: str | None = None,
        correlation_id: str | None = None,
        job_id: str | None = None,
        submitted_by: str | None = None,
    ) -> Job:
        """Check and store the inputs, record the job `queued` and start its workflow (name = job id)."""
        job = self.prepare_job(
            tenant,
            request,
            idempotency_key=idempotency_key,
            correlation_id=correlation_id,
            job_id=job_id,
            submitted_by=submitted_by,
        )
        return self.start_job(job)

    def prepare_job(
        self,
        tenant: str,
        request: JobRequest,
        *,
        idempotency_key: str | None = None,
        correlation_id: str | None = None,
        job_id: str | None = None,
        shared_inputs: str | None = None,
        scopes: tuple[str, ...] = (),
        submitted_by: str | None = None,
    ) -> Job:
        """Check the provider and store the inputs: the job as it will be recorded, not yet recorded.

        Stored inputs are read only under the tenant's uploads prefix and `scopes` (a manifest's folder).
        `shared_inputs`: a key prefix where inputs are stored by content (a batch's jobs share them)."""
        self.available_providers(request.provider)  # a provider without credentials is refused now
        if request.webhook_url:
            self.inputs.check_callback_url(request.webhook_url, "webhook_url")
        job_id = job_id or new_job_id(self.clock())
        prefix = f"inputs/{tenant}/{job_id}"
        shared = {"by_content": True} if shared_inputs else {}

        def stem(name: str) -> str:
            return shared_inputs or f"{prefix}/{name}"

        source = self.inputs.store(request.source_image, "source_image", stem("source"), tenant, scopes, **shared)
        target = self.inputs.store(request.target_image, "target_image", stem("target"), tenant, scopes, **shared)
        face_sources = tuple(
            source
            if face.source_image == request.source_image
            else self.inputs.store(
                face.source_image, f"faces[{i}].source_image", stem(f"face{i}"), tenant, scopes, **shared
            )
            for i, face in enumerate(request.faces)
        )
        now = self.clock()
        job = Job(
            id=job_id,
            tenant=tenant,
            provider=request.provider,
            spec=swap_spec(request, source, target, face_sources),
            metadata=dict(request.metadata or {}),
            webhook_url=request.webhook_url,
            idempotency_key=idempotency_key,
            correlation_id=correlation_id,
            created_at=now,
            updated_at=now,
            submitted_by=submitted_by,
        )
        return job

    def start_job(self, job: Job) -> Job:
        """Record a prepared job `queued` and start its workflow (name = job id)."""
        # Audited first: a failure here refuses the job before it exists, never leaves one unstarted.
        self._audit(job, "job.submitted", provider=job.provider, inputs=job.input_hashes(), options=_options(job))
        self.repo.put_new(job)
        self.start_workflow(job)
        return job

    def start_staged(self, job: Job) -> bool:
        """A batch job recorded at acceptance, now prepared: its stored inputs written onto its record (no
        second record, no event) and its workflow started. False if it ended meanwhile (cancelled)."""
        if not self.repo.stage(job):
            return False
        self._audit(job, "job.submitted", provider=job.provider, inputs=job.input_hashes(), options=_options(job))
        self.start_workflow(job)
        return True

    def start_workflow(self, job: Job) -> None:
        """Start (or, for an existing execution, do nothing) the job's workflow, named after the job.

        `wait` is how long each Run pass waits for the job's result before it looks again: long when
        the provider calls back (the engine, providers given our webhook URL), so that the callback,
        not polling, ends the job; the poll interval when nothing will call back. Never past the job's
        deadline: the pass after it ends the job `provider_timeout` on time.
        """
        callback = self.settings.engine_callback if internal_callback(job.provider) else bool(self.public_url())
        wait = self.settings.callback_wait_seconds if callback else self.settings.poll_initial_seconds
        wait = max(1, min(round(wait), math.ceil(self._deadline(job) - self.clock())))
        self.workflow.start(job.id, {"job_id": job.id, "wait": wait})

    def _deadline(self, job: Job) -> float:
        """When the job times out: the stack's deadline from its start, or its own Cancel-After if sooner."""
        deadline = (job.submitted_at or job.created_at) + self.settings.job_deadline_seconds
        if job.spec.deadline_seconds is not None:
            deadline = min(deadline, job.created_at + job.spec.deadline_seconds)
        return deadline

    def _audit(self, job: Job, action: str, *, by: str | None = None, **facts: Any) -> None:
        if self.audit is not None:
            entry = {"action": action, "job_id": job.id, "key_id": by or job.submitted_by, **facts}
            if job.batch_id:
                entry["batch_id"] = job.batch_id
            self.audit.record(job.tenant, entry, self.clock())


    def get_job(self, tenant: str, job_id: str) -> Job:
        """A tenant only ever sees its own jobs: another tenant's id is simply not found."""
        job = self.repo.get(job_id)
        if job.tenant != tenant:
            raise JobNotFoundError(job_id)
        return job

    def output_urls(self, job: Job) -> list[str]:
        return [self.blobs.presign_get(o.bucket, o.key, self.settings.presign_seconds) for o in job.outputs]

    def view(self, job: Job, *, with_base64: bool = False) -> dict[str, Any]:
        """The public view; `with_base64` adds each output's bytes when the job asked for them."""
        view = job.public_view(self.output_urls(job))
        if with_base64 and job.spec.enable_base64_output and job.outputs_erased_at is None and not job.deleted_at:
            for item, out in zip(view["outputs"], job.outputs, strict=True):
                if out.bytes <= MAX_BASE64_OUTPUT_BYTES:
                    item["base64"] = base64.b64encode(self.blobs.get(out.bucket, out.key)).decode("ascii")
        return view

    # ---- the native API's other use cases ---------------------------------------------------------

    def create_job_once(
        self,
        tenant: str,
        request: JobRequest,
        *,
        idempotency_key: str,
        fingerprint: str,
        submitted_by: str | None = None,
    ) -> tuple[Job, bool]:
        """Create the job unless this tenant's key already did: (job, replayed).

        The key is reserved (with the body's fingerprint and a fresh job id) only after the inputs
        passed their checks, so a bad request never burns it; a concurrent duplicate loses the
        reservation and answers with the winner's job. Same key, other body: IdempotencyKeyReusedError.
        """
        check_idempotency_key(idempotency_key)
        if self.idempotency is None:
            return self.create_job(tenant, request, idempotency_key=idempotency_key, submitted_by=submitted_by), False
        held = self.idempotency.held(tenant, idempotency_key)
        if held:
            return self._replay(tenant, idempotency_key, fingerprint, held), True
        job = self.prepare_job(tenant, request, idempotency_key=idempotency_key, submitted_by=submitted_by)
        holder = self.idempotency.reserve(tenant, idempotency_key, fingerprint, job.id)
        if holder[0] != job.id:
            return self._replay(tenant, idempotency_key, fingerprint, holder), True
        try:
            return self.start_job(job), False
        except Exception:
            self.idempotency.release(tenant, idempotency_key, job.id)
            raise

    def _replay(self, tenant: str, key: str, fingerprint: str, holder: tuple[str, str]) -> Job:
        job_id, held_fingerprint = holder
        if held_fingerprint != fingerprint:
            raise IdempotencyKeyReusedError(key, job_id)
        deadline = self.clock() + REPLAY_WAIT_SECONDS
        while True:  # a concurrent winner records its job a moment after reserving the key
            try:
                return self.get_job(tenant, job_id)
            except JobNotFoundError:
                if self.clock() >= deadline:
                    raise RequestInvalidError(
                        "idempotency_conflict",
                        "a request with this Idempotency-Key is still being processed; retry shortly",
                        "Idempotency-Key",
                    ) from None
                self.sleep(0.1)

    def wait_for_job(self, tenant: str, job_id: str, seconds: float) -> Job:
        """Sync mode: the job once terminal, or as it stands when `seconds` have passed."""
        deadline = self.clock() + min(seconds, MAX_WAIT_SECONDS)
        job = self.get_job(tenant, job_id)
        while not job.terminal and self.clock() < deadline:
            self.sleep(min(WAIT_POLL_SECONDS, max(deadline - self.clock(), 0.01)))
            job = self.get_job(tenant, job_id)
        return job

    def list_jobs(
        self, tenant: str, *, status: str | None = None, limit: int = 20, cursor: str | None = None
    ) -> tuple[list[Job], str | None]:
        """A tenant's jobs, newest first, in pages: (jobs, cursor of the next page or None)."""
        if status is not None and status not in set(JobStatus):
            raise RequestInvalidError("invalid_request", f"status must be one of: {', '.join(JobStatus)}", "status")
        if not 1 <= limit <= MAX_LIST_LIMIT:
            raise RequestInvalidError("invalid_request", f"limit must be from 1 to {MAX_LIST_LIMIT}", "limit")
        after = decode_cursor(cursor) if cursor else None
        jobs, more = self.repo.list_for_tenant(tenant, status, limit, after)
        return jobs, encode_cursor(jobs[-1].id) if more and jobs else None

    def cancel_job(self, tenant: str, job_id: str) -> Job:
        """End an open job `cancelled`, stop its execution and emit its one `Swap Job Cancelled` event.

        The later workflow steps (if one was already running) find the job terminal and end quietly.
        """
        job = self.get_job(tenant, job_id)
        if job.terminal:
            raise JobAlreadyTerminalError(job_id, str(job.status))
        error = JobError("cancelled", "the job was cancelled by the client")
        if not self._end(job, JobStatus.CANCELLED, [], error):
            raise JobAlreadyTerminalError(job_id, str(self.repo.get(job_id).status))
        with contextlib.suppress(Exception):  # best effort: a step still running finds the job terminal
            self.workflow.stop(job_id, "cancelled by the client")
        return self._announce(self.repo.get(job_id))

    def delete_job(
        self, tenant: str, job_id: str, *, cancel: bool = False, by: str | None = None, hand_off: bool = True
    ) -> Job:
        """Delete on request: the record becomes a tombstone now, the deleting function removes every stored
        copy of the photos (all versions) and announces `Swap Job Deleted`. Idempotent; an open job is
        refused (JobStillRunningError) unless `cancel`, which cancels it first. `hand_off=False`: the caller
        is the deleting function itself and erases next."""
        job = self.get_job(tenant, job_id)
        if not job.terminal:
            if not cancel:
                raise JobStillRunningError(job_id, str(job.status))
            with contextlib.suppress(JobAlreadyTerminalError):  # it ended meanwhile: delete it all the same
                self.cancel_job(tenant, job_id)
        if self.repo.tombstone(job_id, self.clock()):
            self._audit(job, "job.deleted", by=by, inputs=job.input_hashes(), outputs=[o.sha256 for o in job.outputs])
        if hand_off and self.erase is not None:
            self.erase.request({"job_id": job_id})
        return self.repo.get(job_id)

    # ---- workflow steps -------------------------------------------------------------------------

    def run_step(self, job_id: str, token: str) -> Job:
        """One pass of the job's workflow (its Run task, .waitForTaskToken): move the job as far as it
        goes now. A job that ends here is finished at once and the token is sent back; one still
        running keeps the token parked for the completion path (webhook, engine) to send. The pass
        runs again when its wait times out: a poll.

        ProviderSlotBusyError / ProviderBusyError propagate: the state machine retries the pass later.
        """
        job = self.repo.get(job_id)
        if not job.terminal:
            step = self.poll_status(job) if job.provider_job_id else self.submit_to_provider(job)
            if step.state == "running":
                recorded = self.repo.store_token(job_id, token, {})
                if not recorded or recorded["state"] == ProviderState.RUNNING:
                    return job
                step = Step(job_id, _step_state(recorded["state"]))
            job = self.finish(job_id) if step.state == "succeeded" else self.fail_from_step(job_id, step.to_dict())
        self._announce(job)  # idempotent: a pass after a crash still emits the one event
        self.workflow.send_success(token, {"job_id": job_id, "status": str(job.status)})
        return job

    def _swap_request(self, job: Job, provider: str) -> SwapRequest:
        def ref(image: StoredImage) -> ImageRef:
            url = self.blobs.presign_get(image.bucket, image.key, 3600)
            return ImageRef(image.bucket, image.key, image.content_type, url)

        spec = job.spec
        base = self.public_url()
        family = family_of(provider)
        return SwapRequest(
            job_id=job.id,
            source=ref(spec.source_image),
            target=ref(spec.target_image),
            face_enhance=spec.face_enhance,
            target_index=spec.target_index,
            single_face_mode=spec.single_face_mode,
            output_format=spec.output_format,
            faces=tuple(FacePair(ref(f.source_image), f.target_face) for f in spec.faces),
            webhook_url=f"{base}/webhooks/{family}?job={job.id}" if base else None,
        )

    def submit_to_provider(self, job: Job) -> Step:
        """Take a provider slot and hand the job over; `auto` moves on past full or busy providers."""
        if job.provider_job_id:  # a retried step: the provider already has it
            return Step(job.id, "running")
        auto = job.provider == AUTO
        busy: ProviderBusyError | ProviderSlotBusyError | None = None
        error: ProviderError | None = None
        # `auto` walks the fallback chain on quota, auth and busy providers; a named provider does not.
        for name in self.available_providers(job.provider, job.spec):
            try:
                self._acquire(name, job.id)
            except ProviderSlotBusyError as exc:
                if not auto:
                    raise
                busy = exc
                continue
            try:
                submission = self._submit(name, job)
            except ProviderBusyError as exc:
                self._release(name, job.id)
                if not auto:
                    raise
                busy = exc
                continue
            except ProviderError as exc:
                self._release(name, job.id)
                error = exc
                if auto and exc.code in FALLBACK_CODES:
                    continue
                break
            self.repo.mark_processing(job.id, submission.provider_job_id, self.clock(), provider=name)
            self._job_changed(replace(job, status=JobStatus.PROCESSING, provider=name), quiet=True)
            if submission.result.state is not ProviderState.RUNNING:
                self.repo.record_result(job.id, result_to_dict(submission.result))
            return Step(job.id, _step_state(submission.result.state))
        if busy is not None and (error is None or error.code in FALLBACK_CODES):
            raise busy  # a provider in the chain was only busy: the workflow retries the chain later
        assert error is not None
        return Step(job.id, "failed", asdict(JobError.of(error.code, error.message, error.provider_code)))

    def _acquire(self, provider: str, job_id: str) -> None:
        if self.gate is not None:
            self.gate.acquire(provider, job_id)

    def _submit(self, name: str, job: Job) -> Submission:
        """Submit under the job's lease; its start is stamped when the request returned, whatever the answer."""
        try:
            return self.providers(name).submit(self._swap_request(job, name))
        finally:
            if self.gate is not None:
                self.gate.submitted(name, job.id)

    def _release(self, provider: str, job_id: str) -> None:
        if self.gate is not None:
            self.gate.release(provider, job_id)

    def available_providers(self, name: str, asked: Asked | None = None) -> list[str]:
        """The providers a job on `name` may use, in order; refused (4xx) if none is configured. `auto`
        skips the providers that cannot serve `asked` (the job's faces and options)."""
        names = list(self.settings.auto_providers) if name == AUTO else [name]
        if name == AUTO and asked is not None:
            names = [n for n in names if refusal(n, asked) is None]
        available: list[str] = []
        missing: ProviderUnavailableError | None = None
        for candidate in names:
            try:
                self.providers(candidate)
            except ProviderUnavailableError as exc:
                missing = missing or exc
                continue
            available.append(candidate)
        if not available:
            raise missing or ProviderUnavailableError(name, "SWAPFLOW_AUTO_PROVIDERS")
        return available

    def poll_status(self, job: Job) -> Step:
        """A pass after the wait timed out: the recorded result (a webhook), else ask the provider."""
        recorded = self.repo.recorded_result(job.id)
        if recorded and recorded["state"] != ProviderState.RUNNING:
            return Step(job.id, _step_state(recorded["state"]))
        provider = self.providers(job.provider)
        if self.clock() >= self._deadline(job):
            if job.provider_job_id:
                with contextlib.suppress(Exception):  # best effort: the job fails on its deadline anyway
                    provider.cancel(job.provider_job_id)
            error = JobError("provider_timeout", "the provider did not finish before the job's deadline")
            return Step(job.id, "failed", asdict(error))
        try:
            result = provider.poll(job.provider_job_id or job.id)
        except ProviderBusyError:
            return Step(job.id, "running")  # the next pass comes later (the state machine backs off)
        except ProviderError as exc:
            return Step(job.id, "failed", asdict(JobError.of(exc.code, exc.message, exc.provider_code)))
        if result.state is not ProviderState.RUNNING:
            self.repo.record_result(job.id, result_to_dict(result))
            return Step(job.id, _step_state(result.state))
        return Step(job.id, "running")

    def complete_from_provider(self, job_id: str, result: ProviderResult, *, notify: bool = True) -> bool:
        """The completion path (provider webhooks, the engine): record the result, finish the job here
        (archive, terminal state, event) and hand the parked token back, so the workflow ends without
        another step. Returns True if a waiting workflow was woken now.

        With `notify` off (tests of the poll path) the result is only recorded: the next pass finds it.
        A duplicate or late result changes nothing.
        """
        if result.state is ProviderState.RUNNING:
            return False
        listening = self.repo.record_result(job_id, result_to_dict(result))
        if not notify:
            return False
        try:
            job = self.finish(job_id)  # idempotent: a duplicate callback finds the job ended and emits nothing
        except Exception as exc:
            if listening is not None:  # the workflow's next pass finishes it (retried at once, not on a timeout)
                self.workflow.send_failure(listening[0], "JobFinishFailed", f"{type(exc).__name__}: {exc}")
            raise
        if listening is None:
            return False
        return self.workflow.send_success(listening[0], {"job_id": job_id, "status": str(job.status)})

    # ---- terminal transitions -------------------------------------------------------------------

    def finish(self, job_id: str) -> Job:
        """Archive the provider's outputs and complete the job (or fail it with the recorded failure)."""
        job = self.repo.get(job_id)
        if job.terminal:
            return self._announce(job)
        recorded = self.repo.recorded_result(job_id)
        if not recorded:
            return self.fail(job_id, JobError("internal", "no provider result was recorded"))
        result = result_from_dict(recorded)
        if result.state is ProviderState.FAILED or not result.outputs:
            failure = result.failure or ProviderFailure("provider_failed", "the provider returned no output")
            return self.fail(job_id, JobError.of(failure.code, failure.message, failure.provider_code))
        try:
            outputs = [self._archive(job, i, out) for i, out in enumerate(result.outputs)]
        except OutputRefusedError as exc:  # retrying cannot help: the job fails now, on the provider
            logging.getLogger(__name__).error(
                "output of job %s refused: %s", job_id, exc.message, extra={"job_id": job_id, "reason": exc.code}
            )
            refused = JobError("provider_failed", f"the provider's output was refused: {exc.message}", exc.code)
            return self.fail(job_id, refused)
        self._end(job, JobStatus.COMPLETED, outputs, None)
        return self._announce(self.repo.get(job_id))

    def fail(self, job_id: str, error: JobError) -> Job:
        self._end(self.repo.get(job_id), JobStatus.FAILED, [], error)
        return self._announce(self.repo.get(job_id))

    def _end(self, job: Job, status: JobStatus, outputs: list[Output], error: JobError | None) -> bool:
        """The terminal transition, with the dates the tenant's retention gives its photos from now."""
        now = self.clock()
        return self.repo.finish(job.id, status, outputs, error, now, expires=self.retention(job.tenant).expiry(now))

    def fail_from_step(self, job_id: str, state: dict[str, Any]) -> Job:
        """The workflow's failure path: the step's own error, the recorded failure, or the caught one."""
        if state.get("error"):
            err = state["error"]
            return self.fail(job_id, JobError.of(err["code"], err["message"], err.get("provider_code")))
        recorded = self.repo.recorded_result(job_id)
        if recorded and recorded.get("failure"):
            f = recorded["failure"]
            return self.fail(job_id, JobError.of(f["code"], f["message"], f.get("provider_code")))
        caught = state.get("failure") or {}
        code, message = _CAUGHT_ERRORS.get(caught.get("Error", ""), ("internal", "the job failed unexpectedly"))
        return self.fail(job_id, JobError(code, message))

    @staticmethod
    def archive_key(job: Job, index: int) -> str:
        """Where output `index` of a job is archived, without its extension."""
        return f"outputs/{job.tenant}/{job.id}/{index}"

    def _archive(self, job: Job, index: int, out: ProviderOutput) -> Output:
        if out.bucket and out.key:
            data = self.blobs.get(out.bucket, out.key)
        elif out.url:
            data = self.inputs.fetch_output(out.url)
        else:
            raise RequestInvalidError("internal", "provider output has neither a URL nor an S3 location")
        from .. import images

        original = data
        data, info, note = images.conform(data, self.inputs.sniff(data), job.spec.output_format)
        if self.marker is not None:
            data = self.marker.mark(data, _output_facts(job, index, info.content_type, info.width, info.height))
        key = f"{self.archive_key(job, index)}.{EXTENSIONS.get(info.content_type, 'bin')}"
        # The engine writes its output in place: put it again only when conforming or marking changed it.
        if (out.bucket, out.key) != (self.settings.archive_bucket, key) or data != original:
            self.blobs.put(self.settings.archive_bucket, key, data, info.content_type)
        return Output(
            bucket=self.settings.archive_bucket,
            key=key,
            content_type=info.content_type,
            width=info.width,
            height=info.height,
            bytes=len(data),
            sha256=hashlib.sha256(data).hexdigest(),
            note=note,
            nsfw=out.nsfw,
        )

    def _announce(self, job: Job) -> Job:
        """Emit the one terminal event: a conditional claim lets one caller publish (a cancel racing the
        finisher emits once); a claim left by a crash is taken over after 30 s, so a retry still publishes."""
        if not job.terminal:
            return job
        self._release(job.provider, job.id)  # the provider slot goes to the next job (idempotent)
        if not self.repo.claim_event(job.id):
            return self._job_changed(job)
        detail_type, detail = job.terminal_event(self.output_urls(job))
        try:
            self.events.publish(detail_type, detail)
        except Exception:
            self.repo.release_event(job.id)
            raise
        self.repo.mark_event_sent(job.id)
        return self._job_changed(job)

    def _job_changed(self, job: Job, *, quiet: bool = False) -> Job:
        """Tell the batch tracker about a batch job; `quiet`: a failure is logged, not raised (counts only)."""
        if self.on_job_changed is None or not job.batch_id:
            return job
        try:
            self.on_job_changed(job)
        except Exception:
            if not quiet:
                raise
            logging.getLogger(__name__).exception("batch progress of job %s not recorded", job.id)
        return job


def swap_spec(
    request: JobRequest, source: StoredImage, target: StoredImage, face_sources: tuple[StoredImage, ...]
) -> SwapSpec:
    """The job's spec from its request and its stored inputs (`PENDING_IMAGE`s before a batch job's turn)."""
    return SwapSpec(
        source_image=source,
        target_image=target,
        face_enhance=request.face_enhance,
        target_index=request.target_index,
        single_face_mode=request.single_face_mode,
        output_format=request.output_format,
        enable_base64_output=request.enable_base64_output,
        faces=tuple(FaceSpec(image, face.target_face) for image, face in zip(face_sources, request.faces, strict=True)),
        deadline_seconds=request.deadline_seconds,
    )


def _options(job: Job) -> dict[str, Any]:
    """What the client asked for, without any image or personal field (for the audit trail)."""
    spec = job.spec
    return {
        "face_enhance": spec.face_enhance,
        "target_index": spec.target_index,
        "single_face_mode": spec.single_face_mode,
        "output_format": spec.output_format,
        "enable_base64_output": spec.enable_base64_output,
        "faces": [f.target_face for f in spec.faces],
        "webhook": bool(job.webhook_url),
    }


def _output_facts(job: Job, index: int, content_type: str, width: int, height: int) -> OutputFacts:
    from ..provenance import OutputFacts

    def ref(image: StoredImage) -> tuple[str, str]:
        return image.content_type, image.sha256

    return OutputFacts(
        job_id=job.id,
        provider=job.provider,
        content_type=content_type,
        width=width,
        height=height,
        title=f"{job.id}/{index}.{EXTENSIONS.get(content_type, 'bin')}",
        source=ref(job.spec.source_image),
        target=ref(job.spec.target_image),
    )


def check_idempotency_key(key: str) -> None:
    if not 1 <= len(key) <= 255 or not key.isprintable():
        raise RequestInvalidError(
            "invalid_request", "Idempotency-Key must be 1 to 255 printable characters", "Idempotency-Key"
        )


def request_fingerprint(body: Any) -> str:
    """The same JSON document, however its keys are ordered or spaced, has the same fingerprint."""
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8", "surrogatepass")).hexdigest()


def encode_cursor(after_job_id: str) -> str:
    return base64.urlsafe_b64encode(json.dumps({"after": after_job_id}).encode()).decode().rstrip("=")


def decode_cursor(cursor: str, field: str = "cursor") -> str:
    """The job id a page starts after; anything that is not a cursor we issued is refused (naming `field`)."""
    try:
        data = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        after = data["after"]
    except (ValueError, TypeError, KeyError) as exc:
        raise RequestInvalidError("invalid_request", f"{field} is not one this API returned", field) from exc
    if not isinstance(after, str) or not _JOB_ID.fullmatch(after):
        raise RequestInvalidError("invalid_request", f"{field} is not one this API returned", field)
    return after


def _step_state(state: str) -> str:
    return {"running": "running", "succeeded": "succeeded", "failed": "failed"}[str(state)]
