"""Provider limits that hold globally: at most N jobs of a provider running and M started a minute.

Every path that hands a job to a provider (single jobs, batches, manifests, drop-in surfaces, events)
goes through the job workflow's Run step, and that step acquires a *lease* here first. A lease is held
until the job reaches a terminal state (`release`, called when its one terminal event is announced)
and expires on its own after the job's deadline plus a margin, so a crashed finisher cannot leak a
slot for long. Starts are a sliding log of the last M start times: a new start is admitted only when
fewer than M happened in the last 60 s, which is what a provider counting "tasks a minute" sees (a
token bucket would allow M + 1 in some 60 s windows). A start is logged when its lease is taken and
stamped again when the submit has returned (`submitted`): the provider received the request between
the two, so the later time never lets the window close before the provider's does, however slow the
request was.

There is no waiting here: a refused job's Run step fails with `ProviderSlotBusyError` and the state
machine retries it with backoff (no Lambda sleeps). The state of one provider is one small record
(`LeaseState`), moved by compare-and-set on its version (`LeaseStore`), so two Lambdas racing for the
last slot cannot both win.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Protocol

RATE_WINDOW_SECONDS = 60.0
# Added to the window: clocks of the provider and of Lambda differ a little.
RATE_WINDOW_MARGIN_SECONDS = 1.0
# Compare-and-set attempts per acquire before the caller is told to come back (heavy contention).
MAX_CAS_ATTEMPTS = 8


class ProviderSlotBusyError(Exception):
    """No slot of `provider` is free now: the workflow retries the Run step later (the class name is the
    Step Functions error the state machine's Retry matches)."""

    def __init__(self, provider: str, retry_after: float | None = None) -> None:
        super().__init__(f"provider '{provider}' is at its limit; the job waits for a slot")
        self.provider = provider
        self.retry_after = retry_after


@dataclass(frozen=True)
class LeaseState:
    """One provider's leases (job id -> expiry) and recent starts (job id, time), oldest first."""

    leases: dict[str, float] = field(default_factory=dict)
    starts: tuple[tuple[str, float], ...] = ()

    def live(self, now: float, window: float) -> LeaseState:
        return LeaseState(
            {job: exp for job, exp in self.leases.items() if exp > now},
            tuple(start for start in self.starts if start[1] > now - window),
        )

    def restamped(self, job_id: str, at: float) -> LeaseState | None:
        """The job's latest start moved to `at` (None if the log has no start of it: nothing to move)."""
        for i in range(len(self.starts) - 1, -1, -1):
            if self.starts[i][0] == job_id:
                starts = (*self.starts[:i], *self.starts[i + 1 :], (job_id, max(at, self.starts[i][1])))
                return LeaseState(self.leases, starts)
        return None


class LeaseStore(Protocol):
    def read(self, provider: str) -> tuple[LeaseState, int]:
        """The provider's state and its version (0: never written)."""

    def swap(self, provider: str, state: LeaseState, version: int) -> tuple[LeaseState, int] | None:
        """Store `state` as version + 1 if the stored version is still `version`: None when stored; else
        the state and version stored now, which the next attempt starts from (no read between)."""

    def release(self, provider: str, job_id: str) -> None:
        """Drop the job's lease (and move the version, so a racing stale write fails)."""


@dataclass(frozen=True)
class Limit:
    concurrency: int
    rate_per_minute: int  # 0: no rate limit


def _lookup(table: dict[str, float], provider: str, default: float) -> float:
    return table.get(provider, table.get("*", default))


class ProviderGate:
    """Acquire/release per (provider, job); limits come from the settings (DESIGN 4)."""

    def __init__(
        self,
        store: LeaseStore,
        *,
        concurrency: Iterable[tuple[str, float]],
        rate_per_minute: Iterable[tuple[str, float]],
        lease_seconds: float,
        window_seconds: float = RATE_WINDOW_SECONDS + RATE_WINDOW_MARGIN_SECONDS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.window = window_seconds
        self.concurrency = dict(concurrency)
        self.rate = dict(rate_per_minute)
        self.lease_seconds = lease_seconds
        self.clock = clock

    def limit(self, provider: str) -> Limit:
        return Limit(max(1, int(_lookup(self.concurrency, provider, 1))), max(0, int(_lookup(self.rate, provider, 0))))

    def acquire(self, provider: str, job_id: str) -> None:
        """Take a slot for the job (idempotent: a job holding one keeps it); ProviderSlotBusyError if none."""
        limit = self.limit(provider)
        retry_after: float | None = None
        stored, version = self.store.read(provider)
        for _ in range(MAX_CAS_ATTEMPTS):
            now = self.clock()
            state = stored.live(now, self.window)
            if job_id in state.leases:
                return
            if len(state.leases) >= limit.concurrency:
                raise ProviderSlotBusyError(provider)
            if limit.rate_per_minute and len(state.starts) >= limit.rate_per_minute:
                retry_after = min(t for _, t in state.starts) + self.window - now
                raise ProviderSlotBusyError(provider, retry_after)
            taken = LeaseState(
                {**state.leases, job_id: now + self.lease_seconds},
                (*state.starts, (job_id, now))[-max(limit.rate_per_minute, 1) :] if limit.rate_per_minute else (),
            )
            current = self.store.swap(provider, taken, version)
            if current is None:
                return
            stored, version = current
        raise ProviderSlotBusyError(provider, retry_after)

    def submitted(self, provider: str, job_id: str) -> None:
        """The job's submit returned: its start counts from now (best effort under heavy contention)."""
        if not self.limit(provider).rate_per_minute:
            return  # no start log to move
        stored, version = self.store.read(provider)
        for _ in range(MAX_CAS_ATTEMPTS):
            moved = stored.restamped(job_id, self.clock())
            current = None if moved is None else self.store.swap(provider, moved, version)
            if current is None:
                return
            stored, version = current

    def release(self, provider: str, job_id: str) -> None:
        self.store.release(provider, job_id)

    def held(self, provider: str) -> dict[str, float]:
        """The live leases of a provider (job id -> expiry): for tests and operators."""
        state, _ = self.store.read(provider)
        return state.live(self.clock(), self.window).leases


class ProviderLimits:
    """How many jobs of a batch run at once: its providers' concurrency (settings, DESIGN 4).

    A batch slot is held for a job's whole life, so one batch never has more of a provider's jobs open
    than the provider runs at once; the limits across batches and single jobs (running and started a
    minute) are enforced by the job workflow's provider leases (jobs/limits.py). A batch that mixes
    providers runs under the strictest concurrency.
    """

    def __init__(self, concurrency: Iterable[tuple[str, float]]):
        self.concurrency = dict(concurrency)

    def for_providers(self, providers: Iterable[str]) -> int:
        """Max concurrency for a batch on these providers."""
        names = list(providers) or ["*"]
        return max(1, int(min(self.concurrency.get(p, self.concurrency.get("*", 1)) for p in names)))
