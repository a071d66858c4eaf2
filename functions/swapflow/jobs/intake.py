"""Accepting jobs: parse a request, prepare the job (provider checked, inputs stored), record and start it.

`create_job_once` is the API's Idempotency-Key path (jobs/idempotency.py); batches and `Swap Requested`
events prepare and start through the same two calls, so every entry point judges a job the same way.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any

from ..faces import Face, SwapOptions
from ..settings import Settings
from .access import owned_by
from .exceptions import IdempotencyKeyReusedError, JobNotFoundError, RequestInvalidError
from .idempotency import Idempotency, check_idempotency_key, request_fingerprint
from .inputs import InputLoader
from .models import Job, StoredImage, SwapSpec, new_job_id
from .plan import PollPlan, ProviderChain
from .ports import AuditLog, JobRepository, Workflow
from .validation import JobRequest, parse_job_request, with_header_options

REPLAY_WAIT_SECONDS = 20.0  # a concurrent duplicate waits this long for the winner (API Gateway allows 29 s)


@dataclass(frozen=True)
class Submitted:
    """A `POST /v1/jobs` as accepted: the job, whether it was an Idempotency-Key replay, how long the
    caller asked to wait for it, and the wait `Prefer` set (for `Preference-Applied`)."""

    job: Job
    replayed: bool
    wait: float
    preferred_wait: float | None


@dataclass(eq=False, kw_only=True)
class JobIntake:
    settings: Settings
    repo: JobRepository
    workflow: Workflow
    chain: ProviderChain
    provider_names: Collection[str]
    inputs: InputLoader
    idempotency: Idempotency
    public_url: Callable[[], str] = lambda: ""
    clock: Callable[[], float] = time.time
    sleep: Callable[[float], None] = time.sleep
    # Responsible use: the audit trail records every submission (jobs/retention.py reads it back).
    audit: AuditLog | None = None

    def parse(self, body: Any) -> JobRequest:
        return parse_job_request(
            body,
            providers=self.provider_names,
            default_provider=self.settings.default_provider,
            auto_chain=self.settings.auto_providers,
        )

    def available_providers(self, name: str, asked: SwapOptions[Any] | None = None) -> list[str]:
        """The providers a job on `name` may use, in order; refused (4xx) if none is configured. `auto`
        skips the providers that cannot serve `asked` (the job's faces and options)."""
        return self.chain.available(name, asked)

    def submit(
        self,
        tenant: str,
        body: Any,
        *,
        prefer: str | None = None,
        cancel_after: str | None = None,
        idempotency_key: str | None = None,
        submitted_by: str | None = None,
    ) -> Submitted:
        """The native API's submit: the body and its headers (`Prefer: wait`, `Cancel-After`,
        `Idempotency-Key`) judged as one request, then the job created (once per key)."""
        request, preferred = with_header_options(
            self.parse(body),
            body,
            prefer=prefer,
            deadline=cancel_after,
            max_deadline=self.settings.job_deadline_seconds,
        )
        if idempotency_key is None:
            job, replayed = self.create_job(tenant, request, submitted_by=submitted_by), False
        else:
            job, replayed = self.create_job_once(
                tenant,
                request,
                idempotency_key=idempotency_key,
                fingerprint=request_fingerprint(body),
                submitted_by=submitted_by,
            )
        return Submitted(job, replayed, request.wait, preferred)

    def create_job(self, tenant: str, request: JobRequest, *, submitted_by: str | None = None) -> Job:
        """Check and store the inputs, record the job `queued` and start its workflow (name = job id)."""
        return self.start_job(self.prepare_job(tenant, request, submitted_by=submitted_by))

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
        return self.idempotency.once(
            tenant,
            idempotency_key,
            fingerprint,
            prepare=lambda: self.prepare_job(
                tenant, request, idempotency_key=idempotency_key, submitted_by=submitted_by
            ),
            start=self.start_job,
            replay=lambda job_id: self._replay(tenant, job_id),
            reused=lambda job_id: IdempotencyKeyReusedError(idempotency_key, job_id),
        )

    def _replay(self, tenant: str, job_id: str) -> Job:
        deadline = self.clock() + REPLAY_WAIT_SECONDS
        while True:  # a concurrent winner records its job a moment after reserving the key
            try:
                job = self.repo.get(job_id)
            except JobNotFoundError:
                if self.clock() >= deadline:
                    raise RequestInvalidError(
                        "idempotency_conflict",
                        "a request with this Idempotency-Key is still being processed; retry shortly",
                        "Idempotency-Key",
                    ) from None
                self.sleep(0.1)
                continue
            return owned_by(tenant, job, JobNotFoundError(job_id))

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
        return Job(
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

    def start_job(self, job: Job) -> Job:
        """Record a prepared job `queued` and start its workflow (name = job id)."""
        # Audited first: a failure here refuses the job before it exists, never leaves one unstarted.
        self._audit_submitted(job)
        self.repo.put_new(job)
        self.start_workflow(job)
        return job

    def start_staged(self, job: Job) -> bool:
        """A batch job recorded at acceptance, now prepared: its stored inputs written onto its record (no
        second record, no event) and its workflow started. False if it ended meanwhile (cancelled)."""
        if not self.repo.stage(job):
            return False
        self._audit_submitted(job)
        self.start_workflow(job)
        return True

    def _audit_submitted(self, job: Job) -> None:
        if self.audit is not None:
            facts: dict[str, Any] = {"provider": job.provider, "inputs": job.input_hashes(), "options": _options(job)}
            self.audit.record(job.tenant, audit_entry(job, "job.submitted", **facts), self.clock())

    def start_workflow(self, job: Job) -> None:
        """Start (or, for an existing execution, do nothing) the job's workflow, named after the job."""
        plan = PollPlan.of(job, self.settings, public_url=self.public_url(), now=self.clock())
        self.workflow.start(job.id, plan.workflow_input(job.id))


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
        faces=tuple(Face(image, face.target_face) for image, face in zip(face_sources, request.faces, strict=True)),
        deadline_seconds=request.deadline_seconds,
    )


def audit_entry(job: Job, action: str, *, by: str | None = None, **facts: Any) -> dict[str, Any]:
    """An audit trail entry about a job: ids, hashes and options only, never personal data."""
    entry = {"action": action, "job_id": job.id, "key_id": by or job.submitted_by, **facts}
    if job.batch_id:
        entry["batch_id"] = job.batch_id
    return entry


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
