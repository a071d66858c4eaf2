"""The small interfaces the domain talks to; adapters live in swapflow.storage and swapflow.events."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

from .models import Batch, BatchMember, Job, JobError, MemberMove, Output

if TYPE_CHECKING:
    from ..provenance import OutputFacts


class JobRepository(Protocol):
    def put_new(self, job: Job) -> None:
        """Store a new job; raises if the id exists."""

    def put_queued(self, jobs: list[Job]) -> None:
        """Record a batch's jobs at its acceptance, not staged (in chunks); rewriting them changes nothing."""

    def stage(self, job: Job) -> bool:
        """Write a recorded batch job's stored inputs (its spec) once; False unless it is queued, unstaged."""

    def get(self, job_id: str) -> Job:
        """Raises JobNotFoundError."""

    def mark_processing(self, job_id: str, provider_job_id: str, at: float, *, provider: str) -> None:
        """Record the provider's job id and which provider took the job (`auto` resolves here)."""

    def claim_submit(self, job_id: str, owner: str, at: float, stale_before: float) -> bool:
        """Claim the hand-over of a queued job for one Run pass: True for the claim's owner, or when the last
        claim was made before `stale_before` (its pass died); False while another pass holds a live one."""

    def release_submit(self, job_id: str, owner: str) -> None:
        """Drop the owner's claim: its hand-over failed with an answer, so the next pass may try at once."""

    def store_token(
        self, job_id: str, token: str, poll: dict[str, Any], *, pass_started: float
    ) -> tuple[bool, dict[str, Any] | None]:
        """Keep the wait step's task token unless a pass that started later keeps its own: (whether it was
        kept, the provider result already recorded, if any)."""

    def record_result(self, job_id: str, result: dict[str, Any]) -> tuple[str, dict[str, Any]] | None:
        """Record a provider result; return (task token, poll) if a wait step is listening."""

    def recorded_result(self, job_id: str) -> dict[str, Any] | None: ...

    def get_with_result(self, job_id: str) -> tuple[Job, dict[str, Any] | None]:
        """The job and its recorded provider result, in one read (raises JobNotFoundError)."""

    def finish(
        self,
        job_id: str,
        status: str,
        outputs: list[Output],
        error: JobError | None,
        at: float,
        *,
        expires: tuple[float, float | None] | None = None,
    ) -> Job | None:
        """Conditional terminal transition: the ended job, None if it already was terminal. `expires`: when
        its inputs and outputs are due for deletion (None: outputs kept), written in the same update."""

    def event_pending(self, job_id: str) -> bool: ...

    def mark_event_sent(self, job_id: str) -> None: ...

    def claim_event(self, job_id: str) -> bool:
        """Take the pending terminal event for publishing; False if another caller has it (or it was sent)."""

    def release_event(self, job_id: str) -> None:
        """Give a claimed event back after a failed publish."""

    def list_for_tenant(self, tenant: str, status: str | None, limit: int, after: str | None) -> tuple[list[Job], bool]:
        """A tenant's jobs, newest first, starting after job id `after`; the flag says whether more follow."""

    def tombstone(self, job_id: str, at: float) -> bool:
        """Strip the personal fields (metadata, webhook_url, correlation_id, idempotency key, provider result)
        and mark the job deleted; False if it already was. Ids, status, timestamps and hashes stay."""

    def mark_erased(self, job_id: str, part: str, at: float) -> None:
        """Record that the job's `inputs` or `outputs` are gone from storage."""

    def claim_deleted_event(self, job_id: str) -> bool:
        """Take the one `Swap Job Deleted` announcement; False if it was taken already."""

    def due_for_erasure(self, now: float) -> list[Job]:
        """Ended jobs whose inputs or outputs are past their expiry and still stored (the retention sweep),
        and deleted jobs whose deletion is not yet announced done."""


class EraseRequests(Protocol):
    def request(self, payload: dict[str, Any]) -> None:
        """Hand `{"job_id"}` or `{"batch_id"}` to the one function that deletes objects (asynchronously)."""


class AuditLog(Protocol):
    def record(self, tenant: str, entry: dict[str, Any], at: float) -> None:
        """Append an entry to the tenant's audit trail (no personal data: ids, hashes, options)."""

    def entries(self, tenant: str, since: float, until: float | None = None) -> list[dict[str, Any]]: ...


