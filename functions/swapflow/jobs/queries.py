"""Reading jobs: one job (a tenant sees only its own), a tenant's pages, the public view, sync waits."""

from __future__ import annotations

import base64
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .access import owned_by
from .exceptions import JobNotFoundError, RequestInvalidError
from .models import Job, JobStatus, Output
from .ports import BlobStore, JobRepository
from .validation import MAX_WAIT_SECONDS

MAX_LIST_LIMIT = 100
WAIT_POLL_SECONDS = 0.25
# A Lambda response is capped at 6 MB: bigger outputs are served by URL only.
MAX_BASE64_OUTPUT_BYTES = 4 * 1024 * 1024
_JOB_ID = re.compile(r"[0-9A-HJKMNP-TV-Z]{26}")


@dataclass(eq=False, kw_only=True)
class JobQueries:
    repo: JobRepository
    blobs: BlobStore
    presign_seconds: int
    clock: Callable[[], float] = time.time
    sleep: Callable[[float], None] = time.sleep

    def by_id(self, job_id: str) -> Job:
        """Any tenant's job (the workflow's own steps, batches, webhooks); raises JobNotFoundError."""
        return self.repo.get(job_id)

    def get_job(self, tenant: str, job_id: str) -> Job:
        """A tenant only ever sees its own jobs: another tenant's id is simply not found."""
        return owned_by(tenant, self.repo.get(job_id), JobNotFoundError(job_id))

    def output_urls(self, job: Job) -> list[str]:
        return [self.blobs.presign_get(o.bucket, o.key, self.presign_seconds) for o in job.outputs]

    def output_base64(self, job: Job, out: Output) -> str | None:
        """An output's bytes as base64 when the job asked for them and they fit a Lambda response."""
        if not job.spec.enable_base64_output or job.outputs_erased_at is not None or job.deleted_at:
            return None
        if out.bytes > MAX_BASE64_OUTPUT_BYTES:
            return None
        return base64.b64encode(self.blobs.get(out.bucket, out.key)).decode("ascii")

    def view(self, job: Job, *, with_base64: bool = False) -> dict[str, Any]:
        """The public view; `with_base64` adds each output's bytes when the job asked for them."""
        view = job.public_view(self.output_urls(job))
        if with_base64:
            for item, out in zip(view["outputs"], job.outputs, strict=True):
                if (data := self.output_base64(job, out)) is not None:
                    item["base64"] = data
        return view

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
