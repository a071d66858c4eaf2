"""Who is calling: the API key names the tenant, and each tenant gets a per-second request budget."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol, TypeVar

from .exceptions import DomainError, TenantThrottledError, UnauthorizedError
from .ports import ApiKeys, RateLimiter

WINDOW_SECONDS = 1


class _Owned(Protocol):
    @property
    def tenant(self) -> str: ...


Owned = TypeVar("Owned", bound=_Owned)


def owned_by(tenant: str, record: Owned, not_found: DomainError) -> Owned:
    """`record` (a job, a batch) if `tenant` owns it; else `not_found` is raised: a tenant only ever sees
    its own records, and another tenant's id is simply not found."""
    if record.tenant != tenant:
        raise not_found
    return record


def api_key_from(headers: Mapping[str, str] | None, *, prefer_bearer: bool = False) -> str:
    """The key from `x-api-key` or `Authorization: Bearer <key>` (header names in any case).

    `prefer_bearer`: when both are sent, Bearer wins (Akool's documented rule for its surface).
    """
    lowered = {k.lower(): v for k, v in (headers or {}).items()}
    header = (lowered.get("x-api-key") or "").strip()
    auth = (lowered.get("authorization") or "").strip()
    bearer = auth[7:].strip() if auth.lower().startswith("bearer ") else ""
    return (bearer or header) if prefer_bearer else (header or bearer)


@dataclass(frozen=True)
class Admission:
    """A request let in: whose it is and what is left of the tenant's budget (the RateLimit headers)."""

    tenant: str
    limit: int  # requests per window; 0: no limit
    remaining: int
    reset_seconds: int = WINDOW_SECONDS  # until the current window ends
    window_seconds: int = WINDOW_SECONDS


class Access:
    """`admit(key)` -> tenant, or UnauthorizedError / TenantThrottledError (fixed one-second windows)."""

    def __init__(
        self, keys: ApiKeys, limiter: RateLimiter, *, rps: int, clock: Callable[[], float] = time.time
    ) -> None:
        self.keys = keys
        self.limiter = limiter
        self.rps = rps
        self.clock = clock

    def admit(self, api_key: str, *, throttle: bool = True) -> str:
        return self.admission(api_key, throttle=throttle).tenant

    def admission(self, api_key: str, *, throttle: bool = True) -> Admission:
        tenant = self.keys.tenant_for(api_key) if api_key else None
        if not tenant:
            raise UnauthorizedError()
        if not throttle or self.rps <= 0:
            return Admission(tenant, 0, 0)
        used = self.limiter.admit(tenant, self.rps, self.clock())
        if used is None:
            raise TenantThrottledError(tenant, self.rps, retry_after=WINDOW_SECONDS)  # the next window opens
        return Admission(tenant, self.rps, max(self.rps - used, 0))
