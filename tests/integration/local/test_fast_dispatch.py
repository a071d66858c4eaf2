"""P9 (infra.local.patches.fast_dispatch): per-request work done once, with the same answers as moto's own code."""

from __future__ import annotations

import os
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore import xform_name

from infra.local import patches
from infra.local.patches import time_scaling
from tests.integration.local.helpers import embedded_aws

REGION = "us-east-1"
# moto 5.2.5's sources that P9 stands in for: when one changes, re-check the patch, then re-record.
ITEM: dict[str, Any] = {
    "pk": "JOB#1",
    "sk": "JOB",
    "text": "ünïcode",
    "empty": "",
    "count": 42,
    "ratio": Decimal("0.125"),
    "done": True,
    "nothing": None,
    "tags": {"a", "b"},
    "sizes": {1, 2},
    "blob": b"\x00\xffbytes",
    "blobs": {b"x", b"y"},
    "spec": {"images": ["s3://b/k.jpg", {"face": 0, "deep": {"l": [1, "two", None, False]}}], "m": {}},
    "list": [],
}


@pytest.fixture(scope="module")
def dynamodb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A table on the embedded AWS, reached over its endpoint as a handler reaches it."""
    with embedded_aws(tmp_path_factory.mktemp("records")) as aws:
        client = boto3.client("dynamodb", region_name=REGION, endpoint_url=aws.url)
        client.create_table(
            TableName="t",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
            AttributeDefinitions=[
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "sk", "AttributeType": "S"},
            ],
            BillingMode="PAY_PER_REQUEST",
        )
        table = boto3.resource("dynamodb", region_name=REGION, endpoint_url=aws.url).Table("t")
        table.put_item(Item=ITEM)
        yield client, table


def _wire(client: Any, operation: str, **params: Any) -> bytes:
    """The raw response body of one call (what the SDK parses)."""
    seen: list[bytes] = []
    client.meta.events.register(
        f"after-call.dynamodb.{operation}", lambda http_response, **_: seen.append(http_response.content)
    )
    try:
        getattr(client, xform_name(operation))(**params)
    finally:
        client.meta.events.unregister(f"after-call.dynamodb.{operation}")
    return seen[-1]


@pytest.mark.parametrize(
    ("operation", "params"),
    [
        ("GetItem", {"TableName": "t", "Key": {"pk": {"S": "JOB#1"}, "sk": {"S": "JOB"}}}),
        (
            "Query",
            {
                "TableName": "t",
                "KeyConditionExpression": "pk = :p",
                "ExpressionAttributeValues": {":p": {"S": "JOB#1"}},
            },
        ),
        ("Scan", {"TableName": "t"}),
        (
            "UpdateItem",
            {
                "TableName": "t",
                "Key": {"pk": {"S": "JOB#1"}, "sk": {"S": "JOB"}},
                "UpdateExpression": "SET touched = :t",
                "ExpressionAttributeValues": {":t": {"M": {"n": {"N": "1"}, "b": {"B": b"z"}}}},
                "ReturnValues": "ALL_NEW",
            },
        ),
        ("DescribeTable", {"TableName": "t"}),
    ],
)
def test_GIVEN_P9_WHEN_dynamodb_answers_THEN_the_bytes_are_what_moto_alone_writes(
    dynamodb: Any, operation: str, params: dict[str, Any]
) -> None:
    client, _ = dynamodb
    patched = _wire(client, operation, **params)
    with patches.suspended("P9"):
        alone = _wire(client, operation, **params)
    assert patched == alone


def test_GIVEN_P9_WHEN_an_item_is_read_THEN_its_values_skip_the_member_walk_that_moto_alone_does(dynamodb: Any) -> None:
    from moto.core.serialize import ResponseSerializer

    _, table = dynamodb
    calls = [0]
    get_value = ResponseSerializer.get_value

    def counted(self: Any, *args: Any) -> Any:
        calls[0] += 1
        return get_value(self, *args)

    ResponseSerializer.get_value = counted  # type: ignore[method-assign]
    try:
        item = table.get_item(Key={"pk": "JOB#1", "sk": "JOB"})["Item"]
        patched = calls[0]
        with patches.suspended("P9"):
            calls[0] = 0
            assert table.get_item(Key={"pk": "JOB#1", "sk": "JOB"})["Item"] == item
            alone = calls[0]
    finally:
        ResponseSerializer.get_value = get_value  # type: ignore[method-assign]
    assert item["spec"]["images"][1]["deep"]["l"] == [1, "two", None, False]
    assert item["blob"].value == b"\x00\xffbytes"
    assert alone > 100 and patched < alone / 5, (patched, alone)


def test_GIVEN_P9_WHEN_requests_are_served_THEN_moto_package_directory_is_not_listed_but_moto_alone_lists_it(
    dynamodb: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import moto

    client, _ = dynamodb
    listed: list[str] = []
    listdir = os.listdir

    def counting(path: Any = ".") -> list[str]:
        if Path(str(path)) == Path(moto.__file__).parent:
            listed.append(str(path))
        return listdir(path)

    monkeypatch.setattr(os, "listdir", counting)
    client.list_tables()
    assert listed == []
    with patches.suspended("P9"):
        client.list_tables()
    assert listed


def test_GIVEN_P9_WHEN_the_interpreter_asks_for_a_client_twice_THEN_it_gets_one_but_moto_alone_builds_two() -> None:
    from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils

    patches.apply_all(time_scale=time_scaling.time_scale())
    first = lambda_eval_utils.boto_client_for(REGION, "lambda")
    assert lambda_eval_utils.boto_client_for(REGION, "lambda") is first
    assert lambda_eval_utils.boto_client_for(REGION, "events") is not first
    with patches.suspended("P9"):
        assert lambda_eval_utils.boto_client_for(REGION, "lambda") is not lambda_eval_utils.boto_client_for(
            REGION, "lambda"
        )
