"""State machines created from their definition (with DefinitionSubstitutions applied)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from infra.local.template.intrinsics import DeployError, suffix

if TYPE_CHECKING:
    from infra.local.deployer import Deployer


def state_machine(d: Deployer, logical_id: str, p: dict[str, Any]) -> None:
    name = p.get("StateMachineName") or f"{logical_id}-{suffix(d.stack_name, logical_id)}"[:80]
    if "DefinitionString" in p:
        definition = p["DefinitionString"]
    elif "Definition" in p:
        definition = json.dumps(p["Definition"])
    else:
        raise DeployError(f"state machine {logical_id}: only DefinitionString/Definition are supported locally")
    for key, value in (p.get("DefinitionSubstitutions") or {}).items():
        definition = definition.replace("${" + key + "}", d._str(value))
    kwargs: dict[str, Any] = {
        "name": name,
        "definition": definition,
        "roleArn": p.get("RoleArn") or f"arn:aws:iam::{d.account}:role/{name}",
        "type": p.get("StateMachineType", "STANDARD"),
    }
    arn = d.client("stepfunctions").create_state_machine(**kwargs)["stateMachineArn"]
    d.set(logical_id, arn, Arn=arn, Name=name)
