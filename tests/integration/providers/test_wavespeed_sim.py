"""WaveSpeedProvider (both models) against the WaveSpeed simulator over loopback."""

from __future__ import annotations

import io
import json
import time

import pytest
import urllib3
from conftest import Images, Receiver
from PIL import Image
from sim_helpers import WAVESPEED_KEY, WEBHOOK_SECRET, MemoryReplayGuard, poll_until_done
from swapflow.providers.base import ProviderState, SwapRequest
from swapflow.providers.exceptions import ProviderBusyError, ProviderError, WebhookRejectedError
from swapflow.providers.wavespeed import WaveSpeedProvider
from swapflow.sim import WaveSpeedSimulator

HTTP = urllib3.PoolManager(retries=False)
MODELS = ["wavespeed-akool", "wavespeed-pro"]


def provider(sim: WaveSpeedSimulator, model: str = "wavespeed-pro", **kwargs) -> WaveSpeedProvider:
    kwargs.setdefault("api_key", WAVESPEED_KEY)
    return WaveSpeedProvider(model, sim.base_url, **kwargs)


def request(images: Images, receiver: Receiver | None = None, **extra) -> SwapRequest:
    return SwapRequest(
        "job-1",
        images.ref("source.jpg"),
        images.ref("target.jpg"),
        webhook_url=receiver.url if receiver else None,
        **extra,
    )


@pytest.mark.parametrize("model", MODELS)
def test_given_each_model_when_submitted_and_polled_then_it_completes_with_a_fetchable_output(
    wavespeed_sim: WaveSpeedSimulator, images: Images, model: str
) -> None:
    wavespeed = provider(wavespeed_sim, model)
    submission = wavespeed.submit(request(images, output_format="png"))
    assert submission.result.state is ProviderState.RUNNING and (submission.result.retry_after or 0) >= 2
    result, _ = poll_until_done(wavespeed, submission.provider_job_id)
    assert result.state is ProviderState.SUCCEEDED
    answer = HTTP.request("GET", result.outputs[0].url or "")
    assert answer.status == 200
    picture = Image.open(io.BytesIO(answer.data))
    assert picture.size == (256, 256)
    assert picture.format == ("PNG" if model == "wavespeed-pro" else "JPEG")


@pytest.mark.parametrize("model", MODELS)
def test_given_a_webhook_when_the_task_completes_then_it_verifies_with_the_fetched_secret(
    wavespeed_sim: WaveSpeedSimulator, images: Images, receiver: Receiver, model: str
) -> None:
    wavespeed = provider(wavespeed_sim, model)  # no secret configured: GET /api/v3/webhook/secret
    submission = wavespeed.submit(request(images, receiver))
    [delivery] = receiver.wait_for(1)
    assert delivery.headers["webhook-signature"].startswith("v3,")
    for _ in range(2):
        notice = wavespeed.parse_webhook(delivery.headers, delivery.body)
    assert notice.provider_job_id == submission.provider_job_id
    assert notice.result.state is ProviderState.SUCCEEDED
    assert wavespeed_sim.calls["webhook_secret"] == 1


@pytest.mark.parametrize("key", ["wrong", ""])
def test_given_a_bad_key_when_submitting_then_provider_auth(
    wavespeed_sim: WaveSpeedSimulator, images: Images, key: str
) -> None:
    with pytest.raises(ProviderError) as caught:
        provider(wavespeed_sim, api_key=key).submit(request(images))
    assert (caught.value.code, caught.value.provider_code) == ("provider_auth", "401")


@pytest.mark.faults("quota")
def test_given_no_balance_when_submitting_then_provider_quota(
    wavespeed_sim: WaveSpeedSimulator, images: Images
) -> None:
    with pytest.raises(ProviderError) as caught:
        provider(wavespeed_sim).submit(request(images))
    assert caught.value.code == "provider_quota"


