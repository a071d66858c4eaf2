"""P12: a DynamoDB Query on a table's key reads that partition, not the whole table.

moto answers every Query on the base table by listing and sorting *all* of the table's items
(``Table.all_items``) and then keeping the partition asked for. Every query then costs as much as the
table is big: with the records of a 5,000-job manifest, Queries took 85% of the stack's interpreter
time and the manifest ran at a third of its speed with 400 jobs. DynamoDB reads one partition. Here,
while a base-table Query runs, ``all_items`` returns just that partition, in the same order; the
query's own filter on the hash key then keeps all of it, as before. Index queries are unchanged.
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
        _QUERYING.partition = (self, hash_key)
        try:
            return query(self, hash_key, *args, **kwargs)
        finally:
            _QUERYING.partition = None

    def partition_items(self: Any) -> Any:
        asked = getattr(_QUERYING, "partition", None)
        if asked is None or asked[0] is not self:
            return all_items(self)
        found = self.items.get(asked[1])  # .get: the table's defaultdict must not grow an empty partition
        if found is None:
            return []
        items = list(found.values()) if self.range_key_attr else [found]
        return sorted(items, key=lambda x: (x.hash_key, x.range_key) if x.range_key else x.hash_key)

    replace(Table, "query", partition_query)
    replace(Table, "all_items", partition_items)
