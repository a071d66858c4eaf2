"""How the HTTP surfaces answer: JSON responses, their 500 and 404 answers, the drop-ins' domain errors;
for the native API also the stage prefix clients reached us at, a job's Location, links and body, a
submit's headers."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.event_handler.api_gateway import BaseRouter

from .http_errors import ANSWERS, describe, error_headers
from .jobs.models import Job
from .observability import logger
from .wiring import service

if TYPE_CHECKING:
    from .jobs.intake import Submitted

# What a route returns: our JSON (or page) text, already serialized, which the resolver passes through as is
# (with validation on, a route annotated with a bare `Response` fails).
Answer = Response[str]


def json_response(status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> Response:
    return Response(status, "application/json", json.dumps(body), headers)


def answer_failures(
    app: APIGatewayRestResolver, envelope: Callable[[int, str], dict[str, Any]], no_route: str
) -> Callable[..., Response]:
    """Register a surface's 500 (logged) and 404 answers in its envelope (`envelope(status, message)`);
    returns the 404 answer, for a route that finds nothing to serve."""

    @app.exception_handler(Exception)
    def unexpected_error(exc: Exception) -> Response:
        logger.exception("unexpected error")
        return json_response(500, envelope(500, "an internal error occurred; the request can be retried"))

    @app.not_found
    def not_found(exc: Exception | None = None) -> Response:
        return json_response(404, envelope(404, no_route))

    return not_found


def stage(router: BaseRouter) -> str:
    """The stage prefix API Gateway's own URL needs (`/prod`; "" behind a custom domain)."""
    event = router.current_event
    full = event.request_context.path or ""  # type: ignore[attr-defined]
    return full[: -len(event.path)] if full.endswith(event.path) else ""


def location(router: BaseRouter, job_id: str) -> dict[str, str]:
    """`Location` of the job, stage prefix included."""
    return {"Location": f"{stage(router)}/v1/jobs/{job_id}"}


def submit_headers(router: BaseRouter, submitted: Submitted) -> dict[str, str]:
    """A submit's answer headers: the job's Location, an idempotent replay, the `Prefer: wait` applied."""
    headers = {**location(router, submitted.job.id), **({"Idempotent-Replayed": "true"} if submitted.replayed else {})}
    if submitted.preferred_wait is not None:
        headers["Preference-Applied"] = f"wait={submitted.preferred_wait:.0f}"
    return headers


def links(job_id: str) -> dict[str, str]:
    return {"get": f"/v1/jobs/{job_id}", "cancel": f"/v1/jobs/{job_id}/cancel"}


def accepted_body(job: Job) -> dict[str, Any]:
    """The 202 of a submit: what a client needs to follow the job."""
    return {"id": job.id, "status": str(job.status), "metadata": job.metadata, "urls": links(job.id)}


def job_body(job: Job, *, with_base64: bool = True) -> dict[str, Any]:
    """The job as GET /v1/jobs/{id} shows it (base64 outputs when it asked for them)."""
    return {**service().queries.view(job, with_base64=with_base64), "urls": links(job.id)}


# The domain errors a drop-in surface answers in its own envelope: every one the table of http_errors.py
# answers (it gives the status), as on the native API.
COMPAT_ERRORS: list[type[Exception]] = list(ANSWERS)


def answer_errors(
    app: APIGatewayRestResolver,
    envelope: Callable[[int, str], dict[str, Any]],
    no_route: str,
    *,
    in_band: Callable[[Exception], int] | None = None,
) -> Callable[..., Response]:
    """Register a drop-in surface's error answers in its envelope (`envelope(code, message)`) and return
    its 404 answer. A domain error keeps the native API's status and headers (Retry-After), unless the
    surface answers errors in band (Akool: HTTP 200, the envelope's code `in_band(exc)`)."""

    @app.exception_handler(COMPAT_ERRORS)
    def domain_error(exc: Exception) -> Response:
        status, body = describe(exc)
        message = body["error"]["message"]
        if in_band is not None:
            return json_response(200, envelope(in_band(exc), message))
        return json_response(status, envelope(status, message), error_headers(exc))

    return answer_failures(app, envelope, no_route)
