"""P4: EventBridge rules deliver to Lambda and state machine targets (moto raises NotImplementedError)."""

from __future__ import annotations

import copy
import datetime
import json
import logging
from typing import Any

from .bookkeeping import original, replace
from .lambda_runtime import invoke_async

LOG = logging.getLogger(__name__)

#: (module[:class], attribute) -> SHA-256 of moto's source when this patch was written (moto 5.2.5); the
#: canary test fails when an upgrade changes any of them.
RECORDED: dict[tuple[str, str], str] = {
    (
        "moto.events.models:Rule",
        "send_to_targets",
    ): "472e002e2dab8a599554a7d6c7ea0910625a5b39c7699b9ca4404255efcfc172",
}


def _event_time_iso(event: dict[str, Any]) -> dict[str, Any]:
    event = dict(event)
    event.pop("ingestion-time", None)
    when = event.get("time")
    if isinstance(when, (int, float)):
        event["time"] = datetime.datetime.fromtimestamp(float(when), tz=datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return event


def _json_path_get(document: Any, path: str) -> Any:
    """``$``, ``$.a.b``, ``$.a[0]`` style paths (what EventBridge's InputPath uses in practice)."""
    from jsonpath_ng.ext import parse

    matches = parse(path).find(document)
    if not matches:
        return None
    return matches[0].value


def target_input(target: dict[str, Any], event: dict[str, Any]) -> Any:
    """What EventBridge hands a target: Input, InputPath, InputTransformer or the whole event."""
    full = _event_time_iso(event)
    if target.get("Input") is not None:
        return json.loads(target["Input"])
    if target.get("InputPath"):
        return _json_path_get(full, target["InputPath"])
    transformer = target.get("InputTransformer")
    if transformer:
        template: str = transformer.get("InputTemplate", "")
        for key, path in (transformer.get("InputPathsMap") or {}).items():
            value = _json_path_get(full, path)
            placeholder = f"<{key}>"
            quoted = f'"{placeholder}"'
            if isinstance(value, str):
                template = template.replace(quoted, json.dumps(value)).replace(placeholder, json.dumps(value)[1:-1])
            else:
                template = template.replace(quoted, json.dumps(value)).replace(placeholder, json.dumps(value))
        template = template.replace("<aws.events.event.json>", json.dumps(full))
        try:
            return json.loads(template)
        except ValueError:
            return template
    return full


def _deliver_to_lambda(account_id: str, arn: str, payload: Any) -> None:
    from moto.awslambda.utils import get_backend

    region = arn.split(":")[3]
    fn = get_backend(account_id, region).get_function(arn)
    invoke_async(fn, payload)


def _deliver_to_state_machine(account_id: str, arn: str, payload: Any) -> None:
    from moto.stepfunctions.responses import get_backend

    region = arn.split(":")[3]
    get_backend(account_id, region).start_execution(arn, "", json.dumps(payload))


def patch_events_targets() -> None:
    """P4: deliver EventBridge rule targets that are Lambda functions or state machines.

    moto's ``Rule.send_to_targets`` raises NotImplementedError for both (which also stops the
    delivery to the rule's remaining targets and fails PutEvents). Lambda targets are invoked
    asynchronously, state machine targets get StartExecution(input=event); Input, InputPath and
    simple InputTransformers are honoured. Other targets go to moto's implementation.
    """
    from moto.events.models import Rule

    orig = original(Rule, "send_to_targets")

    def send_to_targets(self: Any, original_event: Any, transform_input: bool = True) -> None:
        if not self.event_pattern.matches_event(original_event):
            return
        ours = [t for t in self.targets if t["Arn"].split(":")[2] in ("lambda", "states")]
        rest = [t for t in self.targets if t not in ours]
        if rest:
            shallow = copy.copy(self)
            shallow.targets = rest
            orig(shallow, original_event, transform_input)
        for target in ours:
            arn = target["Arn"]
            payload = target_input(target, original_event) if transform_input else original_event
            try:
                if arn.split(":")[2] == "lambda":
                    _deliver_to_lambda(self.account_id, arn, payload)
                else:
                    _deliver_to_state_machine(self.account_id, arn, payload)
            except Exception:  # EventBridge never fails PutEvents because of a target
                LOG.exception("EventBridge rule %s: delivery to %s failed", self.name, arn)

    replace(Rule, "send_to_targets", send_to_targets)
