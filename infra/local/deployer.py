"""Deploy a synthesized CDK (CloudFormation) template into moto, resource by resource.

moto's CloudFormation cannot load a CDK template, so ``deploy()`` walks the template's resources in
dependency order, resolves the intrinsic functions itself (``infra.local.template.intrinsics``) and hands
each resource to the creator of its type (``infra.local.template.resources``), which calls boto3.
It must run inside an active ``moto.mock_aws`` (with ``infra.local.patches``
applied, so that the Lambda functions run in-process).

Resources that mean nothing locally (IAM policies, permissions, API Gateway, which
``infra.local.gateway`` plays from the template, ...) are skipped with a logged note; unknown types
are logged and skipped, never fatal. Physical names follow CloudFormation's pattern
``<stack>-<logical id>-<suffix>`` with a suffix derived from the logical id, so they are stable
from run to run.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import boto3

from infra.local.patches.lambda_runtime import PER_FUNCTION_ENV_VARS
from infra.local.template.intrinsics import DeployError, Intrinsics, strip, suffix
from infra.local.template.resources import CREATORS, SKIP_NOTES, prefix_note

LOG = logging.getLogger(__name__)

__all__ = ["DeployError", "Deployment", "EnvironmentConflictError", "deploy"]


class EnvironmentConflictError(DeployError):
    """Two functions set the same shared environment variable to different values."""


@dataclass
class Deployment:
    """What ``deploy`` created; the ``Ref``/``GetAtt`` values a real stack would have."""

    region: str
    account: str
    stack_name: str
    physical: dict[str, str] = field(default_factory=dict)
    attrs: dict[tuple[str, str], str] = field(default_factory=dict)
    outputs: dict[str, str] = field(default_factory=dict)
    function_env: dict[str, str] = field(default_factory=dict)
    functions: dict[str, str] = field(default_factory=dict)
    types: dict[str, str] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    #: function name -> its EventInvokeConfig (MaximumRetryAttempts, OnFailure destination ARN)
    async_configs: dict[str, dict[str, Any]] = field(default_factory=dict)

    def function_name_for_arn(self, arn: str) -> str | None:
        """The function whose ARN (or name) is ``arn``, ignoring a qualifier."""
        for logical_id, name in self.functions.items():
            fn_arn = self.attrs.get((logical_id, "Arn"), "")
            if arn in (name, fn_arn) or arn.startswith(fn_arn + ":"):
                return name
        return None


class Deployer(Intrinsics):
    """Creates the resources one by one and keeps what it created in ``dep``."""

    def __init__(
        self,
        template: dict[str, Any],
        *,
        region: str,
        account: str,
        stack_name: str,
        parameters: dict[str, str] | None,
        session: Any,
    ) -> None:
        super().__init__(template, Deployment(region=region, account=account, stack_name=stack_name), parameters)
        self.session = session or boto3.session.Session(region_name=region)
        self._clients: dict[str, Any] = {}
        self.function_envs: dict[str, dict[str, str]] = {}

    # ------------------------------------------------------------------ helpers
    def client(self, service: str) -> Any:
        if service not in self._clients:
            self._clients[service] = self.session.client(service, region_name=self.region)
        return self._clients[service]

    def physical_name(self, logical_id: str, *, max_len: int = 64, lower: bool = False, sep: str = "-") -> str:
        stack = self.stack_name
        tail = suffix(stack, logical_id)
        room = max_len - len(tail) - 2
        head = f"{stack}{sep}{logical_id}"[:room]
        name = f"{head}{sep}{tail}"
        return name.lower() if lower else name

    # ------------------------------------------------------------------ deploy
    def run(self) -> Deployment:
        service_tokens: set[str] = set()
        for spec in self.resources.values():
            rtype = str(spec.get("Type", ""))
            if rtype.startswith("Custom::") or rtype == "AWS::CloudFormation::CustomResource":
                found: set[str] = set()
                self._refs(spec.get("Properties", {}).get("ServiceToken"), found)
                service_tokens |= found
        for logical_id in self.order():
            spec = self.resources[logical_id]
            rtype = str(spec.get("Type", ""))
            self.dep.types[logical_id] = rtype
            if "Condition" in spec and not self.condition(spec["Condition"]):
                self._skip(logical_id, rtype, f"condition {spec['Condition']} is false")
                continue
            if rtype == "AWS::Lambda::Function" and logical_id in service_tokens:
                self._skip(logical_id, rtype, "custom resource provider (its work is done by the deployer)")
                continue
            handler = CREATORS.get(rtype)
            if handler is None:
                note = SKIP_NOTES.get(rtype) or prefix_note(rtype)
                if note is None:
                    LOG.warning("unknown resource type %s (%s): skipped", rtype, logical_id)
                    note = "unknown type"
                self._skip(logical_id, rtype, note)
                continue
            props = strip(self.resolve(spec.get("Properties", {}) or {}))
            handler(self, logical_id, props)
        self._check_environment()
        for name, spec in (self.template.get("Outputs") or {}).items():
            if "Condition" in spec and not self.condition(spec["Condition"]):
                continue
            try:
                self.dep.outputs[name] = self._str(self.resolve(spec["Value"]))
            except DeployError as exc:
                LOG.warning("output %s not resolved: %s", name, exc)
        return self.dep

    def _skip(self, logical_id: str, rtype: str, note: str) -> None:
        LOG.info("skip %s (%s): %s", logical_id, rtype, note)
        self.dep.skipped[logical_id] = note
        self.dep.physical[logical_id] = (
            _fake_id(self.stack_name, logical_id) if rtype.startswith("AWS::ApiGateway::") else logical_id
        )
        if rtype == "AWS::ApiGateway::RestApi":
            self.dep.attrs[(logical_id, "RootResourceId")] = _fake_id(self.stack_name, logical_id, "root")
            self.dep.attrs[(logical_id, "RestApiId")] = self.dep.physical[logical_id]
        if rtype == "AWS::ApiGateway::Stage":
            stage = (self.resources[logical_id].get("Properties") or {}).get("StageName")
            if isinstance(stage, str):
                self.dep.physical[logical_id] = stage

    def _check_environment(self) -> None:
        merged: dict[str, str] = {}
        owner: dict[str, str] = {}
        for logical_id, env in self.function_envs.items():
            for key, value in env.items():
                if key in PER_FUNCTION_ENV_VARS:
                    continue
                if key in merged and merged[key] != value:
                    raise EnvironmentConflictError(
                        f"functions {owner[key]} and {logical_id} set {key} to different values "
                        f"({merged[key]!r} vs {value!r}); locally all functions share one environment"
                    )
                merged[key] = value
                owner.setdefault(key, logical_id)
        self.dep.function_env = merged

    def set(self, logical_id: str, ref: str, **attrs: Any) -> None:
        self.dep.physical[logical_id] = ref
        for attr, value in attrs.items():
            if value is not None:
                self.dep.attrs[(logical_id, attr)] = value


def _fake_id(*parts: str) -> str:
    return suffix(*parts, length=10).lower()


def deploy(
    template: dict[str, Any],
    *,
    region: str = "us-east-1",
    account: str = "123456789012",
    stack_name: str = "Swapflow",
    parameters: dict[str, str] | None = None,
    session: Any = None,
) -> Deployment:
    """Create the template's resources in moto (call inside an active ``mock_aws``).

    ``account`` only shapes the ARNs the resolver builds itself; moto's own account is taken from
    its environment (``MOTO_ACCOUNT_ID``, default 123456789012), so keep the two equal.
    """
    return Deployer(
        template,
        region=region,
        account=account,
        stack_name=stack_name,
        parameters=parameters,
        session=session,
    ).run()
