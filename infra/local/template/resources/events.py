"""EventBridge buses and rules with their targets."""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from infra.local.deployer import Deployer

LOG = logging.getLogger(__name__)


def event_bus(d: Deployer, logical_id: str, p: dict[str, Any]) -> None:
    name = p["Name"]
    arn = d.client("events").create_event_bus(Name=name)["EventBusArn"]
    d.set(logical_id, name, Arn=arn, Name=name)


def events_rule(d: Deployer, logical_id: str, p: dict[str, Any]) -> None:
    events = d.client("events")
    name = p.get("Name") or d.physical_name(logical_id, max_len=64)
    bus = p.get("EventBusName", "default")
    if isinstance(bus, str) and bus.startswith("arn:"):
        bus = bus.split("/", 1)[1]
    kwargs: dict[str, Any] = {"Name": name, "EventBusName": bus, "State": p.get("State", "ENABLED")}
    if p.get("EventPattern") is not None:
        pattern = p["EventPattern"]
        kwargs["EventPattern"] = pattern if isinstance(pattern, str) else json.dumps(pattern)
    if p.get("ScheduleExpression"):
        kwargs["ScheduleExpression"] = p["ScheduleExpression"]
        LOG.info("rule %s: schedules do not fire locally", logical_id)
    if p.get("Description"):
        kwargs["Description"] = p["Description"]
    arn = events.put_rule(**kwargs)["RuleArn"]
    targets = []
    for target in p.get("Targets", []):
        t = {
            k: v
            for k, v in target.items()
            if k
            in (
                "Id",
                "Arn",
                "RoleArn",
                "Input",
                "InputPath",
                "InputTransformer",
                "SqsParameters",
                "DeadLetterConfig",
                "RetryPolicy",
                "HttpParameters",
            )
        }
        targets.append(t)
    if targets:
        events.put_targets(Rule=name, EventBusName=bus, Targets=targets)
    d.set(logical_id, name if bus == "default" else f"{bus}|{name}", Arn=arn)
