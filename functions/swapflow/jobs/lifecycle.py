"""The job's life after intake: the workflow's Run pass (provider slot, submit, poll by the poll plan,
finish or fail), completion from webhooks and the engine, cancel and delete.

Every step is idempotent: the workflow may run any of them twice (retries, crashes) and the job still
reaches exactly one terminal state with exactly one terminal event (jobs/announce.py).
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, replace
from typing import Any

from ..faces import Face
from ..providers.base import (
    ImageRef,
    ProviderFailure,
    ProviderOutput,
    ProviderResult,
    ProviderState,
    Submission,
    SwapRequest,
)
from ..providers.exceptions import ProviderBusyError, ProviderError
from ..providers.registry import family_of
from ..settings import Settings
from .announce import Announcer
from .archive import OutputArchive
from .exceptions import JobAlreadyTerminalError, JobStillRunningError, OutputRefusedError
from .intake import audit_entry
from .limits import ProviderSlotBusyError
from .models import Job, JobError, JobStatus, Output, StoredImage
from .plan import AUTO, FALLBACK_CODES, PollPlan, ProviderChain
from .ports import AuditLog, BlobStore, EraseRequests, JobRepository, Workflow
from .queries import JobQueries
from .retention import Retention

LOG = logging.getLogger(__name__)

# Errors the workflow catches, mapped to job errors (Step Functions reports the exception class name).
_CAUGHT_ERRORS = {
    "ProviderBusyError": ("provider_failed", "the provider stayed busy through every retry"),
    "States.Timeout": ("provider_timeout", "the provider did not answer in time"),
    "ProviderSlotBusyError": ("provider_failed", "no slot of the provider came free in time"),
}

# Outputs a caller has just written, by (bucket, key): archived from memory instead of read back.
Staged = Mapping[tuple[str, str], bytes]

# A Run pass that timed out may still be handing its job over when the retried pass starts: the second
# would submit the job again (a second task at the provider, beyond its limits). A pass claims the
# hand-over first; a claim older than this (more than a submit's connect and read timeouts) was left by
# a pass that died, and is taken over.
SUBMIT_CLAIM_SECONDS = 60.0


def _pass_id(token: str) -> str:
    """A Run pass's name for its hand-over claim: its task token (up to KBs in AWS), hashed."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()[:32]


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

    @classmethod
    def failed(cls, job_id: str, error: JobError) -> Step:
        return cls(job_id, "failed", asdict(error))


