"""Provider errors. The workflow retries `ProviderBusyError`; the rest fail the job with their code."""

from __future__ import annotations

from ..jobs.exceptions import DomainError


class ProviderError(DomainError):
    """The provider refused or failed the job; `code` is a job error code (DESIGN 3)."""

    code: str
    message: str
    provider_code: str | None = None


class ProviderBusyError(DomainError):
    """Rate-limited or temporarily unavailable (429, 5xx, Akool 1005). Safe to retry later.

    The class name is the Step Functions error name the workflow retries on.
    """

    message: str
    retry_after: float | None = None


class ProviderUnavailableError(DomainError):
    """The provider is not configured (missing credentials): a 4xx naming the missing setting."""

    template = "provider '{provider}' is not available: set {missing}"
    provider: str
    missing: str


class WebhookRejectedError(DomainError):
    """A callback that failed verification (forged, stale or replayed). `status` is the HTTP answer."""

    template = "{reason}"
    reason: str
    status: int = 401
