"""The jobs table's keys and index, named once: the CDK table (infra/constructs/storage.py), the stores'
queries, and the moto tables that tests and benches create."""

from __future__ import annotations

from typing import Any

PARTITION_KEY, SORT_KEY = "pk", "sk"
# A tenant's jobs and API keys, newest first (sort key: the id, a ULID).
TENANT_INDEX = "by-tenant"
TENANT_INDEX_KEYS = ("gsi1pk", "gsi1sk")


def create_table_request(name: str) -> dict[str, Any]:
    """`CreateTable` for the jobs table as the stack defines it (string keys, on-demand)."""

    def schema(hash_key: str, range_key: str) -> list[dict[str, str]]:
        return [{"AttributeName": hash_key, "KeyType": "HASH"}, {"AttributeName": range_key, "KeyType": "RANGE"}]

    return {
        "TableName": name,
        "KeySchema": schema(PARTITION_KEY, SORT_KEY),
        "AttributeDefinitions": [
            {"AttributeName": a, "AttributeType": "S"} for a in (PARTITION_KEY, SORT_KEY, *TENANT_INDEX_KEYS)
        ],
        "GlobalSecondaryIndexes": [
            {
                "IndexName": TENANT_INDEX,
                "KeySchema": schema(*TENANT_INDEX_KEYS),
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
        "BillingMode": "PAY_PER_REQUEST",
    }
