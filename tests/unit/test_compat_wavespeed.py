"""WaveSpeed drop-in mapping: request bodies -> job requests, jobs -> predictions, sync waits, providers."""

from __future__ import annotations

import pytest
from swapflow.compat import provider_for, safe_error_text, wait_until_terminal
from swapflow.compat import wavespeed as ws
from swapflow.jobs.exceptions import RequestInvalidError
from swapflow.jobs.models import Job, JobStatus, StoredImage, SwapSpec
from swapflow.jobs.validation import parse_job_request

IMG, FACE = "https://img.example.com/photo.jpg", "https://img.example.com/face.jpg"
BASE = "https://api.example.com/prod"


def native(model: str, body: object, **kw: object) -> dict:
    out = ws.job_body(model, body, provider="engine", **kw)  # type: ignore[arg-type]
    parse_job_request(out, providers=("engine",), default_provider="engine")  # the native parser accepts it
    return out


def test_given_face_swap_pro_body_when_mapped_then_image_is_the_target_and_face_image_the_source() -> None:
    out = native(ws.PRO, {"image": IMG, "face_image": FACE, "output_format": "png", "enable_sync_mode": True})
    assert (out["target_image"], out["source_image"], out["output_format"]) == (IMG, FACE, "png")
    assert out["metadata"] == {"compat": "wavespeed", "model": ws.PRO}
    assert "target_index" not in out


def test_given_basic_face_swap_with_target_index_when_mapped_then_the_index_is_kept() -> None:
    assert native(ws.BASIC, {"image": IMG, "face_image": FACE, "target_index": 3})["target_index"] == 3


@pytest.mark.parametrize(
    "body",
    [
        {"image": IMG, "source_image": FACE, "target_image": IMG},
        {"image": IMG, "source_image": [FACE], "target_image": [IMG]},
        {"source_image": FACE, "target_image": IMG},
    ],
)
def test_given_akool_on_wavespeed_bodies_when_mapped_then_all_three_field_styles_work(body) -> None:
    out = native(ws.AKOOL, {**body, "face_enhance": True}, webhook_url="https://hooks.example.com/x")
    assert (out["target_image"], out["source_image"], out["face_enhance"]) == (IMG, FACE, True)
    assert out["webhook_url"] == "https://hooks.example.com/x"


@pytest.mark.parametrize(
    ("model", "body", "field"),
    [
        (ws.PRO, {"face_image": FACE}, "image"),
        (ws.PRO, {"image": IMG}, "face_image"),
        (ws.PRO, {"image": 5, "face_image": FACE}, "image"),
        (ws.PRO, {"image": [IMG], "face_image": FACE}, "image"),  # the seed: a string, never a list
        (ws.PRO, {"image": IMG, "face_image": [FACE]}, "face_image"),
        (ws.BASIC, {"image": [IMG], "face_image": FACE}, "image"),
        (ws.PRO, {"image": IMG, "face_image": FACE, "output_format": "gif"}, "output_format"),
        (ws.PRO, {"image": IMG, "face_image": FACE, "enable_sync_mode": "yes"}, "enable_sync_mode"),
        (ws.BASIC, {"image": IMG, "face_image": FACE, "target_index": 11}, "target_index"),
        (ws.BASIC, {"image": IMG, "face_image": FACE, "target_index": True}, "target_index"),
        (ws.AKOOL, {"image": IMG, "source_image": [FACE, FACE]}, "source_image"),
        (ws.AKOOL, {"image": IMG}, "source_image"),
        (ws.AKOOL, {"source_image": FACE}, "target_image"),
    ],
)
def test_given_bad_bodies_when_mapped_then_they_are_refused_naming_the_field(model, body, field) -> None:
    with pytest.raises(RequestInvalidError) as info:
        ws.job_body(model, body, provider="engine")
    assert info.value.field == field


def test_given_a_non_object_body_when_mapped_then_it_is_refused() -> None:
    with pytest.raises(RequestInvalidError):
        ws.job_body(ws.PRO, [IMG], provider="engine")


def view(status: str, **extra: object) -> dict:
    return {
        "id": "01JOB",
        "status": status,
        "provider": "engine",
        "outputs": [],
        "error": None,
        "metadata": {"compat": "wavespeed", "model": ws.PRO},
        "created_at": "2026-01-01T00:00:00.000Z",
        "timings": {"queued_ms": 5, "provider_ms": None, "total_ms": None},
        **extra,
    }


