"""WaveSpeedProvider over a fake HTTP client: both models' bodies, status mapping, webhooks, secret cache."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

import pytest
from provider_fakes import FakeHttp, MemoryReplayGuard, reply
from swapflow.faces import Face
from swapflow.providers._transport import job_safe
from swapflow.providers.base import ImageRef, ProviderState, SwapRequest
from swapflow.providers.exceptions import ProviderBusyError, ProviderError, WebhookRejectedError
from swapflow.providers.wavespeed import WaveSpeedProvider, error_for_status

BASE = "https://ws.test"
SECRET = "whsec_dGVzdHNlY3JldA"
NOW = 1_760_000_000.0


def image(name: str) -> ImageRef:
    return ImageRef("in", name, "image/jpeg", f"https://bucket.test/{name}?sig=1")


REQUEST = SwapRequest(
    "job1", image("src.jpg"), image("tgt.jpg"), output_format="png", webhook_url="https://hooks.test/w?a=1"
)


def provider(http: FakeHttp, model: str = "wavespeed-pro", **kwargs: Any) -> WaveSpeedProvider:
    kwargs.setdefault("webhook_secret", SECRET)
    return WaveSpeedProvider(model, BASE, "ws-key", http=http, clock=lambda: NOW, **kwargs)  # type: ignore[arg-type]


def task(status: str = "created", **extra: Any) -> tuple:
    data = {"id": "t1", "status": status, "outputs": [], "error": "", **extra}
    return reply(200, {"code": 200, "message": "success", "data": data})


def test_given_the_pro_model_when_submitting_then_image_and_face_image_go_with_bearer_auth_and_webhook() -> None:
    http = FakeHttp([task()])
    submission = provider(http).submit(REQUEST)
    assert submission.provider_job_id == "t1"
    assert submission.result.state is ProviderState.RUNNING and submission.result.retry_after == 2.0
    sent = http.sent[0]
    assert sent.url == BASE + "/api/v3/wavespeed-ai/image-face-swap-pro?webhook=https%3A%2F%2Fhooks.test%2Fw%3Fa%3D1"
    assert sent.headers["Authorization"] == "Bearer ws-key"
    assert sent.body == {
        "image": image("tgt.jpg").url,
        "face_image": image("src.jpg").url,
        "output_format": "png",
        "enable_base64_output": False,
        "enable_sync_mode": False,
    }


def test_given_the_akool_model_when_submitting_then_image_source_and_target_fields_go() -> None:
    http = FakeHttp([task()])
    wavespeed = provider(http, "wavespeed-akool")
    assert wavespeed.name == "wavespeed-akool"
    wavespeed.submit(REQUEST)
    assert http.sent[0].url.startswith(BASE + "/api/v3/akool/image-face-swap?webhook=")
    assert http.sent[0].body == {
        "image": image("tgt.jpg").url,
        "source_image": image("src.jpg").url,
        "target_image": image("tgt.jpg").url,
        "face_enhance": False,
        "enable_base64_output": False,
    }


def test_given_an_unknown_model_when_constructed_then_value_error() -> None:
    with pytest.raises(ValueError, match="unknown WaveSpeed model"):
        WaveSpeedProvider("nope", BASE, "k")


@pytest.mark.parametrize(
    "request_",
    [
        SwapRequest("j", image("s"), image("t"), target_index=1),
        SwapRequest("j", image("s"), image("t"), faces=(Face(image("s"), 0),)),
    ],
)
def test_given_several_faces_or_an_index_when_submitting_then_rejected_before_any_call(
    request_: SwapRequest,
) -> None:
    http = FakeHttp()
    with pytest.raises(ProviderError) as caught:
        provider(http).submit(request_)
    assert caught.value.code == "provider_rejected" and http.sent == []


@pytest.mark.parametrize(
    ("status", "message", "code"),
    [
        (401, "Unauthorized", "provider_auth"),
        (403, "Forbidden", "provider_auth"),
        (402, "Payment required", "provider_quota"),
        (400, "Insufficient balance", "provider_quota"),
        (400, "image is required", "provider_rejected"),
        (422, "bad", "provider_rejected"),
        (404, "prediction not found", "provider_failed"),
    ],
)
def test_given_a_wavespeed_4xx_when_submitting_then_it_maps_to_a_job_error(
    status: int, message: str, code: str
) -> None:
    http = FakeHttp([reply(status, {"code": status, "message": message, "data": None})])
    with pytest.raises(ProviderError) as caught:
        provider(http).submit(SwapRequest("j", image("s"), image("t")))
    assert (caught.value.code, caught.value.provider_code) == (code, str(status))
    assert error_for_status(status, message).code == code


@pytest.mark.parametrize(("status", "retry_after"), [(429, "3"), (503, "Thu, 01 Jan 2099 00:00:00 GMT"), (500, None)])
def test_given_429_or_5xx_when_polling_then_busy_honouring_retry_after(status: int, retry_after: str | None) -> None:
    headers = {"Retry-After": retry_after} if retry_after else {}
    http = FakeHttp([reply(status, {"code": status, "message": f"HTTP {status} upstream"}, headers)])
    with pytest.raises(ProviderBusyError) as caught:
        provider(http).poll("t1")
    assert "HTTP 5" not in str(caught.value) and "HTTP 429" not in str(caught.value)
    if retry_after == "3":
        assert caught.value.retry_after == 3.0
    elif retry_after:
        assert caught.value.retry_after is not None and caught.value.retry_after > 1e9
    else:
        assert caught.value.retry_after is None


@pytest.mark.parametrize("word", ["created", "processing"])
def test_given_a_running_word_when_polled_then_running_no_faster_than_2s(word: str) -> None:
    http = FakeHttp([task(word)])
    result = provider(http).poll("t1")
    assert result.state is ProviderState.RUNNING and result.retry_after is not None and result.retry_after >= 2
    assert http.sent[0].url == BASE + "/api/v3/predictions/t1/result"


def test_given_completed_when_polled_then_the_outputs_are_the_urls() -> None:
    result = provider(FakeHttp([task("completed", outputs=["https://cdn.test/o.png"])])).poll("t1")
    assert result.state is ProviderState.SUCCEEDED
    assert [(o.url, o.content_type) for o in result.outputs] == [("https://cdn.test/o.png", "image/png")]


def test_given_a_failed_task_when_polled_then_provider_failed_without_http_words() -> None:
    result = provider(FakeHttp([task("failed", error="worker said HTTP 500: boom")])).poll("t1")
    assert result.state is ProviderState.FAILED and result.failure is not None
    assert result.failure.code == "provider_failed"
    assert "HTTP 5" not in result.failure.message and "status 500" in result.failure.message


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("HTTP 503 Service Unavailable", "status 503 Service Unavailable"),
        ("http/1.1 429", "status 429"),
        ("ok", "ok"),
    ],
)
def test_given_provider_text_when_made_job_safe_then_no_http_status_words_remain(text: str, expected: str) -> None:
    assert job_safe(text) == expected


# --- webhooks -------------------------------------------------------------------------------------


def headers_for(body: bytes, *, webhook_id: str = "wh_1", timestamp: float = NOW, secret: str = SECRET) -> dict:
    key = secret.removeprefix("whsec_").encode()
    digest = hmac.new(key, f"{webhook_id}.{int(timestamp)}.".encode() + body, hashlib.sha256).hexdigest()
    return {
        "Webhook-Id": webhook_id,
        "webhook-timestamp": str(int(timestamp)),
        "webhook-signature": f"v3,{digest}",
    }


BODY = json.dumps(
    {
        "id": "t1",
        "model": "wavespeed-ai/image-face-swap-pro",
        "input": {},
        "outputs": ["https://cdn.test/o.jpg"],
        "urls": {},
        "has_nsfw_contents": [False],
        "status": "completed",
        "created_at": "x",
        "error": "",
    }
).encode()


def test_given_a_signed_webhook_when_parsed_then_the_notice_says_succeeded() -> None:
    notice = provider(FakeHttp()).parse_webhook(headers_for(BODY), BODY)
    assert (notice.provider_job_id, notice.delivery_id, notice.duplicate) == ("t1", "wh_1", False)
    assert notice.result.state is ProviderState.SUCCEEDED


def test_given_wavespeeds_nsfw_flags_when_a_webhook_is_parsed_then_each_output_keeps_its_own() -> None:
    body = json.loads(BODY)
    body.update(outputs=["https://cdn.test/a.jpg", "https://cdn.test/b.jpg"], has_nsfw_contents=[True, False])
    raw = json.dumps(body).encode()
    notice = provider(FakeHttp()).parse_webhook(headers_for(raw), raw)
    assert [o.nsfw for o in notice.result.outputs] == [True, False]


def test_given_no_nsfw_flags_when_a_webhook_is_parsed_then_the_outputs_say_not_checked() -> None:
    body = {k: v for k, v in json.loads(BODY).items() if k != "has_nsfw_contents"}
    raw = json.dumps(body).encode()
    notice = provider(FakeHttp()).parse_webhook(headers_for(raw), raw)
    assert [o.nsfw for o in notice.result.outputs] == [None]


def test_given_a_tampered_body_when_parsed_then_401() -> None:
    with pytest.raises(WebhookRejectedError) as caught:
        provider(FakeHttp()).parse_webhook(headers_for(BODY), BODY.replace(b"completed", b"failed"))
    assert caught.value.status == 401


def test_given_missing_headers_when_parsed_then_401() -> None:
    with pytest.raises(WebhookRejectedError) as caught:
        provider(FakeHttp()).parse_webhook({}, BODY)
    assert caught.value.status == 401


@pytest.mark.parametrize("offset_s", [-301, 301])
def test_given_an_old_or_future_timestamp_when_parsed_then_400_stale(offset_s: int) -> None:
    with pytest.raises(WebhookRejectedError) as caught:
        provider(FakeHttp()).parse_webhook(headers_for(BODY, timestamp=NOW + offset_s), BODY)
    assert (caught.value.status, caught.value.reason) == (400, "stale")


def test_given_a_replayed_webhook_id_when_parsed_with_a_guard_then_duplicate() -> None:
    wavespeed = provider(FakeHttp(), replay_guard=MemoryReplayGuard())
    assert not wavespeed.parse_webhook(headers_for(BODY), BODY).duplicate
    assert wavespeed.parse_webhook(headers_for(BODY), BODY).duplicate


def test_given_no_configured_secret_when_webhooks_arrive_then_it_is_fetched_once_and_cached() -> None:
    http = FakeHttp([reply(200, {"code": 200, "message": "success", "data": {"secret": SECRET}})])
    wavespeed = provider(http, webhook_secret=None)
    for _ in range(3):
        wavespeed.parse_webhook(headers_for(BODY), BODY)
    assert [s.url for s in http.sent] == [BASE + "/api/v3/webhook/secret"]


def test_given_a_secret_loader_when_webhooks_arrive_then_it_is_called_once() -> None:
    calls: list[int] = []

    def load() -> str:
        calls.append(1)
        return SECRET

    wavespeed = provider(FakeHttp(), webhook_secret=None, secret_loader=load)
    wavespeed.parse_webhook(headers_for(BODY), BODY)
    wavespeed.parse_webhook(headers_for(BODY), BODY)
    assert calls == [1]


def test_given_a_sync_timeout_code_5004_when_read_then_the_task_is_still_running() -> None:
    answer = reply(200, {"code": 5004, "message": "sync timeout", "data": {"id": "t1", "status": "processing"}})
    assert provider(FakeHttp([answer])).poll("t1").state is ProviderState.RUNNING


def test_given_any_task_when_cancelled_then_false() -> None:
    assert provider(FakeHttp()).cancel("t1") is False
