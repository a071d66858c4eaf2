"""Deploy a synthesized CDK (CloudFormation) template into moto, resource by resource.

moto's CloudFormation cannot load a CDK template, so ``deploy()`` walks the template's resources in
dependency order, resolves the intrinsic functions itself and creates each resource with boto3.
It must run inside an active ``moto.mock_aws`` (with the patches of ``infra.local.moto_patches``
applied, so that the Lambda functions run in-process).

Resources that mean nothing locally (IAM policies, permissions, API Gateway, which
``infra.local.gateway`` plays from the template, ...) are skipped with a logged note; unknown types
are logged and skipped, never fatal. Physical names follow CloudFormation's pattern
``<stack>-<logical id>-<suffix>`` with a suffix derived from the logical id, so they are stable
from run to run.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import logging
import re
import secrets
import string
import uuid
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import boto3

from infra.local import patch_item_reader
from infra.local.moto_patches import PER_FUNCTION_ENV_VARS

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


class _NoValue:
    def __repr__(self) -> str:
        return "AWS::NoValue"


NO_VALUE: Any = _NoValue()


class _Unresolvable(DeployError):
    pass


def _suffix(*parts: str, length: int = 12) -> str:
    digest = hashlib.sha256("/".join(parts).encode()).hexdigest().upper()
    alphabet = string.ascii_uppercase + string.digits
    return "".join(alphabet[int(digest[i : i + 2], 16) % len(alphabet)] for i in range(0, 2 * length, 2))


def _strip(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip(v) for k, v in value.items() if v is not NO_VALUE}
    if isinstance(value, list):
        return [_strip(v) for v in value if v is not NO_VALUE]
    return value


def _tiny_zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("index.py", "# swapflow local: the handler is imported in-process\n")
    return buf.getvalue()


_TINY_ZIP = _tiny_zip()


class _Deployer:
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
        self.template = template
        self.resources: dict[str, dict[str, Any]] = template.get("Resources", {}) or {}
        self.region = region
        self.account = account
        self.stack_name = stack_name
        self.parameters = dict(parameters or {})
        self.session = session or boto3.session.Session(region_name=region)
        self._clients: dict[str, Any] = {}
        self.dep = Deployment(region=region, account=account, stack_name=stack_name)
        self.conditions: dict[str, bool] = {}
        self.function_envs: dict[str, dict[str, str]] = {}

    # ------------------------------------------------------------------ helpers
    def client(self, service: str) -> Any:
        if service not in self._clients:
            self._clients[service] = self.session.client(service, region_name=self.region)
        return self._clients[service]

    def physical_name(self, logical_id: str, *, max_len: int = 64, lower: bool = False, sep: str = "-") -> str:
        stack = self.stack_name
        suffix = _suffix(stack, logical_id)
        room = max_len - len(suffix) - 2
        head = f"{stack}{sep}{logical_id}"[:room]
        name = f"{head}{sep}{suffix}"
        return name.lower() if lower else name

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
            + _suffix(self.stack_name, length=8),
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
            raise _Unresolvable(f"Ref {name} before it was created")
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
            raise _Unresolvable(f"GetAtt {logical_id}.{attr} before it was created")
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
            handler = _HANDLERS.get(rtype)
            if handler is None:
                note = _SKIP_NOTES.get(rtype) or _prefix_note(rtype)
                if note is None:
                    LOG.warning("unknown resource type %s (%s): skipped", rtype, logical_id)
                    note = "unknown type"
                self._skip(logical_id, rtype, note)
                continue
            props = _strip(self.resolve(spec.get("Properties", {}) or {}))
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
    return _suffix(*parts, length=10).lower()


def _prefix_note(rtype: str) -> str | None:
    for prefix, note in _SKIP_PREFIXES.items():
        if rtype.startswith(prefix):
            return note
    return None


# ---------------------------------------------------------------------- resource handlers


def _dynamodb_table(d: _Deployer, logical_id: str, p: dict[str, Any]) -> None:
    ddb = d.client("dynamodb")
    name = p.get("TableName") or d.physical_name(logical_id, max_len=255)
    billing = p.get("BillingMode", "PROVISIONED")
    kwargs: dict[str, Any] = {
        "TableName": name,
        "AttributeDefinitions": p["AttributeDefinitions"],
        "KeySchema": p["KeySchema"],
        "BillingMode": billing,
    }
    default_tp = {"ReadCapacityUnits": 5, "WriteCapacityUnits": 5}
    if billing == "PROVISIONED":
        kwargs["ProvisionedThroughput"] = p.get("ProvisionedThroughput", default_tp)
    for key in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes"):
        if p.get(key):
            indexes = []
            for index in p[key]:
                index = {
                    k: v
                    for k, v in index.items()
                    if k in ("IndexName", "KeySchema", "Projection", "ProvisionedThroughput")
                }
                if key == "GlobalSecondaryIndexes" and billing == "PROVISIONED":
                    index.setdefault("ProvisionedThroughput", default_tp)
                if billing == "PAY_PER_REQUEST" or key == "LocalSecondaryIndexes":
                    index.pop("ProvisionedThroughput", None)
                indexes.append(index)
            kwargs[key] = indexes
    stream = p.get("StreamSpecification")
    if stream:
        kwargs["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": stream["StreamViewType"]}
    sse = p.get("SSESpecification")
    if sse:
        spec: dict[str, Any] = {"Enabled": bool(sse.get("SSEEnabled", False))}
        if sse.get("SSEType"):
            spec["SSEType"] = sse["SSEType"]
        if sse.get("KMSMasterKeyId"):
            spec["KMSMasterKeyId"] = sse["KMSMasterKeyId"]
        kwargs["SSESpecification"] = spec
    if p.get("TableClass"):
        kwargs["TableClass"] = p["TableClass"]
    if "DeletionProtectionEnabled" in p:
        kwargs["DeletionProtectionEnabled"] = bool(p["DeletionProtectionEnabled"])
    if p.get("Tags"):
        kwargs["Tags"] = p["Tags"]
    desc = ddb.create_table(**kwargs)["TableDescription"]
    ttl = p.get("TimeToLiveSpecification")
    if ttl and ttl.get("Enabled"):
        ddb.update_time_to_live(
            TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": ttl["AttributeName"]}
        )
    pitr = p.get("PointInTimeRecoverySpecification")
    if pitr and pitr.get("PointInTimeRecoveryEnabled"):
        try:
            ddb.update_continuous_backups(
                TableName=name, PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True}
            )
        except Exception as exc:
            LOG.info("PITR not set on %s: %s", name, exc)
    d.set(logical_id, name, Arn=desc["TableArn"], StreamArn=desc.get("LatestStreamArn"))


def _s3_filter(cfn_filter: dict[str, Any] | None) -> dict[str, Any] | None:
    if not cfn_filter:
        return None
    rules = (cfn_filter.get("S3Key") or {}).get("Rules") or []
    return {"Key": {"FilterRules": [{"Name": r["Name"], "Value": r["Value"]} for r in rules]}}


def _s3_bucket(d: _Deployer, logical_id: str, p: dict[str, Any]) -> None:
    s3 = d.client("s3")
    name = p.get("BucketName") or d.physical_name(logical_id, max_len=63, lower=True)
    if d.region == "us-east-1":
        s3.create_bucket(Bucket=name)
    else:
        s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": d.region})
    versioning = p.get("VersioningConfiguration")
    if versioning:
        s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": versioning["Status"]})
    encryption = p.get("BucketEncryption")
    if encryption:
        rules = []
        for rule in encryption.get("ServerSideEncryptionConfiguration", []):
            r = {k: v for k, v in rule.items() if k == "BucketKeyEnabled"}
            if "ServerSideEncryptionByDefault" in rule:
                r["ApplyServerSideEncryptionByDefault"] = rule["ServerSideEncryptionByDefault"]
            rules.append(r)
        s3.put_bucket_encryption(Bucket=name, ServerSideEncryptionConfiguration={"Rules": rules})
    block = p.get("PublicAccessBlockConfiguration")
    if block:
        s3.put_public_access_block(Bucket=name, PublicAccessBlockConfiguration=block)
    cors = p.get("CorsConfiguration")
    if cors:
        rules = []
        for rule in cors.get("CorsRules", []):
            r = {
                k: v
                for k, v in rule.items()
                if k in ("AllowedHeaders", "AllowedMethods", "AllowedOrigins", "ExposedHeaders", "Id")
            }
            if "MaxAge" in rule:
                r["MaxAgeSeconds"] = int(rule["MaxAge"])
            rules.append(r)
        s3.put_bucket_cors(Bucket=name, CORSConfiguration={"CORSRules": rules})
    lifecycle = p.get("LifecycleConfiguration")
    if lifecycle:
        try:
            s3.put_bucket_lifecycle_configuration(
                Bucket=name,
                LifecycleConfiguration={"Rules": [_lifecycle_rule(r) for r in lifecycle.get("Rules", [])]},
            )
        except Exception as exc:
            LOG.info("lifecycle rules of %s not applied locally: %s", name, exc)
    notifications = p.get("NotificationConfiguration")
    if notifications:
        config: dict[str, Any] = {}
        for cfn_key, api_key, arn_key, api_arn_key in (
            ("LambdaConfigurations", "LambdaFunctionConfigurations", "Function", "LambdaFunctionArn"),
            ("QueueConfigurations", "QueueConfigurations", "Queue", "QueueArn"),
            ("TopicConfigurations", "TopicConfigurations", "Topic", "TopicArn"),
        ):
            for item in notifications.get(cfn_key, []):
                entry: dict[str, Any] = {api_arn_key: item[arn_key], "Events": [item["Event"]]}
                flt = _s3_filter(item.get("Filter"))
                if flt:
                    entry["Filter"] = flt
                config.setdefault(api_key, []).append(entry)
        if notifications.get("EventBridgeConfiguration", {}).get("EventBridgeEnabled"):
            config["EventBridgeConfiguration"] = {}
        s3.put_bucket_notification_configuration(Bucket=name, NotificationConfiguration=config)
    d.set(
        logical_id,
        name,
        Arn=f"arn:aws:s3:::{name}",
        DomainName=f"{name}.s3.amazonaws.com",
        RegionalDomainName=f"{name}.s3.{d.region}.amazonaws.com",
        DualStackDomainName=f"{name}.s3.dualstack.{d.region}.amazonaws.com",
        WebsiteURL=f"http://{name}.s3-website-{d.region}.amazonaws.com",
    )


def _lifecycle_rule(rule: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"Status": rule.get("Status", "Enabled")}
    if rule.get("Id"):
        out["ID"] = rule["Id"]
    out["Filter"] = {"Prefix": rule.get("Prefix", "")}
    if "ExpirationInDays" in rule:
        out["Expiration"] = {"Days": int(rule["ExpirationInDays"])}
    if "NoncurrentVersionExpiration" in rule:
        out["NoncurrentVersionExpiration"] = {
            "NoncurrentDays": int(rule["NoncurrentVersionExpiration"]["NoncurrentDays"])
        }
    elif "NoncurrentVersionExpirationInDays" in rule:
        out["NoncurrentVersionExpiration"] = {"NoncurrentDays": int(rule["NoncurrentVersionExpirationInDays"])}
    if "AbortIncompleteMultipartUpload" in rule:
        out["AbortIncompleteMultipartUpload"] = {
            "DaysAfterInitiation": int(rule["AbortIncompleteMultipartUpload"]["DaysAfterInitiation"])
        }
    return out


def _s3_notifications(d: _Deployer, logical_id: str, p: dict[str, Any]) -> None:
    config = {k: v for k, v in (p.get("NotificationConfiguration") or {}).items() if v}
    d.client("s3").put_bucket_notification_configuration(Bucket=p["BucketName"], NotificationConfiguration=config)
    d.set(logical_id, f"{p['BucketName']}-notifications")


def _iam_role(d: _Deployer, logical_id: str, p: dict[str, Any]) -> None:
    name = p.get("RoleName") or d.physical_name(logical_id, max_len=64)
    kwargs: dict[str, Any] = {
        "RoleName": name,
        "AssumeRolePolicyDocument": json.dumps(p.get("AssumeRolePolicyDocument") or {}),
        "Path": p.get("Path", "/"),
    }
    if p.get("Description"):
        kwargs["Description"] = p["Description"]
    role = d.client("iam").create_role(**kwargs)["Role"]
    d.set(logical_id, name, Arn=role["Arn"], RoleId=role["RoleId"])


def _lambda_function(d: _Deployer, logical_id: str, p: dict[str, Any]) -> None:
    name = p.get("FunctionName") or d.physical_name(logical_id, max_len=64)
    code = p.get("Code") or {}
    package_type = p.get("PackageType", "Zip")
    kwargs: dict[str, Any] = {"FunctionName": name, "Role": p["Role"], "PackageType": package_type}
    if package_type == "Image":
        kwargs["Code"] = {
            "ImageUri": code.get("ImageUri") or f"{d.account}.dkr.ecr.{d.region}.amazonaws.com/local:latest"
        }
        if p.get("ImageConfig"):
            kwargs["ImageConfig"] = p["ImageConfig"]
    else:
        kwargs["Code"] = {"ZipFile": _TINY_ZIP}
        kwargs["Runtime"] = p.get("Runtime", "python3.12")
        kwargs["Handler"] = p.get("Handler", "index.handler")
    for key in ("Description", "Timeout", "MemorySize", "Architectures", "EphemeralStorage", "TracingConfig"):
        if key in p:
            kwargs[key] = p[key]
    env = {k: str(v) for k, v in ((p.get("Environment") or {}).get("Variables") or {}).items()}
    if env:
        kwargs["Environment"] = {"Variables": env}
    fn = d.client("lambda").create_function(**kwargs)
    d.function_envs[logical_id] = env
    d.dep.functions[logical_id] = name
    d.set(logical_id, name, Arn=fn["FunctionArn"])


def _lambda_event_source_mapping(d: _Deployer, logical_id: str, p: dict[str, Any]) -> None:
    kwargs = {
        k: p[k]
        for k in (
            "EventSourceArn",
            "FunctionName",
            "BatchSize",
            "Enabled",
            "StartingPosition",
            "MaximumBatchingWindowInSeconds",
            "FunctionResponseTypes",
        )
        if k in p
    }
    esm = d.client("lambda").create_event_source_mapping(**kwargs)
    LOG.info(
        "event source mapping %s: moto delivers SQS messages synchronously inside SendMessage "
        "(one invocation per send) and DynamoDB stream records on write",
        logical_id,
    )
    d.set(logical_id, esm["UUID"], Id=esm["UUID"])


def _event_invoke_config(d: _Deployer, logical_id: str, p: dict[str, Any]) -> None:
    """Kept for the local Lambda runtime, which retries failed async invocations and dead-letters them."""
    function = str(p["FunctionName"]).split(":")[-1] if ":" in str(p["FunctionName"]) else str(p["FunctionName"])
    on_failure = ((p.get("DestinationConfig") or {}).get("OnFailure") or {}).get("Destination")
    d.dep.async_configs[function] = {"max_retries": int(p.get("MaximumRetryAttempts", 2)), "on_failure": on_failure}
    d.set(logical_id, f"{function}-event-invoke-config")


def _state_machine(d: _Deployer, logical_id: str, p: dict[str, Any]) -> None:
    name = p.get("StateMachineName") or f"{logical_id}-{_suffix(d.stack_name, logical_id)}"[:80]
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


def _event_bus(d: _Deployer, logical_id: str, p: dict[str, Any]) -> None:
    name = p["Name"]
    arn = d.client("events").create_event_bus(Name=name)["EventBusArn"]
    d.set(logical_id, name, Arn=arn, Name=name)


def _events_rule(d: _Deployer, logical_id: str, p: dict[str, Any]) -> None:
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


def _sqs_queue(d: _Deployer, logical_id: str, p: dict[str, Any]) -> None:
    fifo = bool(p.get("FifoQueue"))
    name = p.get("QueueName") or d.physical_name(logical_id, max_len=75 if fifo else 80)
    if fifo and not name.endswith(".fifo"):
        name += ".fifo"
    attributes: dict[str, str] = {}
    for key in (
        "VisibilityTimeout",
        "MessageRetentionPeriod",
        "DelaySeconds",
        "ReceiveMessageWaitTimeSeconds",
        "MaximumMessageSize",
        "FifoQueue",
        "ContentBasedDeduplication",
        "KmsMasterKeyId",
        "KmsDataKeyReusePeriodSeconds",
        "SqsManagedSseEnabled",
        "DeduplicationScope",
        "FifoThroughputLimit",
    ):
        if key in p:
            value = p[key]
            attributes[key] = ("true" if value else "false") if isinstance(value, bool) else str(value)
    for key in ("RedrivePolicy", "RedriveAllowPolicy"):
        if key in p:
            attributes[key] = json.dumps(p[key]) if not isinstance(p[key], str) else p[key]
    sqs = d.client("sqs")
    url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    d.set(logical_id, url, Arn=arn, QueueName=name, QueueUrl=url)


def _log_group(d: _Deployer, logical_id: str, p: dict[str, Any]) -> None:
    name = p.get("LogGroupName") or d.physical_name(logical_id, max_len=512)
    logs = d.client("logs")
    logs.create_log_group(logGroupName=name)
    if p.get("RetentionInDays"):
        logs.put_retention_policy(logGroupName=name, retentionInDays=int(p["RetentionInDays"]))
    d.set(logical_id, name, Arn=f"arn:aws:logs:{d.region}:{d.account}:log-group:{name}:*")


def _kms_key(d: _Deployer, logical_id: str, p: dict[str, Any]) -> None:
    kms = d.client("kms")
    kwargs: dict[str, Any] = {}
    for key in ("Description", "KeyUsage", "KeySpec"):
        if key in p:
            kwargs[key] = p[key]
    if p.get("KeyPolicy"):
        kwargs["Policy"] = json.dumps(p["KeyPolicy"])
    meta = kms.create_key(**kwargs)["KeyMetadata"]
    key_id = _stable_key_id(
        d.account, d.region, meta["KeyId"], str(uuid.uuid5(uuid.NAMESPACE_URL, f"{d.stack_name}/{logical_id}"))
    )
    if p.get("EnableKeyRotation"):
        kms.enable_key_rotation(KeyId=key_id)
    d.set(logical_id, key_id, Arn=f"arn:aws:kms:{d.region}:{d.account}:key/{key_id}", KeyId=key_id)


def _stable_key_id(account: str, region: str, created: str, stable: str) -> str:
    """Give a new key an id derived from the stack and logical id, as physical names are: stable from run
    to run, so what it encrypted before a restart (kept in the data directory) still names it."""
    from moto.kms.models import kms_backends

    backend = kms_backends[account][region]
    key = backend.keys.pop(created)
    key.id = stable
    key.arn = key.arn.replace(created, stable)
    backend.keys[stable] = key
    return stable


def _kms_alias(d: _Deployer, logical_id: str, p: dict[str, Any]) -> None:
    target = str(p["TargetKeyId"])
    if target.startswith("arn:"):
        target = target.rsplit("/", 1)[-1]
    d.client("kms").create_alias(AliasName=p["AliasName"], TargetKeyId=target)
    d.set(logical_id, p["AliasName"])


def generate_secret_string(spec: dict[str, Any]) -> str:
    """What Secrets Manager's GenerateSecretString would produce (random, honouring the options)."""
    length = int(spec.get("PasswordLength", 32))
    chars = ""
    if not spec.get("ExcludeLowercase"):
        chars += string.ascii_lowercase
    if not spec.get("ExcludeUppercase"):
        chars += string.ascii_uppercase
    if not spec.get("ExcludeNumbers"):
        chars += string.digits
    if not spec.get("ExcludePunctuation"):
        chars += "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"
    if spec.get("IncludeSpace"):
        chars += " "
    excluded = set(spec.get("ExcludeCharacters", ""))
    chars = "".join(c for c in chars if c not in excluded) or string.ascii_letters
    password = "".join(secrets.choice(chars) for _ in range(length))
    template = spec.get("SecretStringTemplate")
    key = spec.get("GenerateStringKey")
    if template and key:
        doc = json.loads(template)
        doc[key] = password
        return json.dumps(doc)
    return password


