"""Provider webhook deliveries seen before (the ReplayGuard of providers/base.py), in the jobs table."""

from __future__ import annotations

import time
from typing import Any

from botocore.exceptions import ClientError

from .dynamo import _conditional_failed


class DynamoReplayGuard:
    """Remembers webhook delivery ids (nonces) for the replay window: a second delivery is refused."""

    def __init__(self, table: Any, provider: str) -> None:
        self.table = table
        self.provider = provider

    def first_time(self, key: str, ttl_seconds: int) -> bool:
        try:
            self.table.put_item(
                Item={
                    "pk": f"SEEN#{self.provider}#{key}",
                    "sk": "SEEN",
                    "ttl": int(time.time()) + ttl_seconds,
                },
                ConditionExpression="attribute_not_exists(pk)",
            )
        except ClientError as exc:
            if _conditional_failed(exc):
                return False
            raise
        return True