class BlobStore(Protocol):
    def put(self, bucket: str, key: str, data: bytes, content_type: str) -> None: ...

    def get(self, bucket: str, key: str) -> bytes:
        """Raises BlobMissingError when there is no such object."""

    def get_range(self, bucket: str, key: str, start: int, length: int) -> bytes:
        """Up to `length` bytes from `start` (empty past the end); raises BlobMissingError."""

    def size(self, bucket: str, key: str) -> int:
        """The object's length in bytes; raises BlobMissingError when there is no such object."""

    def copy(self, src_bucket: str, src_key: str, bucket: str, key: str) -> None: ...

    def presign_get(self, bucket: str, key: str, expires: int) -> str: ...

    def presign_put(self, bucket: str, key: str, content_type: str, expires: int) -> str: ...

    def delete_all_versions(self, bucket: str, prefix: str) -> int:
        """Delete every version (and delete marker) of every object under `prefix`; the count deleted."""


class OutputMarker(Protocol):
    def mark(self, data: bytes, facts: OutputFacts) -> bytes:
        """The output bytes with their provenance (XMP and signed C2PA credentials) written in."""


class Workflow(Protocol):
    def start(self, job_id: str, payload: dict[str, Any]) -> None: ...

    def send_success(self, token: str, output: dict[str, Any]) -> bool:
        """False when the token has expired or was already used (the poll path takes over)."""

    def send_failure(self, token: str, error: str, cause: str) -> bool:
        """Fail the waiting task with `error` (its Retry/Catch decide); False when the token is gone."""

    def stop(self, job_id: str, cause: str) -> None:
        """Stop the job's execution (named after the job id); one already ended or never started is fine."""


class EventPublisher(Protocol):
    def publish(self, detail_type: str, detail: dict[str, Any]) -> None: ...


class IdempotencyRecords(Protocol):
    def held(self, tenant: str, key: str) -> tuple[str, str] | None:
        """(job id, body fingerprint) if the key is reserved and not expired."""

    def reserve(self, tenant: str, key: str, body_hash: str, job_id: str) -> tuple[str, str]:
        """Reserve `key` for `job_id` unless it is held: (job id, body hash) of whoever holds it now."""

    def release(self, tenant: str, key: str, job_id: str) -> None:
        """Give up a reservation whose job could not be created, so the key is not burned."""


class ApiKeys(Protocol):
    def tenant_for(self, api_key: str) -> str | None: ...


class RateLimiter(Protocol):
    def admit(self, tenant: str, limit: int, now: float) -> int | None:
        """Count one request in the tenant's current one-second window: the requests counted there so far
        (this one included), or None once it is over `limit`."""


class BatchRepository(Protocol):
    """Batches and their members; every counter moves with its member's transition, atomically, once."""

    def get(self, batch_id: str, *, counts: bool = True) -> Batch:
        """Raises BatchNotFoundError. `counts` off: what a job's turn checks (tenant, manifest, cancel and
        delete marks), without reading a big batch's count shards; its counts are then partial."""

    def mark_cancelled(self, batch_id: str, at: float) -> None:
        """From now on the batch's jobs whose turn comes end cancelled (POST /v1/batches/{id}/cancel)."""

    def members_page(self, batch_id: str, limit: int, after: str | None) -> tuple[list[BatchMember], bool]:
        """Up to `limit` members in index order after job id `after`; the flag says whether more follow."""

    def request(self, batch_id: str, job_id: str) -> str:
        """The member's request JSON as accepted."""

    def forget_requests(self, batch_id: str) -> None:
        """Empty every member's stored request (deletion on request)."""

    def mark_deleted(self, batch_id: str, at: float) -> None:
        """From now on the batch's jobs whose turn has not come never start (deletion on request)."""

    def member(self, batch_id: str, job_id: str) -> BatchMember: ...

    def members(self, batch_id: str) -> list[BatchMember]:
        """All members, in index order."""

    def set_token(self, batch_id: str, job_id: str, token: str) -> BatchMember | None:
        """The member with the runner's token parked on it; None if the batch has no such member."""

    def create_open(self, batch: Batch, shards: int) -> bool:
        """A batch whose members are added later (`add_members`, then `seal`); False if it exists."""

    def add_members(self, batch: Batch, members: list[tuple[BatchMember, str]]) -> None: ...

    def seal(self, batch_id: str, total: int, providers: list[str]) -> None: ...

    def transition(
        self,
        batch_id: str,
        job_id: str,
        status: str,
        outputs: list[dict[str, Any]] | None = None,
        error: dict[str, Any] | None = None,
    ) -> MemberMove:
        """Move a member to `status` (processing from queued; terminal from open) and count it."""

    def manifest(self, batch_id: str) -> dict[str, Any] | None:
        """The batch's manifest location (fixed at acceptance; None: not a manifest batch)."""

    def claim_completion(self, batch_id: str, by: str, at: float) -> bool:
        """Claim the one `Swap Batch Completed` event (or re-claim one's own unfinished claim)."""

    def mark_completion_sent(self, batch_id: str) -> None: ...


class DeadLetters(Protocol):
    def send(self, body: dict[str, Any]) -> None:
        """Park a rejected input with its reason (an SQS dead-letter queue)."""
