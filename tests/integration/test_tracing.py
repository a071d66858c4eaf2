"""In Lambda, a handler's invocation and each provider call it makes are X-Ray subsegments of one trace.

A process set up as Lambda sets one up (trace header, LAMBDA_TASK_ROOT) sends its segments to an X-Ray
daemon address: here a UDP socket on loopback that this test reads, as the daemon would.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

FUNCTIONS = Path(__file__).resolve().parents[2] / "functions"
TRACE_ID = "1-5759e988-bd862e3fe1be46a994272793"
SCRIPT = """
from swapflow.observability import ObservedProvider, tracer
from swapflow.providers.base import Submission

class Provider:
    name = "akool"
    def submit(self, request):
        return Submission("p1")

@tracer.capture_lambda_handler
def handler(event, context):
    return ObservedProvider(Provider()).submit(None).provider_job_id

class Context:
    function_name, memory_limit_in_mb, invoked_function_arn, aws_request_id = "fn", 128, "arn", "r1"

print(handler({}, Context()))
"""


def test_given_lambda_when_a_handler_calls_a_provider_then_both_are_subsegments_of_the_invocations_trace() -> None:
    daemon = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    daemon.bind(("127.0.0.1", 0))
    daemon.settimeout(20)
    env = {
        **os.environ,
        "PYTHONPATH": str(FUNCTIONS),
        "LAMBDA_TASK_ROOT": "/var/task",
        "AWS_LAMBDA_FUNCTION_NAME": "fn",
        "AWS_DEFAULT_REGION": "us-east-1",
        "_X_AMZN_TRACE_ID": f"Root={TRACE_ID};Parent=53995c3f42cd8ad8;Sampled=1",
        "AWS_XRAY_DAEMON_ADDRESS": f"127.0.0.1:{daemon.getsockname()[1]}",
    }
    env.pop("SWAPFLOW_LOCAL", None)
    done = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "p1"

    segments = []
    try:
        while len(segments) < 2:
            _header, _, body = daemon.recv(65536).decode().partition("\n")
            segments.append(json.loads(body))
    finally:
        daemon.close()
    by_name = {s["name"]: s for s in segments}
    invocation = by_name["## handler"]
    (call,) = [s for name, s in by_name.items() if name.endswith("ObservedProvider.submit")]
    assert {s["trace_id"] for s in segments} == {TRACE_ID}
    assert call["parent_id"] == invocation["id"] and call["annotations"]["provider"] == "akool"
