"""A moto patch for Distributed Map ItemReader `InputType: JSONL` (S3 JSON Lines), which AWS reads
and moto 5.2.5's interpreter (derived from LocalStack) does not: its `InputTypeValue` knows CSV and
JSON only, so parsing a state machine with JSONL fails.

What the patch does: `InputType` accepts "JSONL", and the ItemReader's output transformer for it
reads the object's text one JSON value per non-empty line (MaxItems applied), as AWS does. moto
still reads the whole object into memory (AWS streams it); a 10,000-line manifest is a few MB.

P8 of `infra.local.patches` (`apply_all` runs it last); it keeps its own originals, and `apply()` alone
installs it too (idempotent). The canary test (tests/integration/local/test_item_reader_patch.py) pins the patched
sources to moto 5.2.5 and checks that moto alone still refuses JSONL.
"""

from __future__ import annotations

import json
from typing import Any

_APPLIED = False
JSONL = "JSONL"
# (owner, attribute) -> moto's own object, kept for the canaries (which hash its source).
ORIGINALS: dict[tuple[Any, str], Any] = {}

READER = "moto.stepfunctions.parser.asl.component.state.exec.state_map.item_reader"
#: (module[:class], attribute) -> SHA-256 of moto's source when the patch was written (moto 5.2.5).
RECORDED: dict[tuple[str, str], str] = {
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
