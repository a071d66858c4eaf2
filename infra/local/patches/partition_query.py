"""P12: a DynamoDB Query on a table's key reads the items its key condition selects, not the whole table.

moto answers every Query on the base table by listing and sorting *all* of the table's items
(``Table.all_items``) and then keeping the partition asked for, and then weighs (``Item.size``) every
item of the partition, matching the sort-key condition or not. Every query then costs as much as the
table is big: with the records of a 5,000-job manifest, Queries took 85% of the stack's interpreter
time and the manifest ran at a third of its speed with 400 jobs; and a 10,000-job batch's partition
(its members and its count shards) made each read of its counts (``begins_with(sk, "COUNT#")``) weigh
and sort 10,000 members. DynamoDB reads only the items of the partition that the key condition selects.
Here, while a base-table Query runs, ``all_items`` returns just those: the partition's items whose sort
key meets the condition (moto's own comparison). moto then sorts, pages and filters them as before, so
the answer is the same; only a page can no longer be cut short by the size of items that did not match.
Index queries are unchanged.
"""

from __future__ import annotations

import threading
from typing import Any

from .bookkeeping import original, replace

#: (module[:class], attribute) -> SHA-256 of moto's source when this patch was written (moto 5.2.5); the
#: canary test fails when an upgrade changes any of them.
RECORDED: dict[tuple[str, str], str] = {
    (
        "moto.dynamodb.models.table:Table",
        "query",
    ): "002b4d00be6df07cf37f6cbe0132e5eb89455ae12a8e79b23db3fb492450f21e",
    (
        "moto.dynamodb.models.table:Table",
        "all_items",
    ): "c80d2ee3c896acd0cab6ca35aaeae3ab3fb65858933f8a3403d4e027c240f31d",
    (
        "moto.dynamodb.comparisons",
        "get_comparison_func",
    ): "27f4be5d600455c4808213afc8f112e737db364765d9cdf1f6ddb02de7d4f551",
}

# The position of `index_name` among Table.query's arguments after `self` and `hash_key`.
_INDEX_NAME_POSITION = 6
_QUERYING = threading.local()


def patch_partition_query() -> None:
    """P12: base-table Queries read their partition only."""
    from moto.dynamodb.models.table import Table

    query = original(Table, "query")
    all_items = original(Table, "all_items")

    def partition_query(self: Any, hash_key: Any, *args: Any, **kwargs: Any) -> Any:
        index_name = args[_INDEX_NAME_POSITION] if len(args) > _INDEX_NAME_POSITION else kwargs.get("index_name")
        if index_name is not None or hash_key is None:
            return query(self, hash_key, *args, **kwargs)
        # moto's positional order after hash_key: range_comparison, range_objs
        comparison = args[0] if args else kwargs.get("range_comparison")
        objs = args[1] if len(args) > 1 else kwargs.get("range_objs")
        _QUERYING.partition = (self, hash_key, comparison, objs or [])
        try:
            return query(self, hash_key, *args, **kwargs)
        finally:
            _QUERYING.partition = None

    def partition_items(self: Any) -> Any:
        asked = getattr(_QUERYING, "partition", None)
        if asked is None or asked[0] is not self:
            return all_items(self)
        _, hash_key, comparison, objs = asked
        found = self.items.get(hash_key)  # .get: the table's defaultdict must not grow an empty partition
        if found is None:
            return []
        if not self.range_key_attr:
            return [found]
        items = list(found.values())  # moto sorts what it is given by the sort key itself
        if comparison:
            from moto.dynamodb.comparisons import get_comparison_func

            meets, values = get_comparison_func(comparison), [o.cast_value for o in objs]
            items = [item for item in items if meets(item.range_key.cast_value, *values)]
        return items

    replace(Table, "query", partition_query)
    replace(Table, "all_items", partition_items)
