"""DynamoDB records of outgoing client webhooks: who delivers a message, and the tenant's webhook settings.

Items: delivery claim `WEBHOOK#<webhook-id>` (owner = the delivery execution; expires after the retry
schedule); tenant `TENANT#<tenant>` / `TENANT` with `webhook_secret` (`whsec_...`) and, optionally,
`webhook_url` (the tenant's default receiver).
"""

from __future__ import annotations

import time
from typing import Any

from botocore.exceptions import ClientError

CLAIM_PREFIX = "WEBHOOK#"  # the delivery Lambda may write only these items (IAM LeadingKeys condition)
CLAIM_TTL_SECONDS = 5 * 86400  # longer than the whole retry schedule (about 3 days)


class DynamoDeliveryClaims:
    """A message is delivered by one execution: a second one (EventBridge delivers at least once) stops."""

    def __init__(self, table: Any, *, ttl_seconds: int = CLAIM_TTL_SECONDS) -> None:
        self.table = table
        self.ttl_seconds = ttl_seconds

    def claim(self, message_id: str, owner: str) -> bool:
        try:
            self.table.put_item(
                Item={
                    "pk": f"{CLAIM_PREFIX}{message_id}",
                    "sk": "WEBHOOK",
                    "owner": owner,
                    "ttl": int(time.time()) + self.ttl_seconds,
                },
                ConditionExpression="attribute_not_exists(pk) OR #o = :o",
                ExpressionAttributeNames={"#o": "owner"},
                ExpressionAttributeValues={":o": owner},
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return False
            raise
        return True


class DynamoTenantWebhooks:
    """The tenant item's webhook settings (read-only here; the keys CLI writes them)."""

    def __init__(self, table: Any) -> None:
        self.table = table

    def _item(self, tenant: str) -> dict[str, Any]:
        return self.table.get_item(Key={"pk": f"TENANT#{tenant}", "sk": "TENANT"}).get("Item") or {}

    def tenant_secret(self, tenant: str) -> str | None:
        return self._item(tenant).get("webhook_secret") or None

    def default_webhook_url(self, tenant: str) -> str | None:
        return self._item(tenant).get("webhook_url") or None
