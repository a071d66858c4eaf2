"""WaveSpeed simulator: akool/image-face-swap, wavespeed-ai/image-face-swap(-pro), predictions,
binary media upload, the webhook secret and v3-signed webhooks.

Envelope {code, message, data}; errors {code: <http status>, message, data: null} with that HTTP status;
a failed task is HTTP 200 with data.status "failed". Webhooks go to `?webhook=<url>` of the submit.
"""

from __future__ import annotations

import json
import secrets
import time
from typing import Any

from swapflow.providers import crypto
from swapflow.sim.common import (
    COMPLETED,
    FAILED,
    PROCESSING,
    QUEUED,
    BaseSimulator,
    SimJob,
    run_engine,
    sniff_type,
)
from swapflow.sim.server import Request, Response, parse_multipart_file

WORDS = {QUEUED: "created", PROCESSING: "processing", COMPLETED: "completed", FAILED: "failed"}
MODELS = ("akool/image-face-swap", "wavespeed-ai/image-face-swap-pro", "wavespeed-ai/image-face-swap")
OUTPUT_FORMATS = ("jpeg", "png", "webp")
SYNC_WAIT_SECONDS = 90.0


def _error(status: int, message: str) -> Response:
    return Response.json({"code": status, "message": message, "data": None}, status)


def _ok(data: Any) -> Response:
    return Response.json({"code": 200, "message": "success", "data": data})


def _first(value: Any) -> Any:
    return value[0] if isinstance(value, list) and value else value


def _is_url(value: Any) -> bool:
    return isinstance(value, str) and value.startswith(("http://", "https://"))


