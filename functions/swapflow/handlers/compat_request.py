"""What both drop-in handlers read from a request: the tenant (Akool's key rules), the raw body, the
base URL clients reached us at. Shared by handlers/compat_wavespeed.py and handlers/compat_akool.py."""

from __future__ import annotations

import base64

from aws_lambda_powertools.event_handler import APIGatewayRestResolver

from ..api_answers import json_response
from ..jobs.access import api_key_from
from ..jobs.exceptions import UnauthorizedError
from ..jobs.models import Job
from ..observability import logger, metrics, provider_metric
from ..settings import get_settings
from ..wiring import access
from .api_request import query

__all__ = ["json_response", "query"]


def tenant(app: APIGatewayRestResolver, *, throttle: bool = True) -> str:
    """The caller's tenant, within the same per-tenant request budget as the native API.

    WaveSpeed result polls are not counted (`throttle=False`): the official SDK polls every second and a
    429 there is fatal to it (DESIGN 3), so the budget bounds what costs (submits, uploads), not reads.
    """
    # Akool: "If both ... have values, Authorization will be used first"
    key = api_key_from(app.current_event.headers, prefer_bearer=True)
    if not key:
        raise UnauthorizedError("an API key is required")
    return access().admit(key, throttle=throttle)


def key_id(app: APIGatewayRestResolver) -> str | None:
    from ..storage.tenants import caller_key_id

    return caller_key_id(app.current_event.headers, prefer_bearer=True)


def raw_body(app: APIGatewayRestResolver) -> bytes:
    event = app.current_event.raw_event
    body = event.get("body") or ""
    return base64.b64decode(body) if event.get("isBase64Encoded") else body.encode("utf-8")


def base_url(app: APIGatewayRestResolver) -> str:
    """The URL clients reached us at (for data.urls.get): the configured one, else the request's host."""
    settings = get_settings()
    if settings.public_url:
        return settings.public_url
    context = app.current_event.raw_event.get("requestContext") or {}
    host = context.get("domainName") or (app.current_event.headers or {}).get("Host", "")
    stage = context.get("stage") or ""
    return f"https://{host}/{stage}" if host.endswith(".amazonaws.com") and stage else f"https://{host}"


def accepted(job: Job, model: str) -> Job:
    """Count and log a drop-in job as accepted."""
    metrics.add_metric(name="CompatJobsAccepted", unit="Count", value=1)
    provider_metric("JobsAccepted", job.provider)
    logger.info("compat job accepted", extra={"job_id": job.id, "model": model, "provider": job.provider})
    return job


def time_left(app: APIGatewayRestResolver, safety_seconds: float = 3.0) -> float:
    """Seconds a sync wait may take in this invocation: it ends before the Lambda's own timeout."""
    return float(app.lambda_context.get_remaining_time_in_millis() / 1000 - safety_seconds)
