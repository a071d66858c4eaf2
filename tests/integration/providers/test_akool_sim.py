"""AkoolProvider against the Akool simulator over loopback: the happy path, webhooks and each fault."""

from __future__ import annotations

import io
import json
import time

import pytest
import urllib3
from conftest import Images, Receiver
from PIL import Image
from sim_helpers import AKOOL_KEY, CLIENT_ID, CLIENT_SECRET, MemoryReplayGuard, poll_until_done
from swapflow.faces import Face
from swapflow.providers.akool import AkoolProvider
from swapflow.providers.base import ProviderState, SwapRequest
from swapflow.providers.exceptions import ProviderBusyError, ProviderError, WebhookRejectedError
from swapflow.sim import AkoolSimulator

HTTP = urllib3.PoolManager(retries=False)


def provider(
    sim: AkoolSimulator, *, key: str = AKOOL_KEY, guard: MemoryReplayGuard | None = None, clock=time.time
) -> AkoolProvider:
    return AkoolProvider(
        sim.base_url, key, client_id=CLIENT_ID, client_secret=CLIENT_SECRET, replay_guard=guard, clock=clock
    )


def request(images: Images, receiver: Receiver | None = None, **extra) -> SwapRequest:
    return SwapRequest(
        "job-1",
        images.ref("source.jpg"),
        images.ref("target.jpg"),
        webhook_url=receiver.url if receiver else None,
        **extra,
    )


def fetch_image(url: str) -> Image.Image:
    answer = HTTP.request("GET", url)
    assert answer.status == 200, url
    picture = Image.open(io.BytesIO(answer.data))
    picture.load()
    return picture


def test_given_a_one_face_job_when_submitted_and_polled_then_it_succeeds_with_a_fetchable_output(
    akool_sim: AkoolSimulator, images: Images
) -> None:
    akool = provider(akool_sim)
    submission = akool.submit(request(images))
    result, polls = poll_until_done(akool, submission.provider_job_id)
    assert result.state is ProviderState.SUCCEEDED
    assert polls >= 2  # queued/processing were seen before success
    output = fetch_image(result.outputs[0].url or "")
    assert output.size == (256, 256)
    assert akool_sim.calls["faceswap"] == 1 and akool_sim.calls["serve_output"] == 1


def test_given_a_webhook_url_when_the_job_finishes_then_the_signed_encrypted_callback_verifies(
    akool_sim: AkoolSimulator, images: Images, receiver: Receiver
) -> None:
    akool = provider(akool_sim)
    submission = akool.submit(request(images, receiver))
    [delivery] = receiver.wait_for(1)
    assert set(json.loads(delivery.body)) == {"signature", "dataEncrypt", "timestamp", "nonce"}
    notice = akool.parse_webhook(delivery.headers, delivery.body)
    assert notice.provider_job_id == submission.provider_job_id
    assert notice.result.state is ProviderState.SUCCEEDED
    fetch_image(notice.result.outputs[0].url or "")


@pytest.mark.parametrize(("key", "code"), [("wrong-key", "1101"), ("", "1102")])
def test_given_a_bad_or_missing_key_when_submitting_then_provider_auth_with_akool_code(
    akool_sim: AkoolSimulator, images: Images, key: str, code: str
) -> None:
    with pytest.raises(ProviderError) as caught:
        provider(akool_sim, key=key).submit(request(images))
    assert (caught.value.code, caught.value.provider_code) == ("provider_auth", code)


@pytest.mark.faults("burst_5xx")
def test_given_a_5xx_burst_when_submitting_then_busy_until_the_burst_passes(
    akool_sim: AkoolSimulator, images: Images
) -> None:
    akool = provider(akool_sim)
    for _ in range(2):
        with pytest.raises(ProviderBusyError) as caught:
            akool.submit(request(images))
        assert caught.value.retry_after == 1.0 and "HTTP 5" not in str(caught.value)
    submission = akool.submit(request(images))
    assert poll_until_done(akool, submission.provider_job_id)[0].state is ProviderState.SUCCEEDED


@pytest.mark.faults("rate_limit")
def test_given_rate_limiting_when_polling_then_busy_with_retry_after(akool_sim: AkoolSimulator) -> None:
    with pytest.raises(ProviderBusyError) as caught:
        provider(akool_sim).poll("anything")
    assert caught.value.retry_after == 1.0 and "HTTP 429" not in str(caught.value)


@pytest.mark.faults("quota")
def test_given_no_credit_when_submitting_then_provider_quota(akool_sim: AkoolSimulator, images: Images) -> None:
    with pytest.raises(ProviderError) as caught:
        provider(akool_sim).submit(request(images))
    assert (caught.value.code, caught.value.provider_code) == ("provider_quota", "1006")


@pytest.mark.faults("fail_job")
def test_given_a_failing_job_when_polled_and_called_back_then_provider_failed(
    akool_sim: AkoolSimulator, images: Images, receiver: Receiver
) -> None:
    akool = provider(akool_sim)
    submission = akool.submit(request(images, receiver))
    result, _ = poll_until_done(akool, submission.provider_job_id)
    assert result.state is ProviderState.FAILED and result.failure is not None
    assert result.failure.code == "provider_failed"
    notice = akool.parse_webhook({}, receiver.wait_for(1)[0].body)
    assert notice.result.state is ProviderState.FAILED


