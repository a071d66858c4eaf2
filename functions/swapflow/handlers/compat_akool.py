"""Akool's drop-in surface (`/api/open/...`, `/interface/...`): its clients work against swapflow by
changing the base URL. Jobs are ordinary swapflow jobs (compat/service.py); here: the event in, Akool's
envelope out (HTTP 200 with Akool's codes, errors included)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.utilities.typing import LambdaContext

from .. import api_answers as ans
from ..compat import akool
from ..jobs.access import api_key_from
from ..jobs.exceptions import TenantThrottledError, UnauthorizedError
from ..jobs.validation import parse_json_body
from ..observability import logger, metrics, tracer
from ..wiring import compat
from . import compat_request as req

app = APIGatewayRestResolver()


@app.post("/api/open/v4/faceswap/faceswapByImage")
def faceswap() -> Response:
    caller = req.tenant(app)
    job = compat().akool_faceswap(caller, parse_json_body(app.current_event.body), by=req.key_id(app))
    req.accepted(job, akool.MODEL_NAME)
    return req.json_response(200, akool.submitted(job.id))


@app.get("/api/open/v3/faceswap/result/listbyids")
def results() -> Response:
    caller = req.tenant(app)
    found = compat().akool_results(caller, akool.parse_ids(req.query(app).get("_ids")))
    return req.json_response(200, akool.ok({"result": found}))


@app.post("/interface/detect-api/detect_faces")
def detect_faces() -> Response:
    caller = req.tenant(app)
    ref, single_face = akool.detect_ref(parse_json_body(app.current_event.body))
    frame = compat().detect(ref, "url", caller, single_face=single_face)
    return req.json_response(200, akool.detected({"0": frame}))


def _code(exc: Exception) -> int:
    if isinstance(exc, UnauthorizedError):
        return akool.INVALID_KEY if api_key_from(app.current_event.headers) else akool.MISSING_KEY
    return akool.TOO_FREQUENT if isinstance(exc, TenantThrottledError) else akool.BAD_PARAMETER


ans.answer_errors(app, akool.error, "no such route", in_band=_code)


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
