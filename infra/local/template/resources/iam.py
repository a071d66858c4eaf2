"""IAM roles: created so that their ARNs resolve; IAM is not enforced locally."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from infra.local.deployer import Deployer


def iam_role(d: Deployer, logical_id: str, p: dict[str, Any]) -> None:
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
