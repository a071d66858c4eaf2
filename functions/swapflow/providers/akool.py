"""Akool Face Swap Pro (v4 `faceswapByImage`, model `akool_faceswap_image_hq`).

- Auth: `x-api-key`. Akool answers HTTP 200 for most errors: the body `code` decides (`CODE_TABLE`).
- Multi-face jobs (`request.faces`, or a `target_index`) first ask `detect_faces` for every image and
  send one sourceImage/targetImage pair per face with `opts` = the face's crop landmarks (DESIGN 4).
  Faces are numbered left to right by the centre of their landmarks (ties: top to bottom).
- Poll: `listbyids`, gated on `faceswap_status` (a `url` before status 3 is not trusted).
- Webhook: body {signature, dataEncrypt, timestamp (ms), nonce}; the signature is checked first (401),
  then the 300 s window (400 "stale"), then dataEncrypt must decrypt with the client secret (401).
  Duplicates: `delivery_id` = "<timestamp>-<nonce>"; with a `replay_guard` the notice of a delivery seen
  before comes back with `duplicate=True` (answer 200, change nothing). Without one the caller decides.
- Cancel: Akool documents none -> False.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from swapflow.compat.akool import landmark_points
from swapflow.faces import Face
from swapflow.providers import base, crypto
from swapflow.providers._transport import Answer, JsonClient, job_safe
from swapflow.providers.exceptions import (
    ProviderBusyError,
    ProviderError,
    ProviderUnavailableError,
    WebhookRejectedError,
)
from swapflow.providers.spec import Capabilities, Clients, ProviderSpec, credentials
from swapflow.settings import Settings

if TYPE_CHECKING:
    import urllib3

DEFAULT_BASE_URL = "https://openapi.akool.com"
MODEL_NAME = "akool_faceswap_image_hq"
SUBMIT_PATH = "/api/open/v4/faceswap/faceswapByImage"
RESULT_PATH = "/api/open/v3/faceswap/result/listbyids"
DETECT_PATH = "/interface/detect-api/detect_faces"
WEBHOOK_WINDOW_SECONDS = 300
# Kept a little longer than the window: an older delivery is refused as stale before the guard is asked.
REPLAY_TTL_SECONDS = 2 * WEBHOOK_WINDOW_SECONDS
# A poll hint while Akool is queued/processing (the workflow's own backoff grows from there).
POLL_HINT_SECONDS = 2.0

OK = 1000
BUSY_CODES = frozenset({1005})
# Akool body code -> (job error code, what it means). Anything else that is not 1000 -> provider_failed.
CODE_TABLE: dict[int, tuple[str, str]] = {
    1003: ("provider_rejected", "invalid parameter"),
    1006: ("provider_quota", "quota exhausted"),
    1007: ("provider_rejected", "too many faces"),
    1016: ("provider_failed", "face swap failed"),
    1101: ("provider_auth", "invalid API key"),
    1102: ("provider_auth", "API key missing"),
    1108: ("provider_failed", "image processing error"),
    1200: ("provider_auth", "account banned"),
}
QUEUED, PROCESSING, SUCCESS, FAILED = 1, 2, 3, 4
MAX_FACES = 8  # code 1007 "too many faces" past 8 (DESIGN 4)


def error_for_code(code: int, msg: str) -> ProviderBusyError | ProviderError:
    """The exception for a non-1000 Akool body code (the table the unit tests pin)."""
    text = job_safe(f"akool {msg or 'error'} (code {code})")
    if code in BUSY_CODES:
        return ProviderBusyError(text)
    job_code, meaning = CODE_TABLE.get(code, ("provider_failed", "error"))
    if not msg:
        text = f"akool {meaning} (code {code})"
    return ProviderError(job_code, text, provider_code=str(code))


def _content_type(url: str) -> str:
    path = url.split("?", 1)[0].lower()
    if path.endswith(".png"):
        return "image/png"
    if path.endswith(".webp"):
        return "image/webp"
    return "image/jpeg"


@dataclass(frozen=True)
class DetectedFace:
    """One face of a detect_faces answer: where to point Akool and the landmarks to send as opts."""

    path: str
    opts: str
    centre: tuple[float, float]


class AkoolProvider:
    name = "akool"

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        http: urllib3.PoolManager | None = None,
        client_id: str | None = None,
        client_secret: str | None = None,
        replay_guard: base.ReplayGuard | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._client = JsonClient("akool", base_url, {"x-api-key": api_key}, http=http, clock=clock)
        self._client_id = client_id
        self._client_secret = client_secret
        self._replay_guard = replay_guard
        self._clock = clock

    # --- submit / poll / cancel -------------------------------------------------------------------

    def submit(self, request: base.SwapRequest) -> base.Submission:
        source_images, target_images = self._pairs(request)
        body: dict[str, Any] = {
            "sourceImage": source_images,
            "targetImage": target_images,
            "model_name": MODEL_NAME,
            "face_enhance": request.face_enhance,
            "single_face_mode": request.single_face_mode and len(target_images) == 1,
        }
        if request.webhook_url:
            body["webhookUrl"] = request.webhook_url
        data = self._data(self._client.request("POST", SUBMIT_PATH, body=body))
        job_id = data.get("_id") if isinstance(data, dict) else None
        if not job_id:
            raise ProviderError("provider_failed", "akool accepted the job without an _id", provider_code=str(OK))
        return base.Submission(
            str(job_id), base.ProviderResult(base.ProviderState.RUNNING, retry_after=POLL_HINT_SECONDS)
        )

    def poll(self, provider_job_id: str) -> base.ProviderResult:
        data = self._data(self._client.request("GET", RESULT_PATH, query={"_ids": provider_job_id}))
        results = data.get("result") if isinstance(data, dict) else None
        for item in results or []:
            if isinstance(item, dict) and str(item.get("_id")) == provider_job_id:
                return self._result(item.get("faceswap_status"), item.get("url"))
        # Empty result: Akool does not know the job yet. Running, not failed.
        return base.ProviderResult(base.ProviderState.RUNNING, retry_after=POLL_HINT_SECONDS)

    def cancel(self, provider_job_id: str) -> bool:
        return False

    # --- webhook ----------------------------------------------------------------------------------

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> base.WebhookNotice:
        if not self._client_id:
            raise ProviderUnavailableError(self.name, "SWAPFLOW_AKOOL_CLIENT_ID")
        if not self._client_secret:
            raise ProviderUnavailableError(self.name, "SWAPFLOW_AKOOL_CLIENT_SECRET")
        try:
            envelope = json.loads(body)
        except (ValueError, UnicodeDecodeError) as exc:
            raise WebhookRejectedError("akool webhook body is not JSON", status=400) from exc
        if not isinstance(envelope, dict):
            raise WebhookRejectedError("akool webhook body is not an object", status=400)
        signature, data_encrypt = envelope.get("signature"), envelope.get("dataEncrypt")
        timestamp, nonce = envelope.get("timestamp"), envelope.get("nonce")
        if not (isinstance(signature, str) and isinstance(data_encrypt, str)) or timestamp is None or nonce is None:
            raise WebhookRejectedError("akool webhook lacks signature, dataEncrypt, timestamp or nonce", 400)
        if not crypto.akool_signature_ok(signature, self._client_id, timestamp, nonce, data_encrypt):
            raise WebhookRejectedError("akool webhook signature does not match", status=401)
        try:
            sent_at = float(timestamp) / 1000.0
        except (TypeError, ValueError) as exc:
            raise WebhookRejectedError("akool webhook timestamp is not a number", status=400) from exc
        if abs(self._clock() - sent_at) > WEBHOOK_WINDOW_SECONDS:
            raise WebhookRejectedError("stale", status=400)
        try:
            payload = json.loads(crypto.akool_decrypt(data_encrypt, self._client_id, self._client_secret))
        except (crypto.WebhookCryptoError, ValueError, UnicodeDecodeError) as exc:
            raise WebhookRejectedError("akool webhook dataEncrypt does not decrypt", status=401) from exc
        if not isinstance(payload, dict) or not payload.get("_id"):
            raise WebhookRejectedError("akool webhook payload has no _id", status=400)
        delivery_id = f"{timestamp}-{nonce}"
        duplicate = False
        if self._replay_guard is not None:
            duplicate = not self._replay_guard.first_time(f"{self.name}:{delivery_id}", REPLAY_TTL_SECONDS)
        return base.WebhookNotice(
            provider_job_id=str(payload["_id"]),
            result=self._result(payload.get("status"), payload.get("url")),
            delivery_id=delivery_id,
            duplicate=duplicate,
        )

    # --- helpers ----------------------------------------------------------------------------------

    def _result(self, status: Any, url: Any) -> base.ProviderResult:
        """One state from an Akool status (listbyids `faceswap_status` and webhook `status` share values)."""
        try:
            code = int(status)
        except (TypeError, ValueError):
            code = 0
        if code == SUCCESS and isinstance(url, str) and url:
            return base.ProviderResult(
                base.ProviderState.SUCCEEDED, outputs=(base.ProviderOutput(content_type=_content_type(url), url=url),)
            )
        if code == FAILED:
            return base.ProviderResult(
                base.ProviderState.FAILED,
                failure=base.ProviderFailure(
                    "provider_failed", "akool reported the face swap failed", provider_code=f"status:{code}"
                ),
            )
        # 1 queued, 2 processing (a url here is not trusted), 3 without a url yet, unknown values.
        return base.ProviderResult(base.ProviderState.RUNNING, retry_after=POLL_HINT_SECONDS)

    def _data(self, answer: Answer) -> Any:
        """The `data` of a code-1000 envelope; raises the mapped error otherwise."""
        if answer.status in (401, 403):
            raise ProviderError(
                "provider_auth",
                f"akool refused the key (status {answer.status})",
                provider_code=str(answer.status),
            )
        if answer.status >= 400:
            raise ProviderError(
                "provider_rejected",
                f"akool refused the request (status {answer.status})",
                provider_code=str(answer.status),
            )
        envelope = answer.json()
        if not isinstance(envelope, dict) or "code" not in envelope:
            raise ProviderError("provider_failed", "akool answered something that is not its JSON envelope")
        try:
            code = int(envelope["code"])
        except (TypeError, ValueError):
            code = -1
        if code != OK:
            raise error_for_code(code, str(envelope.get("msg") or ""))
        return envelope.get("data")

    def _pairs(self, request: base.SwapRequest) -> tuple[list[dict[str, str]], list[dict[str, str]]]:
        """sourceImage/targetImage arrays: one plain pair, or one landmarked pair per face."""
        pairs = list(request.faces)
        if not pairs and request.target_index is not None:
            pairs = [Face(request.source_image, request.target_index)]
        if not pairs:
            return [{"path": request.source_image.url}], [{"path": request.target_image.url}]
        target_faces = self.detect(request.target_image, single_face=False)
        if not target_faces:
            raise ProviderError("no_face_in_target", "akool found no face in the target image")
        sources: list[dict[str, str]] = []
        targets: list[dict[str, str]] = []
        seen: dict[str, DetectedFace] = {}
        for pair in pairs:
            if not 0 <= pair.target_face < len(target_faces):
                raise ProviderError(
                    "target_index_out_of_range",
                    f"target face {pair.target_face} does not exist: {len(target_faces)} face(s) found",
                )
            if pair.source_image.url not in seen:
                found = self.detect(pair.source_image, single_face=True)
                if not found:
                    raise ProviderError("no_face_in_source", "akool found no face in a source image")
                seen[pair.source_image.url] = found[0]
            source_face, target_face = seen[pair.source_image.url], target_faces[pair.target_face]
            sources.append({"path": source_face.path, "opts": source_face.opts})
            targets.append({"path": target_face.path, "opts": target_face.opts})
        return sources, targets

    def detect(self, image: base.ImageRef, *, single_face: bool) -> list[DetectedFace]:
        """The faces of one image, left to right, via Akool's detect_faces."""
        answer = self._client.request(
            "POST", DETECT_PATH, body={"url": image.url, "single_face": single_face, "return_face_url": True}
        )
        envelope = answer.json()
        if answer.status >= 400 or not isinstance(envelope, dict):
            raise ProviderError(
                "provider_failed",
                f"akool face detection failed (status {answer.status})",
                provider_code=str(answer.status),
            )
        if "error_code" not in envelope and "code" in envelope:
            # Auth and rate errors come in the faceswap envelope.
            self._data(answer)
        if envelope.get("error_code") not in (0, None):
            raise ProviderError(
                "image_unreadable",
                job_safe(f"akool face detection: {envelope.get('error_msg') or 'error'}"),
                provider_code=str(envelope.get("error_code")),
            )
        frames = envelope.get("faces_obj") or {}
        frame = frames.get("0") if isinstance(frames, dict) else None
        return parse_faces(frame or {}, image.url)


