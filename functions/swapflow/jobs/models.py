"""Job model, states and their allowed transitions."""

from __future__ import annotations

import hashlib
import os
import time
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any

from ..faces import SwapOptions

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def new_job_id(now: float | None = None) -> str:
    """A ULID: 48-bit millisecond time + 80 random bits, Crockford base32, so ids sort by creation."""
    ms = int((time.time() if now is None else now) * 1000)
    value = (ms << 80) | int.from_bytes(os.urandom(10), "big")
    return "".join(_CROCKFORD[(value >> (5 * i)) & 31] for i in reversed(range(26)))


class JobStatus(StrEnum):
    QUEUED = "queued"
    PROCESSING = "processing"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def terminal(self) -> bool:
        return self in TERMINAL


# The states a job ends in, in this order wherever they are listed (ids, counts, DynamoDB attributes).
TERMINAL = (JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED)

# Error codes a job can end with (DESIGN 3). Anything else is reported as `internal`.
JOB_ERROR_CODES = frozenset(
    {
        "no_face_in_source",
        "no_face_in_target",
        "target_index_out_of_range",
        "image_unreadable",
        "provider_rejected",
        "provider_auth",
        "provider_quota",
        "provider_failed",
        "provider_timeout",
        "cancelled",
        "interrupted",
        "internal",
    }
)


@dataclass(frozen=True)
class JobError:
    code: str
    message: str
    provider_code: str | None = None

    @classmethod
    def of(cls, code: str, message: str, provider_code: str | None = None) -> JobError:
        return cls(code if code in JOB_ERROR_CODES else "internal", message, provider_code)


@dataclass(frozen=True)
class StoredImage:
    """An input image in our input bucket, checked at submit time."""

    bucket: str
    key: str
    content_type: str
    width: int
    height: int
    sha256: str = ""  # of the bytes as received: named in the output's credentials, kept in the tombstone


# An input of a batch job not yet staged (fetched, checked, stored): no object, no hash.
PENDING_IMAGE = StoredImage("", "", "", 0, 0)


@dataclass(frozen=True)
class SwapSpec(SwapOptions[StoredImage]):
    """What to swap, with inputs already materialised: the validated, normalised job request."""

    source_image: StoredImage
    target_image: StoredImage
    enable_base64_output: bool = False
    deadline_seconds: int | None = None  # Cancel-After: from acceptance; None: SWAPFLOW_JOB_DEADLINE_SECONDS


@dataclass(frozen=True)
class Output:
    bucket: str
    key: str
    content_type: str
    width: int
    height: int
    bytes: int
    sha256: str
    note: str | None = None  # what the archiver did to deliver the asked format (conversion, flattening)
    # The provider's NSFW flag for this output; None: not checked (the engine and Akool give none).
    nsfw: bool | None = None


@dataclass
class Job:
    id: str
    tenant: str
    provider: str
    spec: SwapSpec
    status: JobStatus = JobStatus.QUEUED
    provider_job_id: str | None = None
    outputs: list[Output] = field(default_factory=list)
    error: JobError | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    webhook_url: str | None = None
    idempotency_key: str | None = None
    correlation_id: str | None = None
    batch_id: str | None = None  # set for jobs of a batch (POST /v1/batches, S3 manifests)
    created_at: float = field(default_factory=time.time)
    updated_at: float = field(default_factory=time.time)
    submitted_at: float | None = None
    finished_at: float | None = None
    submitted_by: str | None = None  # the API key id (key_...) that submitted it, for the audit trail
    # Retention (jobs/retention.py): when the inputs and outputs go (None: not ended yet, or outputs kept),
    # when they went, and when the job was deleted on request (the record is then a tombstone).
    inputs_expire_at: float | None = None
    outputs_expire_at: float | None = None
    inputs_erased_at: float | None = None
    outputs_erased_at: float | None = None
    deleted_at: float | None = None
    # False for a batch job recorded at the batch's acceptance whose turn has not come: its spec holds the
    # request's options and `PENDING_IMAGE`s; its inputs are fetched and stored (`stage`) when it starts.
    staged: bool = True

    @property
    def terminal(self) -> bool:
        return self.status.terminal

    def input_hashes(self) -> dict[str, str]:
        """SHA-256 of every input as received: what the audit trail and a tombstone keep of the photos."""
        hashes = {"source_image": self.spec.source_image.sha256, "target_image": self.spec.target_image.sha256}
        hashes.update({f"faces[{i}].source_image": f.source_image.sha256 for i, f in enumerate(self.spec.faces)})
        return hashes

    def timings(self) -> dict[str, int | None]:
        queued = int(((self.submitted_at or self.updated_at) - self.created_at) * 1000)
        total = int((self.finished_at - self.created_at) * 1000) if self.finished_at else None
        provider = (
            int((self.finished_at - self.submitted_at) * 1000) if self.finished_at and self.submitted_at else None
        )
        return {"queued_ms": max(queued, 0), "provider_ms": provider, "total_ms": total}

    def callback_refusal(self, family: str) -> str | None:
        """Why a provider callback on route `family` may not move this job (DESIGN 7), or None:
        `foreign` (another provider's job) or `not_ready` (open, its provider job id not yet recorded,
        so the callback's id cannot be checked)."""
        from ..providers.registry import family_of

        if family_of(self.provider) != family:
            return "foreign"
        if not self.provider_job_id and not self.terminal:
            return "not_ready"
        return None

    def terminal_event(self, output_urls: list[str]) -> tuple[str, dict[str, Any]]:
        """(detail type, detail) of this ended job's one terminal event (DESIGN 3): built from the job
        record only, by the finisher that publishes it and by every consumer that acts on it."""
        from ..events import JOB_CANCELLED, JOB_COMPLETED, JOB_FAILED

        detail_type = {
            JobStatus.COMPLETED: JOB_COMPLETED,
            JobStatus.FAILED: JOB_FAILED,
            JobStatus.CANCELLED: JOB_CANCELLED,
        }[self.status]
        view = self.public_view(output_urls)
        detail = {"version": 1, "job": view, "outputs": view["outputs"], "error": view["error"]}
        detail["metadata"] = self.metadata
        if self.correlation_id:
            detail["correlation_id"] = self.correlation_id
        return detail_type, detail

    def public_view(self, output_urls: list[str] | None = None) -> dict[str, Any]:
        """The job as clients see it (API responses and event details): no tokens, no internals."""
        outputs = []
        for i, out in enumerate(self.outputs):
            item: dict[str, Any] = {
                "bucket": out.bucket,
                "key": out.key,
                "content_type": out.content_type,
                "width": out.width,
                "height": out.height,
                "bytes": out.bytes,
                "sha256": out.sha256,
                "nsfw": out.nsfw,
            }
            if out.note:
                item["note"] = out.note
            if output_urls and i < len(output_urls) and self.outputs_erased_at is None and self.deleted_at is None:
                item["url"] = output_urls[i]
            outputs.append(item)
        view: dict[str, Any] = {
            "id": self.id,
            "status": str(self.status),
            "provider": self.provider,
            "provider_job_id": self.provider_job_id,
            "outputs": outputs,
            "error": asdict(self.error) if self.error else None,
            "metadata": self.metadata,
            "created_at": iso_time(self.created_at),
            "updated_at": iso_time(self.updated_at),
            "timings": self.timings(),
            "expires_at": {
                "inputs": iso_time(self.inputs_expire_at) if self.inputs_expire_at else None,
                "outputs": iso_time(self.outputs_expire_at) if self.outputs_expire_at else None,
            },
        }
        if self.deleted_at:
            view["deleted_at"] = iso_time(self.deleted_at)
        if self.correlation_id:
            view["correlation_id"] = self.correlation_id
        if self.batch_id:
            view["batch_id"] = self.batch_id
        return view


