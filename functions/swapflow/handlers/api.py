"""The HTTPS API (API Gateway REST proxy): native /v1 routes."""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.utilities.typing import LambdaContext

from ..jobs.exceptions import JobNotFoundError, RequestInvalidError, UnauthorizedError
from ..jobs.validation import parse_json_body
from ..observability import logger, metrics
from ..providers.exceptions import ProviderUnavailableError
from ..wiring import api_keys, service
from .errors import describe, error_body

app = APIGatewayRestResolver()


def _json(status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> Response:
    return Response(status, "application/json", json.dumps(body), headers)


def _tenant() -> str:
    headers = app.current_event.headers or {}
    lowered = {k.lower(): v for k, v in headers.items()}
    key = lowered.get("x-api-key") or ""
    auth = lowered.get("authorization") or ""
    if not key and auth.lower().startswith("bearer "):
        key = auth[7:].strip()
    tenant = api_keys().tenant_for(key) if key else None
    if not tenant:
        raise UnauthorizedError()
    return tenant


def _links(job_id: str) -> dict[str, str]:
    return {"get": f"/v1/jobs/{job_id}", "cancel": f"/v1/jobs/{job_id}/cancel"}


@app.post("/v1/jobs")
def create_job() -> Response:
    tenant = _tenant()
    svc = service()
    request = svc.parse(parse_json_body(app.current_event.body))
    idempotency_key = (app.current_event.headers or {}).get("Idempotency-Key")
    job = svc.create_job(tenant, request, idempotency_key=idempotency_key)
    metrics.add_metric(name="JobsAccepted", unit="Count", value=1)
    logger.info("job accepted", extra={"job_id": job.id, "provider": job.provider, "tenant": tenant})
    body = {"id": job.id, "status": str(job.status), "urls": _links(job.id)}
    return _json(202, body, {"Location": f"/v1/jobs/{job.id}"})


@app.get("/v1/jobs/<job_id>")
def get_job(job_id: str) -> Response:
    svc = service()
    job = svc.get_job(_tenant(), job_id)
    return _json(200, {**svc.view(job), "urls": _links(job.id)})


@app.post("/v1/uploads")
def create_upload() -> Response:
    """A presigned PUT into the input bucket; the returned `image_ref` is then a job input."""
    from ..wiring import uploads

    tenant = _tenant()
    body = parse_json_body(app.current_event.body)
    if not isinstance(body, dict):
        raise RequestInvalidError("invalid_request", "the request body must be a JSON object")
    upload = uploads().create(tenant, body.get("filename"), body.get("content_type"), body.get("size"))
    return _json(201, upload.native_view())


@app.exception_handler([RequestInvalidError, JobNotFoundError, UnauthorizedError, ProviderUnavailableError])
def domain_error(exc: Exception) -> Response:
    status, body = describe(exc)
    return _json(status, body)


@app.exception_handler(Exception)
def unexpected_error(exc: Exception) -> Response:
    logger.exception("unexpected error")
    return _json(500, error_body("internal", "an internal error occurred; the request can be retried"))


@app.not_found
def not_found(exc: Exception) -> Response:
    return _json(404, error_body("not_found", "no such route; see GET /v1/openapi.json"))


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
