"""Many users at once: 3 tenants x 8 clients for about a minute on one local stack, with provider faults
and a killed execution environment during the load.

What a user of the stack must be able to rely on, checked on everything the clients saw and made: no
5xx, no 4xx for a valid request, every answer and every stored job carries its own sender's request,
repeated Idempotency-Keys and events give the same job, and every accepted job reaches exactly one
terminal state with exactly one terminal event. Bounded in time; loopback only.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from e2e_stack import RunningStack, running_stack
from load_mix import TERMINAL, LoadMix
from swapflow.sim.akool import AkoolSimulator
from swapflow.sim.wavespeed import WaveSpeedSimulator
from test_native_api import new_tenant
from test_providers import AKOOL, WAVESPEED

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("load")]

SECONDS = float(os.environ.get("SWAPFLOW_LOAD_SECONDS", "60"))
FAULT_CYCLE = ("burst_5xx", "rate_limit", "lost_webhook", "duplicate_webhook", "early_webhook")


@pytest.fixture(scope="module")
def sims() -> Iterator[tuple[AkoolSimulator, WaveSpeedSimulator]]:
    akool = AkoolSimulator(**AKOOL, processing_seconds=0.3)
    wavespeed = WaveSpeedSimulator(**WAVESPEED, processing_seconds=0.3)
    akool.start()
    wavespeed.start()
    yield akool, wavespeed
    akool.stop()
    wavespeed.stop()


@pytest.fixture(scope="module")
def load_stack(sims: Any, template_path: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    akool, wavespeed = sims
    with running_stack(
        template_path,
        tmp_path_factory.mktemp("load") / "up.log",
        SWAPFLOW_AKOOL_BASE_URL=akool.base_url,
        SWAPFLOW_AKOOL_API_KEY=AKOOL["api_key"],
        SWAPFLOW_AKOOL_CLIENT_ID=AKOOL["client_id"],
        SWAPFLOW_AKOOL_CLIENT_SECRET=AKOOL["client_secret"],
        SWAPFLOW_WAVESPEED_BASE_URL=wavespeed.base_url,
        SWAPFLOW_WAVESPEED_API_KEY=WAVESPEED["api_key"],
        SWAPFLOW_WAVESPEED_WEBHOOK_SECRET=WAVESPEED["webhook_secret"],
        SWAPFLOW_TENANT_RPS="0",  # many clients of one tenant: the throttle has its own test
        SWAPFLOW_TIME_SCALE="0.1",  # a killed engine invocation is retried in seconds, not a minute
        SWAPFLOW_POLL_INITIAL_SECONDS="5",
        # the simulators here run at a high tier: the stack's global limits (own e2e test) stay out of the way
        SWAPFLOW_PROVIDER_CONCURRENCY="*=16",
        SWAPFLOW_PROVIDER_RATE_PER_MINUTE="*=0",
        SWAPFLOW_CALLBACK_WAIT_SECONDS="3",  # a lost callback costs seconds, not half a minute
    ) as running:
        yield running


def lambda_pids(module: str) -> list[int]:
    """The stack's execution environments of one handler module (they name themselves L:<module>)."""
    found = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                if (proc / "comm").read_text().strip() == f"L:{module}"[:15]:
                    found.append(int(proc.name))
            except OSError:
                continue
    return found


@pytest.mark.timeout(900)  # a minute of load, then every job is waited for until it ends
def test_GIVEN_3_tenants_x_8_clients_on_every_entry_point_WHEN_a_minute_passes_THEN_nothing_mixes_and_jobs_end_once(
    load_stack: RunningStack, sims: Any
) -> None:
    tenants = {"local": load_stack.api_key}
    for _ in range(2):
        key = new_tenant(load_stack)
        tenants[f"tenant-of-{key[:8]}"] = key
    mix = LoadMix(
        load_stack.api_url,
        load_stack.aws_endpoint,
        load_stack.summary["input_bucket"],
        tenants,
        providers=("engine", "engine", "akool", "wavespeed-pro", "wavespeed-akool"),
        trigger_tenant="local",
    )
    killed: list[int] = []

    def during(elapsed: float) -> None:
        fault = FAULT_CYCLE[int(elapsed // (SECONDS / len(FAULT_CYCLE))) % len(FAULT_CYCLE)]
        for sim in sims:
            if sim.faults != frozenset({fault}):
                sim.set_faults([fault])
        # twice during the run, an engine environment dies mid-invocation (SIGKILL)
        if len(killed) < 2 and elapsed > SECONDS * (len(killed) + 1) / 3:
            pids = lambda_pids("engine_worker")
            if pids:
                os.kill(pids[0], signal.SIGKILL)
                killed.append(pids[0])

    mix.run(SECONDS, clients_per_tenant=8, during=during)
    for sim in sims:
        sim.set_faults([])

    # ---- what came back while the load ran
    ledger = mix.ledger
    served = sum(ledger.statuses.values())
    exercised = {route for route, _ in ledger.statuses}
    assert len(exercised) == 11 and served >= 3 * 8, (ledger.statuses, ledger.problems[:10])
    assert not ledger.problems, "\n".join(ledger.problems[:30])
    assert not [k for k in ledger.statuses if k[1] >= 500], ledger.statuses
    assert killed, "no engine environment was running to be killed"

    # ---- every job ends exactly once, with exactly one terminal event
    owner = {job_id: sent.tenant for job_id, sent in ledger.jobs.items()}
    manifest_jobs = mix.manifest_jobs(timeout=180)
    owner.update({job_id: "local" for job_id in manifest_jobs})
    views = mix.wait_terminal(sorted(owner), tenants, owner, timeout=300)
    assert not ledger.problems, "\n".join(ledger.problems[:30])
    for job_id, sent in ledger.jobs.items():
        stored = views[job_id]
        if sent.route == "POST /v1/jobs":
            assert (stored.get("metadata") or {}).get("nonce") == sent.nonce, (job_id, stored, sent)
    deadline = time.monotonic() + 60
    while True:
        events = mix.terminal_events()
        missing = [j for j in owner if len(events.get(j, [])) < 1]
        if not missing or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert not missing, f"{len(missing)} jobs without a terminal event, e.g. {missing[:5]}"
    twice = {j: [e["detail-type"] for e in events[j]] for j in owner if len(events[j]) != 1}
    assert not twice, f"jobs with more than one terminal event: {twice}"
    for job_id, view in views.items():
        (event,) = events[job_id]
        assert event["detail"]["job"]["status"] == view["status"] in TERMINAL

    # ---- events sent twice made one job each, which carries its sender's request
    by_correlation: dict[str, list[str]] = {}
    for job_id, found in events.items():
        correlation_id = found[0]["detail"].get("correlation_id") or found[0]["detail"]["job"].get("correlation_id")
        if correlation_id in ledger.correlations:
            by_correlation.setdefault(correlation_id, []).append(job_id)
            assert found[0]["detail"]["metadata"]["nonce"] == ledger.correlations[correlation_id]
    assert set(by_correlation) == set(ledger.correlations), "some Swap Requested events made no job"
    assert all(len(ids) == 1 for ids in by_correlation.values()), by_correlation

    print("\nload:", served, "answers;", len(owner), "jobs;", len(ledger.correlations), "events; killed", killed)
    for route, row in mix.latency_table(SECONDS).items():
        print(f"  {route:48} {row}")
