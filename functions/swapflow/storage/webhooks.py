"""DynamoDB record of outgoing client webhooks: which delivery execution owns an event.

Item: `WEBHOOK#<EventBridge event id>` / `WEBHOOK` with owner = the delivery execution's ARN, expiring
after the retry schedule. The tenant's signing secret and default URL live on the tenant item (storage/tenants.py).
"""

from __future__ import annotations

import time
from typing import Any

from .table import put_if_absent

CLAIM_PREFIX = "WEBHOOK#"  # the delivery Lambda may write only these items (IAM LeadingKeys condition)
CLAIM_TTL_SECONDS = 5 * 86400  # longer than the whole retry schedule (about 3 days)


class DynamoDeliveryClaims:
    """An event is delivered by one execution: a second one (EventBridge delivers at least once) stops."""

    def __init__(self, table: Any, *, ttl_seconds: int = CLAIM_TTL_SECONDS) -> None:
        self.table = table
        self.ttl_seconds = ttl_seconds

    def claim(self, event_id: str, owner: str) -> bool:
        claim = {"pk": f"{CLAIM_PREFIX}{event_id}", "sk": "WEBHOOK", "owner": owner}
        return put_if_absent(
            self.table,
            {**claim, "ttl": int(time.time()) + self.ttl_seconds},
            ConditionExpression="attribute_not_exists(pk) OR #o = :o",
            ExpressionAttributeNames={"#o": "owner"},
            ExpressionAttributeValues={":o": owner},
        )
