"""Domain errors. The API maps each to an HTTP status and error code in one table (http_errors.py).

Every error is a `DomainError`: its context fields are declared once, as a dataclass's (typed, and the
error pickles with them), and its message is a template over them; nothing else is written per error.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, dataclass_transform


@dataclass_transform(eq_default=False)
class DomainError(Exception):
    """Base of swapflow's errors: each subclass is a dataclass of its context fields, its message
    `template` formatted with them (a subclass with a message to compute overrides `__str__`)."""

    template: ClassVar[str] = "{message}"

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        dataclass(eq=False, repr=False)(cls)

    def __post_init__(self) -> None:
        super().__init__(*vars(self).values())  # the fields, in order: what unpickling passes back

    def __str__(self) -> str:
        return self.template.format_map(vars(self))


class RequestInvalidError(DomainError):
    """A request refused before any job exists (4xx). `code` is machine-readable, `field` names the input."""

    code: str
    message: str
    field: str | None = None


class JobNotFoundError(DomainError):
    template = "job {job_id} not found"
    job_id: str


class JobStateError(DomainError):
    """A request the job's current `status` does not allow (the API answers 409)."""

    job_id: str
    status: str


class JobAlreadyTerminalError(JobStateError):
    """A transition on a job that already reached its terminal state (terminal states never change)."""

    template = "job {job_id} is already {status}"


class JobStillRunningError(JobStateError):
    """Deleting a job that is still queued or processing without `?cancel=true`."""

    template = "job {job_id} is still {status}: cancel it first, or delete with ?cancel=true"


class UnauthorizedError(DomainError):
    message: str = "a valid API key is required"


class BlobMissingError(DomainError):
    """An object the domain expected in S3 is not there (an upload never made, or expired)."""

    template = "s3://{bucket}/{key} does not exist"
    bucket: str
    key: str


class OutputRefusedError(DomainError):
    """A provider's output URL that can never be archived (the SSRF guard refuses it, or it is over the cap)."""

    code: str
    message: str


class TenantThrottledError(DomainError):
    """The tenant sent more requests this second than its limit allows (429 with Retry-After)."""

    template = "more than {limit} requests per second; retry after {retry_after} s"
    tenant: str
    limit: int
    retry_after: int = 1


class IdempotencyKeyReusedError(DomainError):
    """An Idempotency-Key already used with a different request body (within its 24 h)."""

    template = "Idempotency-Key {key!r} was already used with a different request (job {job_id})"
    key: str
    job_id: str


class BatchInvalidError(RequestInvalidError):
    """A batch (POST /v1/batches body or an S3 manifest) with errors: nothing of it was accepted.

    `errors` lists every problem as {path, message}, e.g. {"path": "jobs[3].source_image", ...}.
    """

    def __init__(self, errors: list[dict[str, str]]) -> None:
        first = errors[0] if errors else {"path": "", "message": "invalid batch"}
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        message = f"{first['path'] or 'body'}: {first['message']}{more}"
        super().__init__("invalid_request", message, first["path"] or None)
        self.errors = errors
        self.args = (errors,)


class BatchError(DomainError):
    batch_id: str


class BatchNotFoundError(BatchError):
    template = "batch {batch_id} not found"


class BatchEndedError(BatchError):
    """A cancel of a batch whose every job had already ended (and that was never cancelled)."""

    template = "batch {batch_id} has ended: only a batch with open jobs can be cancelled"


class SwapRequestRejectedError(DomainError):
    """A `Swap Requested` event that cannot start a job; `errors` as {path, message}."""

    errors: list[dict[str, str]]
    correlation_id: str | None = None

    def __str__(self) -> str:
        return "; ".join(f"{e['path'] or 'detail'}: {e['message']}" for e in self.errors)


class BlobDeleteError(DomainError):
    """S3 refused to delete some object versions (the deletion is retried; nothing is reported done)."""

    bucket: str
    prefix: str
    errors: list[dict[str, Any]]

    def __str__(self) -> str:
        where = f"s3://{self.bucket}/{self.prefix}"
        return f"could not delete {len(self.errors)} object versions under {where}: {self.errors[:3]}"