def _secret(d: _Deployer, logical_id: str, p: dict[str, Any]) -> None:
    name = p.get("Name") or f"{logical_id}-{_suffix(d.stack_name, logical_id)}"
    kwargs: dict[str, Any] = {"Name": name}
    if p.get("Description"):
        kwargs["Description"] = p["Description"]
    if p.get("KmsKeyId"):
        kwargs["KmsKeyId"] = p["KmsKeyId"]
    if "SecretString" in p:
        kwargs["SecretString"] = p["SecretString"]
    elif "GenerateSecretString" in p:
        kwargs["SecretString"] = generate_secret_string(p["GenerateSecretString"])
    arn = d.client("secretsmanager").create_secret(**kwargs)["ARN"]
    d.set(logical_id, arn, Id=arn)


def _ssm_parameter(d: _Deployer, logical_id: str, p: dict[str, Any]) -> None:
    name = p.get("Name") or f"CFN-{logical_id}-{_suffix(d.stack_name, logical_id)}"
    kwargs: dict[str, Any] = {"Name": name, "Value": str(p["Value"]), "Type": p.get("Type", "String")}
    if p.get("Description"):
        kwargs["Description"] = p["Description"]
    d.client("ssm").put_parameter(**kwargs)
    d.set(logical_id, name, Type=kwargs["Type"], Value=kwargs["Value"])