def _opts(value: Any) -> str:
    if isinstance(value, str):
        return value
    return ":".join(f"{round(x)},{round(y)}" for x, y in landmark_points(value)[:4])


def _at(values: Any, index: int) -> Any:
    return values[index] if isinstance(values, list) and index < len(values) else None


def parse_faces(frame: Mapping[str, Any], image_url: str) -> list[DetectedFace]:
    """Faces of one detect_faces frame, ordered left to right (ties top to bottom).

    Where Akool returned face crops, path is the crop and opts its crop landmarks (DESIGN 4); otherwise
    path is the image itself and opts the landmarks in image coordinates.
    """
    landmarks = frame.get("landmarks") or []
    faces = []
    for index in range(len(landmarks) if isinstance(landmarks, list) else 0):
        points = landmark_points(landmarks[index]) or landmark_points(_at(frame.get("landmarks_str"), index))
        if not points:
            continue
        centre = (sum(p[0] for p in points) / len(points), sum(p[1] for p in points) / len(points))
        face_url, crop = _at(frame.get("face_urls"), index), _at(frame.get("crop_landmarks"), index)
        if isinstance(face_url, str) and face_url and crop:
            faces.append(DetectedFace(face_url, _opts(crop), centre))
        else:
            opts = _at(frame.get("landmarks_str"), index) or _opts(points)
            faces.append(DetectedFace(image_url, _opts(opts), centre))
    return sorted(faces, key=lambda f: (f.centre[0], f.centre[1]))


def _build(spec: ProviderSpec, settings: Settings, clients: Clients) -> base.Provider:
    creds = credentials(settings, clients, spec)
    return AkoolProvider(
        spec.url(settings),
        creds["api_key"],
        client_id=creds.get("client_id") or None,
        client_secret=creds.get("client_secret") or None,
        replay_guard=clients.replay_guard(spec.family),
    )


PROVIDERS = (
    ProviderSpec(
        "akool",
        build=_build,
        capabilities=Capabilities(faces=MAX_FACES, target_index=True),
        credentials=("api_key", "client_id", "client_secret"),
        base_url=DEFAULT_BASE_URL,
        title="Akool",
        verifies_webhooks=True,
        concurrency=5.0,
        fallback_rank=10,
    ),
)
