"""How the native API answers: JSON responses, the stage prefix clients reached us at, a job's Location,
links and body, a submit's headers. Shared by handlers/api*.py (and the drop-in surfaces' JSON)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import BaseRouter

from .jobs.models import Job
from .wiring import service

if TYPE_CHECKING:
    from .jobs.intake import Submitted

# What a route returns: our JSON (or page) text, already serialized, which the resolver passes through as is
# (with validation on, a route annotated with a bare `Response` fails).
Answer = Response[str]


def json_response(status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> Response:
    return Response(status, "application/json", json.dumps(body), headers)


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
