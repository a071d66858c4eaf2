"""Who is calling: the API key names the tenant, and each tenant gets a per-second request budget."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping

from .exceptions import TenantThrottledError, UnauthorizedError
from .ports import ApiKeys, RateLimiter


def api_key_from(headers: Mapping[str, str] | None, *, prefer_bearer: bool = False) -> str:
    """The key from `x-api-key` or `Authorization: Bearer <key>` (header names in any case).

    `prefer_bearer`: when both are sent, Bearer wins (Akool's documented rule for its surface).
    """
    lowered = {k.lower(): v for k, v in (headers or {}).items()}
    header = (lowered.get("x-api-key") or "").strip()
    auth = (lowered.get("authorization") or "").strip()
    bearer = auth[7:].strip() if auth.lower().startswith("bearer ") else ""
    return (bearer or header) if prefer_bearer else (header or bearer)


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
        tenant = self.keys.tenant_for(api_key) if api_key else None
        if not tenant:
            raise UnauthorizedError()
        if throttle and self.rps > 0 and not self.limiter.admit(tenant, self.rps, self.clock()):
            raise TenantThrottledError(tenant, self.rps, retry_after=1)  # the next window opens within 1 s
        return tenant
