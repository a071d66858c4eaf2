"""Lambda functions, event source mappings and async invoke configs; the code runs in the local runtime."""

from __future__ import annotations

import io
import logging
import zipfile
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from infra.local.deployer import Deployer

LOG = logging.getLogger(__name__)


def _tiny_zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("index.py", "# swapflow local: the handler is imported in-process\n")
    return buf.getvalue()


_TINY_ZIP = _tiny_zip()


def lambda_function(d: Deployer, logical_id: str, p: dict[str, Any]) -> None:
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


def lambda_event_source_mapping(d: Deployer, logical_id: str, p: dict[str, Any]) -> None:
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


def event_invoke_config(d: Deployer, logical_id: str, p: dict[str, Any]) -> None:
    """Kept for the local Lambda runtime, which retries failed async invocations and dead-letters them."""
    function = str(p["FunctionName"]).split(":")[-1] if ":" in str(p["FunctionName"]) else str(p["FunctionName"])
    on_failure = ((p.get("DestinationConfig") or {}).get("OnFailure") or {}).get("Destination")
    d.dep.async_configs[function] = {"max_retries": int(p.get("MaximumRetryAttempts", 2)), "on_failure": on_failure}
    d.set(logical_id, f"{function}-event-invoke-config")
