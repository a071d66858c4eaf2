"""Which providers a job may use, and how its workflow watches it (the poll plan).

Both are read at intake (a provider without credentials is refused at once; the workflow starts with
the plan's wait) and by every Run pass (the `auto` chain; the deadline that ends the poll loop).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from ..faces import SwapOptions
from ..providers.base import Provider
from ..providers.exceptions import ProviderUnavailableError
from ..providers.registry import AUTO, internal_callback, refusal
from ..settings import Settings
from .models import Job

ProviderFactory = Callable[[str], Provider]

# `provider: "auto"` (AUTO, providers/registry.py) follows settings.auto_providers, moving on when a
# provider is out of quota, refuses our credentials, or stays busy.
FALLBACK_CODES = frozenset({"provider_quota", "provider_auth"})


class ProviderChain:
    """The providers a job names, resolved: one, or the `auto` fallback chain in order."""

    def __init__(self, providers: ProviderFactory, auto: Sequence[str]) -> None:
        self.get = providers
        self.auto = tuple(auto)

    def available(self, name: str, asked: SwapOptions[Any] | None = None) -> list[str]:
        """The providers a job on `name` may use, in order; refused (4xx) if none is configured. `auto`
        skips the providers that cannot serve `asked` (the job's faces and options)."""
        names = list(self.auto) if name == AUTO else [name]
        if name == AUTO and asked is not None:
            names = [n for n in names if refusal(n, asked) is None]
        available: list[str] = []
        missing: ProviderUnavailableError | None = None
        for candidate in names:
            try:
                self.get(candidate)
            except ProviderUnavailableError as exc:
                missing = missing or exc
                continue
            available.append(candidate)
        if not available:
            raise missing or ProviderUnavailableError(name, "SWAPFLOW_AUTO_PROVIDERS")
        return available


@dataclass(frozen=True)
class PollPlan:
    """How the workflow watches one job (infra/constructs/workflow.py runs it).

    `wait`: how long each Run pass waits for the job's result before the next pass looks again: long
    when something calls back (the engine, providers given our webhook URL), so that the callback, not
    polling, ends the job; the poll interval when nothing will. The state machine grows the gap between
    passes (x1.5 up to 30 s, ProviderBusyError x2 up to 60 s), never past `deadline`: the first pass
    after it ends the job `provider_timeout`. The wait never reaches past the deadline either.
    """

    deadline: float
    wait: int
    callback: bool

    @classmethod
    def of(cls, job: Job, settings: Settings, *, public_url: str, now: float) -> PollPlan:
        callback = settings.engine_callback if internal_callback(job.provider) else bool(public_url)
        # The provider's time counts from the hand-over: a job not handed over yet is about to be (a batch
        # job whose turn came long after its batch was accepted must not start past its deadline).
        deadline = (job.submitted_at or now) + settings.job_deadline_seconds
        if job.spec.deadline_seconds is not None:  # the job's own Cancel-After, if sooner
            deadline = min(deadline, job.created_at + job.spec.deadline_seconds)
        wait = settings.callback_wait_seconds if callback else settings.poll_initial_seconds
        return cls(deadline, max(1, min(round(wait), math.ceil(deadline - now))), callback)

    def expired(self, now: float) -> bool:
        return now >= self.deadline

    def workflow_input(self, job_id: str) -> dict[str, Any]:
        return {"job_id": job_id, "wait": self.wait}
