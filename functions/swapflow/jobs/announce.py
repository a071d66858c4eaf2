"""The terminal event: exactly one `Swap Job Completed|Failed|Cancelled` per ended job.

Every path that ends a job (a Run pass, a webhook, the engine, cancel, the failure step) calls
`announce`; it is idempotent, so a pass after a crash still publishes and a duplicate publishes nothing.
It also hands the job's provider slot back and tells the batch tracker.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from .limits import ProviderGate
from .models import Job
from .ports import EventPublisher, JobRepository

LOG = logging.getLogger(__name__)


@dataclass(eq=False, kw_only=True)
class Announcer:
    repo: JobRepository
    events: EventPublisher
    output_urls: Callable[[Job], list[str]]
    # Global provider limits (jobs/limits.py): a lease per running job, released at its end.
    gate: ProviderGate | None = None
    # Batch bookkeeping (jobs/batches.py BatchTracker): told when a batch job starts processing
    # and, on every announce of a terminal job (it is idempotent), when it ended.
    on_job_changed: Callable[[Job], None] | None = None

    def announce(self, job: Job) -> Job:
        """Emit the one terminal event: a conditional claim lets one caller publish (a cancel racing the
        finisher emits once); a claim left by a crash is taken over after 30 s, so a retry still publishes."""
        if not job.terminal:
            return job
        self.release_slot(job.provider, job.id)  # the provider slot goes to the next job (idempotent)
        if not self.repo.claim_event(job.id):
            return self.job_changed(job)
        detail_type, detail = job.terminal_event(self.output_urls(job))
        try:
            self.events.publish(detail_type, detail)
        except Exception:
            self.repo.release_event(job.id)
            raise
        self.repo.mark_event_sent(job.id)
        return self.job_changed(job)

    def take_slot(self, provider: str, job_id: str) -> None:
        """Raises ProviderSlotBusyError when the provider runs its limit of jobs already."""
        if self.gate is not None:
            self.gate.acquire(provider, job_id)

    def slot_submitted(self, provider: str, job_id: str) -> None:
        """The job's submit returned: its rate-limit start is stamped again, from now."""
        if self.gate is not None:
            self.gate.submitted(provider, job_id)

    def release_slot(self, provider: str, job_id: str) -> None:
        if self.gate is not None:
            self.gate.release(provider, job_id)

    def job_changed(self, job: Job, *, quiet: bool = False) -> Job:
        """Tell the batch tracker about a batch job; `quiet`: a failure is logged, not raised (counts only)."""
        if self.on_job_changed is None or not job.batch_id:
            return job
        try:
            self.on_job_changed(job)
        except Exception:
            if not quiet:
                raise
            LOG.exception("batch progress of job %s not recorded", job.id)
        return job
