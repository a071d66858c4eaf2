"""P13: each JSONPath is parsed once, and what the paths select is exactly what moto's own parses select."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from infra.local import patches
from tests.integration.local.helpers import embedded_aws, wait_execution

pytestmark = pytest.mark.xdist_group("parsed_paths")

# Pass states using every kind of path moto's interpreter parses: InputPath, Parameters' `.$` values
# (a filter, a slice, an index), ResultPath (a nested create) and OutputPath.
DEFINITION = {
    "StartAt": "Pick",
    "States": {
        "Pick": {
            "Type": "Pass",
            "InputPath": "$.order",
            "Parameters": {
                "id.$": "$.id",
                "big.$": "$.lines[?(@.qty > 2)].sku",
                "first.$": "$.lines[0]",
                "tail.$": "$.lines[1:]",
            },
            "ResultPath": "$.picked.now",
            "Next": "Shape",
        },
        "Shape": {"Type": "Pass", "OutputPath": "$.picked", "End": True},
    },
}
ORDER = {"id": "o-1", "lines": [{"sku": "a", "qty": 1}, {"sku": "b", "qty": 3}, {"sku": "c", "qty": 5}]}


@pytest.fixture
def sfn(tmp_path: Path) -> Iterator[Any]:
    with embedded_aws(tmp_path):
        yield boto3.client("stepfunctions", region_name="us-east-1")


def run(sfn: Any, name: str) -> Any:
    arn = sfn.create_state_machine(
        name=name, definition=json.dumps(DEFINITION), roleArn="arn:aws:iam::123456789012:role/sfn"
    )["stateMachineArn"]
    execution = sfn.start_execution(stateMachineArn=arn, input=json.dumps({"order": ORDER}))["executionArn"]
    done = wait_execution(sfn, execution)
    assert done["status"] == "SUCCEEDED", done
    return json.loads(done["output"])


def parser_builds() -> list[int]:
    """Count the PLY parsers jsonpath_ng builds (one per uncached parse)."""
    from jsonpath_ng.ext.parser import ExtendedJsonPathParser

    built = [0]
    inner = ExtendedJsonPathParser.__init__

    def counting(self: Any, *args: Any, **kwargs: Any) -> None:
        built[0] += 1
        inner(self, *args, **kwargs)

    ExtendedJsonPathParser.__init__ = counting  # type: ignore[method-assign]
    return built


def test_given_state_machine_paths_when_run_then_the_output_is_moto_s_own(sfn: Any) -> None:
    patched = run(sfn, "patched")
    with patches.suspended("P13"):
        unpatched = run(sfn, "unpatched")

    assert (
        patched
        == unpatched
        == {
            "now": {
                "id": "o-1",
                "big": ["b", "c"],
                "first": {"sku": "a", "qty": 1},
                "tail": [{"sku": "b", "qty": 3}, {"sku": "c", "qty": 5}],
            }
        }
    )


def test_given_paths_parsed_once_when_run_again_then_no_parser_is_built(sfn: Any) -> None:
    from jsonpath_ng.ext.parser import ExtendedJsonPathParser

    inner = ExtendedJsonPathParser.__init__
    run(sfn, "warm")
    built = parser_builds()
    try:
        run(sfn, "again")
        assert built[0] == 0
        with patches.suspended("P13"):
            run(sfn, "moto")
        assert built[0] >= 5  # moto alone parses every path at every use
    finally:
        ExtendedJsonPathParser.__init__ = inner  # type: ignore[method-assign]


def test_given_an_input_transformer_when_an_event_arrives_then_it_renders_as_moto_renders() -> None:
    from moto.events.utils import EventTemplateParser

    patches.apply_all()
    event = {"detail": {"job_id": "j-1", "status": "completed"}, "ingestion-time": 1, "id": "e-1"}
    paths = {"job": "$.detail.job_id", "status": "$.detail.status", "none": "$.detail.missing"}
    template = '{"j": "<job>", "s": "<status>", "n": "<none>"}'
    patched = EventTemplateParser.parse(template, paths, event)
    with patches.suspended("P13"):
        unpatched = EventTemplateParser.parse(template, paths, event)
    assert patched == unpatched == {"j": "j-1", "s": "completed", "n": "<none>"}