@pytest.mark.parametrize("fault", ["burst_5xx", "rate_limit"])
def test_given_a_burst_or_rate_limit_when_submitting_then_busy_with_retry_after_then_success(
    images: Images, fault: str
) -> None:
    with WaveSpeedSimulator(api_key=WAVESPEED_KEY, faults={fault}, processing_seconds=0.1) as sim:
        wavespeed = provider(sim)
        for _ in range(2):
            with pytest.raises(ProviderBusyError) as caught:
                wavespeed.submit(request(images))
            assert caught.value.retry_after == 1.0
            assert "HTTP 5" not in str(caught.value) and "HTTP 429" not in str(caught.value)
        result, _ = poll_until_done(wavespeed, wavespeed.submit(request(images)).provider_job_id)
        assert result.state is ProviderState.SUCCEEDED


@pytest.mark.faults("fail_job")
def test_given_a_failing_task_when_polled_and_called_back_then_provider_failed_without_http_words(
    wavespeed_sim: WaveSpeedSimulator, images: Images, receiver: Receiver
) -> None:
    wavespeed = provider(wavespeed_sim, webhook_secret=WEBHOOK_SECRET)
    result, _ = poll_until_done(wavespeed, wavespeed.submit(request(images, receiver)).provider_job_id)
    assert result.state is ProviderState.FAILED and result.failure is not None
    assert result.failure.code == "provider_failed"
    assert "HTTP 5" not in result.failure.message and "status 500" in result.failure.message
    delivery = receiver.wait_for(1)[0]
    assert wavespeed.parse_webhook(delivery.headers, delivery.body).result.state is ProviderState.FAILED


@pytest.mark.faults("lost_webhook", "slow")
def test_given_a_lost_webhook_when_the_task_is_slow_then_polls_see_running_then_completed(
    wavespeed_sim: WaveSpeedSimulator, images: Images, receiver: Receiver
) -> None:
    wavespeed = provider(wavespeed_sim)
    result, polls = poll_until_done(wavespeed, wavespeed.submit(request(images, receiver)).provider_job_id)
    assert result.state is ProviderState.SUCCEEDED and polls > 5
    assert receiver.deliveries == []


@pytest.mark.faults("duplicate_webhook")
def test_given_a_duplicate_delivery_when_parsed_with_a_replay_guard_then_the_second_is_flagged(
    wavespeed_sim: WaveSpeedSimulator, images: Images, receiver: Receiver
) -> None:
    wavespeed = provider(wavespeed_sim, webhook_secret=WEBHOOK_SECRET, replay_guard=MemoryReplayGuard())
    wavespeed.submit(request(images, receiver))
    first, second = receiver.wait_for(2)
    assert first.headers["webhook-id"] == second.headers["webhook-id"]
    assert not wavespeed.parse_webhook(first.headers, first.body).duplicate
    assert wavespeed.parse_webhook(second.headers, second.body).duplicate


@pytest.mark.faults("early_webhook")
def test_given_an_early_webhook_when_submitting_then_the_callback_precedes_the_submit_answer(
    wavespeed_sim: WaveSpeedSimulator, images: Images, receiver: Receiver
) -> None:
    wavespeed = provider(wavespeed_sim, webhook_secret=WEBHOOK_SECRET)
    submission = wavespeed.submit(request(images, receiver))
    answered = time.monotonic()
    [delivery] = receiver.wait_for(1, timeout=0.01)
    assert delivery.at < answered
    notice = wavespeed.parse_webhook(delivery.headers, delivery.body)
    assert notice.provider_job_id == submission.provider_job_id


def test_given_forged_or_stale_callbacks_when_parsed_then_rejected(
    wavespeed_sim: WaveSpeedSimulator, images: Images, receiver: Receiver
) -> None:
    wavespeed = provider(wavespeed_sim, webhook_secret=WEBHOOK_SECRET)
    wavespeed.submit(request(images, receiver))
    delivery = receiver.wait_for(1)[0]
    forged = json.loads(delivery.body)
    forged["outputs"] = ["https://evil.test/x.jpg"]
    with pytest.raises(WebhookRejectedError) as caught:
        wavespeed.parse_webhook(delivery.headers, json.dumps(forged).encode())
    assert caught.value.status == 401
    wrong_secret = provider(wavespeed_sim, webhook_secret="whsec_other")
    with pytest.raises(WebhookRejectedError):
        wrong_secret.parse_webhook(delivery.headers, delivery.body)
    later = provider(wavespeed_sim, webhook_secret=WEBHOOK_SECRET, clock=lambda: time.time() + 301)
    with pytest.raises(WebhookRejectedError) as caught:
        later.parse_webhook(delivery.headers, delivery.body)
    assert caught.value.status == 400


