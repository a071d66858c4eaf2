"""Helpers for the local stack tests: the embedded AWS as the tests start it, and polling."""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from tests.integration.local import records

REGION = "us-east-1"


@contextlib.contextmanager
def embedded_aws(records_dir: Path, *, time_scale: float = 1.0, **env: str) -> Iterator[Any]:
    """``EmbeddedAws`` as the local stack starts it, with fake credentials, the handlers' records
    directory and ``env`` in the environment the execution environments inherit; all undone after."""
    from infra.local import patches
    from infra.local.embedded import EmbeddedAws, fake_credentials
    from infra.local.patches import lambda_runtime, time_scaling

    saved = dict(os.environ)
    previous_scale = time_scaling.time_scale()
    fake_credentials(REGION)
    os.environ.update({records.ENV: str(records_dir), **env})
    aws = EmbeddedAws(time_scale=time_scale)
    try:
        aws.start()
        yield aws
        lambda_runtime.wait_async_idle(10)
    finally:
        aws.stop()
        patches.apply_all(time_scale=previous_scale)
        os.environ.clear()
        os.environ.update(saved)


def wait_for(predicate: Callable[[], Any], timeout: float = 10.0, interval: float = 0.02) -> Any:
    """Poll ``predicate`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        time.sleep(interval)


def wait_execution(sfn: Any, arn: str, timeout: float = 15.0) -> dict[str, Any]:
    """Describe the execution once it has left RUNNING."""

    def done() -> dict[str, Any] | None:
        desc: dict[str, Any] = sfn.describe_execution(executionArn=arn)
        return desc if desc["status"] != "RUNNING" else None

    result: dict[str, Any] = wait_for(done, timeout, 0.05)
    return result
