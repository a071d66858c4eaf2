"""Idempotency-Key records: `IDEM#<tenant>#<key>` holds the job id and the request's fingerprint for 24 h.

The reservation is a conditional put, so of two concurrent requests with one key exactly one wins; the
other reads the winner's record. DynamoDB deletes expired items lazily, so expiry is also checked here.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError

from .table import conditional_failed, write_if

TTL_SECONDS = 24 * 3600


class DynamoIdempotencyRecords:
    def __init__(self, table: Any, *, ttl_seconds: int = TTL_SECONDS, clock: Callable[[], float] = time.time) -> None:
        self.table = table
        self.ttl_seconds = ttl_seconds
        self.clock = clock

    @staticmethod
    def _key(tenant: str, key: str) -> dict[str, str]:
        return {"pk": f"IDEM#{tenant}#{key}", "sk": "IDEM"}

    def held(self, tenant: str, key: str) -> tuple[str, str] | None:
        item = self.table.get_item(Key=self._key(tenant, key), ConsistentRead=True).get("Item")
        if not item or int(item["ttl"]) <= self.clock():
            return None
        return str(item["job_id"]), str(item["fingerprint"])

    def reserve(self, tenant: str, key: str, body_hash: str, job_id: str) -> tuple[str, str]:
        now = int(self.clock())
        for _ in range(3):  # the holder may expire between our put and our read: try again
            try:
                self.table.put_item(
                    Item={
                        **self._key(tenant, key),
                        "job_id": job_id,
                        "fingerprint": body_hash,
                        "created_at": now,
                        "ttl": now + self.ttl_seconds,
                    },
                    ConditionExpression="attribute_not_exists(pk) OR #ttl <= :now",
                    ExpressionAttributeNames={"#ttl": "ttl"},
                    ExpressionAttributeValues={":now": now},
                )
            except ClientError as exc:
                if not conditional_failed(exc):
                    raise
                holder = self.held(tenant, key)
                if holder:
                    return holder
                continue
            return job_id, body_hash
        raise RuntimeError(f"could not reserve Idempotency-Key {key!r}")

    def release(self, tenant: str, key: str, job_id: str) -> None:
        write_if(
            self.table.delete_item,
            Key=self._key(tenant, key),
            ConditionExpression="job_id = :j",
            ExpressionAttributeValues={":j": job_id},
        )
