"""What the native API's routes read from a request and how they answer: the tenant (API key and
request budget), headers, the stage prefix, links and the JSON response. Shared by handlers/api*.py."""

from __future__ import annotations

import json
from contextvars import ContextVar
from typing import Annotated, Any, Literal

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import BaseRouter
from aws_lambda_powertools.event_handler.openapi.params import Query

from ..jobs.access import Admission, api_key_from
from ..jobs.models import Job
from ..wiring import access, service

# What a route returns: our JSON (or page) text, already serialized, which the resolver passes through as is
# (with validation on, a route annotated with a bare `Response` fails).
Answer = Response[str]

# `?cancel=true|false` of the DELETE routes (validated by the resolver, as api_models documents it).
CancelFlag = Annotated[Literal["true", "false"], Query()]

# This request's admission: every answer carries its RateLimit headers (set per invocation, see handler).
admission: ContextVar[Admission | None] = ContextVar("admission", default=None)


def json_response(status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> Response:
    return Response(status, "application/json", json.dumps(body), headers)


def tenant(router: BaseRouter) -> str:
    """The caller's tenant from its API key, within its per-second request budget."""
    admitted = access().admission(api_key_from(router.current_event.headers))
    admission.set(admitted)
    return admitted.tenant


def header(router: BaseRouter, name: str) -> str | None:
    return next((v for k, v in (router.current_event.headers or {}).items() if k.lower() == name.lower()), None)


def query(router: BaseRouter) -> dict[str, str]:
    return dict(router.current_event.query_string_parameters or {})


def key_id(router: BaseRouter) -> str | None:
    from ..storage.tenants import caller_key_id

    return caller_key_id(router.current_event.headers)


def stage(router: BaseRouter) -> str:
    """The stage prefix API Gateway's own URL needs (`/prod`; "" behind a custom domain)."""
    event = router.current_event
    full = event.request_context.path or ""  # type: ignore[attr-defined]
    return full[: -len(event.path)] if full.endswith(event.path) else ""


def location(router: BaseRouter, job_id: str) -> dict[str, str]:
    """`Location` of the job, stage prefix included."""
    return {"Location": f"{stage(router)}/v1/jobs/{job_id}"}


def links(job_id: str) -> dict[str, str]:
    return {"get": f"/v1/jobs/{job_id}", "cancel": f"/v1/jobs/{job_id}/cancel"}


def job_body(job: Job, *, with_base64: bool = True) -> dict[str, Any]:
    """The job as GET /v1/jobs/{id} shows it (base64 outputs when it asked for them)."""
    return {**service().queries.view(job, with_base64=with_base64), "urls": links(job.id)}


def refusal(exc: Exception) -> Exception:
    """The domain error for a request the resolver refused: a model error (its first, the field as a dotted
    path), a body that is not UTF-8 text, or one sent as something other than JSON."""
    from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError

    from ..api_models import request_error
    from ..api_spec import ERROR_CODES
    from ..jobs.exceptions import RequestInvalidError

    if isinstance(exc, RequestValidationError):
        return request_error(exc.errors(), ERROR_CODES)
    if isinstance(exc, UnicodeDecodeError):  # base64 bodies are decoded by the resolver before our parser
        return RequestInvalidError("invalid_json", f"the request body is not UTF-8 text: {exc.reason}")
    return RequestInvalidError("unsupported_media_type", "send the body as application/json", "Content-Type")
