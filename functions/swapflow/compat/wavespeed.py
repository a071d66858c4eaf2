"""WaveSpeed's API shape (`/api/v3`), as the official `wavespeed` SDK 2.0.5 and the seeds use it.

- Envelope `{code: 200, message: "success", data}` with HTTP 200 for submit, poll and upload; errors
  `{code: <http status>, message, data: null}` with that HTTP status.
- Models: `akool/image-face-swap` (image, source_image, target_image; the last two may be 1-element
  arrays), `wavespeed-ai/image-face-swap-pro` (image, face_image, output_format) and
  `wavespeed-ai/image-face-swap` (the same plus target_index 0..10). `image` is the photo whose face is
  replaced (our target_image); `source_image`/`face_image` is the new face (our source_image). For
  akool/image-face-swap without `image`, `target_image` is the photo.
- Status words: queued -> created, then processing, completed, failed, cancelled.
- `enable_sync_mode`: the submit waits; past the wait the answer is data.status "processing" with
  data.code 5004 (what the SDK recognises as a sync timeout), and the job carries on.
- `has_nsfw_contents` (one boolean per output, the SDK's shape) is the hosted provider's own flag where
  it gave one; `nsfw_checked` (ours, same length) says whether anyone checked: the offline engine and
  Akool check nothing, so their outputs show `false` with `nsfw_checked: false`, never a verdict.
- data.error never contains "HTTP 5..." or "HTTP 429": the SDK would re-submit the task.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..jobs.exceptions import RequestInvalidError
from ..jobs.models import TERMINAL
from . import safe_error_text

AKOOL = "akool/image-face-swap"
PRO = "wavespeed-ai/image-face-swap-pro"
BASIC = "wavespeed-ai/image-face-swap"
MODELS = (AKOOL, PRO, BASIC)
SYNC_TIMEOUT_CODE = 5004
MAX_TARGET_INDEX = 10
STATUS_WORDS = {
    "queued": "created",
    "processing": "processing",
    "completed": "completed",
    "failed": "failed",
    "cancelled": "cancelled",
}


def ok(data: Any) -> dict[str, Any]:
    return {"code": 200, "message": "success", "data": data}


def error(status: int, message: str) -> dict[str, Any]:
    return {"code": status, "message": safe_error_text(message), "data": None}


def _image(body: Mapping[str, Any], name: str, *, required: bool = True, listed: bool = False) -> str | None:
    """One image URL; `listed`: the model's schema also takes a list here (akool/image-face-swap's
    source_image/target_image), of which one item is served. Anywhere else a list is a wrong type."""
    value = body.get(name)
    if isinstance(value, list) and listed:
        if len(value) > 1:
            raise RequestInvalidError(
                "invalid_request",
                f"{name}: one image per request here; for several faces use POST /v1/jobs with `faces`",
                name,
            )
        value = value[0] if value else None
    if value is None or value == "":
        if required:
            raise RequestInvalidError("invalid_request", f"{name} is required", name)
        return None
    if not isinstance(value, str):
        raise RequestInvalidError("invalid_request", f"{name} must be an image URL", name)
    return value


def _flag(body: Mapping[str, Any], name: str) -> bool:
    value = body.get(name, False)
    if not isinstance(value, bool):
        raise RequestInvalidError("invalid_request", f"{name} must be true or false", name)
    return value


def job_body(model: str, body: Any, *, provider: str, webhook_url: str | None = None) -> dict[str, Any]:
    """A native `POST /v1/jobs` body for a WaveSpeed submit body (validated again by JobService.parse)."""
    if not isinstance(body, dict):
        raise RequestInvalidError("invalid_request", "the request body must be a JSON object")
    native: dict[str, Any] = {
        "provider": provider,
        "enable_base64_output": _flag(body, "enable_base64_output"),
        "metadata": {"compat": "wavespeed", "model": model},
    }
    if model == AKOOL:
        photo = _image(body, "image", required=False)
        native["source_image"] = _image(body, "source_image", listed=True)
        native["target_image"] = photo or _image(body, "target_image", listed=True)
        if photo is not None:
            _image(body, "target_image", required=False, listed=True)  # the face to replace: only its shape
        native["face_enhance"] = _flag(body, "face_enhance")
    elif model in (PRO, BASIC):
        native["target_image"] = _image(body, "image")
        native["source_image"] = _image(body, "face_image")
        output_format = body.get("output_format", "jpeg")
        if output_format not in ("jpeg", "jpg", "png", "webp"):
            raise RequestInvalidError("invalid_request", "output_format must be jpeg, png or webp", "output_format")
        native["output_format"] = "jpeg" if output_format == "jpg" else output_format
        if model == BASIC and body.get("target_index") is not None:
            index = body["target_index"]
            if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index <= MAX_TARGET_INDEX:
                raise RequestInvalidError(
                    "invalid_request", f"target_index must be an integer from 0 to {MAX_TARGET_INDEX}", "target_index"
                )
            native["target_index"] = index
    else:
        raise RequestInvalidError("not_found", f"unknown model {model}")
    _flag(body, "enable_sync_mode")
    if webhook_url:
        native["webhook_url"] = webhook_url
    return native


def sync_requested(body: Any) -> bool:
    return isinstance(body, dict) and body.get("enable_sync_mode") is True


def prediction(
    view: Mapping[str, Any], *, base_url: str, outputs: list[str] | None = None, sync_waited: float | None = None
) -> dict[str, Any]:
    """data of a prediction from the job's public view. `outputs` overrides the URLs (base64 output);
    `sync_waited` marks an answer to a sync submit that is still running (code 5004)."""
    status = STATUS_WORDS.get(str(view.get("status")), "processing")
    metadata = view.get("metadata") or {}
    timings = view.get("timings") or {}
    err = view.get("error") or None
    urls = [o.get("url", "") for o in view.get("outputs") or []] if outputs is None else outputs
    if status != "completed":
        urls = []
    flags = [o.get("nsfw") for o in view.get("outputs") or []][: len(urls)]
    flags += [None] * (len(urls) - len(flags))
    data: dict[str, Any] = {
        "id": view["id"],
        "model": metadata.get("model") or view.get("provider"),
        "outputs": urls,
        "urls": {"get": f"{base_url}/api/v3/predictions/{view['id']}/result"},
        # The provider's own verdicts; no one checked an output whose `nsfw_checked` is false (shown false).
        "has_nsfw_contents": [flag is True for flag in flags],
        "nsfw_checked": [flag is not None for flag in flags],
        "status": status,
        "created_at": view.get("created_at"),
        "error": safe_error_text(f"{err['code']}: {err['message']}") if err else "",
        "timings": {"inference": timings.get("provider_ms") or timings.get("total_ms") or 0},
    }
    if sync_waited is not None and status not in TERMINAL:
        data["code"] = SYNC_TIMEOUT_CODE
        data["error"] = (
            f"Sync mode timed out after {sync_waited:.0f} s; the task is still running. "
            f"Query the result at {data['urls']['get']}"
        )
    return data


def upload_ticket(native: Mapping[str, Any]) -> dict[str, Any]:
    """data of `POST /api/v3/media/uploads` from the native upload view."""
    return {
        "upload": native["upload"],
        "download_url": native["download_url"],
        "image_ref": native["image_ref"],
        "expires_at": native["expires_at"],
    }
