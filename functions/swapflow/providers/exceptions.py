"""Provider errors. The workflow retries `ProviderBusyError`; the rest fail the job with their code."""

from __future__ import annotations


class ProviderError(Exception):
    """The provider refused or failed the job; `code` is a job error code (DESIGN 3)."""

    def __init__(self, code: str, message: str, provider_code: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.provider_code = provider_code


class ProviderBusyError(Exception):
    """Rate-limited or temporarily unavailable (429, 5xx, Akool 1005). Safe to retry later.

    The class name is the Step Functions error name the workflow retries on.
    """

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class ProviderUnavailableError(Exception):
    """The provider is not configured (missing credentials): a 4xx naming the missing setting."""

    def __init__(self, provider: str, missing: str) -> None:
        super().__init__(f"provider '{provider}' is not available: set {missing}")
        self.provider = provider
        self.missing = missing


class WebhookRejectedError(Exception):
    """A callback that failed verification (forged, stale or replayed). `status` is the HTTP answer."""

    def __init__(self, reason: str, status: int = 401) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status
