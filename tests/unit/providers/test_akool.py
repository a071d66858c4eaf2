"""AkoolProvider over a fake HTTP client: request shapes, body-code table, poll gating, webhooks."""

from __future__ import annotations

import json
from typing import Any

import pytest
from provider_fakes import FakeHttp, MemoryReplayGuard, Sent, reply
from swapflow.faces import Face
from swapflow.providers import crypto
from swapflow.providers.akool import CODE_TABLE, AkoolProvider, error_for_code, parse_faces
from swapflow.providers.base import ImageRef, ProviderState, SwapRequest
from swapflow.providers.exceptions import (
    ProviderBusyError,
    ProviderError,
    ProviderUnavailableError,
    WebhookRejectedError,
)

BASE = "https://akool.test"
CLIENT_ID = "client0000000001"
SECRET = "secret0000000001secret0000000001"
NOW = 1_760_000_000.0


def image(name: str) -> ImageRef:
    return ImageRef("in", name, "image/jpeg", f"https://bucket.test/{name}?sig=1")


REQUEST = SwapRequest("job1", image("src.jpg"), image("tgt.jpg"), webhook_url="https://hooks.test/webhooks/akool")


def provider(http: FakeHttp, guard: MemoryReplayGuard | None = None) -> AkoolProvider:
    return AkoolProvider(
        BASE,
        "key-1",
        http=http,  # type: ignore[arg-type]
        client_id=CLIENT_ID,
        client_secret=SECRET,
        replay_guard=guard,
        clock=lambda: NOW,
    )


def ok(data: Any) -> tuple:
    return reply(200, {"code": 1000, "msg": "OK", "data": data})


def test_given_a_one_face_job_when_submitted_then_the_v4_body_and_api_key_are_sent() -> None:
    http = FakeHttp([ok({"_id": "a1", "job_id": "j"})])
    submission = provider(http).submit(REQUEST)
    assert submission.provider_job_id == "a1"
    assert submission.result.state is ProviderState.RUNNING
    sent = http.sent[0]
    assert (sent.method, sent.url) == ("POST", BASE + "/api/open/v4/faceswap/faceswapByImage")
    assert sent.headers["x-api-key"] == "key-1"
    assert sent.body == {
        "sourceImage": [{"path": image("src.jpg").url}],
        "targetImage": [{"path": image("tgt.jpg").url}],
        "model_name": "akool_faceswap_image_hq",
        "face_enhance": False,
        "single_face_mode": True,
        "webhookUrl": "https://hooks.test/webhooks/akool",
    }


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        (1003, "provider_rejected"),
        (1006, "provider_quota"),
        (1007, "provider_rejected"),
        (1016, "provider_failed"),
        (1101, "provider_auth"),
        (1102, "provider_auth"),
        (1108, "provider_failed"),
        (1200, "provider_auth"),
        (4242, "provider_failed"),
    ],
)
def test_given_an_akool_body_code_when_mapped_then_the_job_error_code_and_provider_code_are_kept(
    code: int, expected: str
) -> None:
    http = FakeHttp([reply(200, {"code": code, "msg": "nope"})])
    with pytest.raises(ProviderError) as caught:
        provider(http).submit(REQUEST)
    assert (caught.value.code, caught.value.provider_code) == (expected, str(code))


def test_given_the_code_table_when_read_then_every_documented_code_is_there() -> None:
    assert set(CODE_TABLE) == {1003, 1006, 1007, 1016, 1101, 1102, 1108, 1200}


def test_given_code_1005_when_mapped_then_it_is_busy_and_retried() -> None:
    assert isinstance(error_for_code(1005, "too frequent"), ProviderBusyError)


@pytest.mark.parametrize("status", [429, 500, 502, 503])
def test_given_http_429_or_5xx_when_polling_then_busy_with_retry_after_and_no_http_word(status: int) -> None:
    http = FakeHttp([reply(status, b"<html>oops</html>", {"Retry-After": "7"})])
    with pytest.raises(ProviderBusyError) as caught:
        provider(http).poll("a1")
    assert caught.value.retry_after == 7.0
    assert "HTTP" not in str(caught.value)
    assert f"status {status}" in str(caught.value)


