"""WaveSpeed hosted models: `wavespeed-akool` (akool/image-face-swap) and `wavespeed-pro`
(wavespeed-ai/image-face-swap-pro). One class; a `ModelSpec` says how each builds its request body.

- Auth: `Authorization: Bearer <key>`. Submit `POST /api/v3/{model}?webhook=<url>`; poll
  `GET /api/v3/predictions/{id}/result` (the answer carries `retry_after >= 2`: WaveSpeed asks for no
  faster polling). Envelope {code: 200, message, data: {id, status, outputs, error, ...}}; a failed task
  is still HTTP 200 with data.status "failed".
- HTTP 401/403 -> provider_auth, 402 or an "insufficient balance" message -> provider_quota, other 4xx ->
  provider_rejected, 429/5xx -> ProviderBusyError with Retry-After (see _transport).
- Webhook: headers webhook-id, webhook-timestamp (s), webhook-signature "v3,<hex>" = HMAC-SHA256(secret
  without "whsec_" as utf-8, "{id}.{timestamp}.{raw body}"); +-300 s window. The secret is the configured
  one, else `secret_loader()`, else `GET /api/v3/webhook/secret` — fetched once, then cached.
  Duplicates: `delivery_id` = webhook-id; with a `replay_guard` a delivery seen before comes back with
  `duplicate=True` (answer 200, change nothing).
- Neither model takes several faces or a face index in the seeds (`CAPABILITIES`): such requests are
  refused at submit (DESIGN 3) rather than silently swapping some other face.
- Cancel: WaveSpeed documents none -> False.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from swapflow.providers import base, crypto
from swapflow.providers._transport import Answer, JsonClient, header, job_safe
from swapflow.providers.exceptions import ProviderBusyError, ProviderError, WebhookRejectedError
from swapflow.providers.spec import Capabilities, Clients, ProviderSpec, credentials
from swapflow.settings import Settings

if TYPE_CHECKING:
    import urllib3

DEFAULT_BASE_URL = "https://api.wavespeed.ai"
WEBHOOK_WINDOW_SECONDS = 300
REPLAY_TTL_SECONDS = 2 * WEBHOOK_WINDOW_SECONDS
MIN_POLL_SECONDS = 2.0
SECRET_PATH = "/api/v3/webhook/secret"
RUNNING_WORDS = frozenset({"created", "pending", "queued", "processing", "starting"})
CAPABILITIES = Capabilities()  # one face: no `faces`, no `target_index`
OUTPUT_TYPES = {"jpeg": "image/jpeg", "jpg": "image/jpeg", "png": "image/png", "webp": "image/webp"}


def _akool_body(request: base.SwapRequest) -> dict[str, Any]:
    # The seed's three fields: `image` (the photo), `source_image` (new face), `target_image` (the face
    # to replace; the photo itself for a one-face swap).
    return {
        "image": request.target_image.url,
        "source_image": request.source_image.url,
        "target_image": request.target_image.url,
        "face_enhance": request.face_enhance,
        "enable_base64_output": False,
    }


def _pro_body(request: base.SwapRequest) -> dict[str, Any]:
    return {
        "image": request.target_image.url,
        "face_image": request.source_image.url,
        "output_format": request.output_format if request.output_format in OUTPUT_TYPES else "jpeg",
        "enable_base64_output": False,
        "enable_sync_mode": False,
    }


@dataclass(frozen=True)
class ModelSpec:
    name: str  # our provider name
    model: str  # WaveSpeed's model path
    build_body: Callable[[base.SwapRequest], dict[str, Any]]
    output_type: Callable[[base.SwapRequest], str]
    fallback_rank: int  # place in the default `auto` chain


MODELS: dict[str, ModelSpec] = {
    spec.name: spec
    for spec in (
        ModelSpec(
            "wavespeed-pro",
            "wavespeed-ai/image-face-swap-pro",
            _pro_body,
            lambda r: OUTPUT_TYPES.get(r.output_format, "image/jpeg"),
            fallback_rank=20,
        ),
        ModelSpec("wavespeed-akool", "akool/image-face-swap", _akool_body, lambda r: "image/jpeg", fallback_rank=30),
    )
}


def model_spec(model: str) -> ModelSpec:
    """Our name ("wavespeed-pro") or WaveSpeed's path ("wavespeed-ai/image-face-swap-pro")."""
    for spec in MODELS.values():
        if model in (spec.name, spec.model):
            return spec
    raise ValueError(f"unknown WaveSpeed model {model!r}; known: {', '.join(MODELS)}")


