"""Domain errors. The API maps each to an HTTP status and error code in one table (handlers/http.py)."""

from __future__ import annotations

from typing import Any


class RequestInvalidError(Exception):
    """A request refused before any job exists (4xx). `code` is machine-readable, `field` names the input."""

    def __init__(self, code: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field


class JobNotFoundError(Exception):
    def __init__(self, job_id: str) -> None:
        super().__init__(f"job {job_id} not found")
        self.job_id = job_id


class JobAlreadyTerminalError(Exception):
    """A transition on a job that already reached its terminal state (terminal states never change)."""

    def __init__(self, job_id: str, status: str) -> None:
        super().__init__(f"job {job_id} is already {status}")
        self.job_id = job_id
        self.status = status


class JobStillRunningError(Exception):
    """Deleting a job that is still queued or processing without `?cancel=true`."""

    def __init__(self, job_id: str, status: str) -> None:
        super().__init__(f"job {job_id} is still {status}: cancel it first, or delete with ?cancel=true")
        self.job_id = job_id
        self.status = status


class UnauthorizedError(Exception):
    def __init__(self, message: str = "a valid API key is required") -> None:
        super().__init__(message)
        self.message = message


class BlobMissingError(Exception):
    """An object the domain expected in S3 is not there (an upload never made, or expired)."""

    def __init__(self, bucket: str, key: str) -> None:
        super().__init__(f"s3://{bucket}/{key} does not exist")
        self.bucket = bucket
        self.key = key


class OutputRefusedError(Exception):
    """A provider's output URL that can never be archived (the SSRF guard refuses it, or it is over the cap)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class TenantThrottledError(Exception):
    """The tenant sent more requests this second than its limit allows (429 with Retry-After)."""

    def __init__(self, tenant: str, limit: int, retry_after: int = 1) -> None:
        super().__init__(f"more than {limit} requests per second; retry after {retry_after} s")
        self.tenant = tenant
        self.limit = limit
        self.retry_after = retry_after


class IdempotencyKeyReusedError(Exception):
    """An Idempotency-Key already used with a different request body (within its 24 h)."""

    def __init__(self, key: str, job_id: str) -> None:
        super().__init__(f"Idempotency-Key {key!r} was already used with a different request (job {job_id})")
        self.key = key
        self.job_id = job_id


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


class BatchNotFoundError(Exception):
    def __init__(self, batch_id: str) -> None:
        super().__init__(f"batch {batch_id} not found")
        self.batch_id = batch_id


class BatchEndedError(Exception):
    """A cancel of a batch whose every job had already ended (and that was never cancelled)."""

    def __init__(self, batch_id: str) -> None:
        super().__init__(f"batch {batch_id} has ended: only a batch with open jobs can be cancelled")
        self.batch_id = batch_id


class SwapRequestRejectedError(Exception):
    """A `Swap Requested` event that cannot start a job; `errors` as {path, message}."""

    def __init__(self, errors: list[dict[str, str]], correlation_id: str | None = None) -> None:
        super().__init__("; ".join(f"{e['path'] or 'detail'}: {e['message']}" for e in errors))
        self.errors = errors
        self.correlation_id = correlation_id


class BlobDeleteError(Exception):
    """S3 refused to delete some object versions (the deletion is retried; nothing is reported done)."""

    def __init__(self, bucket: str, prefix: str, errors: list[dict[str, Any]]) -> None:
        super().__init__(f"could not delete {len(errors)} object versions under s3://{bucket}/{prefix}: {errors[:3]}")
        self.bucket = bucket
        self.prefix = prefix
        self.errors = errors
