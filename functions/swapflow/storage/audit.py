"""The audit trail in the jobs table: `AUDIT#<tenant>` / `<ISO time>#<ulid>`, one item per entry.

Entries hold ids, key ids, hashes and options, never images, metadata or URLs, so they outlive the
jobs they describe (ttl AUDIT_DAYS) and a deletion is itself recorded. `swapflow audit` reads them.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from ..jobs.models import iso_time, new_job_id
from .table import read_all

AUDIT_DAYS = 400


class DynamoAuditLog:
    def __init__(self, table: Any, *, days: int = AUDIT_DAYS) -> None:
        self.table = table
        self.days = days

    def record(self, tenant: str, entry: dict[str, Any], at: float) -> None:
        self.table.put_item(
            Item={
                "pk": f"AUDIT#{tenant}",
                "sk": f"{iso_time(at)}#{new_job_id(at)}",
                "at": Decimal(str(round(at, 3))),
                "entry": json.dumps(entry, separators=(",", ":")),
                "ttl": int(at) + self.days * 86400,
            }
        )

    def entries(self, tenant: str, since: float, until: float | None = None) -> list[dict[str, Any]]:
        """Oldest first: {at, tenant, ...entry}."""
        upper = iso_time(until) + "~" if until is not None else "~"  # "~" sorts after every ISO time
        query: dict[str, Any] = {
            "KeyConditionExpression": "pk = :p AND sk BETWEEN :from AND :to",
            "ExpressionAttributeValues": {":p": f"AUDIT#{tenant}", ":from": iso_time(since), ":to": upper},
        }
        return [
            {"at": item["sk"].split("#", 1)[0], "tenant": tenant, **json.loads(item["entry"])}
            for item in read_all(self.table.query, query)
        ]
