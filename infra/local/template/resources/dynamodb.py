"""DynamoDB tables (indexes, streams, TTL, point-in-time recovery) created from the template."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from infra.local.deployer import Deployer

LOG = logging.getLogger(__name__)


def dynamodb_table(d: Deployer, logical_id: str, p: dict[str, Any]) -> None:
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
