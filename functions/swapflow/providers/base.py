"""The one small interface every provider sits behind.

A provider turns a `SwapRequest` (inputs already materialised in our input bucket, readable through
presigned URLs) into a provider job, reports its progress when polled, and recognises its own webhook
calls. Adding a provider is adding one module that declares its `PROVIDERS` (spec.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol

from ..faces import SwapOptions


class ProviderState(StrEnum):
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


@dataclass(frozen=True)
class ImageRef:
    """An input image stored in our input bucket; `url` is a presigned GET a provider can fetch."""

    bucket: str
    key: str
    content_type: str
    url: str


@dataclass(frozen=True)
class SwapRequest(SwapOptions[ImageRef]):
    job_id: str
    source_image: ImageRef
    target_image: ImageRef
    # Where the provider calls back (our /webhooks/<provider> route); None when we have no public URL.
    webhook_url: str | None = None


@dataclass(frozen=True)
class ProviderOutput:
    """Where a result can be read: a provider URL (fetched through net.py) or an object in our bucket."""

    content_type: str = "image/jpeg"
    url: str | None = None
    bucket: str | None = None
    key: str | None = None
    # The provider's own NSFW verdict for this output; None: the provider did not check (no one did).
    nsfw: bool | None = None


@dataclass(frozen=True)
class ProviderFailure:
    """A job-level failure reported by the provider; `code` is one of the job error codes of DESIGN 3."""

    code: str
    message: str
    provider_code: str | None = None


@dataclass(frozen=True)
class ProviderResult:
    state: ProviderState
    outputs: tuple[ProviderOutput, ...] = ()
    failure: ProviderFailure | None = None
    # Seconds the provider asked us to wait before the next poll (Retry-After, rate limits).
    retry_after: float | None = None


@dataclass(frozen=True)
class Submission:
    provider_job_id: str
    result: ProviderResult = field(default_factory=lambda: ProviderResult(ProviderState.RUNNING))


@dataclass(frozen=True)
class WebhookNotice:
    """A verified provider callback: which provider job it is about and what it says."""

    provider_job_id: str
    result: ProviderResult
    # The provider's delivery id (nonce, webhook-id), recorded to refuse replays.
    delivery_id: str | None = None
    # True when the provider's ReplayGuard has seen this delivery before: answer 200, change nothing.
    duplicate: bool = False


class ReplayGuard(Protocol):
    """Remembers webhook deliveries (DynamoDB conditional put in AWS, a dict in tests)."""

    def first_time(self, key: str, ttl_seconds: int) -> bool:
        """True if `key` was not seen in the last `ttl_seconds` (and records it)."""
        ...


class Provider(Protocol):
    name: str

    def submit(self, request: SwapRequest) -> Submission:
        """Start the swap. Raises ProviderBusyError (retried by the workflow) or ProviderError."""
        ...

    def poll(self, provider_job_id: str) -> ProviderResult:
        """Report the job's state now. Raises ProviderBusyError on 429/5xx."""
        ...

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> WebhookNotice:
        """Verify and decode a callback. Raises WebhookRejectedError (forged, stale, replayed)."""
        ...

    def cancel(self, provider_job_id: str) -> bool:
        """Best-effort cancel; False where the provider has none."""
        ...
