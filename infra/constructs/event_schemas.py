"""The EventBridge schema registry: every event we emit or accept, from the JSON Schemas in schemas/events/.

The repository's schemas are JSON Schema draft 2020-12 (what the tests validate real details against).
EventBridge takes `OpenApi3` or `JSONSchemaDraft4`, and a registry schema describes the whole event
(envelope and detail), so each is published as a draft-04 envelope schema around its detail schema
(`$defs` become `definitions`; the schemas use no keyword draft-04 lacks).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from aws_cdk import Stack
from aws_cdk import aws_eventschemas as eventschemas
from constructs import Construct

SCHEMAS_DIR = Path(__file__).resolve().parents[2] / "schemas" / "events"
DRAFT4 = "http://json-schema.org/draft-04/schema#"


def load_detail_schemas() -> dict[str, dict[str, Any]]:
    """detail-type -> its draft 2020-12 detail schema, from schemas/events/*.json."""
    schemas = {}
    for path in sorted(SCHEMAS_DIR.glob("*.json")):
        doc = json.loads(path.read_text())
        schemas[doc["x-detail-type"]] = doc
    return schemas


def envelope_draft4(detail_type: str, detail: dict[str, Any]) -> dict[str, Any]:
    """The registry's document: the EventBridge event around the detail schema, in draft-04 terms."""
    text = json.dumps({k: v for k, v in detail.items() if k not in ("$schema", "$id", "$defs")})
    body = json.loads(text.replace('"#/$defs/', '"#/definitions/'))
    definitions = json.loads(json.dumps(detail.get("$defs", {})).replace('"#/$defs/', '"#/definitions/'))
    source = detail.get("x-source", "swapflow")
    return {
        "$schema": DRAFT4,
        "title": detail_type,
        "description": detail.get("description", ""),
        "type": "object",
        "required": ["detail-type", "source", "detail"],
        "properties": {
            "version": {"type": "string"},
            "id": {"type": "string"},
            "detail-type": {"type": "string", "enum": [detail_type]},
            "source": {"type": "string", "enum": [source]} if source == "swapflow" else {"type": "string"},
            "account": {"type": "string"},
            "time": {"type": "string", "format": "date-time"},
            "region": {"type": "string"},
            "resources": {"type": "array", "items": {"type": "string"}},
            "detail": body,
        },
        "definitions": definitions,
    }


def schema_name(detail_type: str, source: str) -> str:
    """`swapflow@SwapJobCompleted`, as EventBridge's discovery names schemas (source@DetailType)."""
    return f"{source}@{detail_type.replace(' ', '')}"


class EventSchemas(Construct):
    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        self.registry = eventschemas.CfnRegistry(
            self,
            "Registry",
            registry_name=f"{Stack.of(self).stack_name}-events",
            description="swapflow: events on the swapflow bus (emitted, and Swap Requested, accepted)",
        )
        self.schemas = []
        for detail_type, detail in load_detail_schemas().items():
            source = "swapflow" if detail.get("x-source") == "swapflow" else "custom"
            schema = eventschemas.CfnSchema(
                self,
                detail_type.replace(" ", ""),
                registry_name=self.registry.attr_registry_name,
                schema_name=schema_name(detail_type, source),
                type="JSONSchemaDraft4",
                content=json.dumps(envelope_draft4(detail_type, detail)),
                description=detail.get("description", "")[:256],
            )
            self.schemas.append(schema)
