"""Provider webhook deliveries seen before (the ReplayGuard of providers/base.py), in the jobs table."""

from __future__ import annotations

import time
from typing import Any

from .table import put_if_absent


class DynamoReplayGuard:
    """Remembers webhook delivery ids (nonces) for the replay window: a second delivery is refused."""

    def __init__(self, table: Any, provider: str) -> None:
        self.table = table
        self.provider = provider

    def first_time(self, key: str, ttl_seconds: int) -> bool:
        seen = {"pk": f"SEEN#{self.provider}#{key}", "sk": "SEEN", "ttl": int(time.time()) + ttl_seconds}
        return put_if_absent(self.table, seen)
