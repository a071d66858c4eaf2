"""A stand-in for handlers/batch_job.py in tests/integration/local/test_batch_runner.py (imported by name).

It runs in the local Lambda runtime's environments, so it records each job's start and end in
``records`` (one file, appended in the order things happened) for the test to count overlaps.
"""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import boto3

from tests.integration.local import records


def run_job(event: dict[str, Any], context: Any) -> None:
    """Stands in for handlers/batch_job.py: the 'job' ends 0.2 s later and its slot is released."""
    if event["job_id"] == "boom":
        raise RuntimeError("the job could not be created")
    records.record("jobs", job_id=event["job_id"], phase="start")

    def finish() -> None:  # the engine, elsewhere, ends the job later and hands the token back
        time.sleep(0.2)
        records.record("jobs", job_id=event["job_id"], phase="end")
        sfn = boto3.client("stepfunctions", region_name="us-east-1")
        sfn.send_task_success(taskToken=event["token"], output=json.dumps({"job_id": event["job_id"]}))

    threading.Thread(target=finish, daemon=True).start()
