"""The drop-in surfaces (API Gateway REST proxy, `/api/{proxy+}` and `/interface/{proxy+}`).

WaveSpeed (`/api/v3/...`) and Akool (`/api/open/...`, `/interface/...`) clients work against swapflow by
changing their base URL. Every route creates or reads ordinary swapflow jobs through JobService; the
shapes live in swapflow.compat. Auth: the tenant's API key as `Authorization: Bearer <key>` or `x-api-key`.
"""

from __future__ import annotations

import base64
import json
from email.parser import BytesParser
from email.policy import HTTP
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.utilities.typing import LambdaContext

from ..compat import akool, provider_for, wait_until_terminal, wavespeed
from ..jobs.access import api_key_from
from ..jobs.exceptions import JobNotFoundError, RequestInvalidError, TenantThrottledError, UnauthorizedError
from ..jobs.models import Job
from ..jobs.validation import parse_json_body
from ..observability import logger, metrics, provider_metric, tracer
from ..providers.exceptions import ProviderUnavailableError
from ..settings import get_settings
from ..wiring import access, service, uploads
from .errors import describe, error_headers

app = APIGatewayRestResolver()

WAVESPEED_PREFIX = "/api/v3/"
SYNC_SAFETY_SECONDS = 3.0


def _json(status: int, body: dict[str, Any]) -> Response:
    return Response(status, "application/json", json.dumps(body))


def _tenant(*, throttle: bool = True) -> str:
    """The caller's tenant, within the same per-tenant request budget as the native API.

    WaveSpeed result polls are not counted (`throttle=False`): the official SDK polls every second and a
    429 there is fatal to it (DESIGN 3), so the budget bounds what costs (submits, uploads), not reads.
    """
    # Akool: "If both ... have values, Authorization will be used first"
    key = api_key_from(app.current_event.headers, prefer_bearer=True)
    if not key:
        raise UnauthorizedError("an API key is required")
    return access().admit(key, throttle=throttle)


def _key_id() -> str | None:
    from ..storage.tenants import caller_key_id

    return caller_key_id(app.current_event.headers, prefer_bearer=True)


def _body() -> Any:
    return parse_json_body(app.current_event.body)


def _raw_body() -> bytes:
    event = app.current_event.raw_event
    body = event.get("body") or ""
    return base64.b64decode(body) if event.get("isBase64Encoded") else body.encode("utf-8")


def _base_url() -> str:
    """The URL clients reached us at (for data.urls.get): the configured one, else the request's host."""
    settings = get_settings()
    if settings.public_url:
        return settings.public_url
    context = app.current_event.raw_event.get("requestContext") or {}
    host = context.get("domainName") or (app.current_event.headers or {}).get("Host", "")
    stage = context.get("stage") or ""
    return f"https://{host}/{stage}" if host.endswith(".amazonaws.com") and stage else f"https://{host}"


# ---- WaveSpeed ----------------------------------------------------------------------------------


def _prediction(job: Job, *, sync_waited: float | None = None) -> dict[str, Any]:
    svc = service()
    view = svc.view(job)
    outputs = None
    if job.spec.enable_base64_output and job.outputs:
        outputs = [
            f"data:{o.content_type};base64,{base64.b64encode(svc.blobs.get(o.bucket, o.key)).decode()}"
            for o in job.outputs
        ]
    return wavespeed.prediction(view, base_url=_base_url(), outputs=outputs, sync_waited=sync_waited)


def _submit_wavespeed(model: str) -> Response:
    tenant = _tenant()
    svc = service()
    settings = get_settings()
    body = _body()
    provider = provider_for(model, settings.compat_provider, settings.default_provider)
    query = app.current_event.query_string_parameters or {}
    native = wavespeed.job_body(model, body, provider=provider, webhook_url=query.get("webhook"))
    job = svc.create_job(tenant, svc.parse(native), submitted_by=_key_id())
    metrics.add_metric(name="CompatJobsAccepted", unit="Count", value=1)
    provider_metric("JobsAccepted", job.provider)
    logger.info("compat job accepted", extra={"job_id": job.id, "model": model, "provider": provider})
    if not wavespeed.sync_requested(body):
        return _json(200, wavespeed.ok(_prediction(job)))
    remaining = app.lambda_context.get_remaining_time_in_millis() / 1000 - SYNC_SAFETY_SECONDS
    waited = max(0.0, min(float(settings.compat_sync_wait_seconds), remaining))
    job = wait_until_terminal(lambda: svc.get_job(tenant, job.id), waited)
    return _json(200, wavespeed.ok(_prediction(job, sync_waited=waited)))


@app.post("/api/v3/akool/image-face-swap")
def wavespeed_akool() -> Response:
    return _submit_wavespeed(wavespeed.AKOOL)


@app.post("/api/v3/wavespeed-ai/image-face-swap-pro")
def wavespeed_pro() -> Response:
    return _submit_wavespeed(wavespeed.PRO)


@app.post("/api/v3/wavespeed-ai/image-face-swap")
def wavespeed_basic() -> Response:
    return _submit_wavespeed(wavespeed.BASIC)


@app.get("/api/v3/predictions/<job_id>/result")
def wavespeed_result(job_id: str) -> Response:
    return _json(200, wavespeed.ok(_prediction(service().get_job(_tenant(throttle=False), job_id))))


@app.get("/api/v3/predictions/<job_id>")
def wavespeed_prediction(job_id: str) -> Response:
    return wavespeed_result(job_id)


