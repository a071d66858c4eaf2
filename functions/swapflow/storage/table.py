"""The DynamoDB moves every store here shares: a conditional write that reports whether its condition
held, and reading a Query or Scan to its end. One home, so no store re-decides what a failed
condition means."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from botocore.exceptions import ClientError

CONDITION_FAILED = "ConditionalCheckFailedException"


def conditional_failed(exc: ClientError) -> bool:
    return exc.response.get("Error", {}).get("Code") == CONDITION_FAILED


def num(value: float) -> Decimal:
    """A time or number as DynamoDB stores it (millisecond precision, no float)."""
    return Decimal(str(round(value, 3)))


def written_if(write: Callable[..., Any], **request: Any) -> dict[str, Any] | None:
    """One conditional write (`table.put_item` or `table.update_item`): its response, or None when the
    condition did not hold (someone else made the change first). Any other error is raised."""
    try:
        response: dict[str, Any] = write(**request)
    except ClientError as exc:
        if conditional_failed(exc):
            return None
        raise
    return response


def written_or_current(write: Callable[..., Any], **request: Any) -> tuple[bool, dict[str, Any]]:
    """A conditional write (`table.put_item` or `table.update_item`) that returns the item either way, so
    a lost race needs no second read: (True, the item after the write: an update's new item, a put's
    own) or (False, the item as it stood when the condition failed; {} if there is none). Any other
    error is raised."""
    put = "Item" in request
    try:
        response = write(
            **({} if put else {"ReturnValues": "ALL_NEW"}), ReturnValuesOnConditionCheckFailure="ALL_OLD", **request
        )
    except ClientError as exc:
        if not conditional_failed(exc):
            raise
        from boto3.dynamodb.types import TypeDeserializer  # the failure's item comes in the wire format

        wire, deserializer = exc.response.get("Item") or {}, TypeDeserializer()
        return False, {name: deserializer.deserialize(value) for name, value in wire.items()}
    return True, dict(request["Item"] if put else response.get("Attributes") or {})


def write_if(write: Callable[..., Any], **request: Any) -> bool:
    """`written_if` as a yes/no: True if the write was made."""
    return written_if(write, **request) is not None


def put_if_absent(table: Any, item: dict[str, Any], **request: Any) -> bool:
    """Put an item unless one with its key exists (or `request`'s own condition says otherwise)."""
    request.setdefault("ConditionExpression", "attribute_not_exists(pk)")
    return write_if(table.put_item, Item=item, **request)


def read_all(read: Callable[..., Any], request: dict[str, Any]) -> list[dict[str, Any]]:
    """Every item of a Query or Scan (`table.query` / `table.scan`), page after page."""
    items: list[dict[str, Any]] = []
    while True:
        page = read(**request)
        items.extend(page.get("Items", []))
        if "LastEvaluatedKey" not in page:
            return items
        request["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def query_page(table: Any, query: dict[str, Any], limit: int) -> tuple[list[dict[str, Any]], bool]:
    """Up to `limit` items of a Query (read on while a filter leaves a page short), and whether more follow."""
    items: list[dict[str, Any]] = []
    while len(items) <= limit:
        page = table.query(**query)
        items.extend(page.get("Items", []))
        if "LastEvaluatedKey" not in page:
            break
        query["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    return items[:limit], len(items) > limit
