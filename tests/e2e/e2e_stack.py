"""Starting the local stack as a user does (`python -m infra.local up`) and reading what it did."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from infra.local.client import ApiClient  # noqa: E402


@dataclass
class RunningStack:
    api_url: str
    aws_endpoint: str
    api_key: str
    summary: dict[str, Any]
    log: Path

    def client(self, api_key: str | None = "default") -> ApiClient:
        return ApiClient(self.api_url, self.api_key if api_key == "default" else api_key)

    def boto(self, service: str) -> Any:
        import boto3

        return boto3.client(
            service,
            endpoint_url=self.aws_endpoint,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )

    def events_for(self, job_id: str) -> list[dict[str, Any]]:
        logs = self.boto("logs")
        found = []
        for page in logs.get_paginator("filter_log_events").paginate(logGroupName="/aws/events/swapflow"):
            for record in page.get("events", []):
                event = json.loads(record["message"])
                if event.get("detail", {}).get("job", {}).get("id") == job_id:
                    found.append(event)
        return found

    def states_entered(self, job_id: str) -> list[str]:
        sfn = self.boto("stepfunctions")
        arn = self.summary["state_machine"].replace(":stateMachine:", ":execution:") + f":{job_id}"
        history = sfn.get_execution_history(executionArn=arn, maxResults=1000)["events"]
        return [e["stateEnteredEventDetails"]["name"] for e in history if "stateEnteredEventDetails" in e]


def start_stack(template: str, log: Path, **env: str) -> tuple[subprocess.Popen[bytes], RunningStack]:
    proc_env = {
        **os.environ,
        "SWAPFLOW_TEMPLATE": template,
        "SWAPFLOW_API_KEY": "sf_e2e_key",
        "PYTHONUNBUFFERED": "1",
        # the C2PA signing key too stays out of the checkout: beside the stack's log, or in its data dir
        **({} if "SWAPFLOW_DATA_DIR" in env else {"SWAPFLOW_SIGNING_DIR": str(log.parent / "signing")}),
        **env,
    }
    with log.open("wb") as out:
        proc = subprocess.Popen(
            # a stack keeps data only where a test asks for it (SWAPFLOW_DATA_DIR), never in the checkout
            [sys.executable, "-m", "infra.local", "up", "--port", "0", "--aws-port", "0"]
            + ([] if "SWAPFLOW_DATA_DIR" in env else ["--ephemeral"]),
            cwd=ROOT,
            env=proc_env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        for line in log.read_text(errors="replace").splitlines():
            if line.startswith("READY "):
                summary = json.loads(line[6:])
                return proc, RunningStack(summary["api_url"], summary["aws_endpoint"], summary["api_key"], summary, log)
        if proc.poll() is not None:
            break
        time.sleep(0.2)
    proc.kill()
    raise RuntimeError("local stack did not start:\n" + log.read_text(errors="replace")[-4000:])


@contextlib.contextmanager
def running_stack(template: str, log: Path, **env: str) -> Iterator[RunningStack]:
    """A local stack for the duration of the block, stopped (and waited for) afterwards."""
    proc, running = start_stack(template, log, **env)
    try:
        yield running
    finally:
        stop(proc, log)


def stop(proc: subprocess.Popen[bytes], log: Path) -> None:
    """Stop a stack as `kill` does; one that takes over 45 s (it gives itself 20) fails the test with its threads."""
    proc.terminate()
    try:
        proc.wait(timeout=45)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGUSR1)  # the stack dumps its threads' stacks into its log
        time.sleep(2)
        proc.kill()
        proc.wait()
        tail = log.read_text(errors="replace")[-12000:]
        raise AssertionError("the local stack did not stop within 45 s:\n" + tail) from None


@contextlib.contextmanager
def loopback_server(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    """An HTTP server of the test's own on 127.0.0.1 (a webhook receiver, a hostile image host): its base URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