@dataclass(eq=False, kw_only=True)
class JobLifecycle:
    settings: Settings
    repo: JobRepository
    blobs: BlobStore
    workflow: Workflow
    chain: ProviderChain
    archive: OutputArchive
    announcer: Announcer
    queries: JobQueries
    public_url: Callable[[], str] = lambda: ""
    clock: Callable[[], float] = time.time
    # Responsible use (jobs/retention.py): the tenant's retention fixes each ended job's expiry; the
    # audit trail records deletions; `erase` hands deletions to the deleting function.
    retention: Callable[[str], Retention]
    audit: AuditLog | None = None
    erase: EraseRequests | None = None

    # ---- the workflow's Run pass ------------------------------------------------------------------

    def run_step(self, job_id: str, token: str) -> Job:
        """One pass of the job's workflow (its Run task, .waitForTaskToken): move the job as far as it
        goes now. A job that ends here is finished at once and the token is sent back; one still
        running keeps the token parked for the completion path (webhook, engine) to send. The pass
        runs again when its wait times out: a poll.

        ProviderSlotBusyError / ProviderBusyError propagate: the state machine retries the pass later.
        """
        started = self.clock()
        job = self.repo.get(job_id)
        if not job.terminal:
            step = self.poll_status(job) if job.provider_job_id else self.submit_to_provider(job, owner=_pass_id(token))
            if step.state == "running":
                kept, recorded = self.repo.store_token(job_id, token, {}, pass_started=started)
                if not kept:  # this pass's task timed out meanwhile: the retried pass waits for the job
                    return job
                if not recorded or recorded["state"] == ProviderState.RUNNING:
                    return job
                step = Step(job_id, _step_state(recorded["state"]))
            job = self.finish(job_id) if step.state == "succeeded" else self.fail_from_step(job_id, step.to_dict())
        self.announcer.announce(job)  # idempotent: a pass after a crash still emits the one event
        self.workflow.send_success(token, {"job_id": job_id, "status": str(job.status)})
        return job

    def pass_failed(self, token: str, exc: Exception) -> None:
        """Fail the Run task by the error's class name, so the state machine's Retry and Catch decide."""
        self.workflow.send_failure(token, type(exc).__name__, str(exc))

    def submit_to_provider(self, job: Job, *, owner: str = "direct") -> Step:
        """Take a provider slot and hand the job over; `auto` moves on past full or busy providers.

        `owner` is the pass (its task token): while another pass's hand-over claim is live, this one
        submits nothing and waits for that hand-over like for any running job."""
        if job.provider_job_id:  # a retried step: the provider already has it
            return Step(job.id, "running")
        auto = job.provider == AUTO
        busy: ProviderBusyError | ProviderSlotBusyError | None = None
        error: ProviderError | None = None
        # `auto` walks the fallback chain on quota, auth and busy providers; a named provider does not.
        for name in self.chain.available(job.provider, job.spec):
            try:
                self.announcer.take_slot(name, job.id)
            except ProviderSlotBusyError as exc:
                if not auto:
                    raise
                busy = exc
                continue
            now = self.clock()
            if not self.repo.claim_submit(job.id, owner, now, now - SUBMIT_CLAIM_SECONDS):
                return Step(job.id, "running")  # another pass is handing the job over right now
            try:
                submission = self._submit(name, job)
            except ProviderBusyError as exc:
                self._handover_failed(name, job.id, owner)
                if not auto:
                    raise
                busy = exc
                continue
            except ProviderError as exc:
                self._handover_failed(name, job.id, owner)
                error = exc
                if auto and exc.code in FALLBACK_CODES:
                    continue
                break
            self.repo.mark_processing(job.id, submission.provider_job_id, self.clock(), provider=name)
            self.announcer.job_changed(replace(job, status=JobStatus.PROCESSING, provider=name), quiet=True)
            if submission.result.state is not ProviderState.RUNNING:
                self.repo.record_result(job.id, result_to_dict(submission.result))
            return Step(job.id, _step_state(submission.result.state))
        if busy is not None and (error is None or error.code in FALLBACK_CODES):
            raise busy  # a provider in the chain was only busy: the workflow retries the chain later
        assert error is not None
        return Step.failed(job.id, JobError.of(error.code, error.message, error.provider_code))

    def _handover_failed(self, provider: str, job_id: str, owner: str) -> None:
        """The provider answered no: its slot and the pass's claim are free for the next try."""
        self.announcer.release_slot(provider, job_id)
        self.repo.release_submit(job_id, owner)

    def _submit(self, name: str, job: Job) -> Submission:
        """Submit under the job's lease; its start is stamped when the request returned, whatever the answer."""
        try:
            return self.chain.get(name).submit(self._swap_request(job, name))
        finally:
            self.announcer.slot_submitted(name, job.id)

    def _swap_request(self, job: Job, provider: str) -> SwapRequest:
        def ref(image: StoredImage) -> ImageRef:
            url = self.blobs.presign_get(image.bucket, image.key, 3600)
            return ImageRef(image.bucket, image.key, image.content_type, url)

        spec = job.spec
        base = self.public_url()
        family = family_of(provider)
        return SwapRequest(
            job_id=job.id,
            source_image=ref(spec.source_image),
            target_image=ref(spec.target_image),
            face_enhance=spec.face_enhance,
            target_index=spec.target_index,
            single_face_mode=spec.single_face_mode,
            output_format=spec.output_format,
            faces=tuple(Face(ref(f.source_image), f.target_face) for f in spec.faces),
            webhook_url=f"{base}/webhooks/{family}?job={job.id}" if base else None,
        )

    def poll_plan(self, job: Job) -> PollPlan:
        return PollPlan.of(job, self.settings, public_url=self.public_url(), now=self.clock())

    def poll_status(self, job: Job) -> Step:
        """A pass after the wait timed out: the recorded result (a webhook), else ask the provider.

        Past the plan's deadline the job fails `provider_timeout` (the provider is asked to cancel). A
        provider answering busy (429/5xx, with or without Retry-After) leaves the job running: the
        state machine's next pass comes later, and the deadline still ends the loop."""
        recorded = self.repo.recorded_result(job.id)
        if recorded and recorded["state"] != ProviderState.RUNNING:
            return Step(job.id, _step_state(recorded["state"]))
        provider = self.chain.get(job.provider)
        if self.poll_plan(job).expired(self.clock()):
            if job.provider_job_id:
                with contextlib.suppress(Exception):  # best effort: the job fails on its deadline anyway
                    provider.cancel(job.provider_job_id)
            error = JobError("provider_timeout", "the provider did not finish before the job's deadline")
            return Step.failed(job.id, error)
        try:
            result = provider.poll(job.provider_job_id or job.id)
        except ProviderBusyError:
            return Step(job.id, "running")
        except ProviderError as exc:
            return Step.failed(job.id, JobError.of(exc.code, exc.message, exc.provider_code))
        if result.state is not ProviderState.RUNNING:
            self.repo.record_result(job.id, result_to_dict(result))
            return Step(job.id, _step_state(result.state))
        return Step(job.id, "running")

    # ---- the completion path (provider webhooks, the engine) --------------------------------------

    def complete_from_provider(
        self, job_id: str, result: ProviderResult, *, notify: bool = True, staged: Staged | None = None
    ) -> bool:
        """Record the result, finish the job here (archive, terminal state, event) and hand the parked
        token back, so the workflow ends without another step. Returns True if a waiting workflow was
        woken now.

        With `notify` off (tests of the poll path) the result is only recorded: the next pass finds it.
        A duplicate or late result changes nothing. `staged`: outputs the caller has just written, by
        (bucket, key), archived without reading them back.
        """
        if result.state is ProviderState.RUNNING:
            return False
        listening = self.repo.record_result(job_id, result_to_dict(result))
        if not notify:
            return False
        try:
            job = self.finish(job_id, staged)  # idempotent: a duplicate callback finds the job ended, emits nothing
        except Exception as exc:
            if listening is not None:  # the workflow's next pass finishes it (retried at once, not on a timeout)
                self.workflow.send_failure(listening[0], "JobFinishFailed", f"{type(exc).__name__}: {exc}")
            raise
        if listening is None:
            return False
        return self.workflow.send_success(listening[0], {"job_id": job_id, "status": str(job.status)})

    # ---- terminal transitions ---------------------------------------------------------------------

    def finish(self, job_id: str, staged: Staged | None = None) -> Job:
        """Archive the provider's outputs and complete the job (or fail it with the recorded failure)."""
        job, recorded = self.repo.get_with_result(job_id)
        if job.terminal:
            return self.announcer.announce(job)
        if not recorded:
            return self.fail(job_id, JobError("internal", "no provider result was recorded"))
        result = result_from_dict(recorded)
        if result.state is ProviderState.FAILED or not result.outputs:
            failure = result.failure or ProviderFailure("provider_failed", "the provider returned no output")
            return self.fail(job_id, JobError.of(failure.code, failure.message, failure.provider_code))
        try:
            staged = staged or {}
            outputs = [
                self.archive.archive(job, i, out, staged.get((out.bucket or "", out.key or "")))
                for i, out in enumerate(result.outputs)
            ]
        except OutputRefusedError as exc:  # retrying cannot help: the job fails now, on the provider
            LOG.error("output of job %s refused: %s", job_id, exc.message, extra={"job_id": job_id, "reason": exc.code})
            refused = JobError("provider_failed", f"the provider's output was refused: {exc.message}", exc.code)
            return self.fail(job_id, refused)
        ended = self._end(job, JobStatus.COMPLETED, outputs, None)
        return self.announcer.announce(ended or self.repo.get(job_id))  # None: another path ended it first

    def fail(self, job_id: str, error: JobError) -> Job:
        ended = self._end(self.repo.get(job_id), JobStatus.FAILED, [], error)
        return self.announcer.announce(ended or self.repo.get(job_id))

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

    def _end(self, job: Job, status: JobStatus, outputs: list[Output], error: JobError | None) -> Job | None:
        """The terminal transition, with the dates the tenant's retention gives its photos from now: the
        ended job, or None when it had ended already."""
        now = self.clock()
        return self.repo.finish(job.id, status, outputs, error, now, expires=self.retention(job.tenant).expiry(now))

    # ---- the client's cancel and delete -----------------------------------------------------------

    def cancel_job(self, tenant: str, job_id: str) -> Job:
        """End an open job `cancelled`, stop its execution and emit its one `Swap Job Cancelled` event.

        The later workflow steps (if one was already running) find the job terminal and end quietly.
        """
        job = self.queries.get_job(tenant, job_id)
        if job.terminal:
            raise JobAlreadyTerminalError(job_id, str(job.status))
        error = JobError("cancelled", "the job was cancelled by the client")
        ended = self._end(job, JobStatus.CANCELLED, [], error)
        if ended is None:
            raise JobAlreadyTerminalError(job_id, str(self.repo.get(job_id).status))
        with contextlib.suppress(Exception):  # best effort: a step still running finds the job terminal
            self.workflow.stop(job_id, "cancelled by the client")
        return self.announcer.announce(ended)

    def delete_job(
        self, tenant: str, job_id: str, *, cancel: bool = False, by: str | None = None, hand_off: bool = True
    ) -> Job:
        """Delete on request: the record becomes a tombstone now, the deleting function removes every stored
        copy of the photos (all versions) and announces `Swap Job Deleted`. Idempotent; an open job is
        refused (JobStillRunningError) unless `cancel`, which cancels it first. `hand_off=False`: the caller
        is the deleting function itself and erases next."""
        job = self.queries.get_job(tenant, job_id)
        if not job.terminal:
            if not cancel:
                raise JobStillRunningError(job_id, str(job.status))
            with contextlib.suppress(JobAlreadyTerminalError):  # it ended meanwhile: delete it all the same
                self.cancel_job(tenant, job_id)
        if self.repo.tombstone(job_id, self.clock()) and self.audit is not None:
            outputs = [o.sha256 for o in job.outputs]
            entry = audit_entry(job, "job.deleted", by=by, inputs=job.input_hashes(), outputs=outputs)
            self.audit.record(job.tenant, entry, self.clock())
        if hand_off and self.erase is not None:
            self.erase.request({"job_id": job_id})
        return self.repo.get(job_id)


def _step_state(state: str) -> str:
    return {"running": "running", "succeeded": "succeeded", "failed": "failed"}[str(state)]