@pytest.mark.faults("url_before_success", "slow")
def test_given_a_url_before_success_when_polled_mid_job_then_it_is_not_trusted(
    akool_sim: AkoolSimulator, images: Images
) -> None:
    akool = provider(akool_sim)
    job_id = akool.submit(request(images)).provider_job_id
    deadline = time.monotonic() + 5
    while akool_sim.jobs[job_id].status != "processing" and time.monotonic() < deadline:
        time.sleep(0.02)
    raw = HTTP.request(
        "GET",
        f"{akool_sim.base_url}/api/open/v3/faceswap/result/listbyids?_ids={job_id}",
        headers={"x-api-key": AKOOL_KEY},
    ).json()["data"]["result"][0]
    assert raw["faceswap_status"] == 2 and raw["url"]
    assert HTTP.request("GET", raw["url"]).status == 404  # the early url is not a result yet
    assert akool.poll(job_id).state is ProviderState.RUNNING
    result, _ = poll_until_done(akool, job_id)
    assert result.state is ProviderState.SUCCEEDED
    fetch_image(result.outputs[0].url or "")


@pytest.mark.faults("lost_webhook")
def test_given_a_lost_webhook_when_the_job_finishes_then_polling_still_finds_the_result(
    akool_sim: AkoolSimulator, images: Images, receiver: Receiver
) -> None:
    akool = provider(akool_sim)
    result, _ = poll_until_done(akool, akool.submit(request(images, receiver)).provider_job_id)
    assert result.state is ProviderState.SUCCEEDED
    time.sleep(0.2)
    assert receiver.deliveries == []


@pytest.mark.faults("duplicate_webhook")
def test_given_a_duplicated_delivery_when_parsed_with_a_replay_guard_then_the_second_is_flagged(
    akool_sim: AkoolSimulator, images: Images, receiver: Receiver
) -> None:
    akool = provider(akool_sim, guard=MemoryReplayGuard())
    akool.submit(request(images, receiver))
    first, second = receiver.wait_for(2)
    assert first.body == second.body
    assert not akool.parse_webhook({}, first.body).duplicate
    assert akool.parse_webhook({}, second.body).duplicate


@pytest.mark.faults("early_webhook")
def test_given_an_early_webhook_when_submitting_then_the_callback_arrives_before_the_submit_answer(
    akool_sim: AkoolSimulator, images: Images, receiver: Receiver
) -> None:
    akool = provider(akool_sim)
    submission = akool.submit(request(images, receiver))
    answered = time.monotonic()
    [delivery] = receiver.wait_for(1, timeout=0.01)
    assert delivery.at < answered
    assert akool.parse_webhook({}, delivery.body).provider_job_id == submission.provider_job_id


def test_given_forged_or_stale_callbacks_when_parsed_then_they_are_rejected(
    akool_sim: AkoolSimulator, images: Images, receiver: Receiver
) -> None:
    akool = provider(akool_sim)
    akool.submit(request(images, receiver))
    body = json.loads(receiver.wait_for(1)[0].body)
    forged = {**body, "dataEncrypt": body["dataEncrypt"][:-8] + "AAAAAAA="}
    with pytest.raises(WebhookRejectedError) as caught:
        akool.parse_webhook({}, json.dumps(forged).encode())
    assert caught.value.status == 401
    later = provider(akool_sim, clock=lambda: time.time() + 301)
    with pytest.raises(WebhookRejectedError) as caught:
        later.parse_webhook({}, json.dumps(body).encode())
    assert caught.value.status == 400


def test_given_two_faces_when_swapping_both_then_detect_faces_supplies_opts_and_the_job_succeeds(
    akool_sim: AkoolSimulator, images: Images
) -> None:
    akool = provider(akool_sim)
    two = SwapRequest(
        "job-2",
        images.ref("source.jpg"),
        images.ref("two-faces.jpg"),
        faces=(Face(images.ref("source.jpg"), 0), Face(images.ref("source2.jpg"), 1)),
    )
    result, _ = poll_until_done(akool, akool.submit(two).provider_job_id)
    assert result.state is ProviderState.SUCCEEDED, result.failure
    assert akool_sim.calls["detect_faces"] == 3
    assert fetch_image(result.outputs[0].url or "").size == (400, 256)


def test_given_a_target_index_beyond_the_faces_when_submitting_then_target_index_out_of_range(
    akool_sim: AkoolSimulator, images: Images
) -> None:
    with pytest.raises(ProviderError) as caught:
        provider(akool_sim).submit(request(images, target_index=3))
    assert caught.value.code == "target_index_out_of_range"
    assert akool_sim.calls["faceswap"] == 0


def test_given_a_receiver_answering_500_when_the_job_finishes_then_akool_retries_the_callback(
    akool_sim: AkoolSimulator, images: Images, receiver: Receiver
) -> None:
    receiver.answer = 500
    provider(akool_sim).submit(request(images, receiver))
    deliveries = receiver.wait_for(3)
    assert len(deliveries) == 3 and len({d.body for d in deliveries}) == 1
    deadline = time.monotonic() + 5
    while len(akool_sim.webhook_log) < 3 and time.monotonic() < deadline:
        time.sleep(0.02)  # the sim logs an attempt after the receiver has answered it
    assert [status for _, status in akool_sim.webhook_log] == [500, 500, 500]
