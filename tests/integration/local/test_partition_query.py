"""P12: a base-table Query reads its partition only, and answers exactly what moto's full scan answered."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from infra.local import patches
from tests.integration.local.helpers import embedded_aws

pytestmark = pytest.mark.xdist_group("partition_query")

QUERIES: list[dict[str, Any]] = [
    {"KeyConditionExpression": "pk = :p", "ExpressionAttributeValues": {":p": {"S": "BATCH#7"}}},
    {
        "KeyConditionExpression": "pk = :p AND begins_with(sk, :s)",
        "ExpressionAttributeValues": {":p": {"S": "BATCH#7"}, ":s": {"S": "M#00"}},
    },
    {
        "KeyConditionExpression": "pk = :p AND sk BETWEEN :a AND :b",
        "ExpressionAttributeValues": {":p": {"S": "BATCH#7"}, ":a": {"S": "M#0010"}, ":b": {"S": "M#0020"}},
        "ScanIndexForward": False,
        "Limit": 4,
    },
    {
        "KeyConditionExpression": "pk = :p",
        "FilterExpression": "n > :n",
        "ExpressionAttributeValues": {":p": {"S": "BATCH#7"}, ":n": {"N": "30"}},
    },
    {"KeyConditionExpression": "pk = :p", "ExpressionAttributeValues": {":p": {"S": "NOBODY"}}},
    {
        "IndexName": "by-n",
        "KeyConditionExpression": "g = :g",
        "ExpressionAttributeValues": {":g": {"S": "all"}},
    },
]


@pytest.fixture
def table(tmp_path: Path) -> Iterator[Any]:
    with embedded_aws(tmp_path):
        ddb = boto3.client("dynamodb", region_name="us-east-1")
        ddb.create_table(
            TableName="parts",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
            AttributeDefinitions=[{"AttributeName": a, "AttributeType": "S"} for a in ("pk", "sk", "g")],
            GlobalSecondaryIndexes=[
                {
                    "IndexName": "by-n",
                    "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}],
                    "Projection": {"ProjectionType": "ALL"},
                }
            ],
            BillingMode="PAY_PER_REQUEST",
        )
        for batch in range(10):
            for member in range(50):
                ddb.put_item(
                    TableName="parts",
                    Item={
                        "pk": {"S": f"BATCH#{batch}"},
                        "sk": {"S": f"M#{member:04d}"},
                        "n": {"N": str(member)},
                        "g": {"S": "all"},
                    },
                )
        yield ddb


def answers(ddb: Any) -> list[Any]:
    found = []
    for query in QUERIES:
        pages, start = [], None
        while True:
            page = ddb.query(TableName="parts", **query, **({"ExclusiveStartKey": start} if start else {}))
            pages.append((page["Items"], page["Count"], page["ScannedCount"]))
            start = page.get("LastEvaluatedKey")
            if not start:
                break
        found.append(pages)
    return found


def test_given_a_table_of_ten_partitions_when_queried_then_the_answers_are_moto_s_own(table: Any) -> None:
    patched = answers(table)
    with patches.suspended("P12"):
        unpatched = answers(table)

    assert patched == unpatched
    assert len(patched[0][0][0]) == 50 and patched[4][0][0] == []  # one partition; an empty one


def test_given_a_query_when_it_runs_then_only_its_partition_is_listed(table: Any) -> None:
    from moto.dynamodb.models.table import Table

    listed: list[int] = []
    inner = Table.all_items

    def counting(self: Any) -> Any:
        items = inner(self)
        listed.append(len(items))
        return items

    Table.all_items = counting  # type: ignore[method-assign]
    try:
        table.query(TableName="parts", **QUERIES[0])
        table.query(TableName="parts", **QUERIES[2])  # BETWEEN M#0010 AND M#0020
        table.query(
            TableName="parts",
            KeyConditionExpression="pk = :p AND begins_with(sk, :s)",
            ExpressionAttributeValues={":p": {"S": "BATCH#7"}, ":s": {"S": "M#004"}},
        )
    finally:
        Table.all_items = inner  # type: ignore[method-assign]

    assert listed == [50, 11, 10]  # moto alone lists all 500 items for each