@app.post("/api/v3/media/uploads")
def wavespeed_upload_ticket() -> Response:
    import mimetypes

    tenant = _tenant()
    body = _body()
    if not isinstance(body, dict):
        raise RequestInvalidError("invalid_request", "the request body must be a JSON object")
    filename = body.get("filename")
    content_type = body.get("content_type") or (mimetypes.guess_type(str(filename or ""))[0] if filename else None)
    upload = uploads().create(tenant, filename, content_type, body.get("size"))
    return _json(200, wavespeed.ok(wavespeed.upload_ticket(upload.native_view())))


def _file_part() -> tuple[bytes, str | None, str | None]:
    """(bytes, filename, content type) of a multipart `file` field, or of a raw body."""
    headers = {k.lower(): v for k, v in (app.current_event.headers or {}).items()}
    content_type = headers.get("content-type", "")
    raw = _raw_body()
    if content_type.lower().startswith("multipart/form-data"):
        message = BytesParser(policy=HTTP).parsebytes(
            f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode() + raw
        )
        parts = [
            p
            for p in message.iter_parts()
            if p.get_filename() or p.get_param("name", header="content-disposition") == "file"
        ]
        if not parts:
            raise RequestInvalidError("invalid_request", "send the image as the multipart field `file`", "file")
        part = parts[0]
        data = part.get_payload(decode=True)
        return (data if isinstance(data, bytes) else b""), part.get_filename(), part.get_content_type()
    query = app.current_event.query_string_parameters or {}
    return raw, query.get("filename"), content_type.split(";", 1)[0].strip() or None


@app.post("/api/v3/media/upload/binary")
def wavespeed_upload_binary() -> Response:
    tenant = _tenant()
    svc = service()
    data, filename, _declared = _file_part()
    if not data:
        raise RequestInvalidError("invalid_request", "the upload is empty", "file")
    info = svc.inputs.check(data, "file")
    key, _ref = uploads().stored(tenant, filename or "upload", info.content_type)
    svc.blobs.put(svc.inputs.input_bucket, key, data, info.content_type)
    url = svc.blobs.presign_get(svc.inputs.input_bucket, key, get_settings().presign_seconds)
    out = {"type": "image", "download_url": url, "filename": key.rsplit("/", 1)[-1], "size": len(data)}
    return _json(200, wavespeed.ok(out))


# ---- Akool --------------------------------------------------------------------------------------


@app.post("/api/open/v4/faceswap/faceswapByImage")
def akool_faceswap() -> Response:
    tenant = _tenant()
    svc = service()
    settings = get_settings()
    request = akool.parse_faceswap(_body())
    frame = None
    if request.needs_faces:
        frame = _detect(request.targets[0].path, "targetImage", tenant, single_face=False)
    provider = provider_for(akool.MODEL_NAME, settings.compat_provider, settings.default_provider)
    job = svc.create_job(
        tenant, svc.parse(akool.job_body(request, provider=provider, frame=frame)), submitted_by=_key_id()
    )
    metrics.add_metric(name="CompatJobsAccepted", unit="Count", value=1)
    provider_metric("JobsAccepted", job.provider)
    logger.info("compat job accepted", extra={"job_id": job.id, "model": akool.MODEL_NAME, "provider": provider})
    return _json(200, akool.submitted(job.id))


@app.get("/api/open/v3/faceswap/result/listbyids")
def akool_results() -> Response:
    tenant = _tenant()
    svc = service()
    ids = akool.parse_ids((app.current_event.query_string_parameters or {}).get("_ids"))
    found = []
    for job_id in ids:
        try:
            found.append(akool.result_item(svc.view(svc.get_job(tenant, job_id))))
        except JobNotFoundError:
            continue  # Akool leaves unknown ids out of the result
    return _json(200, akool.ok({"result": found}))


def _detect(ref: str, field: str, tenant: str, *, single_face: bool) -> dict[str, Any]:
    from ..engine import EngineError, akool_detect_response

    image = service().inputs.load(ref, field, tenant)
    try:
        frame: dict[str, Any] = akool_detect_response(image, single_face)["0"]
    except EngineError as exc:
        raise RequestInvalidError("invalid_image", f"{field}: {exc.message}", field) from exc
    return frame


@app.post("/interface/detect-api/detect_faces")
def akool_detect_faces() -> Response:
    tenant = _tenant()
    ref, single_face = akool.detect_ref(_body())
    return _json(200, akool.detected({"0": _detect(ref, "url", tenant, single_face=single_face)}))


# ---- errors -------------------------------------------------------------------------------------


def _wavespeed_route() -> bool:
    return (app.current_event.path or "").startswith(WAVESPEED_PREFIX)


@app.exception_handler(
    [RequestInvalidError, JobNotFoundError, UnauthorizedError, ProviderUnavailableError, TenantThrottledError]
)
def domain_error(exc: Exception) -> Response:
    status, body = describe(exc)
    message = body["error"]["message"]
    if _wavespeed_route():
        return Response(status, "application/json", json.dumps(wavespeed.error(status, message)), error_headers(exc))
    if isinstance(exc, UnauthorizedError):
        code = akool.INVALID_KEY if api_key_from(app.current_event.headers) else akool.MISSING_KEY
        return _json(200, akool.error(code, message))
    if isinstance(exc, TenantThrottledError):
        return _json(200, akool.error(akool.TOO_FREQUENT, message))
    return _json(200, akool.error(akool.BAD_PARAMETER, message))


@app.exception_handler(Exception)
def unexpected_error(exc: Exception) -> Response:
    logger.exception("unexpected error")
    message = "an internal error occurred; the request can be retried"
    if _wavespeed_route():
        return _json(500, wavespeed.error(500, message))
    return _json(500, akool.error(500, message))


@app.not_found
def not_found(exc: Exception) -> Response:
    if _wavespeed_route():
        return _json(404, wavespeed.error(404, "no such route or model"))
    return _json(404, akool.error(404, "no such route"))


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
