"""Polling helpers for the local stack tests."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any


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