def error_for_status(status: int, message: str) -> ProviderError:
    """The job error for a WaveSpeed 4xx (HTTP status or envelope code); 429/5xx never get here."""
    text = job_safe(f"wavespeed {message or 'error'} (status {status})")
    lowered = message.lower()
    if status in (401, 403):
        return ProviderError("provider_auth", text, provider_code=str(status))
    if status == 402 or "balance" in lowered or "insufficient" in lowered or "quota" in lowered:
        return ProviderError("provider_quota", text, provider_code=str(status))
    if status == 404:
        return ProviderError("provider_failed", text, provider_code=str(status))
    return ProviderError("provider_rejected", text, provider_code=str(status))


class WaveSpeedProvider:
    def __init__(
        self,
        model: str,
        base_url: str,
        api_key: str,
        *,
        webhook_secret: str | None = None,
        secret_loader: Callable[[], str] | None = None,
        http: urllib3.PoolManager | None = None,
        replay_guard: base.ReplayGuard | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.spec = model_spec(model)
        self.name = self.spec.name
        self._client = JsonClient("wavespeed", base_url, {"Authorization": f"Bearer {api_key}"}, http=http, clock=clock)
        self._secret = webhook_secret
        self._secret_loader = secret_loader or self.fetch_webhook_secret
        self._secret_lock = threading.Lock()
        self._replay_guard = replay_guard
        self._clock = clock

    # --- submit / poll / cancel -------------------------------------------------------------------

    def submit(self, request: base.SwapRequest) -> base.Submission:
        refused = CAPABILITIES.refusal(self.name, request)  # refused at submit; a job from before that fails
        if refused is not None:
            raise ProviderError("provider_rejected", refused.message)
        path = f"/api/v3/{self.spec.model}"
        if request.webhook_url:
            path += "?webhook=" + quote(request.webhook_url, safe="")
        data = self._data(self._client.request("POST", path, body=self.spec.build_body(request)))
        task_id = data.get("id")
        if not task_id:
            raise ProviderError("provider_failed", "wavespeed accepted the task without an id")
        return base.Submission(str(task_id), self._result(data, self.spec.output_type(request)))

    def poll(self, provider_job_id: str) -> base.ProviderResult:
        path = f"/api/v3/predictions/{quote(provider_job_id, safe='')}/result"
        return self._result(self._data(self._client.request("GET", path)))

    def cancel(self, provider_job_id: str) -> bool:
        return False

    # --- webhook ----------------------------------------------------------------------------------

    def webhook_secret(self) -> str:
        """The signing secret: configured, else loaded once (thread-safe) and cached."""
        if self._secret is None:
            with self._secret_lock:
                if self._secret is None:
                    self._secret = self._secret_loader()
        return self._secret

    def fetch_webhook_secret(self) -> str:
        data = self._data(self._client.request("GET", SECRET_PATH))
        secret = data.get("secret") or data.get("webhook_secret") if isinstance(data, dict) else data
        if not isinstance(secret, str) or not secret:
            raise ProviderError("provider_failed", "wavespeed returned no webhook secret")
        return secret

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> base.WebhookNotice:
        webhook_id = header(headers, "webhook-id")
        timestamp = header(headers, "webhook-timestamp")
        signature = header(headers, "webhook-signature")
        if not (webhook_id and timestamp and signature):
            raise WebhookRejectedError("wavespeed webhook lacks webhook-id/-timestamp/-signature", status=401)
        if not crypto.wavespeed_signature_ok(signature, self.webhook_secret(), webhook_id, timestamp, body):
            raise WebhookRejectedError("wavespeed webhook signature does not match", status=401)
        try:
            sent_at = float(timestamp)
        except ValueError as exc:
            raise WebhookRejectedError("wavespeed webhook timestamp is not a number", status=400) from exc
        if abs(self._clock() - sent_at) > WEBHOOK_WINDOW_SECONDS:
            raise WebhookRejectedError("stale", status=400)
        try:
            payload = json.loads(body)
        except (ValueError, UnicodeDecodeError) as exc:
            raise WebhookRejectedError("wavespeed webhook body is not JSON", status=400) from exc
        if not isinstance(payload, dict) or not payload.get("id"):
            raise WebhookRejectedError("wavespeed webhook body has no id", status=400)
        duplicate = False
        if self._replay_guard is not None:
            duplicate = not self._replay_guard.first_time(f"wavespeed:{webhook_id}", REPLAY_TTL_SECONDS)
        return base.WebhookNotice(
            provider_job_id=str(payload["id"]),
            result=self._result(payload),
            delivery_id=webhook_id,
            duplicate=duplicate,
        )

    # --- helpers ----------------------------------------------------------------------------------

    def _data(self, answer: Answer) -> dict[str, Any]:
        envelope = answer.json()
        message = str(envelope.get("message") or "") if isinstance(envelope, dict) else ""
        if answer.status >= 400:
            raise error_for_status(answer.status, message)
        if not isinstance(envelope, dict):
            raise ProviderError("provider_failed", "wavespeed answered something that is not its JSON envelope")
        code = envelope.get("code", 200)
        # Only HTTP-like codes are errors: 5004 (sync-mode timeout) carries a running task in data.
        if isinstance(code, int) and (code == 429 or 500 <= code <= 599):
            raise ProviderBusyError(job_safe(f"wavespeed busy (status {code})"))
        if isinstance(code, int) and 400 <= code <= 499:
            raise error_for_status(code, message)
        data = envelope.get("data")
        if not isinstance(data, dict):
            if isinstance(code, int) and code != 200:
                raise error_for_status(code, message)
            raise ProviderError("provider_failed", "wavespeed answer has no data")
        return data

    def _result(self, data: Mapping[str, Any], content_type: str | None = None) -> base.ProviderResult:
        status = str(data.get("status") or "").lower()
        if status == "completed":
            outputs = _outputs(data, content_type)
            if not outputs:
                return base.ProviderResult(
                    base.ProviderState.FAILED,
                    failure=base.ProviderFailure("provider_failed", "wavespeed completed without outputs"),
                )
            return base.ProviderResult(base.ProviderState.SUCCEEDED, outputs=outputs)
        if status in ("failed", "cancelled", "canceled"):
            error = str(data.get("error") or f"task {status}")
            return base.ProviderResult(
                base.ProviderState.FAILED,
                failure=base.ProviderFailure("provider_failed", job_safe(f"wavespeed: {error}"), provider_code=status),
            )
        return base.ProviderResult(base.ProviderState.RUNNING, retry_after=MIN_POLL_SECONDS)


def _outputs(data: Mapping[str, Any], content_type: str | None) -> tuple[base.ProviderOutput, ...]:
    """Each output URL with WaveSpeed's own `has_nsfw_contents` flag at the same index (None where it gave none)."""
    raw = data.get("outputs") or []
    flags = data.get("has_nsfw_contents")
    flags = flags if isinstance(flags, list) and len(flags) == len(raw) else [None] * len(raw)
    return tuple(
        base.ProviderOutput(
            content_type=content_type or _guess_type(url), url=url, nsfw=flag if isinstance(flag, bool) else None
        )
        for url, flag in zip(raw, flags, strict=True)
        if isinstance(url, str) and url
    )


def _guess_type(url: str) -> str:
    ext = url.split("?", 1)[0].rsplit(".", 1)[-1].lower()
    return OUTPUT_TYPES.get(ext, "image/jpeg")


def _build(spec: ProviderSpec, settings: Settings, clients: Clients) -> base.Provider:
    creds = credentials(settings, clients, spec)
    return WaveSpeedProvider(
        spec.name,
        spec.url(settings),
        creds["api_key"],
        webhook_secret=creds.get("webhook_secret") or None,
        replay_guard=clients.replay_guard(spec.family),
    )


# One provider per model. DESIGN 4: WaveSpeed's lowest tier allows 2 concurrent tasks and 2 tasks a minute.
PROVIDERS = tuple(
    ProviderSpec(
        model.name,
        family="wavespeed",
        build=_build,
        capabilities=CAPABILITIES,
        credentials=("api_key", "webhook_secret"),
        base_url=DEFAULT_BASE_URL,
        title="WaveSpeed",
        verifies_webhooks=index == 0,  # the models share the account's webhook secret: one checks the route
        concurrency=2.0,
        rate_per_minute=2.0,
        fallback_rank=model.fallback_rank,
    )
    for index, model in enumerate(MODELS.values())
)