def _sns_topic(d: _Deployer, logical_id: str, p: dict[str, Any]) -> None:
    name = p.get("TopicName") or d.physical_name(logical_id, max_len=256)
    arn = d.client("sns").create_topic(Name=name)["TopicArn"]
    d.set(logical_id, arn, TopicArn=arn, TopicName=name)


def _cloudwatch_alarm(d: _Deployer, logical_id: str, p: dict[str, Any]) -> None:
    name = p.get("AlarmName") or d.physical_name(logical_id, max_len=255)
    arn = f"arn:aws:cloudwatch:{d.region}:{d.account}:alarm:{name}"
    keys = (
        "AlarmDescription",
        "MetricName",
        "Namespace",
        "Statistic",
        "ExtendedStatistic",
        "Dimensions",
        "Period",
        "Unit",
        "EvaluationPeriods",
        "DatapointsToAlarm",
        "Threshold",
        "ComparisonOperator",
        "TreatMissingData",
        "Metrics",
        "ActionsEnabled",
        "AlarmActions",
        "OKActions",
        "InsufficientDataActions",
    )
    kwargs = {k: p[k] for k in keys if k in p}
    try:
        d.client("cloudwatch").put_metric_alarm(AlarmName=name, **kwargs)
    except Exception as exc:
        LOG.info("alarm %s not created locally: %s", logical_id, exc)
    d.set(logical_id, name, Arn=arn)


