"""The job use cases, split by what happens to a job, built from one set of collaborators.

    intake     parse, prepare (provider checked, inputs stored), start, create (once per key)
    queries    get, list, view, wait
    lifecycle  the workflow's Run pass, completion from webhooks and the engine, finish/fail, cancel, delete
    announcer  the one terminal event per job (and the provider slot and batch counts it releases)
    callbacks  provider webhooks verified and matched to their job, the engine's own run

Callers take the part they need (a handler, batches.py, ingest.py); nobody reaches past it into the
repository, blobs or providers. wiring.py builds one per cold start; tests build it on fakes.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any

from ..settings import Settings
from .announce import Announcer
from .archive import OutputArchive
from .callbacks import ProviderCallbacks
from .idempotency import Idempotency
from .inputs import InputLoader
from .intake import JobIntake
from .lifecycle import JobLifecycle
from .limits import ProviderGate
from .models import Job
from .plan import ProviderChain, ProviderFactory
from .ports import (
    AuditLog,
    BlobStore,
    EraseRequests,
    EventPublisher,
    IdempotencyRecords,
    JobRepository,
    OutputMarker,
    Workflow,
)
from .queries import JobQueries
from .retention import Retention


@dataclass(frozen=True)
class JobService:
    intake: JobIntake
    queries: JobQueries
    lifecycle: JobLifecycle
    announcer: Announcer
    callbacks: ProviderCallbacks
    idempotency: Idempotency

    @classmethod
    def build(
        cls,
        *,
        settings: Settings,
        repo: JobRepository,
        blobs: BlobStore,
        workflow: Workflow,
        events: EventPublisher,
        providers: ProviderFactory,
        provider_names: Collection[str],
        inputs: InputLoader,
        public_url: Callable[[], str] = lambda: "",
        clock: Callable[[], float] = time.time,
        idempotency: IdempotencyRecords | None = None,
        sleep: Callable[[float], None] = time.sleep,
        on_job_changed: Callable[[Job], None] | None = None,
        gate: ProviderGate | None = None,
        marker: OutputMarker | None = None,
        retention: Callable[[str], Retention] = lambda tenant: Retention(),
        audit: AuditLog | None = None,
        erase: EraseRequests | None = None,
    ) -> JobService:
        chain = ProviderChain(providers, settings.auto_providers)
        once = Idempotency(idempotency)
        queries = JobQueries(repo=repo, blobs=blobs, presign_seconds=settings.presign_seconds, clock=clock, sleep=sleep)
        announcer = Announcer(
            repo=repo, events=events, output_urls=queries.output_urls, gate=gate, on_job_changed=on_job_changed
        )
        # what taking a job in and moving it on both need: the job's store, workflow, providers and time
        shared: dict[str, Any] = {
            "settings": settings,
            "repo": repo,
            "workflow": workflow,
            "chain": chain,
            "public_url": public_url,
            "clock": clock,
            "audit": audit,
        }
        intake = JobIntake(**shared, provider_names=provider_names, inputs=inputs, idempotency=once, sleep=sleep)
        archive = OutputArchive(blobs=blobs, inputs=inputs, bucket=settings.archive_bucket, marker=marker)
        lifecycle = JobLifecycle(
            **shared,
            blobs=blobs,
            archive=archive,
            announcer=announcer,
            queries=queries,
            retention=retention,
            erase=erase,
        )
        callbacks = ProviderCallbacks(lifecycle=lifecycle, queries=queries, chain=chain, blobs=blobs, archive=archive)
        return cls(intake, queries, lifecycle, announcer, callbacks, once)
