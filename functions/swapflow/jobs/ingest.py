"""`Swap Requested` events (EventBridge, bus `swapflow`): each starts one job (DESIGN 3).

The event's detail is a job request (the fields of `POST /v1/jobs`) plus `correlation_id`, which the
job keeps and its terminal event (`Swap Job Completed|Failed|Cancelled`) carries back. Any source
but `swapflow` (our own) may send it; the jobs belong to the trigger tenant (SWAPFLOW_TRIGGER_TENANT).

`(source, correlation_id)` is also the request's idempotency key for 24 h: EventBridge delivers at
least once, and a producer may retry PutEvents, so the same event twice starts one job. The same
correlation_id with a different request is rejected. A rejected event goes, with its reasons, to the
dead-letter queue and is announced as `Swap Request Rejected` {correlation_id, errors}.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..events import REQUEST_REJECTED
from ..providers.exceptions import ProviderUnavailableError
from .exceptions import JobNotFoundError, RequestInvalidError, SwapRequestRejectedError
from .idempotency import request_fingerprint
from .models import Job
from .ports import DeadLetters, EventPublisher
from .validation import JobRequest

if TYPE_CHECKING:
    from .idempotency import Idempotency
    from .intake import JobIntake
    from .queries import JobQueries

MAX_CORRELATION_ID = 128


@dataclass(eq=False, kw_only=True)
class SwapRequestIngest:
    intake: JobIntake
    queries: JobQueries
    idempotency: Idempotency
    dead_letters: DeadLetters
    events: EventPublisher
    tenant: str

    def accept(self, event: dict[str, Any]) -> tuple[Job | None, bool]:
        """Start the event's job: (job, created). A duplicate answers with the first job, created False.

        Raises SwapRequestRejectedError with every reason found.
        """
        detail = event.get("detail")
        if not isinstance(detail, dict):
            raise SwapRequestRejectedError([{"path": "detail", "message": "the detail must be a JSON object"}])
        correlation_id = detail.get("correlation_id")
        errors = []
        if not isinstance(correlation_id, str) or not 1 <= len(correlation_id) <= MAX_CORRELATION_ID:
            message = f"correlation_id is required: a string of 1 to {MAX_CORRELATION_ID} characters"
            errors.append({"path": "correlation_id", "message": message})
            correlation_id = correlation_id if isinstance(correlation_id, str) else None
        body = {k: v for k, v in detail.items() if k != "correlation_id"}
        try:
            request = self.intake.parse(body)
        except RequestInvalidError as exc:
            errors.append({"path": exc.field or "", "message": exc.message})
        if errors:
            raise SwapRequestRejectedError(errors, correlation_id)
        assert correlation_id is not None
        key = "event:" + hashlib.sha256(f"{event.get('source')}\n{correlation_id}".encode()).hexdigest()
        fingerprint = request_fingerprint(body)
        job, replayed = self.idempotency.once(
            self.tenant,
            key,
            fingerprint,
            prepare=lambda: self._prepare(request, correlation_id),
            start=self.intake.start_job,
            replay=self._duplicate,
            reused=lambda job_id: _reused(correlation_id, job_id),
        )
        return job, not replayed

    def _prepare(self, request: JobRequest, correlation_id: str) -> Job:
        try:
            return self.intake.prepare_job(self.tenant, request, correlation_id=correlation_id)
        except RequestInvalidError as exc:
            raise SwapRequestRejectedError([{"path": exc.field or "", "message": exc.message}], correlation_id) from exc
        except ProviderUnavailableError as exc:
            raise SwapRequestRejectedError([{"path": "provider", "message": str(exc)}], correlation_id) from exc

    def _duplicate(self, job_id: str) -> Job | None:
        try:
            return self.queries.by_id(job_id)
        except JobNotFoundError:  # the first delivery is still creating it
            return None

    def reject(self, event: dict[str, Any], exc: SwapRequestRejectedError) -> dict[str, Any]:
        """Park the event with its reasons in the dead-letter queue and announce the rejection."""
        detail = {
            "version": 1,
            "correlation_id": exc.correlation_id,
            "errors": exc.errors,
            "request": {"id": event.get("id"), "source": event.get("source"), "time": event.get("time")},
        }
        self.dead_letters.send({"reason": str(exc), "errors": exc.errors, "event": event})
        self.events.publish(REQUEST_REJECTED, detail)
        return detail


def _reused(correlation_id: str, job_id: str) -> SwapRequestRejectedError:
    message = f"correlation_id {correlation_id!r} was already used for a different request (job {job_id})"
    return SwapRequestRejectedError([{"path": "correlation_id", "message": message}], correlation_id)
