"""Completion from outside the workflow: provider webhooks (verified, matched to their job) and the
offline engine's own run. Both end in `JobLifecycle.complete_from_provider`, like a poll would.

Webhooks (POST /webhooks/{provider}?job=<id>): the provider's signature is the credential. Forged or
stale -> 401/400 and no state change; duplicates and unknown jobs -> 200 (stops the provider's retries)
with no second change. A route only moves jobs of its own provider family, and only by the provider
job id the submit recorded: a callback that arrives before that id is known gets 409 (the provider
retries; polling finds the result regardless) and changes nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..providers.base import ProviderFailure, ProviderResult, ProviderState
from ..providers.exceptions import ProviderUnavailableError, WebhookRejectedError
from .archive import OutputArchive
from .exceptions import JobNotFoundError
from .lifecycle import JobLifecycle
from .plan import ProviderChain
from .ports import BlobStore
from .queries import JobQueries

LOG = logging.getLogger(__name__)

RECEIVED: dict[str, Any] = {"received": True}


@dataclass(frozen=True)
class WebhookAnswer:
    """What the webhook route answers, and what happened (`outcome`, for logs and metrics)."""

    status: int
    body: dict[str, Any]
    outcome: str
    facts: dict[str, Any] = field(default_factory=dict)


def _refused(status: int, code: str, message: str, outcome: str, **facts: Any) -> WebhookAnswer:
    return WebhookAnswer(status, {"error": {"code": code, "message": message}}, outcome, facts)


@dataclass(eq=False, kw_only=True)
class ProviderCallbacks:
    lifecycle: JobLifecycle
    queries: JobQueries
    chain: ProviderChain
    blobs: BlobStore
    archive: OutputArchive

    def webhook(self, family: str, job_id: str, headers: Mapping[str, str], body: bytes) -> WebhookAnswer:
        """Verify a provider callback and complete the job it names, if it names one that may move."""
        from ..providers.registry import webhook_verifier

        verifier = webhook_verifier(family)  # the provider that checks this route's signatures
        if verifier is None:
            return _refused(404, "not_found", "unknown provider webhook", "unknown_route")
        try:
            job = self.queries.by_id(job_id) if job_id else None
            refusal = job.callback_refusal(family) if job else None
            if refusal == "not_ready":  # nothing read or recorded, not even the delivery id: the retry counts
                return _refused(409, "not_ready", "the job is not submitted yet; retry", "not_ready", job_id=job_id)
            # The route's own provider verifies the signature (forged -> 401), whoever's job it names.
            provider = self.chain.get(job.provider if job and not refusal else verifier)
            notice = provider.parse_webhook(dict(headers), body)
        except JobNotFoundError:
            return WebhookAnswer(200, RECEIVED, "unknown_job", {"job_id": job_id})
        except WebhookRejectedError as exc:
            return _refused(exc.status, "webhook_rejected", exc.reason, "rejected", reason=exc.reason)
        except ProviderUnavailableError as exc:
            return _refused(404, "provider_unavailable", str(exc), "provider_unavailable")
        if notice.duplicate:
            return WebhookAnswer(200, {**RECEIVED, "duplicate": True}, "duplicate", {"delivery_id": notice.delivery_id})
        if refusal:  # another provider's job is left alone (200 stops the retries)
            return WebhookAnswer(200, RECEIVED, "foreign", {"job_id": job_id, "route": family})
        if job is None or job.provider_job_id != notice.provider_job_id:
            return WebhookAnswer(200, RECEIVED, "unmatched", {"job_id": job_id})
        woken = self.lifecycle.complete_from_provider(job.id, notice.result)
        facts = {"job_id": job.id, "state": str(notice.result.state), "woken": woken}
        return WebhookAnswer(200, RECEIVED, "accepted", facts)

    def run_engine(self, job_id: str, *, notify: bool) -> dict[str, Any]:
        """The engine's Lambda: swap, write the output where finishing archives it (one PUT, no staging
        copy), and complete the job like a webhook. An engine crash still ends the job (not at its
        deadline). With `notify` off (tests of the poll path) the result is only recorded."""
        from ..providers.engine import run_engine

        job = self.queries.by_id(job_id)
        if job.terminal:
            return {"job_id": job_id, "skipped": True}
        bucket = self.archive.bucket
        written: dict[tuple[str, str], bytes] = {}

        def write(key: str, data: bytes, content_type: str) -> tuple[str, str]:
            self.blobs.put(bucket, key, data, content_type)
            written[bucket, key] = data  # finishing archives these bytes without reading them back
            return bucket, key

        try:
            result = run_engine(job.spec, self.blobs.get, write, self.archive.key(job, 0))
        except Exception:
            LOG.exception("engine crashed", extra={"job_id": job_id})
            failure = ProviderFailure("internal", "the engine failed unexpectedly")
            result = ProviderResult(ProviderState.FAILED, failure=failure)
        woken = self.lifecycle.complete_from_provider(job_id, result, notify=notify, staged=written)
        return {"job_id": job_id, "state": str(result.state), "woken": woken}
