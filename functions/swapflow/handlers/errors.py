"""One table from domain errors to HTTP answers, so no handler grows an if-ladder."""

from __future__ import annotations

from typing import Any

from ..jobs.exceptions import (
    BatchEndedError,
    BatchNotFoundError,
    IdempotencyKeyReusedError,
    JobAlreadyTerminalError,
    JobNotFoundError,
    JobStillRunningError,
    RequestInvalidError,
    TenantThrottledError,
    UnauthorizedError,
)
from ..providers.exceptions import ProviderUnavailableError

# code -> HTTP status for RequestInvalidError codes; everything else is a 400.
STATUS_BY_CODE = {
    "unauthorized": 401,
    "not_found": 404,
    "conflict": 409,
    "idempotency_conflict": 409,
    "image_too_large": 413,
    "unsupported_media_type": 415,
    "url_unreachable": 422,
    "provider_unavailable": 422,
    "throttled": 429,
}


def error_body(code: str, message: str, field: str | None = None) -> dict[str, Any]:
    error: dict[str, Any] = {"code": code, "message": message}
    if field:
        error["field"] = field
    return {"error": error}


def describe(exc: Exception) -> tuple[int, dict[str, Any]]:
    """(HTTP status, error body) for a domain exception; unknown ones are the caller's 500."""
    if isinstance(exc, RequestInvalidError):
        return STATUS_BY_CODE.get(exc.code, 400), error_body(exc.code, exc.message, exc.field)
    if isinstance(exc, JobNotFoundError):
        return 404, error_body("not_found", str(exc))
    if isinstance(exc, BatchNotFoundError):
        return 404, error_body("not_found", str(exc))
    if isinstance(exc, UnauthorizedError):
        return 401, error_body("unauthorized", exc.message)
    if isinstance(exc, ProviderUnavailableError):
        return 422, error_body("provider_unavailable", str(exc), "provider")
    if isinstance(exc, JobAlreadyTerminalError):
        return 409, error_body("conflict", f"{exc}: only queued or processing jobs can be cancelled")
    if isinstance(exc, BatchEndedError):
        return 409, error_body("batch_ended", str(exc))
    if isinstance(exc, JobStillRunningError):
        return 409, error_body("conflict", str(exc), "cancel")
    if isinstance(exc, TenantThrottledError):
        return 429, error_body("throttled", str(exc))
    if isinstance(exc, IdempotencyKeyReusedError):
        return 409, error_body("idempotency_conflict", str(exc), "Idempotency-Key")
    raise exc


def ratelimit_headers(limit: int, remaining: int, reset_seconds: int) -> dict[str, str]:
    """The tenant's request budget as IETF draft-ietf-httpapi-ratelimit-headers (-10) fields."""
    return {
        "RateLimit-Policy": f'"tenant";q={limit};w=1',
        "RateLimit": f'"tenant";r={remaining};t={reset_seconds}',
    }


def error_headers(exc: Exception) -> dict[str, str] | None:
    """Headers an error answer carries: Retry-After and the spent budget on 429."""
    if isinstance(exc, TenantThrottledError):
        return {"Retry-After": str(exc.retry_after), **ratelimit_headers(exc.limit, 0, exc.retry_after)}
    return None
