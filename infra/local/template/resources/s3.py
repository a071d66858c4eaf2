"""S3 buckets (versioning, encryption, CORS, lifecycle, notifications) created from the template."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from infra.local.deployer import Deployer

LOG = logging.getLogger(__name__)


def _s3_filter(cfn_filter: dict[str, Any] | None) -> dict[str, Any] | None:
    if not cfn_filter:
        return None
    rules = (cfn_filter.get("S3Key") or {}).get("Rules") or []
    return {"Key": {"FilterRules": [{"Name": r["Name"], "Value": r["Value"]} for r in rules]}}


def s3_bucket(d: Deployer, logical_id: str, p: dict[str, Any]) -> None:
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


def s3_notifications(d: Deployer, logical_id: str, p: dict[str, Any]) -> None:
    config = {k: v for k, v in (p.get("NotificationConfiguration") or {}).items() if v}
    d.client("s3").put_bucket_notification_configuration(Bucket=p["BucketName"], NotificationConfiguration=config)
    d.set(logical_id, f"{p['BucketName']}-notifications")