_HANDLERS: dict[str, Callable[[_Deployer, str, dict[str, Any]], None]] = {
    "AWS::DynamoDB::Table": _dynamodb_table,
    "AWS::S3::Bucket": _s3_bucket,
    "Custom::S3BucketNotifications": _s3_notifications,
    "AWS::IAM::Role": _iam_role,
    "AWS::Lambda::Function": _lambda_function,
    "AWS::Lambda::EventSourceMapping": _lambda_event_source_mapping,
    "AWS::Lambda::EventInvokeConfig": _event_invoke_config,
    "AWS::StepFunctions::StateMachine": _state_machine,
    "AWS::Events::EventBus": _event_bus,
    "AWS::Events::Rule": _events_rule,
    "AWS::SQS::Queue": _sqs_queue,
    "AWS::Logs::LogGroup": _log_group,
    "AWS::KMS::Key": _kms_key,
    "AWS::KMS::Alias": _kms_alias,
    "AWS::SecretsManager::Secret": _secret,
    "AWS::SSM::Parameter": _ssm_parameter,
    "AWS::SNS::Topic": _sns_topic,
    "AWS::CloudWatch::Alarm": _cloudwatch_alarm,
}

_SKIP_NOTES: dict[str, str] = {
    "AWS::S3::BucketPolicy": "bucket policies are not enforced locally",
    "AWS::SQS::QueuePolicy": "queue policies are not enforced locally",
    "AWS::SNS::TopicPolicy": "topic policies are not enforced locally",
    "AWS::IAM::Policy": "IAM is not enforced locally",
    "AWS::IAM::ManagedPolicy": "IAM is not enforced locally",
    "AWS::IAM::InstanceProfile": "no local meaning",
    "AWS::Lambda::Permission": "resource policies are not enforced locally",
    "AWS::Lambda::Version": "functions run unversioned locally",
    "AWS::Lambda::Alias": "functions run unversioned locally",
    "AWS::Lambda::LayerVersion": "layers: the code is imported in-process",
    "AWS::Lambda::Url": "function URLs are not served locally",
    "AWS::Logs::MetricFilter": "no local meaning",
    "AWS::Logs::SubscriptionFilter": "no local meaning",
    "AWS::Logs::ResourcePolicy": "no local meaning",
    "AWS::CloudWatch::Dashboard": "no local meaning",
    "AWS::CloudWatch::CompositeAlarm": "no local meaning",
    "AWS::SecretsManager::SecretTargetAttachment": "no local meaning",
    "AWS::SecretsManager::RotationSchedule": "rotation is not run locally",
    "AWS::SecretsManager::ResourcePolicy": "no local meaning",
    "AWS::KMS::ReplicaKey": "no local meaning",
    "AWS::CDK::Metadata": "CDK metadata",
    "AWS::Events::Archive": "archives are not kept locally",
    "AWS::SNS::Subscription": "SNS subscriptions are not modelled locally",
    "AWS::WAFv2::WebACL": "no WAF locally",
    "AWS::WAFv2::WebACLAssociation": "no WAF locally",
    "AWS::XRay::Group": "no X-Ray locally",
    "AWS::ECR::Repository": "images are not pulled locally",
}

_SKIP_PREFIXES: dict[str, str] = {
    "AWS::ApiGateway::": "played by infra.local.gateway from the template",
    "AWS::ApiGatewayV2::": "HTTP APIs are not played locally",
    "AWS::EventSchemas::": "schemas have no local meaning",
    "AWS::CloudFormation::": "no local meaning",
    "Custom::": "custom resource not run locally",
}


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
    patch_item_reader.apply()  # the template's manifest runner reads JSONL (moto lacks it)
    return _Deployer(
        template,
        region=region,
        account=account,
        stack_name=stack_name,
        parameters=parameters,
        session=session,
    ).run()
