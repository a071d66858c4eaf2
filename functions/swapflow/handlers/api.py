"""The HTTPS API (API Gateway REST proxy): native /v1 routes."""

from __future__ import annotations

import json
from contextvars import ContextVar
from typing import Annotated, Any, Literal

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.event_handler.openapi.exceptions import (
    RequestUnsupportedContentType,
    RequestValidationError,
)
from aws_lambda_powertools.event_handler.openapi.params import Body, Query
from aws_lambda_powertools.utilities.typing import LambdaContext

from ..api_models import JobRequestBody, UploadRequest, request_error
from ..jobs.access import Admission, api_key_from
from ..jobs.exceptions import (
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
from ..jobs.models import Job, JobStatus
from ..jobs.service import request_fingerprint
from ..jobs.validation import parse_json_body, with_header_options
from ..observability import logger, metrics, provider_metric, tracer
from ..providers.exceptions import ProviderUnavailableError
from ..wiring import access, service
from .errors import describe, error_body, error_headers, ratelimit_headers

# Bodies and query strings are validated against api_models by the resolver; bodies are decoded by our own
# parser (depth and surrogate caps), and a refusal is answered in our envelope (invalid_request below).
app = APIGatewayRestResolver(enable_validation=True, json_body_deserializer=parse_json_body)

# What a route returns: our JSON (or page) text, already serialized, which the resolver passes through as is.
Answer = Response[str]


def _json(status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> Response:
    return Response(status, "application/json", json.dumps(body), headers)


# This request's admission: every answer carries its RateLimit headers (set per invocation, see handler).
_admission: ContextVar[Admission | None] = ContextVar("admission", default=None)


def _tenant() -> str:
    """The caller's tenant from its API key, within its per-second request budget."""
    admission = access().admission(api_key_from(app.current_event.headers))
    _admission.set(admission)
    return admission.tenant


def _header(name: str) -> str | None:
    return next((v for k, v in (app.current_event.headers or {}).items() if k.lower() == name.lower()), None)


def _stage() -> str:
    """The stage prefix API Gateway's own URL needs (`/prod`; "" behind a custom domain)."""
    full = app.current_event.request_context.path or ""
    return full[: -len(app.current_event.path)] if full.endswith(app.current_event.path) else ""


def _location(job_id: str) -> dict[str, str]:
    """`Location` of the job, stage prefix included."""
    return {"Location": f"{_stage()}/v1/jobs/{job_id}"}


def _links(job_id: str) -> dict[str, str]:
    return {"get": f"/v1/jobs/{job_id}", "cancel": f"/v1/jobs/{job_id}/cancel"}


def _job_body(job: Job) -> dict[str, Any]:
    return {**service().view(job, with_base64=True), "urls": _links(job.id)}


@app.post("/v1/jobs")
def create_job(payload: Annotated[JobRequestBody, Body()]) -> Answer:
    """202 {id, status, metadata, urls}; 200 with the whole job when a `wait` ends in time."""
    tenant = _tenant()
    svc = service()
    body = payload.model_dump(exclude_unset=True)
    request, preferred_wait = with_header_options(
        svc.parse(body),
        body,
        prefer=_header("Prefer"),
        deadline=_header("Cancel-After"),
        max_deadline=svc.settings.job_deadline_seconds,
    )
    key = _header("Idempotency-Key")
    replayed = False
    if key is None:
        job = svc.create_job(tenant, request, submitted_by=_key_id())
    else:
        job, replayed = svc.create_job_once(
            tenant, request, idempotency_key=key, fingerprint=request_fingerprint(body), submitted_by=_key_id()
        )
    if not replayed:
        provider_metric("JobsAccepted", job.provider)
    logger.info(
        "job accepted", extra={"job_id": job.id, "provider": job.provider, "tenant": tenant, "replay": replayed}
    )
    headers = {**_location(job.id), **({"Idempotent-Replayed": "true"} if replayed else {})}
    if preferred_wait is not None:
        headers["Preference-Applied"] = f"wait={preferred_wait:.0f}"
    if request.wait:
        job = svc.wait_for_job(tenant, job.id, request.wait)
        if job.terminal:
            return _json(200, _job_body(job), headers)
    accepted = {"id": job.id, "status": str(job.status), "metadata": job.metadata, "urls": _links(job.id)}
    return _json(202, accepted, headers)


@app.get("/v1/jobs")
def list_jobs(
    status: Annotated[JobStatus | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: Annotated[str | None, Query()] = None,
) -> Answer:
    """The caller's jobs, newest first: ?status=&limit= (1..100, default 20)&cursor=."""
    tenant = _tenant()
    svc = service()
    jobs, cursor = svc.list_jobs(tenant, status=status, limit=limit, cursor=cursor or None)
    return _json(200, {"jobs": [{**svc.view(j), "urls": _links(j.id)} for j in jobs], "next_cursor": cursor})



@app.get("/v1/jobs/<job_id>")
def get_job(job_id: str) -> Answer:
    job = service().get_job(_tenant(), job_id)
    return _json(200, _job_body(job))


@app.post("/v1/jobs/<job_id>/cancel")
def cancel_job(job_id: str) -> Answer:
    """200 with the job, now `cancelled`; 409 `conflict` when it had already ended."""
    tenant = _tenant()
    job = service().cancel_job(tenant, job_id)
    logger.info("job cancelled", extra={"job_id": job.id, "tenant": tenant})
    provider_metric("JobsCancelled", job.provider)
    return _json(200, _job_body(job), _location(job.id))


def _key_id() -> str | None:
    from ..storage.tenants import caller_key_id

    return caller_key_id(app.current_event.headers)


# `?cancel=true|false` of the DELETE routes.
CancelFlag = Annotated[Literal["true", "false"], Query()]


@app.delete("/v1/jobs/<job_id>")
def delete_job(job_id: str, cancel: CancelFlag = "false") -> Answer:
    """202 with the tombstone: photos are being deleted (every version); 409 while running unless ?cancel=true."""
    tenant = _tenant()
    job = service().delete_job(tenant, job_id, cancel=cancel == "true", by=_key_id())
    logger.info("job deleted", extra={"job_id": job.id, "tenant": tenant})
    return _json(202, service().view(job))


@app.delete("/v1/batches/<batch_id>")
def delete_batch(batch_id: str, cancel: CancelFlag = "false") -> Answer:
    """202: every job of the batch (or manifest) is being deleted as DELETE /v1/jobs/{id} does."""
    from ..wiring import batches

    tenant = _tenant()
    svc = batches()
    batch = svc.delete(tenant, batch_id, cancel=cancel == "true", by=_key_id())
    logger.info("batch deleted", extra={"batch_id": batch.id, "tenant": tenant})
    return _json(202, svc.view(batch, with_jobs=False))


@app.get("/v1/openapi.json")
def openapi() -> Answer:
    """The OpenAPI 3.1 document of the native API; no key needed. `servers` carries the stage prefix, so
    Swagger UI's "Try it out" reaches `/prod/v1/...` in AWS."""
    from ..api_spec import openapi_document

    return _json(200, {**openapi_document(), "servers": [{"url": _stage() or "/"}]})


# ---- pages: the playground and Swagger UI (no key: their API calls carry the key the user pastes) ----


def _static(found: tuple[str, str] | None) -> Response:
    if found is None:
        return _json(404, error_body("not_found", "no such file"))
    text, content_type = found
    return Response(200, content_type, text, {"Cache-Control": "public, max-age=300"})


@app.get("/")
@app.get("/playground")
def playground_page() -> Answer:
    from .. import playground

    return _static(playground.page("index.html", _stage()))


@app.get("/playground/<name>")
def playground_asset(name: str) -> Answer:
    from .. import playground

    return _static(playground.asset(playground.PLAYGROUND_ASSETS, name))


@app.get("/v1/docs")
@app.get("/docs")
def docs_page() -> Answer:
    """Swagger UI over /v1/openapi.json, from vendored assets; no key needed."""
    from .. import playground

    return _static(playground.page("docs.html", _stage()))


@app.get("/v1/docs/<name>")
def docs_asset(name: str) -> Answer:
    from .. import playground

    return _static(playground.asset(playground.DOCS_ASSETS, name))


@app.post("/v1/uploads")
def create_upload(body: Annotated[UploadRequest, Body()]) -> Answer:
    """A presigned PUT into the input bucket; the returned `image_ref` is then a job input."""
    from ..wiring import uploads

    tenant = _tenant()
    upload = uploads().create(tenant, body.filename, body.content_type, body.size)
    return _json(201, upload.native_view())


@app.post("/v1/batches")
def create_batch() -> Answer:
    """202 {id, status, counts, urls}: every job request judged at once (400 lists each problem); or
    `{"manifest": <s3:// or key of a .jsonl upload>}`: up to 100,000 jobs, registered by the runner."""
    from ..wiring import batches, jsonl_manifests

    tenant = _tenant()
    body = parse_json_body(app.current_event.body)
    try:
        if isinstance(body, dict) and set(body) == {"manifest"}:
            manifests = jsonl_manifests()
            batch, _ = manifests.accept(tenant, manifests.location_for(tenant, body["manifest"]))
        else:
            batch, _ = batches().accept(tenant, body)
    except BatchInvalidError as exc:
        status, error = describe(exc)
        error["error"]["errors"] = exc.errors
        return _json(status, error)
    metrics.add_metric(name="BatchJobsAccepted", unit="Count", value=batch.total)
    logger.info("batch accepted", extra={"batch_id": batch.id, "jobs": batch.total, "tenant": tenant})
    view = batches().view(batch, with_jobs=False)
    return _json(202, view, {"Location": view["urls"]["get"]})


@app.get("/v1/batches/<batch_id>")
def get_batch(
    batch_id: str,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    next_token: Annotated[str | None, Query()] = None,
) -> Answer:
    """The batch with its counts and a page of its jobs {index, id, status, outputs, error}:
    ?limit= (1..1000, default 100)&next_token=."""
    from ..wiring import batches

    svc = batches()
    batch = svc.get(_tenant(), batch_id)
    return _json(200, svc.view(batch, limit=limit, next_token=next_token or None))


@app.post("/v1/batches/<batch_id>/cancel")
def cancel_batch(batch_id: str) -> Answer:
    """202 with the batch: every job not yet ended is being cancelled; 409 `batch_ended` for a batch that
    had ended without a cancel; a batch cancelled before answers 202 again, changing nothing."""
    from ..wiring import batches

    tenant = _tenant()
    svc = batches()
    batch = svc.cancel(tenant, batch_id)
    logger.info("batch cancelled", extra={"batch_id": batch.id, "tenant": tenant})
    return _json(202, svc.view(batch, with_jobs=False))


@app.exception_handler(
    [
        RequestInvalidError,
        JobNotFoundError,
        UnauthorizedError,
        ProviderUnavailableError,
        JobAlreadyTerminalError,
        JobStillRunningError,
        TenantThrottledError,
        IdempotencyKeyReusedError,
        BatchNotFoundError,
        BatchEndedError,
    ]
)
def domain_error(exc: Exception) -> Response:
    if isinstance(exc, RequestInvalidError) and (refused := _admit_first()) is not None:
        return refused
    status, body = describe(exc)
    return _json(status, body, error_headers(exc))


def _admit_first() -> Response | None:
    """A body or query refused before the route ran is answered after the key and budget checks, so a caller
    without a key still gets 401 (and one over its budget 429) first, as when the route judged them itself."""
    if _admission.get() is not None:
        return None
    try:
        _tenant()
    except (UnauthorizedError, TenantThrottledError) as refused:
        return domain_error(refused)
    return None


@app.exception_handler(RequestValidationError)
def invalid_request(exc: RequestValidationError) -> Response:
    """The models' refusal in our envelope: the first error, its field as a dotted path."""
    from ..api_spec import ERROR_CODES

    return domain_error(request_error(exc.errors(), ERROR_CODES))


@app.exception_handler(UnicodeDecodeError)
def not_text(exc: UnicodeDecodeError) -> Response:
    """A base64-encoded body that is not UTF-8 (the resolver decodes it before our parser sees it)."""
    return domain_error(RequestInvalidError("invalid_json", f"the request body is not UTF-8 text: {exc.reason}"))


@app.exception_handler(RequestUnsupportedContentType)
def not_json(exc: RequestUnsupportedContentType) -> Response:
    """A body sent as something other than JSON (or a form): 415, naming the header."""
    return domain_error(
        RequestInvalidError("unsupported_media_type", "send the body as application/json", "Content-Type")
    )


@app.exception_handler(Exception)
def unexpected_error(exc: Exception) -> Response:
    logger.exception("unexpected error")
    return _json(500, error_body("internal", "an internal error occurred; the request can be retried"))


@app.not_found
def not_found(exc: Exception) -> Response:
    return _json(404, error_body("not_found", "no such route; see GET /v1/openapi.json"))


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    _admission.set(None)
    response = app.resolve(event, context)
    admission = _admission.get()
    if admission is not None and admission.limit:
        headers = ratelimit_headers(admission.limit, admission.remaining, admission.reset_seconds)
        response["multiValueHeaders"] = {**response["multiValueHeaders"], **{k: [v] for k, v in headers.items()}}
    return response
