"""Hosted providers end to end: the stack against faithful simulators of Akool and WaveSpeed.

Every accepted job reaches exactly one terminal state and exactly one terminal event, whatever the
provider does; forged or stale webhooks change nothing.
"""

from __future__ import annotations

import io
import json
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from e2e_stack import RunningStack, running_stack
from PIL import Image
from swapflow.provenance import TRAINED_COMPOSITE, credentials
from swapflow.providers.crypto import akool_encrypt, akool_signature, wavespeed_signature
from swapflow.sim.akool import AkoolSimulator
from swapflow.sim.wavespeed import WaveSpeedSimulator

from infra.local.client import data_uri, download

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]

FIXTURES = __import__("pathlib").Path(__file__).resolve().parents[1] / "fixtures" / "images"
AKOOL = {
    "api_key": "ak_sim_key",
    "client_id": "sim-client-id-16",
    "client_secret": "sim-secret-0123456789abcdef"[:16],
}
WAVESPEED = {"api_key": "ws_sim_key", "webhook_secret": "whsec_c2ltdWxhdG9yLXNlY3JldA"}
PROVIDERS = ("akool", "wavespeed-akool", "wavespeed-pro")


class Sims:
    def __init__(self) -> None:
        self.akool = AkoolSimulator(**AKOOL, processing_seconds=0.3)
        self.wavespeed = WaveSpeedSimulator(**WAVESPEED, processing_seconds=0.3)

    def for_provider(self, provider: str) -> Any:
        return self.akool if provider == "akool" else self.wavespeed

    def set_faults(self, *faults: str) -> None:
        self.akool.set_faults(faults)
        self.wavespeed.set_faults(faults)


@pytest.fixture(scope="module")
def sims() -> Iterator[Sims]:
    s = Sims()
    s.akool.start()
    s.wavespeed.start()
    yield s
    s.akool.stop()
    s.wavespeed.stop()


@pytest.fixture(scope="module")
def provider_stack(sims: Sims, template_path: str, tmp_path_factory) -> Iterator[RunningStack]:
    with running_stack(
        template_path,
        tmp_path_factory.mktemp("providers") / "up.log",
        SWAPFLOW_AKOOL_BASE_URL=sims.akool.base_url,
        SWAPFLOW_AKOOL_API_KEY=AKOOL["api_key"],
        SWAPFLOW_AKOOL_CLIENT_ID=AKOOL["client_id"],
        SWAPFLOW_AKOOL_CLIENT_SECRET=AKOOL["client_secret"],
        SWAPFLOW_WAVESPEED_BASE_URL=sims.wavespeed.base_url,
        SWAPFLOW_WAVESPEED_API_KEY=WAVESPEED["api_key"],
        SWAPFLOW_WAVESPEED_WEBHOOK_SECRET=WAVESPEED["webhook_secret"],
        # Well beyond the simulators' 0.3 s, so only a lost webhook makes a job poll, even under load.
        SWAPFLOW_POLL_INITIAL_SECONDS="5",
        # The simulators have no tier: the global provider limits (tested in test_provider_limits_e2e) stay out.
        SWAPFLOW_PROVIDER_RATE_PER_MINUTE="*=0",
        # The drop-in model that takes target_index runs on a provider that cannot serve it (refused at submit).
        SWAPFLOW_COMPAT_PROVIDER="wavespeed-ai/image-face-swap=wavespeed-pro",
    ) as running:
        yield running


@pytest.fixture(autouse=True)
def no_faults(sims: Sims) -> None:
    sims.set_faults()


def run_job(stack: RunningStack, provider: str) -> dict[str, Any]:
    api = stack.client()
    accepted = api.submit(
        {
            "provider": provider,
            "source_image": data_uri(FIXTURES / "source.jpg"),
            "target_image": data_uri(FIXTURES / "target.jpg"),
            "metadata": {"provider": provider},
        }
    )
    return api.wait(accepted["id"], timeout=120)


