"""Canary for infra.local.patch_item_reader (Distributed Map ItemReader InputType JSONL), moto 5.2.5.

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

from infra.local import patch_item_reader

READER = "moto.stepfunctions.parser.asl.component.state.exec.state_map.item_reader"
RECORDED = {
    (f"{READER}.reader_config.input_type:InputType", "__init__"): (
        "7c7b6475109877315eb80e708262684491bf298fb9817d439181c5da03c3727d"
    ),
    (f"{READER}.item_reader_decl", "resource_output_transformer_for"): (
        "0b0e12d3d99fc8c60f74b11c02136d6187ae074497402dfb04e5049adbb59839"
    ),
    (f"{READER}.item_reader_decl:ItemReader", "__init__"): (
        "9cc3cc663f64b6738df52742d385f1da6b16dffb1c67d509c6f24aa4f3686635"
    ),
    (f"{READER}.eval.resource_output_transformer.transformer_json:ResourceOutputTransformerJson", "_eval_body"): (
        "ccf2e8758a4c87de8ecd4182734c73dbb7f27429472697b455fd5b715b5d1a40"
    ),
}


def _owner(target: str) -> Any:
    module, _, cls = target.partition(":")
    owner = importlib.import_module(module)
    return getattr(owner, cls) if cls else owner


def test_GIVEN_the_pinned_moto_THEN_the_patched_sources_are_the_ones_the_patch_was_written_for() -> None:
    assert moto.__version__ == "5.2.5"
    for (target, name), digest in RECORDED.items():
        owner = _owner(target)
        live = patch_item_reader.ORIGINALS.get((owner, name), getattr(owner, name))
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
        patch_item_reader.apply()
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
