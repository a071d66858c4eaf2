"""POST /v1/batches (a list of job requests or a JSONL manifest) and the batch view."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from ..jobs.models import BatchStatus, JobStatus
from .common import EXAMPLE_SOURCE, EXAMPLE_TARGET, Answer, Strict, Timestamp, examples


class BatchRequest(Strict):
    """Up to SWAPFLOW_MAX_BATCH_JOBS (1,000) job requests, judged all at once by the batch service."""

    model_config = examples(
        {
            "defaults": {"target_image": EXAMPLE_TARGET, "output_format": "png"},
            "jobs": [{"source_image": EXAMPLE_SOURCE}, {"source_image": EXAMPLE_SOURCE, "target_index": 1}],
        }
    )

    jobs: list[dict[str, Any]] = Field(
        min_length=1, max_length=1000, description="Job requests, each as the body of POST /v1/jobs."
    )
    defaults: dict[str, Any] = Field(
        default_factory=dict, description="Fields every job request gets unless it sets them."
    )


class ManifestBatchRequest(Strict):
    manifest: str = Field(
        description="A JSONL file (one job request per line, up to 100,000) in the input bucket under "
        "uploads/<your tenant>/: `s3://<bucket>/<key>` or the key. Its jobs are registered (listed `queued`) by "
        "the batch's runner, then run; a line that is not a valid request fails alone.",
        examples=["uploads/acme/01JBATCH0000000000000000/jobs.jsonl"],
    )


class BatchCounts(Answer):
    queued: int = 0
    processing: int = 0
    completed: int = 0
    failed: int = 0
    cancelled: int = 0
    total: int = 0


class BatchJob(Answer):
    index: int
    id: str
    status: JobStatus
    outputs: list[dict[str, Any]] = Field(default_factory=list)
    error: dict[str, Any] | None = None


class BatchLinks(Answer):
    get: str
    cancel: str | None = None


class ManifestResult(Answer):
    bucket: str
    key: str = Field(description="Where the manifest's result file (one line per job) is written.")


class Batch(Answer):
    """A batch: its counts over every job, and (GET) one page of its jobs."""

    id: str
    status: BatchStatus | Literal["cancelled"]
    counts: BatchCounts
    created_at: Timestamp | None = None
    finished_at: Timestamp | None = None
    urls: BatchLinks
    manifest: dict[str, Any] | None = None
    result: ManifestResult | None = None
    jobs: list[BatchJob] | None = None
    next_token: str | None = Field(
        None, description="Pass as `next_token` for the next page of `jobs`; null on the last page."
    )