def settled_events(stack: RunningStack, job_id: str) -> list[str]:
    deadline = time.monotonic() + 5
    while not stack.events_for(job_id) and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(0.5)
    return [e["detail-type"] for e in stack.events_for(job_id)]


@pytest.mark.parametrize("provider", PROVIDERS)
def test_given_a_provider_when_it_calls_back_then_the_job_completes_without_polling(
    provider_stack, sims, provider
) -> None:
    job = run_job(provider_stack, provider)

    assert job["status"] == "completed", job
    assert job["provider"] == provider and job["provider_job_id"]
    output = job["outputs"][0]
    assert output["bucket"] == provider_stack.summary["archive_bucket"]
    data = download(output["url"])
    assert data[:2] == b"\xff\xd8"  # archived in our S3, not the provider's URL
    # ... and marked as made by a trained model, by this provider (issues 14 and 17)
    xmp = Image.open(io.BytesIO(data)).getxmp()["xmpmeta"]["RDF"]["Description"]
    assert (xmp["DigitalSourceType"], xmp["Provider"], xmp["JobId"]) == (TRAINED_COMPOSITE, provider, job["id"])
    assert credentials.verify(data, "image/jpeg").intact
    assert provider_stack.run_passes(job["id"]) == 1
    assert settled_events(provider_stack, job["id"]) == ["Swap Job Completed"]
    assert sims.for_provider(provider).webhook_log, "the simulator never called back"


@pytest.mark.parametrize("provider", PROVIDERS)
def test_given_a_lost_webhook_when_the_job_runs_then_polling_completes_it(provider_stack, sims, provider) -> None:
    sims.set_faults("lost_webhook")
    job = run_job(provider_stack, provider)

    assert job["status"] == "completed", job
    assert provider_stack.run_passes(job["id"]) >= 2
    assert settled_events(provider_stack, job["id"]) == ["Swap Job Completed"]


FAULTS = [
    ("slow", "completed", None),
    ("burst_5xx", "completed", None),
    ("rate_limit", "completed", None),
    ("duplicate_webhook", "completed", None),
    ("early_webhook", "completed", None),
    ("url_before_success", "completed", None),
    ("fail_job", "failed", "provider_failed"),
    ("quota", "failed", "provider_quota"),
]


@pytest.mark.parametrize(("fault", "status", "code"), FAULTS)
def test_given_a_fault_mode_when_jobs_run_then_each_ends_once_with_one_event(
    provider_stack, sims, fault, status, code
) -> None:
    sims.set_faults(fault)
    with ThreadPoolExecutor(len(PROVIDERS)) as pool:
        jobs = list(pool.map(lambda p: run_job(provider_stack, p), PROVIDERS))

    for job in jobs:
        assert job["status"] == status, (fault, job)
        if code:
            assert job["error"]["code"] == code
            assert "HTTP 5" not in job["error"]["message"] and "HTTP 429" not in job["error"]["message"]
        expected = "Swap Job Completed" if status == "completed" else "Swap Job Failed"
        assert settled_events(provider_stack, job["id"]) == [expected], (fault, job["provider"])


def _akool_webhook(job: dict[str, Any], *, timestamp_ms: int, secret: str, signed_with: str) -> bytes:
    data = akool_encrypt(
        json.dumps({"_id": job["provider_job_id"], "status": 3, "type": "image", "url": "http://x/y.jpg"}).encode(),
        AKOOL["client_id"],
        secret,
    )
    nonce = "1234"
    signature = akool_signature(signed_with, str(timestamp_ms), nonce, data)
    return json.dumps({"signature": signature, "dataEncrypt": data, "timestamp": timestamp_ms, "nonce": nonce}).encode()


