"""What the client raises: every failure carries the API's error `code` (and the HTTP status when there was one)."""

from __future__ import annotations

from dataclasses import KW_ONLY, dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .models import Job


@dataclass(eq=False, repr=False)  # an exception: compared by identity, shown by its message
class SwapflowError(Exception):
    """An API error answer (`{"error": {code, message, field}}`) or a client-side failure with its own code."""

    code: str
    message: str
    _: KW_ONLY
    status: int | None = None
    field: str | None = None
    body: Any = None
    retry_after: float | None = None

    def __post_init__(self) -> None:
        super().__init__(f"{self.code}: {self.message}" + (f" ({self.field})" if self.field else ""))


class SwapflowConnectionError(SwapflowError):
    """The API could not be reached (code `connection_error`, no status)."""


class WaitTimeoutError(SwapflowError):
    """A job did not end within the time a `wait`/`swap` was given (code `timeout`); `job` is the last seen."""

    def __init__(self, job: Job, timeout: float) -> None:
        super().__init__("timeout", f"job {job.id} still {job.status} after {timeout:g} s")
        self.job = job


class JobFailedError(SwapflowError):
    """`swap()` ended `failed` or `cancelled`: `code` is the job's error code (e.g. `no_face_in_target`)."""

    def __init__(self, job: Job) -> None:
        error = job.error
        super().__init__(error.code if error else job.status, error.message if error else f"the job was {job.status}")
        self.job = job
