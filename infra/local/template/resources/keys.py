"""KMS keys (with stable ids) and aliases, Secrets Manager secrets and SSM parameters."""

from __future__ import annotations

import json
import secrets
import string
import uuid
from typing import TYPE_CHECKING, Any

from infra.local.template.intrinsics import suffix

if TYPE_CHECKING:
    from infra.local.deployer import Deployer


def kms_key(d: Deployer, logical_id: str, p: dict[str, Any]) -> None:
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


def kms_alias(d: Deployer, logical_id: str, p: dict[str, Any]) -> None:
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


def secret(d: Deployer, logical_id: str, p: dict[str, Any]) -> None:
    name = p.get("Name") or f"{logical_id}-{suffix(d.stack_name, logical_id)}"
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


def ssm_parameter(d: Deployer, logical_id: str, p: dict[str, Any]) -> None:
    name = p.get("Name") or f"CFN-{logical_id}-{suffix(d.stack_name, logical_id)}"
    kwargs: dict[str, Any] = {"Name": name, "Value": str(p["Value"]), "Type": p.get("Type", "String")}
    if p.get("Description"):
        kwargs["Description"] = p["Description"]
    d.client("ssm").put_parameter(**kwargs)
    d.set(logical_id, name, Type=kwargs["Type"], Value=kwargs["Value"])
