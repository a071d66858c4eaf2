"""A moto patch for Distributed Map ItemReader `InputType: JSONL` (S3 JSON Lines), which AWS reads
and moto 5.2.5's interpreter (derived from LocalStack) does not: its `InputTypeValue` knows CSV and
JSON only, so parsing a state machine with JSONL fails.

What the patch does: `InputType` accepts "JSONL", and the ItemReader's output transformer for it
reads the object's text one JSON value per non-empty line (MaxItems applied), as AWS does. moto
still reads the whole object into memory (AWS streams it); a 10,000-line manifest is a few MB.

Kept out of `moto_patches` (owned elsewhere) on purpose; `apply()` is the one call that installs it
(idempotent). The canary test (tests/integration/local/test_item_reader_patch.py) pins the patched
sources to moto 5.2.5 and checks that moto alone still refuses JSONL.
"""

from __future__ import annotations

import json
from typing import Any

_APPLIED = False
JSONL = "JSONL"
# (owner, attribute) -> moto's own object, kept for the canaries (which hash its source).
ORIGINALS: dict[tuple[Any, str], Any] = {}


class _JsonlValue(str):
    """Stands in for an `InputTypeValue` member: moto reads `.value` and formats it as a string."""

    @property
    def value(self) -> str:
        return str(self)


def _jsonl_transformer() -> Any:
    from moto.stepfunctions.parser.asl.component.state.exec.state_map.item_reader.eval.resource_output_transformer.transformer import (  # noqa: E501
        ResourceOutputTransformer,
    )

    class ResourceOutputTransformerJsonl(ResourceOutputTransformer):  # type: ignore[misc]
        def _eval_body(self, env: Any) -> None:
            reader_config = env.stack.pop()
            text: str = env.stack.pop()
            items = [json.loads(line) for line in text.splitlines() if line.strip()]
            env.stack.append(items[: reader_config["MaxItemsValue"]])

    return ResourceOutputTransformerJsonl()


def apply() -> None:
    """Install the JSONL ItemReader support (idempotent)."""
    global _APPLIED
    if _APPLIED:
        return
    from moto.stepfunctions.parser.asl.component.state.exec.state_map.item_reader import item_reader_decl
    from moto.stepfunctions.parser.asl.component.state.exec.state_map.item_reader.reader_config import input_type

    original_init = input_type.InputType.__init__

    def init(self: Any, input_type: str) -> None:
        if input_type == JSONL:
            self.input_type_value = _JsonlValue(JSONL)
            return
        original_init(self, input_type)

    original_factory = item_reader_decl.resource_output_transformer_for

    def transformer_for(input_type: Any) -> Any:
        if isinstance(input_type.input_type_value, _JsonlValue):
            return _jsonl_transformer()
        return original_factory(input_type)

    ORIGINALS[(input_type.InputType, "__init__")] = original_init
    ORIGINALS[(item_reader_decl, "resource_output_transformer_for")] = original_factory
    input_type.InputType.__init__ = init  # type: ignore[method-assign]
    item_reader_decl.resource_output_transformer_for = transformer_for
    _APPLIED = True
