"""The local stack's janitor forgets finished executions (moto keeps them forever otherwise)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import boto3

from infra.local.patches import housekeeping
from tests.integration.local.helpers import embedded_aws


def test_given_finished_and_waiting_executions_when_swept_then_only_finished_ones_are_forgotten(
    tmp_path: Path,
) -> None:
    with embedded_aws(tmp_path):
        sfn = boto3.client("stepfunctions", region_name="us-east-1")
        role = "arn:aws:iam::123456789012:role/sfn"
        quick = sfn.create_state_machine(
            name="quick",
            roleArn=role,
            definition=json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}),
        )["stateMachineArn"]
        slow = sfn.create_state_machine(
            name="slow",
            roleArn=role,
            definition=json.dumps({"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 30, "End": True}}}),
        )["stateMachineArn"]
        sfn.start_execution(stateMachineArn=quick, name="done")
        sfn.start_execution(stateMachineArn=slow, name="waiting")
        deadline = time.monotonic() + 30
        while sfn.list_executions(stateMachineArn=quick)["executions"][0]["status"] == "RUNNING":
            assert time.monotonic() < deadline
            time.sleep(0.05)

        assert housekeeping.forget_finished_executions(3600) == 0
        assert housekeeping.forget_finished_executions(0) == 1

        assert sfn.list_executions(stateMachineArn=quick)["executions"] == []
        assert [e["name"] for e in sfn.list_executions(stateMachineArn=slow)["executions"]] == ["waiting"]
        sfn.stop_execution(executionArn=slow.replace(":stateMachine:", ":execution:") + ":waiting")


def test_given_many_writes_and_reads_when_swept_then_moto_lets_go_of_its_copies_and_the_data_stays(
    tmp_path: Path,
) -> None:
    import gc

    from moto.dynamodb.models.dynamo_type import Item

    def live_items() -> int:
        gc.collect()
        return sum(1 for obj in gc.get_objects() if type(obj) is Item)

    with embedded_aws(tmp_path):
        ddb = boto3.client("dynamodb", region_name="us-east-1")
        ddb.create_table(
            TableName="swept",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        for n in range(10):
            ddb.put_item(TableName="swept", Item={"pk": {"S": f"job-{n}"}, "n": {"N": "0"}})
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="swept")
        before = live_items()
        for n in range(300):
            key = {"pk": {"S": f"job-{n % 10}"}}
            ddb.update_item(
                TableName="swept",
                Key=key,
                UpdateExpression="SET n = :n",
                ExpressionAttributeValues={":n": {"N": str(n)}},
                ReturnValues="ALL_NEW",
            )
            ddb.get_item(TableName="swept", Key=key)
            s3.put_object(Bucket="swept", Key="same-key", Body=str(n).encode())  # each put replaces the last
        grown = live_items()

        dropped = housekeeping.forget_unreferenced_models()

        assert grown - before >= 600  # moto kept a copy of every item each call made
        assert dropped >= 600 and live_items() - before < 50
        items = {i["pk"]["S"]: i["n"]["N"] for i in ddb.scan(TableName="swept")["Items"]}
        assert items == {f"job-{n}": str(290 + n) for n in range(10)}  # every item's last write
        assert s3.get_object(Bucket="swept", Key="same-key")["Body"].read() == b"299"
        # what a dropped instance held (an S3 key's ACL) goes on the next sweeps; then what is left is in use
        assert [housekeeping.forget_unreferenced_models() for _ in range(6)][-2:] == [0, 0]


def test_given_a_fresh_stack_process_when_it_starts_then_its_malloc_arenas_are_capped_unless_the_user_set_them() -> (
    None
):
    import os
    import subprocess
    import sys

    code = "from infra.local.runner import cap_malloc_arenas; print(cap_malloc_arenas())"
    root = Path(__file__).resolve().parents[3]
    env = {k: v for k, v in os.environ.items() if k != "MALLOC_ARENA_MAX"}

    def run(**extra: str) -> str:
        done = subprocess.run(
            [sys.executable, "-c", code], cwd=root, env={**env, **extra}, capture_output=True, text=True, check=True
        )
        return done.stdout.strip()

    assert run() == "True"  # glibc: capped to two arenas
    assert run(MALLOC_ARENA_MAX="4") == "False"  # the user's setting stands
