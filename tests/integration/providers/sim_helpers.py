"""Constants and helpers shared by the provider integration tests."""

from __future__ import annotations

import time

from swapflow.providers.base import Provider, ProviderResult, ProviderState
from swapflow.providers.exceptions import ProviderBusyError

AKOOL_KEY = "akool-test-key"
CLIENT_ID = "testclient000001"  # 16 bytes: the AES IV
CLIENT_SECRET = "testsecret000001testsecret000001"
WAVESPEED_KEY = "ws-test-key"
WEBHOOK_SECRET = "whsec_dGVzdC13ZWJob29rLXNlY3JldA"
PROCESSING_SECONDS = 0.3


def poll_until_done(provider: Provider, job_id: str, timeout: float = 15.0) -> tuple[ProviderResult, int]:
    """Poll fast (tests ignore the >= 2 s hint) until a terminal state; returns it and the poll count."""
    deadline = time.monotonic() + timeout
    polls = 0
    while time.monotonic() < deadline:
        polls += 1
        try:
            result = provider.poll(job_id)
        except ProviderBusyError:
            time.sleep(0.05)
            continue
        if result.state is not ProviderState.RUNNING:
            return result, polls
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} still running after {timeout} s")


class MemoryReplayGuard:
    def __init__(self) -> None:
        self.seen: set[str] = set()

    def first_time(self, key: str, ttl_seconds: int) -> bool:
        if key in self.seen:
            return False
        self.seen.add(key)
        return True
