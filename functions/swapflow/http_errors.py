"""One table from domain errors to HTTP answers, so no handler grows an if-ladder. Used by every HTTP
surface (handlers/api*.py, handlers/compat_*.py); kept out of handlers/ because it holds no handler."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .jobs.exceptions import (
    BatchEndedError,
    BatchInvalidError,
    BatchNotFoundError,
    IdempotencyKeyReusedError,
    JobAlreadyTerminalError,
    JobNotFoundError,
    JobStillRunningError,
    RequestInvalidError,
    TenantThrottledError,
    UnauthorizedError,
)
from .providers.exceptions import ProviderUnavailableError

# RequestInvalidError carries its own code: code -> HTTP status; everything else is a 400.
STATUS_BY_CODE = {
    "unauthorized": 401,
    "not_found": 404,
    "conflict": 409,
    "idempotency_conflict": 409,
    "image_too_large": 413,
    "unsupported_media_type": 415,
    "url_unreachable": 422,
    "provider_unavailable": 422,
    "unsupported_by_provider": 422,
    "throttled": 429,
}


@dataclass(frozen=True)
class Answer:
    """The HTTP answer to a domain error; `code` None: the exception's own code (and status by code)."""

    status: int
    code: str | None
    field: str | None = None
    # Appended to the exception's message: what the client can do about it.
    hint: str = ""


# Exception type -> answer, looked up along the exception's MRO (a subclass answers as its base). Every
# HTTP surface answers these in its envelope (handlers/api.py, api_answers.COMPAT_ERRORS).
ANSWERS: dict[type[Exception], Answer] = {
    RequestInvalidError: Answer(400, None),
    JobNotFoundError: Answer(404, "not_found"),
    BatchNotFoundError: Answer(404, "not_found"),
    UnauthorizedError: Answer(401, "unauthorized"),
    ProviderUnavailableError: Answer(422, "provider_unavailable", "provider"),
    JobAlreadyTerminalError: Answer(409, "conflict", hint=": only queued or processing jobs can be cancelled"),
    BatchEndedError: Answer(409, "batch_ended"),
    JobStillRunningError: Answer(409, "conflict", "cancel"),
    TenantThrottledError: Answer(429, "throttled"),
    IdempotencyKeyReusedError: Answer(409, "idempotency_conflict", "Idempotency-Key"),
}


def error_body(code: str, message: str, field: str | None = None) -> dict[str, Any]:
    error: dict[str, Any] = {"code": code, "message": message}
    if field:
        error["field"] = field
    return {"error": error}


def describe(exc: Exception) -> tuple[int, dict[str, Any]]:
    """(HTTP status, error body) for a domain exception; unknown ones are re-raised (the caller's 500)."""
    answer = next((ANSWERS[kind] for kind in type(exc).__mro__ if kind in ANSWERS), None)
    if answer is None:
        raise exc
    if answer.code is None:  # a RequestInvalidError: its own code and field, the status by its code
        assert isinstance(exc, RequestInvalidError)
        body = error_body(exc.code, exc.message, exc.field)
        if isinstance(exc, BatchInvalidError):  # every problem of the batch, not only the first
            body["error"]["errors"] = exc.errors
        return STATUS_BY_CODE.get(exc.code, answer.status), body
    return answer.status, error_body(answer.code, f"{exc}{answer.hint}", answer.field)


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


def resolver_refusal(exc: Exception) -> Exception:
    """The domain error for a request the resolver refused: a model error (its first, the field as a dotted
    path), a body that is not UTF-8 text, or one sent as something other than JSON."""
    from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError

    from .api_models import request_error
    from .api_spec import ERROR_CODES

    if isinstance(exc, RequestValidationError):
        return request_error(exc.errors(), ERROR_CODES)
    if isinstance(exc, UnicodeDecodeError):  # base64 bodies are decoded by the resolver before our parser
        return RequestInvalidError("invalid_json", f"the request body is not UTF-8 text: {exc.reason}")
    return RequestInvalidError("unsupported_media_type", "send the body as application/json", "Content-Type")
