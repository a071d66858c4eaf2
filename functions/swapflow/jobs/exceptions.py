"""Domain errors. The API maps each to an HTTP status and error code in one table (handlers/http.py)."""

from __future__ import annotations


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