def test_given_forged_or_stale_webhooks_when_posted_then_refused_and_nothing_changes(provider_stack, sims) -> None:
    sims.set_faults("lost_webhook", "slow")
    api = provider_stack.client()
    accepted = api.submit(
        {
            "provider": "akool",
            "source_image": data_uri(FIXTURES / "source.jpg"),
            "target_image": data_uri(FIXTURES / "target.jpg"),
        }
    )
    job_id = accepted["id"]
    deadline = time.monotonic() + 10
    while True:
        _, _, job = api.request("GET", f"/v1/jobs/{job_id}")
        if job.get("provider_job_id") or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    now_ms = int(time.time() * 1000)
    anon = provider_stack.client(None)
    forged = _akool_webhook(job, timestamp_ms=now_ms, secret=AKOOL["client_secret"], signed_with="not-the-client")
    stale = _akool_webhook(
        job, timestamp_ms=now_ms - 3600_000, secret=AKOOL["client_secret"], signed_with=AKOOL["client_id"]
    )
    status_forged, _, _ = anon.request("POST", f"/webhooks/akool?job={job_id}", forged)
    status_stale, _, _ = anon.request("POST", f"/webhooks/akool?job={job_id}", stale)
    ws_body = json.dumps({"id": job["provider_job_id"], "status": "completed", "outputs": ["http://x/y.jpg"]})
    ts = str(int(time.time()))
    bad_sig = "v3," + wavespeed_signature("whsec_wrong", "msg_1", ts, ws_body.encode())
    status_ws, _, _ = anon.request(
        "POST",
        f"/webhooks/wavespeed?job={job_id}",
        ws_body.encode(),
        headers={"webhook-id": "msg_1", "webhook-timestamp": ts, "webhook-signature": bad_sig},
    )

    # A body WaveSpeed really signed, naming the Akool job's provider id: the route is not the job's provider.
    good_sig = "v3," + wavespeed_signature(WAVESPEED["webhook_secret"], "msg_2", ts, ws_body.encode())
    status_other, _, _ = anon.request(
        "POST",
        f"/webhooks/wavespeed?job={job_id}",
        ws_body.encode(),
        headers={"webhook-id": "msg_2", "webhook-timestamp": ts, "webhook-signature": good_sig},
    )

    assert status_forged == 401
    assert status_stale == 400
    assert status_ws == 401
    assert status_other == 200  # received (stops WaveSpeed's retries), and nothing moved
    _, _, after = api.request("GET", f"/v1/jobs/{job_id}")
    assert after["status"] in ("queued", "processing")
    final = api.wait(job_id, timeout=120)
    assert final["status"] == "completed"
    assert settled_events(provider_stack, job_id) == ["Swap Job Completed"]


@pytest.mark.parametrize("akool_fault", ["quota", "rate_limit"])
def test_given_auto_when_the_first_provider_is_out_of_quota_or_busy_then_the_next_one_produces_the_result(
    provider_stack, sims, akool_fault
) -> None:
    sims.akool.set_faults([akool_fault])
    if akool_fault == "rate_limit":
        sims.akool.fault_count = 100  # persistently busy
    try:
        job = run_job(provider_stack, "auto")
    finally:
        sims.akool.fault_count = 2

    assert job["status"] == "completed", job
    assert job["provider"] == "wavespeed-pro"
    assert settled_events(provider_stack, job["id"]) == ["Swap Job Completed"]


@pytest.mark.parametrize("provider", ["akool", "wavespeed-akool"])
def test_GIVEN_a_provider_that_answers_jpeg_WHEN_png_is_asked_THEN_the_archived_output_is_png_and_says_so(
    provider_stack, provider
) -> None:
    api = provider_stack.client()
    accepted = api.submit(
        {
            "provider": provider,
            "source_image": data_uri(FIXTURES / "source.jpg"),
            "target_image": data_uri(FIXTURES / "target.jpg"),
            "output_format": "png",
        }
    )
    job = api.wait(accepted["id"], timeout=120)

    assert job["status"] == "completed", job
    output = job["outputs"][0]
    assert output["content_type"] == "image/png" and output["key"].endswith(".png")
    assert download(output["url"])[:8] == b"\x89PNG\r\n\x1a\n"
    assert output["note"] == "the provider returned JPEG; converted to PNG as asked"
    assert (output["width"], output["height"]) == (512, 512)


