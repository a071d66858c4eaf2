"""P7: a definition is parsed once and its program shared, except where moto keeps run state on it."""

from __future__ import annotations

import json
from typing import Any

from infra.local.patches import parsed_definitions


def definition(kind: str) -> str:
    if kind == "Parallel":
        states = {
            "P": {
                "Type": "Parallel",
                "Branches": [{"StartAt": "A", "States": {"A": {"Type": "Pass", "End": True}}}],
                "End": True,
            }
        }
    else:
        states = {
            "W": {"Type": "Wait", "Seconds": 1, "Next": "C"},
            "C": {
                "Type": "Choice",
                "Choices": [{"Variable": "$.x", "IsPresent": True, "Next": "Done"}],
                "Default": "Done",
            },
            "Done": {"Type": "Succeed"},
        }
    return json.dumps({"StartAt": next(iter(states)), "States": states})


def counting_parse() -> tuple[list[str], Any]:
    from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser

    calls: list[str] = []

    def parse(text: str) -> Any:
        calls.append(text)
        return AmazonStateLanguageParser.parse(text)

    return calls, parse


def test_GIVEN_a_plain_definition_WHEN_executed_twice_THEN_parsed_once_with_every_heap_key_drawn() -> None:
    from moto.stepfunctions.parser.asl.component.eval_component import EvalComponent

    calls, parse = counting_parse()
    text = definition("Choice") + " "  # a text no other test caches
    first = parsed_definitions.program_for(text, parse)
    second = parsed_definitions.program_for(text, parse)

    assert first is second and len(calls) == 1
    components = [c for c in _walk(first) if isinstance(c, EvalComponent)]
    assert len(components) > 5
    assert all(c._EvalComponent__heap_key is not None for c in components)


def test_GIVEN_a_parallel_definition_WHEN_executed_twice_THEN_parsed_each_time() -> None:
    calls, parse = counting_parse()
    text = definition("Parallel")
    first = parsed_definitions.program_for(text, parse)
    second = parsed_definitions.program_for(text, parse)
    assert first is not second and len(calls) == 2


def _walk(root: Any) -> list[Any]:
    out, stack, seen = [], [root], set()
    while stack:
        node = stack.pop()
        if id(node) in seen or not hasattr(node, "__dict__"):
            continue
        seen.add(id(node))
        out.append(node)
        for child in vars(node).values():
            if isinstance(child, dict):
                stack.extend(child.values())
            else:
                stack.extend(child if isinstance(child, (list, tuple)) else [child])
    return out