def iso_time(ts: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts)) + f".{int(ts * 1000) % 1000:03d}Z"


def derived_id(seed: str, at: float, index: int = 0) -> str:
    """A ULID-shaped id that is a function of `seed`: 48-bit ms time, 20-bit index, 60 bits of sha256(seed).

    Ids of a batch's jobs share the batch's time and sort by their index (so a batch's members page in
    index order); the same seed (an S3 object version, a batch id and an index) always gives the same id,
    so a re-delivered trigger adds nothing.
    """
    ms = int(at * 1000) & ((1 << 48) - 1)
    digest = int.from_bytes(hashlib.sha256(seed.encode()).digest()[:8], "big") >> 4
    value = (ms << 80) | ((index & 0xFFFFF) << 60) | digest
    return "".join(_CROCKFORD[(value >> (5 * i)) & 31] for i in reversed(range(26)))


class BatchStatus(StrEnum):
    QUEUED = "queued"  # no job started yet
    PROCESSING = "processing"
    COMPLETED = "completed"  # every job is terminal (some may have failed)


COUNTED = ("processing", *(str(status) for status in TERMINAL))


@dataclass
class Batch:
    """Many job requests accepted together; counts are kept by atomic counters on the batch record."""

    id: str
    tenant: str
    total: int
    providers: list[str]
    created_at: float
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(COUNTED, 0))
    # Where a manifest batch answers: {bucket, key, version_id, etag} of the manifest (jobs/manifests.py).
    manifest: dict[str, Any] | None = None
    completion: str | None = None  # None, "pending" (claimed, being published) or "sent"
    finished_at: float | None = None
    sealed: bool = True  # False while a JSONL manifest's members are still being registered
    deleted_at: float | None = None  # deleted on request: jobs whose turn had not come never start
    cancelled_at: float | None = None  # POST /v1/batches/{id}/cancel: jobs whose turn comes end cancelled

    @property
    def done(self) -> int:
        return sum(self.counts.get(s, 0) for s in TERMINAL)

    @property
    def status(self) -> BatchStatus:
        if self.sealed and self.done >= self.total:
            return BatchStatus.COMPLETED
        if self.done or self.counts.get("processing"):
            return BatchStatus.PROCESSING
        return BatchStatus.QUEUED

    def counts_view(self) -> dict[str, int]:
        counted = {s: max(0, int(self.counts.get(s, 0))) for s in COUNTED}
        queued = max(0, self.total - sum(counted.values()))
        return {"queued": queued, **counted, "total": self.total}


@dataclass
class BatchMember:
    """One job of a batch as the batch sees it (its job record exists from the batch's acceptance)."""

    index: int
    job_id: str
    status: str = "queued"
    outputs: list[dict[str, Any]] = field(default_factory=list)
    error: dict[str, Any] | None = None
    token: str | None = None  # the batch runner's wait for this job (its concurrency slot)
    request: str | None = None  # the accepted request (JSON), when the store read it with the member

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL

    def view(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "id": self.job_id,
            "status": self.status,
            "outputs": self.outputs,
            "error": self.error,
        }


@dataclass(frozen=True)
class MemberMove:
    """What a member's transition did: whether it moved, the member after it, and the batch after its
    count when the store had it in hand (None: read the batch)."""

    changed: bool
    member: BatchMember
    batch: Batch | None = None