def newest_job(stack: RunningStack) -> str | None:
    _, _, page = stack.client().request("GET", "/v1/jobs?limit=1")
    return page["jobs"][0]["id"] if page["jobs"] else None


@pytest.mark.parametrize(
    ("provider", "extra", "field"),
    [
        ("wavespeed-pro", {"target_index": 0}, "target_index"),
        (
            "wavespeed-akool",
            {"faces": [{"source_image": data_uri(FIXTURES / "source.jpg"), "target_face": 0}]},
            "faces",
        ),
        (
            "akool",
            {"faces": [{"source_image": data_uri(FIXTURES / "source.jpg"), "target_face": i} for i in range(9)]},
            "faces",
        ),
    ],
)
def test_given_a_request_its_provider_cannot_serve_when_submitted_then_422_naming_the_capability_and_no_job(
    provider_stack, provider, extra, field
) -> None:
    before = newest_job(provider_stack)
    body = {
        "provider": provider,
        "source_image": data_uri(FIXTURES / "source.jpg"),
        "target_image": data_uri(FIXTURES / "target.jpg"),
        **extra,
    }

    status, _, payload = provider_stack.client().request("POST", "/v1/jobs", body)

    assert status == 422, payload
    assert (payload["error"]["code"], payload["error"]["field"]) == ("unsupported_by_provider", field)
    assert provider in payload["error"]["message"] and "engine" in payload["error"]["message"]  # who can
    assert newest_job(provider_stack) == before


def test_given_a_batch_with_a_job_its_provider_cannot_serve_when_submitted_then_that_job_is_named_and_none_start(
    provider_stack,
) -> None:
    good = {"source_image": data_uri(FIXTURES / "source.jpg"), "target_image": data_uri(FIXTURES / "target.jpg")}
    before = newest_job(provider_stack)

    status, _, payload = provider_stack.client().request(
        "POST", "/v1/batches", {"jobs": [good, {**good, "provider": "wavespeed-pro", "target_index": 1}]}
    )

    assert status == 400, payload
    assert [e["path"] for e in payload["error"]["errors"]] == ["jobs[1].target_index"]
    assert "target_index" in payload["error"]["errors"][0]["message"]
    assert newest_job(provider_stack) == before


def test_given_the_wavespeed_drop_in_on_a_provider_without_target_index_when_asked_one_then_422_in_its_envelope(
    provider_stack,
) -> None:
    api = provider_stack.client(api_key=None)
    body = {
        "image": data_uri(FIXTURES / "target.jpg"),
        "face_image": data_uri(FIXTURES / "source.jpg"),
        "target_index": 1,
    }

    status, _, payload = api.request(
        "POST",
        "/api/v3/wavespeed-ai/image-face-swap",
        body,
        headers={"Authorization": f"Bearer {provider_stack.api_key}"},
    )

    assert status == 422, payload
    assert payload["code"] == 422 and payload["data"] is None
    assert "target_index" in payload["message"]


def test_given_auto_and_a_face_index_when_akool_is_out_of_quota_then_the_chain_skips_wavespeed_and_the_engine_swaps(
    provider_stack, sims
) -> None:
    sims.akool.set_faults(["quota"])
    api = provider_stack.client()
    accepted = api.submit(
        {
            "provider": "auto",
            "source_image": data_uri(FIXTURES / "source.jpg"),
            "target_image": data_uri(FIXTURES / "target.jpg"),
            "target_index": 0,
        }
    )
    job = api.wait(accepted["id"], timeout=120)

    assert job["status"] == "completed", job
    assert job["provider"] == "engine"  # wavespeed-pro and wavespeed-akool take no target_index
    assert settled_events(provider_stack, job["id"]) == ["Swap Job Completed"]
