"""WaveSpeed's drop-in surface (`/api/v3/...`): its SDKs work against swapflow by changing the base URL.
Jobs are ordinary swapflow jobs (compat/service.py); here: the event in, WaveSpeed's envelope out."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.utilities.typing import LambdaContext

from .. import api_answers as ans
from ..compat import wavespeed
from ..jobs.validation import parse_json_body
from ..observability import logger, metrics, tracer
from ..wiring import compat
from . import compat_request as req

app = APIGatewayRestResolver()
MODELS = {
    "akool/image-face-swap": wavespeed.AKOOL,
    "wavespeed-ai/image-face-swap-pro": wavespeed.PRO,
    "wavespeed-ai/image-face-swap": wavespeed.BASIC,
}


@app.post("/api/v3/<owner>/<name>")
def submit(owner: str, name: str) -> Response:
    model = MODELS.get(f"{owner}/{name}")
    if model is None:
        return not_found()
    caller, body, webhook = req.tenant(app), parse_json_body(app.current_event.body), req.query(app).get("webhook")
    job = req.accepted(compat().wavespeed_submit(caller, model, body, webhook=webhook, by=req.key_id(app)), model)
    if not wavespeed.sync_requested(body):
        return req.json_response(200, wavespeed.ok(compat().prediction(job, base_url=req.base_url(app))))
    prediction = compat().wavespeed_wait(caller, job, budget=req.time_left(app), base_url=req.base_url(app))
    return req.json_response(200, wavespeed.ok(prediction))


@app.get("/api/v3/predictions/<job_id>/result")
@app.get("/api/v3/predictions/<job_id>")
def result(job_id: str) -> Response:
    prediction = compat().wavespeed_result(req.tenant(app, throttle=False), job_id, base_url=req.base_url(app))
    return req.json_response(200, wavespeed.ok(prediction))


@app.post("/api/v3/media/uploads")
def upload_ticket() -> Response:
    caller = req.tenant(app)
    return req.json_response(200, wavespeed.ok(compat().upload_ticket(caller, parse_json_body(app.current_event.body))))


@app.post("/api/v3/media/upload/binary")
def upload_binary() -> Response:
    caller, filename, headers = req.tenant(app), req.query(app).get("filename"), app.current_event.headers or {}
    return req.json_response(200, wavespeed.ok(compat().upload_binary(caller, headers, req.raw_body(app), filename)))


not_found = ans.answer_errors(app, wavespeed.error, "no such route or model")


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
