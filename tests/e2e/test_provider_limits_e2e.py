"""Global provider limits end to end: batches and single jobs share WaveSpeed's lowest tier.

The simulator enforces the tier (2 tasks running, 2 submitted a minute; 429 otherwise) on a minute
shrunk with the stack's time scale; the stack's provider leases must keep every path under it, so
the simulator never refuses a submit, and every job still ends exactly once.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from e2e_stack import RunningStack, running_stack
from swapflow.sim.wavespeed import WaveSpeedSimulator

from infra.local.client import data_uri

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]

FIXTURES = __import__("pathlib").Path(__file__).resolve().parents[1] / "fixtures" / "images"
WAVESPEED = {"api_key": "ws_tier_key", "webhook_secret": "whsec_dGllci1zZWNyZXQ"}
SCALE = 0.1  # a minute lasts 6 s: nine jobs at 2 a minute take about half a minute
IMAGES = {"source_image": data_uri(FIXTURES / "source.jpg"), "target_image": data_uri(FIXTURES / "target.jpg")}


@pytest.fixture(scope="module")
def tier_sim() -> Iterator[WaveSpeedSimulator]:
    sim = WaveSpeedSimulator(**WAVESPEED, processing_seconds=0.3, tier=(2, 2), minute_seconds=60 * SCALE)
    sim.start()
    yield sim
    sim.stop()


@pytest.fixture(scope="module")
def tier_stack(tier_sim: WaveSpeedSimulator, template_path: str, tmp_path_factory: Any) -> Iterator[RunningStack]:
    with running_stack(
        template_path,
        tmp_path_factory.mktemp("tier") / "up.log",
        SWAPFLOW_WAVESPEED_BASE_URL=tier_sim.base_url,
        SWAPFLOW_WAVESPEED_API_KEY=WAVESPEED["api_key"],
        SWAPFLOW_WAVESPEED_WEBHOOK_SECRET=WAVESPEED["webhook_secret"],
        SWAPFLOW_PROVIDER_CONCURRENCY="wavespeed-pro=2,*=2",
        SWAPFLOW_PROVIDER_RATE_PER_MINUTE="wavespeed-pro=2",
        SWAPFLOW_TIME_SCALE=str(SCALE),
        SWAPFLOW_TENANT_RPS="0",
    ) as running:
        yield running


def wait_terminal(stack: RunningStack, job_id: str, timeout: float = 240) -> dict[str, Any]:
    return stack.client().wait(job_id, timeout=timeout)


def test_GIVEN_two_batches_and_single_jobs_on_the_lowest_tier_WHEN_they_run_THEN_no_429_and_each_ends_once(
    tier_stack: RunningStack, tier_sim: WaveSpeedSimulator
) -> None:
    api = tier_stack.client()
    job = {**IMAGES, "provider": "wavespeed-pro"}
    batches = []
    for n in range(2):
        status, _, batch = api.request("POST", "/v1/batches", {"defaults": job, "jobs": [{"metadata": {"b": n}}] * 3})
        assert status == 202, batch
        batches.append(batch["id"])
    with ThreadPoolExecutor(3) as pool:  # a stream of single jobs alongside
        singles = list(pool.map(lambda i: api.submit({**job, "metadata": {"single": i}})["id"], range(3)))
        time.sleep(0.1)

    batch_jobs = []
    for batch_id in batches:
        deadline = time.monotonic() + 240
        while (view := api.request("GET", f"/v1/batches/{batch_id}")[2])["status"] != "completed":
            assert time.monotonic() < deadline, view["counts"]
            time.sleep(0.5)
        assert view["counts"]["completed"] == 3, view["counts"]
        batch_jobs += [j["id"] for j in view["jobs"]]
    ended = [wait_terminal(tier_stack, job_id) for job_id in singles + batch_jobs]

    assert [j["status"] for j in ended] == ["completed"] * 9, [(j["status"], j["error"]) for j in ended]
    assert tier_sim.tier_refusals == 0  # never a 429 from the provider
    assert tier_sim.peak_running <= 2
    time.sleep(1.0)  # a second (wrong) event would arrive within this window
    for job_id in singles + batch_jobs:
        assert [e["detail-type"] for e in tier_stack.events_for(job_id)] == ["Swap Job Completed"]