@pytest.mark.parametrize(
    ("item", "state"),
    [
        ({"_id": "a1", "faceswap_status": 1, "url": ""}, ProviderState.RUNNING),
        ({"_id": "a1", "faceswap_status": 2, "url": "https://cdn.test/early.jpg"}, ProviderState.RUNNING),
        ({"_id": "a1", "faceswap_status": 3, "url": ""}, ProviderState.RUNNING),
        ({"_id": "a1", "faceswap_status": 3, "url": "https://cdn.test/out.png"}, ProviderState.SUCCEEDED),
        ({"_id": "a1", "faceswap_status": 4, "url": "https://cdn.test/x.jpg"}, ProviderState.FAILED),
    ],
)
def test_given_a_listbyids_item_when_polled_then_state_follows_faceswap_status_not_url(
    item: dict[str, Any], state: ProviderState
) -> None:
    http = FakeHttp([ok({"result": [item]})])
    result = provider(http).poll("a1")
    assert result.state is state
    assert http.sent[0].url == BASE + "/api/open/v3/faceswap/result/listbyids?_ids=a1"
    if state is ProviderState.SUCCEEDED:
        assert result.outputs[0].url == "https://cdn.test/out.png"
        assert result.outputs[0].content_type == "image/png"
    if state is ProviderState.FAILED:
        assert result.failure is not None and result.failure.code == "provider_failed"


def test_given_an_empty_result_when_polled_then_the_job_is_still_running() -> None:
    assert provider(FakeHttp([ok({"result": []})])).poll("a1").state is ProviderState.RUNNING


FRAME_TWO_FACES = {
    # Listed right face first: the provider must order left to right.
    "landmarks": [
        [[300, 100], [340, 100], [320, 130], [320, 150]],
        [[100, 100], [140, 100], [120, 130], [120, 150]],
    ],
    "landmarks_str": ["300,100:340,100:320,130:320,150", "100,100:140,100:120,130:120,150"],
    "face_urls": ["https://akool.test/faces/right.jpg", "https://akool.test/faces/left.jpg"],
    "crop_landmarks": ["R", "L"],
}


def test_given_a_detect_frame_when_parsed_then_faces_are_left_to_right_with_crop_opts() -> None:
    faces = parse_faces(FRAME_TWO_FACES, "https://x/t.jpg")
    assert [(f.path, f.opts) for f in faces] == [
        ("https://akool.test/faces/left.jpg", "L"),
        ("https://akool.test/faces/right.jpg", "R"),
    ]


def test_given_no_face_urls_when_parsed_then_the_image_url_and_its_landmarks_are_used() -> None:
    frame = {**FRAME_TWO_FACES, "face_urls": None, "crop_landmarks": None}
    faces = parse_faces(frame, "https://x/t.jpg")
    assert faces[0].path == "https://x/t.jpg"
    assert faces[0].opts == "100,100:140,100:120,130:120,150"


def _detecting_http() -> FakeHttp:
    def handle(sent: Sent) -> tuple:
        if sent.url.endswith("/detect_faces"):
            if "tgt" in sent.body["url"]:
                return reply(200, {"error_code": 0, "error_msg": "SUCCESS", "faces_obj": {"0": FRAME_TWO_FACES}})
            one = {
                "landmarks": [[[10, 10], [20, 10], [15, 15], [15, 20]]],
                "face_urls": ["https://f/s.jpg"],
                "crop_landmarks": ["S"],
            }
            return reply(200, {"error_code": 0, "faces_obj": {"0": one}})
        return ok({"_id": "m1"})

    return FakeHttp(handler=handle)


def test_given_a_multi_face_job_when_submitted_then_each_pair_carries_detected_opts() -> None:
    http = _detecting_http()
    request = SwapRequest(
        "j",
        image("src.jpg"),
        image("tgt.jpg"),
        faces=(Face(image("s1.jpg"), 1), Face(image("s2.jpg"), 0)),
    )
    provider(http).submit(request)
    body = http.sent[-1].body
    assert body["targetImage"] == [
        {"path": "https://akool.test/faces/right.jpg", "opts": "R"},
        {"path": "https://akool.test/faces/left.jpg", "opts": "L"},
    ]
    assert body["sourceImage"] == [{"path": "https://f/s.jpg", "opts": "S"}] * 2
    assert body["single_face_mode"] is False
    detects = [s for s in http.sent if s.url.endswith("/detect_faces")]
    assert len(detects) == 3 and all(s.body["return_face_url"] for s in detects)


