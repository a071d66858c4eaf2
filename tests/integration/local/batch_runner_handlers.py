"""A stand-in for handlers/batch_job.py in tests/integration/local/test_batch_runner.py (imported by name)."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import boto3

LOCK = threading.Lock()
STATE: dict[str, Any] = {"running": 0, "peak": 0, "seen": []}


def run_job(event: dict[str, Any], context: Any) -> None:
    """Stands in for handlers/batch_job.py: the 'job' ends 0.2 s later and its slot is released."""
    if event["job_id"] == "boom":
        raise RuntimeError("the job could not be created")
    with LOCK:
        STATE["running"] += 1
        STATE["peak"] = max(STATE["peak"], STATE["running"])
        STATE["seen"].append(event["job_id"])

    def finish() -> None:
        time.sleep(0.2)
        with LOCK:
            STATE["running"] -= 1
        sfn = boto3.client("stepfunctions", region_name="us-east-1")
        sfn.send_task_success(taskToken=event["token"], output=json.dumps({"job_id": event["job_id"]}))

    threading.Thread(target=finish, daemon=True).start()