class WaveSpeedSimulator(BaseSimulator):
    provider = "wavespeed"

    def __init__(self, *, api_key: str, webhook_secret: str = "whsec_simulator0secret", **options: Any) -> None:
        super().__init__(**options)
        self.api_key = api_key
        self.webhook_secret = webhook_secret

    FILES = {"serve_output": "/outputs/", "serve_media": "/media/"}

    def api_routes(self) -> list[tuple[str, str, str, Any]]:
        submits = [("POST", f"/api/v3/{model}", f"submit:{model}", self.submit) for model in MODELS]
        return [
            *submits,
            ("GET", "/api/v3/predictions/", "prediction", self.prediction),
            ("POST", "/api/v3/media/upload/binary", "upload", self.upload),
            ("GET", "/api/v3/webhook/secret", "webhook_secret", self.secret),
        ]

    def refuse_unauthorized(self, request: Request) -> Response | None:
        authorization = request.header("authorization") or ""
        scheme, _, key = authorization.partition(" ")
        if scheme.lower() != "bearer" or not key.strip():
            return _error(401, "Unauthorized: missing API key")
        if not secrets.compare_digest(key.strip(), self.api_key):
            return _error(401, "Unauthorized: invalid API key")
        return None

    # --- routes -----------------------------------------------------------------------------------

    def submit(self, request: Request) -> Response:
        if "quota" in self.faults:
            return _error(402, "Insufficient balance")
        model = request.path.removeprefix("/api/v3/")
        body = request.json()
        if not isinstance(body, dict):
            return _error(400, "request body must be a JSON object")
        problem = self._validate(model, body)
        if problem:
            return _error(400, problem)
        webhooks = request.query.get("webhook")
        webhook = webhooks[0] if webhooks else None
        if webhook is not None and not _is_url(webhook):
            return _error(400, "webhook must be an http(s) URL")
        if self.over_tier():
            return Response.json(
                {"code": 429, "message": "Too Many Requests", "data": None}, 429, {"Retry-After": "60"}
            )
        job = SimJob(id=secrets.token_hex(16), webhook_url=webhook, request={"model": model, "input": body})
        self.start_job(job)
        if body.get("enable_sync_mode") and not job.done.wait(SYNC_WAIT_SECONDS):
            return Response.json({"code": 5004, "message": "sync timeout", "data": self._view(job)})
        return _ok(self._view(job))

    def _validate(self, model: str, body: dict[str, Any]) -> str | None:
        if model == "akool/image-face-swap":
            if not _is_url(_first(body.get("source_image"))):
                return "source_image is required"
            if not (_is_url(body.get("image")) or _is_url(_first(body.get("target_image")))):
                return "image is required"
            for name in ("source_image", "target_image"):
                if isinstance(body.get(name), list) and not 1 <= len(body[name]) <= 5:
                    return f"{name} takes 1 to 5 images"
            return None
        for name in ("image", "face_image"):
            if not _is_url(body.get(name)):
                return f"{name} is required"
        if body.get("output_format", "jpeg") not in OUTPUT_FORMATS:
            return "output_format must be one of jpeg, png, webp"
        index = body.get("target_index", 0)
        if model == "wavespeed-ai/image-face-swap" and not (isinstance(index, int) and 0 <= index <= 10):
            return "target_index must be an integer from 0 to 10"
        return None

    def prediction(self, request: Request) -> Response:
        rest = request.path.removeprefix("/api/v3/predictions/").strip("/")
        task_id, _, tail = rest.partition("/")
        job = self.jobs.get(task_id)
        if job is None or tail not in ("", "result"):
            return _error(404, "prediction not found")
        return _ok(self._view(job))

    def upload(self, request: Request) -> Response:
        content_type = request.header("content-type") or ""
        parsed = parse_multipart_file(content_type, request.body) if "multipart" in content_type else None
        if parsed is None:
            if not request.body or "multipart" in content_type:
                return _error(400, "a file is required")
            parsed = (request.body, "upload", sniff_type(request.body))
        data, filename, file_type = parsed
        ext = {"image/png": "png", "image/webp": "webp"}.get(sniff_type(data), "jpg")
        path = f"/media/{secrets.token_hex(8)}.{ext}"
        self.store_file(path, data, sniff_type(data) if file_type == "application/octet-stream" else file_type)
        return _ok({"type": "image", "download_url": self.base_url + path, "filename": filename, "size": len(data)})

    def secret(self, request: Request) -> Response:
        return _ok({"secret": self.webhook_secret})

    # --- jobs -------------------------------------------------------------------------------------

    def _view(self, job: SimJob) -> dict[str, Any]:
        model = job.request["model"]
        return {
            "id": job.id,
            "model": model,
            "input": job.request["input"],
            "outputs": [job.output_url] if job.output_url else [],
            "urls": {"get": f"{self.base_url}/api/v3/predictions/{job.id}/result"},
            "has_nsfw_contents": [False] if job.output_url else [],
            "status": WORDS[job.status],
            "created_at": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(job.created_at)),
            "error": job.error,
            "timings": {"inference": int(self.processing_seconds * 1000) if job.status == COMPLETED else 0},
        }

    def process(self, job: SimJob) -> tuple[bytes, str]:
        model, body = job.request["model"], job.request["input"]
        if model == "akool/image-face-swap":
            target_url = body.get("image") if _is_url(body.get("image")) else _first(body.get("target_image"))
            source_url = _first(body["source_image"])
            options: dict[str, Any] = {"face_enhance": bool(body.get("face_enhance"))}
        else:
            target_url, source_url = body["image"], body["face_image"]
            options = {"output_format": body.get("output_format", "jpeg")}
            if model == "wavespeed-ai/image-face-swap":
                options["target_index"] = body.get("target_index", 0)
        return run_engine(self.fetch(source_url), self.fetch(target_url), **options)

    def webhook_delivery(self, job: SimJob) -> tuple[dict[str, str], bytes]:
        body = json.dumps(self._view(job)).encode()
        webhook_id = secrets.token_hex(12)
        timestamp = str(int(time.time()))
        signature = crypto.wavespeed_signature(self.webhook_secret, webhook_id, timestamp, body)
        headers = {
            "webhook-id": webhook_id,
            "webhook-timestamp": timestamp,
            "webhook-signature": f"v3,{signature}",
        }
        return headers, body
