"""Canary for infra.local.patches.item_reader (P8) (Distributed Map ItemReader InputType JSONL), moto 5.2.5.

The patched sources hash to what they were on 5.2.5, moto alone still refuses JSONL (when this
fails after an upgrade, moto supports it: drop the patch), and with the patch a Distributed Map
reads a JSONL object from S3 one item per line, as AWS does.
"""

from __future__ import annotations

import hashlib
import importlib
import inspect
import json
import time
from collections.abc import Iterator
from typing import Any

import boto3
import moto
import pytest

from infra.local.patches import item_reader


def _owner(target: str) -> Any:
    module, _, cls = target.partition(":")
    owner = importlib.import_module(module)
    return getattr(owner, cls) if cls else owner


def test_GIVEN_the_pinned_moto_THEN_the_patched_sources_are_the_ones_the_patch_was_written_for() -> None:
    assert moto.__version__ == "5.2.5"
    for (target, name), digest in item_reader.RECORDED.items():
        owner = _owner(target)
        live = item_reader.ORIGINALS.get((owner, name), getattr(owner, name))
        assert hashlib.sha256(inspect.getsource(live).encode()).hexdigest() == digest, (target, name)


def test_GIVEN_moto_alone_THEN_it_still_has_no_jsonl_input_type() -> None:
    from moto.stepfunctions.parser.asl.component.state.exec.state_map.item_reader.reader_config.input_type import (
        InputTypeValue,
    )

    with pytest.raises(ValueError):
        InputTypeValue("JSONL")


@pytest.fixture
def sfn(aws_env: None) -> Iterator[Any]:
    with moto.mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):  # type: ignore[typeddict-unknown-key]
        item_reader.apply()
        yield boto3.client("stepfunctions")


def test_GIVEN_a_jsonl_object_WHEN_a_distributed_map_reads_it_THEN_one_item_per_line(sfn: Any) -> None:
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket="manifests")
    lines = [{"n": i, "target_image": f"t{i}.jpg"} for i in range(5)]
    s3.put_object(Bucket="manifests", Key="m.jsonl", Body=("\n".join(json.dumps(x) for x in lines) + "\n\n").encode())
    definition = {
        "StartAt": "Each",
        "States": {
            "Each": {
                "Type": "Map",
                "ItemReader": {
                    "Resource": "arn:aws:states:::s3:getObject",
                    "ReaderConfig": {"InputType": "JSONL"},
                    "Parameters": {"Bucket": "manifests", "Key": "m.jsonl"},
                },
                "ItemSelector": {"index.$": "$$.Map.Item.Index", "n.$": "$$.Map.Item.Value.n"},
                "ItemProcessor": {
                    "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                    "StartAt": "Echo",
                    "States": {"Echo": {"Type": "Pass", "End": True}},
                },
                "End": True,
            }
        },
    }
    arn = sfn.create_state_machine(
        name="reader", definition=json.dumps(definition), roleArn="arn:aws:iam::123456789012:role/r"
    )["stateMachineArn"]
    execution = sfn.start_execution(stateMachineArn=arn, input="{}")["executionArn"]
    deadline = time.monotonic() + 60
    while (described := sfn.describe_execution(executionArn=execution))["status"] == "RUNNING":
        assert time.monotonic() < deadline
        time.sleep(0.1)

    assert described["status"] == "SUCCEEDED", described
    assert json.loads(described["output"]) == [{"index": i, "n": i} for i in range(5)]