@pytest.mark.parametrize(
    ("status", "word"),
    [
        ("queued", "created"),
        ("processing", "processing"),
        ("completed", "completed"),
        ("failed", "failed"),
        ("cancelled", "cancelled"),
    ],
)
def test_given_job_states_when_shown_then_wavespeed_status_words_are_used(status, word) -> None:
    assert ws.prediction(view(status), base_url=BASE)["status"] == word


def test_given_a_completed_job_when_shown_then_outputs_are_its_presigned_urls() -> None:
    data = ws.prediction(
        view("completed", outputs=[{"url": "https://s3/x.jpg"}], timings={"provider_ms": 812, "total_ms": 900}),
        base_url=BASE,
    )
    assert data["outputs"] == ["https://s3/x.jpg"] and data["has_nsfw_contents"] == [False]
    assert data["nsfw_checked"] == [False]  # the engine's output: nobody checked, so no verdict is claimed
    assert data["urls"] == {"get": f"{BASE}/api/v3/predictions/01JOB/result"}
    assert data["timings"] == {"inference": 812} and data["model"] == ws.PRO and data["error"] == ""
    assert "code" not in data


@pytest.mark.parametrize(("flag", "shown", "checked"), [(True, True, True), (False, False, True), (None, False, False)])
def test_given_the_providers_nsfw_flag_when_shown_then_it_is_passed_through(flag, shown, checked) -> None:
    outputs = [{"url": "https://s3/x.jpg", "nsfw": flag}]
    data = ws.prediction(view("completed", outputs=outputs), base_url=BASE)
    assert data["has_nsfw_contents"] == [shown] and data["nsfw_checked"] == [checked]


def test_given_a_failed_job_when_shown_then_the_error_never_says_http_5xx_or_429() -> None:
    error = {"code": "provider_failed", "message": "upstream said HTTP 503, then HTTP/1.1 429"}
    data = ws.prediction(view("failed", error=error), base_url=BASE)
    assert data["error"].startswith("provider_failed: ")
    assert "HTTP 5" not in data["error"] and "HTTP 429" not in data["error"]
    assert "HTTP" not in safe_error_text("HTTP 500 HTTP:429 http 502")


def test_given_a_sync_wait_that_ran_out_when_shown_then_data_code_is_5004_and_status_processing() -> None:
    data = ws.prediction(view("processing"), base_url=BASE, sync_waited=25)
    assert data["code"] == ws.SYNC_TIMEOUT_CODE and data["status"] == "processing"
    assert "Sync mode timed out" in data["error"] and data["urls"]["get"] in data["error"]
    assert "code" not in ws.prediction(view("completed"), base_url=BASE, sync_waited=25)


def test_given_envelopes_when_built_then_they_match_wavespeeds() -> None:
    assert ws.ok({"a": 1}) == {"code": 200, "message": "success", "data": {"a": 1}}
    assert ws.error(401, "no key") == {"code": 401, "message": "no key", "data": None}


@pytest.mark.parametrize(
    ("setting", "model", "expected"),
    [
        ("", ws.PRO, "engine"),
        ("wavespeed-pro", ws.AKOOL, "wavespeed-pro"),
        (f"{ws.AKOOL}=wavespeed-akool, {ws.PRO}=wavespeed-pro", ws.PRO, "wavespeed-pro"),
        (f"{ws.AKOOL}=wavespeed-akool", ws.BASIC, "engine"),
        (f"{ws.AKOOL}=wavespeed-akool,*=auto", ws.BASIC, "auto"),
    ],
)
def test_given_compat_provider_settings_when_a_model_is_mapped_then_the_provider_follows(setting, model, expected):
    assert provider_for(model, setting, "engine") == expected


def job(status: JobStatus) -> Job:
    image = StoredImage("b", "k", "image/jpeg", 1, 1)
    return Job(id="01JOB", tenant="t", provider="engine", spec=SwapSpec(image, image), status=status)


def test_given_a_job_that_finishes_when_waited_on_then_the_wait_ends_at_the_terminal_state() -> None:
    states = iter([JobStatus.QUEUED, JobStatus.PROCESSING, JobStatus.COMPLETED])
    now = [0.0]
    result = wait_until_terminal(
        lambda: job(next(states)), 10, clock=lambda: now[0], sleep=lambda s: now.__setitem__(0, now[0] + s)
    )
    assert result.status is JobStatus.COMPLETED and now[0] == 0.5


def test_given_a_slow_job_when_waited_on_then_the_wait_stops_at_the_cap() -> None:
    now = [0.0]
    result = wait_until_terminal(
        lambda: job(JobStatus.PROCESSING), 2, clock=lambda: now[0], sleep=lambda s: now.__setitem__(0, now[0] + s)
    )
    assert result.status is JobStatus.PROCESSING and now[0] == pytest.approx(2.0)
