"""CloudFormation's intrinsic functions, conditions and resource order, resolved locally.

``Intrinsics`` resolves ``Ref``, ``Fn::GetAtt``, ``Fn::Sub``, ``Fn::Join`` and the other functions and
conditions against what the deployer has created so far (its ``Deployment``), and orders
the template's resources so that each comes after what it references.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import re
import string
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from infra.local.deployer import Deployment

LOG = logging.getLogger(__name__)

PSEUDO_PARAMETERS = (
    "AWS::Region",
    "AWS::AccountId",
    "AWS::Partition",
    "AWS::URLSuffix",
    "AWS::StackName",
    "AWS::StackId",
    "AWS::NoValue",
    "AWS::NotificationARNs",
)


class DeployError(RuntimeError):
    """The template cannot be deployed locally."""


class _NoValue:
    def __repr__(self) -> str:
        return "AWS::NoValue"


NO_VALUE: Any = _NoValue()


class UnresolvableError(DeployError):
    pass


def suffix(*parts: str, length: int = 12) -> str:
    digest = hashlib.sha256("/".join(parts).encode()).hexdigest().upper()
    alphabet = string.ascii_uppercase + string.digits
    return "".join(alphabet[int(digest[i : i + 2], 16) % len(alphabet)] for i in range(0, 2 * length, 2))


def strip(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: strip(v) for k, v in value.items() if v is not NO_VALUE}
    if isinstance(value, list):
        return [strip(v) for v in value if v is not NO_VALUE]
    return value


class Intrinsics:
    """The template's intrinsics resolved against the resources created so far."""

    def __init__(self, template: dict[str, Any], dep: Deployment, parameters: dict[str, str] | None) -> None:
        self.template = template
        self.resources: dict[str, dict[str, Any]] = template.get("Resources", {}) or {}
        self.dep = dep
        self.region = dep.region
        self.account = dep.account
        self.stack_name = dep.stack_name
        self.parameters = dict(parameters or {})
        self.conditions: dict[str, bool] = {}

    # ------------------------------------------------------------------ intrinsics
    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            return [r for r in (self.resolve(v) for v in value) if r is not NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((key, arg),) = value.items()
            if key == "Ref":
                return self.ref(arg)
            if key == "Fn::GetAtt":
                if isinstance(arg, str):
                    logical_id, _, attr = arg.partition(".")
                else:
                    logical_id, attr = arg[0], self.resolve(arg[1])
                return self.get_att(logical_id, attr)
            if key == "Fn::Join":
                delim, items = arg
                return str(delim).join(self._str(v) for v in self.resolve(items))
            if key == "Fn::Sub":
                return self.sub(arg)
            if key == "Fn::Select":
                index, items = self.resolve(arg[0]), self.resolve(arg[1])
                return items[int(index)]
            if key == "Fn::Split":
                delim, source = arg
                return self._str(self.resolve(source)).split(delim)
            if key == "Fn::If":
                cond, yes, no = arg
                return self.resolve(yes if self.condition(cond) else no)
            if key in ("Fn::Equals", "Fn::Not", "Fn::And", "Fn::Or", "Condition"):
                return self.eval_condition(value)
            if key == "Fn::Base64":
                return base64.b64encode(self._str(self.resolve(arg)).encode()).decode()
            if key == "Fn::GetAZs":
                region = self.resolve(arg) or self.region
                return [f"{region}{z}" for z in "abc"]
            if key == "Fn::FindInMap":
                name, top, second = (self.resolve(a) for a in arg[:3])
                return self.template.get("Mappings", {})[name][top][second]
            if key == "Fn::ToJsonString":
                return json.dumps(self.resolve(arg), separators=(",", ":"))
            if key == "Fn::Length":
                return len(self.resolve(arg))
            if key == "Fn::ImportValue":
                raise DeployError(f"Fn::ImportValue is not supported locally: {arg!r}")
            if key == "Fn::Cidr" or key == "Fn::Transform":
                raise DeployError(f"{key} is not supported locally")
        return {k: v for k, v in ((k, self.resolve(v)) for k, v in value.items()) if v is not NO_VALUE}

    @staticmethod
    def _str(value: Any) -> str:
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, (dict, list)):
            return json.dumps(value)
        return str(value)

    def pseudo(self, name: str) -> Any:
        return {
            "AWS::Region": self.region,
            "AWS::AccountId": self.account,
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::StackName": self.stack_name,
            "AWS::StackId": f"arn:aws:cloudformation:{self.region}:{self.account}:stack/{self.stack_name}/"
            + suffix(self.stack_name, length=8),
            "AWS::NoValue": NO_VALUE,
            "AWS::NotificationARNs": [],
        }[name]

    def ref(self, name: str) -> Any:
        if name in PSEUDO_PARAMETERS:
            return self.pseudo(name)
        params = self.template.get("Parameters", {}) or {}
        if name in params:
            if name in self.parameters:
                return self.parameters[name]
            spec = params[name]
            if "Default" in spec:
                default = spec["Default"]
                if str(spec.get("Type", "")).startswith("List<") or spec.get("Type") == "CommaDelimitedList":
                    return [s.strip() for s in str(default).split(",")]
                return default
            raise DeployError(f"Parameter {name} has no Default and no value was given")
        if name in self.dep.physical:
            return self.dep.physical[name]
        if name in self.resources:
            raise UnresolvableError(f"Ref {name} before it was created")
        raise DeployError(f"Ref to unknown logical id {name!r}")

    def get_att(self, logical_id: str, attr: str) -> Any:
        key = (logical_id, attr)
        if key in self.dep.attrs:
            return self.dep.attrs[key]
        if logical_id in self.dep.skipped:
            return f"arn:aws:skipped:{self.region}:{self.account}:{logical_id}/{attr}"
        if logical_id in self.dep.physical:
            LOG.warning("GetAtt %s.%s: attribute not known locally; using a placeholder", logical_id, attr)
            return f"{self.dep.physical[logical_id]}/{attr}"
        if logical_id in self.resources:
            raise UnresolvableError(f"GetAtt {logical_id}.{attr} before it was created")
        raise DeployError(f"GetAtt of unknown logical id {logical_id!r}")

    _SUB_RE = re.compile(r"\$\{([^}]+)\}")

    def sub(self, arg: Any) -> str:
        if isinstance(arg, list):
            text, variables = arg[0], {k: self.resolve(v) for k, v in (arg[1] or {}).items()}
        else:
            text, variables = arg, {}

        def repl(match: re.Match[str]) -> str:
            name = match.group(1)
            if name.startswith("!"):
                return "${" + name[1:] + "}"
            if name in variables:
                return self._str(variables[name])
            if name in PSEUDO_PARAMETERS or name in (self.template.get("Parameters") or {}):
                return self._str(self.ref(name))
            if "." in name:
                logical_id, attr = name.split(".", 1)
                return self._str(self.get_att(logical_id, attr))
            return self._str(self.ref(name))

        return self._SUB_RE.sub(repl, text)

    def eval_condition(self, expr: Any) -> bool:
        if isinstance(expr, bool):
            return expr
        if isinstance(expr, str):
            return expr.lower() == "true"
        ((key, arg),) = expr.items()
        if key == "Condition":
            return self.condition(arg)
        if key == "Fn::Equals":
            a, b = (self.resolve(x) for x in arg)
            return self._str(a) == self._str(b)
        if key == "Fn::Not":
            return not self.eval_condition(arg[0])
        if key == "Fn::And":
            return all(self.eval_condition(x) for x in arg)
        if key == "Fn::Or":
            return any(self.eval_condition(x) for x in arg)
        return bool(self.resolve(expr))

    def condition(self, name: str) -> bool:
        if name not in self.conditions:
            spec = (self.template.get("Conditions") or {}).get(name)
            if spec is None:
                raise DeployError(f"Unknown condition {name!r}")
            self.conditions[name] = self.eval_condition(spec)
        return self.conditions[name]

    # ------------------------------------------------------------------ ordering
    def _refs(self, value: Any, out: set[str]) -> None:
        if isinstance(value, list):
            for v in value:
                self._refs(v, out)
        elif isinstance(value, dict):
            for key, arg in value.items():
                if key == "Ref" and isinstance(arg, str):
                    out.add(arg)
                elif key == "Fn::GetAtt":
                    out.add(arg.split(".", 1)[0] if isinstance(arg, str) else arg[0])
                elif key == "Fn::Sub":
                    text = arg[0] if isinstance(arg, list) else arg
                    local = set(arg[1]) if isinstance(arg, list) and isinstance(arg[1], dict) else set()
                    for name in self._SUB_RE.findall(text if isinstance(text, str) else ""):
                        if not name.startswith("!") and name not in local:
                            out.add(name.split(".", 1)[0])
                    if isinstance(arg, list):
                        self._refs(arg[1:], out)
                else:
                    self._refs(arg, out)

    def order(self) -> list[str]:
        deps: dict[str, set[str]] = {}
        for logical_id, spec in self.resources.items():
            found: set[str] = set()
            self._refs(spec.get("Properties", {}), found)
            depends_on = spec.get("DependsOn", [])
            found.update([depends_on] if isinstance(depends_on, str) else depends_on)
            deps[logical_id] = {d for d in found if d in self.resources and d != logical_id}
        ordered: list[str] = []
        done: set[str] = set()
        remaining = list(self.resources)
        while remaining:
            ready = [r for r in remaining if deps[r] <= done]
            if not ready:
                # A cycle (CloudFormation would refuse it; usually IAM policies): break it at the
                # first resource in template order and say so.
                LOG.warning("dependency cycle among %s; breaking it at %s", sorted(remaining), remaining[0])
                ready = [remaining[0]]
            for r in ready:
                ordered.append(r)
                done.add(r)
                remaining.remove(r)
        return ordered
