"""The small interfaces the domain talks to; adapters live in swapflow.storage and swapflow.events."""

from __future__ import annotations

from typing import Any, Protocol

from .models import Job, JobError, Output


class JobRepository(Protocol):
    def put_new(self, job: Job) -> None:
        """Store a new job; raises if the id exists."""

    def get(self, job_id: str) -> Job:
        """Raises JobNotFoundError."""

    def mark_processing(self, job_id: str, provider_job_id: str, at: float, *, provider: str) -> None:
        """Record the provider's job id and which provider took the job (`auto` resolves here)."""

    def store_token(self, job_id: str, token: str, poll: dict[str, Any]) -> dict[str, Any] | None:
        """Keep the wait step's task token; return the provider result already recorded, if any."""

    def record_result(self, job_id: str, result: dict[str, Any]) -> tuple[str, dict[str, Any]] | None:
        """Record a provider result; return (task token, poll) if a wait step is listening."""

    def recorded_result(self, job_id: str) -> dict[str, Any] | None: ...

    def finish(self, job_id: str, status: str, outputs: list[Output], error: JobError | None, at: float) -> bool:
        """Conditional terminal transition: False if the job already was terminal."""

    def event_pending(self, job_id: str) -> bool: ...

    def mark_event_sent(self, job_id: str) -> None: ...


class BlobStore(Protocol):
    def put(self, bucket: str, key: str, data: bytes, content_type: str) -> None: ...

    def get(self, bucket: str, key: str) -> bytes:
        """Raises BlobMissingError when there is no such object."""

    def size(self, bucket: str, key: str) -> int:
        """The object's length in bytes; raises BlobMissingError when there is no such object."""

    def copy(self, src_bucket: str, src_key: str, bucket: str, key: str) -> None: ...

    def presign_get(self, bucket: str, key: str, expires: int) -> str: ...

    def presign_put(self, bucket: str, key: str, content_type: str, expires: int) -> str: ...


class Workflow(Protocol):
    def start(self, job_id: str, payload: dict[str, Any]) -> None: ...

    def send_success(self, token: str, output: dict[str, Any]) -> bool:
        """False when the token has expired or was already used (the poll path takes over)."""


class EventPublisher(Protocol):
    def publish(self, detail_type: str, detail: dict[str, Any]) -> None: ...