def test_given_a_binary_upload_when_posted_then_the_download_url_serves_it_and_works_as_an_input(
    wavespeed_sim: WaveSpeedSimulator, images: Images
) -> None:
    answer = HTTP.request(
        "POST",
        f"{wavespeed_sim.base_url}/api/v3/media/upload/binary",
        fields={"file": ("face.jpg", images.blobs["source.jpg"], "image/jpeg")},
        headers={"Authorization": f"Bearer {WAVESPEED_KEY}"},
    )
    envelope = answer.json()
    assert answer.status == 200 and envelope["code"] == 200
    url = envelope["data"]["download_url"]
    assert HTTP.request("GET", url).data == images.blobs["source.jpg"]
    uploaded = request(images)
    uploaded = SwapRequest("j", type(uploaded.source_image)("b", "k", "image/jpeg", url), uploaded.target_image)
    wavespeed = provider(wavespeed_sim)
    assert poll_until_done(wavespeed, wavespeed.submit(uploaded).provider_job_id)[0].state is ProviderState.SUCCEEDED


def test_given_a_missing_field_when_submitting_raw_then_400_in_the_wavespeed_envelope(
    wavespeed_sim: WaveSpeedSimulator,
) -> None:
    answer = HTTP.request(
        "POST",
        f"{wavespeed_sim.base_url}/api/v3/wavespeed-ai/image-face-swap-pro",
        body=b"{}",
        headers={"Authorization": f"Bearer {WAVESPEED_KEY}", "Content-Type": "application/json"},
    )
    assert answer.status == 400
    assert answer.json() == {"code": 400, "message": "image is required", "data": None}


@pytest.mark.parametrize(
    "command", [["-m", "swapflow.sim"], ["-c", "import sys; from swapflow.cli import main; sys.exit(main())", "sim"]]
)
def test_given_the_cli_when_started_then_it_prints_its_base_url_and_serves_until_terminated(command) -> None:
    import os
    import subprocess
    import sys

    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    process = subprocess.Popen(
        [sys.executable, *command, "wavespeed", "--port", "0", "--fault", "lost_webhook"],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert process.stdout is not None
        base_url = process.stdout.readline().split()[-1]
        assert base_url.startswith("http://127.0.0.1:")
        answer = HTTP.request(
            "GET", f"{base_url}/api/v3/webhook/secret", headers={"Authorization": "Bearer sim-api-key"}
        )
        assert answer.json()["data"]["secret"].startswith("whsec_")
    finally:
        process.terminate()
        assert process.wait(timeout=10) == 0


def test_given_a_retention_when_ended_tasks_are_older_then_the_next_submit_forgets_them_and_their_files(
    images: Images,
) -> None:
    sim = WaveSpeedSimulator(
        api_key=WAVESPEED_KEY, webhook_secret=WEBHOOK_SECRET, processing_seconds=0.0, retention_seconds=0.3
    )
    sim.start()
    try:
        wavespeed = provider(sim)
        first = wavespeed.submit(request(images))
        done, _ = poll_until_done(wavespeed, first.provider_job_id)
        assert HTTP.request("GET", done.outputs[0].url or "").status == 200
        time.sleep(0.5)
        second = wavespeed.submit(request(images))
        assert HTTP.request("GET", done.outputs[0].url or "").status == 404  # forgotten with its task
        assert first.provider_job_id not in sim.jobs and second.provider_job_id in sim.jobs
        result, _ = poll_until_done(wavespeed, second.provider_job_id)
        assert result.state is ProviderState.SUCCEEDED
        assert HTTP.request("GET", result.outputs[0].url or "").status == 200  # the recent one is kept
    finally:
        sim.stop()