def test_given_a_target_index_past_the_faces_when_submitted_then_target_index_out_of_range() -> None:
    request = SwapRequest("j", image("src.jpg"), image("tgt.jpg"), target_index=2)
    with pytest.raises(ProviderError) as caught:
        provider(_detecting_http()).submit(request)
    assert caught.value.code == "target_index_out_of_range"


# --- webhooks -------------------------------------------------------------------------------------


def signed(
    payload: dict[str, Any], *, timestamp_ms: int = int(NOW * 1000), nonce: str = "777", secret: str = SECRET
) -> bytes:
    data = crypto.akool_encrypt(json.dumps(payload).encode(), CLIENT_ID, secret)
    signature = crypto.akool_signature(CLIENT_ID, timestamp_ms, nonce, data)
    return json.dumps({"signature": signature, "dataEncrypt": data, "timestamp": timestamp_ms, "nonce": nonce}).encode()


def test_given_a_signed_success_webhook_when_parsed_then_the_notice_carries_the_output() -> None:
    body = signed({"_id": "a1", "status": 3, "type": 1, "url": "https://cdn.test/o.jpg"})
    notice = provider(FakeHttp()).parse_webhook({}, body)
    assert notice.provider_job_id == "a1"
    assert notice.result.state is ProviderState.SUCCEEDED
    assert notice.result.outputs[0].url == "https://cdn.test/o.jpg"
    assert notice.delivery_id == f"{int(NOW * 1000)}-777"
    assert not notice.duplicate


def test_given_a_processing_webhook_with_url_when_parsed_then_it_is_not_trusted() -> None:
    body = signed({"_id": "a1", "status": 2, "type": 1, "url": "https://cdn.test/o.jpg"})
    assert provider(FakeHttp()).parse_webhook({}, body).result.state is ProviderState.RUNNING


def test_given_a_forged_signature_when_parsed_then_401() -> None:
    envelope = json.loads(signed({"_id": "a1", "status": 3, "url": "u"}))
    envelope["signature"] = "0" * 40
    with pytest.raises(WebhookRejectedError) as caught:
        provider(FakeHttp()).parse_webhook({}, json.dumps(envelope).encode())
    assert caught.value.status == 401


def test_given_a_payload_encrypted_with_another_secret_when_parsed_then_401() -> None:
    body = signed({"_id": "a1", "status": 3, "url": "u"}, secret="another0secret01")
    with pytest.raises(WebhookRejectedError) as caught:
        provider(FakeHttp()).parse_webhook({}, body)
    assert caught.value.status == 401


@pytest.mark.parametrize("offset_s", [-301, 301])
def test_given_a_stale_or_future_timestamp_when_parsed_then_400_stale(offset_s: int) -> None:
    body = signed({"_id": "a1", "status": 3, "url": "u"}, timestamp_ms=int((NOW + offset_s) * 1000))
    with pytest.raises(WebhookRejectedError) as caught:
        provider(FakeHttp()).parse_webhook({}, body)
    assert (caught.value.status, caught.value.reason) == (400, "stale")


def test_given_the_same_delivery_twice_when_parsed_with_a_guard_then_the_second_is_a_duplicate() -> None:
    guard = MemoryReplayGuard()
    body = signed({"_id": "a1", "status": 3, "url": "https://cdn.test/o.jpg"})
    akool = provider(FakeHttp(), guard)
    assert not akool.parse_webhook({}, body).duplicate
    assert akool.parse_webhook({}, body).duplicate


@pytest.mark.parametrize("body", [b"not json", b"[]", b'{"signature": "x"}'])
def test_given_a_malformed_body_when_parsed_then_400(body: bytes) -> None:
    with pytest.raises(WebhookRejectedError) as caught:
        provider(FakeHttp()).parse_webhook({}, body)
    assert caught.value.status == 400


def test_given_no_client_credentials_when_a_webhook_arrives_then_the_missing_setting_is_named() -> None:
    akool = AkoolProvider(BASE, "k", http=FakeHttp())  # type: ignore[arg-type]
    with pytest.raises(ProviderUnavailableError, match="SWAPFLOW_AKOOL_CLIENT_ID"):
        akool.parse_webhook({}, b"{}")


def test_given_any_job_when_cancelled_then_false_because_akool_has_no_cancel() -> None:
    assert provider(FakeHttp()).cancel("a1") is False
