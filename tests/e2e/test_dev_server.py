"""`make up` as a developer's server: its data survives a restart, in-flight jobs end clearly, and a
taken port or data directory is a one-line error, not a hang or a traceback."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
from e2e_stack import ROOT, RunningStack, running_stack
from test_native_api import BODY, new_tenant

from infra.local.client import download

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]


def test_GIVEN_a_stack_with_jobs_keys_and_objects_WHEN_restarted_twice_THEN_kept_and_in_flight_jobs_end_interrupted(
    template_path: str, tmp_path: Path
) -> None:
    data = {"SWAPFLOW_DATA_DIR": str(tmp_path / "data")}
    with running_stack(template_path, tmp_path / "one.log", **data) as first:
        api = first.client()
        done = api.wait(api.submit(BODY)["id"])
        tenant_key = new_tenant(first)
        secret = first.summary["webhook_secret"]
    assert done["status"] == "completed"

    # the engine now takes a minute: the jobs are still running when this stack stops
    with running_stack(template_path, tmp_path / "two.log", SWAPFLOW_ENGINE_DELAY_SECONDS="60", **data) as second:
        kept = second.client().request("GET", f"/v1/jobs/{done['id']}")[2]
        assert kept["status"] == "completed" and kept["metadata"] == done["metadata"]
        assert download(kept["outputs"][0]["url"])[:2] == b"\xff\xd8"  # the archived JPEG is still there
        assert second.client(tenant_key).request("GET", "/v1/jobs")[0] == 200
        assert second.summary["webhook_secret"] == secret
        running = [second.client().submit(BODY)["id"] for _ in range(3)]
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            states = {second.client().request("GET", f"/v1/jobs/{j}")[2]["status"] for j in running}
            if states == {"processing"}:
                break
            time.sleep(0.5)

    with running_stack(template_path, tmp_path / "three.log", **data) as third:
        assert "3 job(s) in flight at the last stop ended failed/interrupted" in third.log.read_text()
        for job_id in running:
            job = third.client().request("GET", f"/v1/jobs/{job_id}")[2]
            assert (job["status"], job["error"]["code"]) == ("failed", "interrupted"), job
            events = wait_for_one_event(third, job_id)
            assert [e["detail-type"] for e in events] == ["Swap Job Failed"]


def wait_for_one_event(stack: RunningStack, job_id: str) -> list[dict]:
    deadline = time.monotonic() + 20
    while not stack.events_for(job_id) and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(0.5)  # a second (wrong) event would arrive within this window
    return stack.events_for(job_id)


def up(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "infra.local", "up", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
        env=env,
    )


def test_GIVEN_a_serving_stack_WHEN_another_takes_its_port_or_data_THEN_one_line_error_and_exit_2(
    stack: RunningStack, template_path: str, tmp_path: Path
) -> None:
    import os

    env = {**os.environ, "SWAPFLOW_TEMPLATE": template_path, "SWAPFLOW_DATA_DIR": str(tmp_path / "d")}
    api_port = stack.api_url.rsplit(":", 1)[1]
    aws_port = stack.aws_endpoint.rsplit(":", 1)[1]

    taken_api = up("--port", api_port, "--aws-port", "0", env=env)
    taken_aws = up("--port", "0", "--aws-port", aws_port, env=env)

    for done, variable, port in ((taken_api, "SWAPFLOW_PORT", api_port), (taken_aws, "SWAPFLOW_AWS_PORT", aws_port)):
        assert done.returncode == 2, done.stderr[-2000:]
        assert f"swapflow: port {port} is in use: set {variable} to a free port" in done.stderr
        assert "Traceback" not in done.stderr + done.stdout

    with running_stack(template_path, tmp_path / "holder.log", SWAPFLOW_DATA_DIR=str(tmp_path / "busy")):
        busy = up("--port", "0", "--aws-port", "0", env={**env, "SWAPFLOW_DATA_DIR": str(tmp_path / "busy")})
    assert busy.returncode == 2 and "another local stack" in busy.stderr and "SWAPFLOW_DATA_DIR" in busy.stderr
    assert "Traceback" not in busy.stderr
