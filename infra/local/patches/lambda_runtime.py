"""P1: Lambda invocations run in the local runtime's execution environments (worker processes), not Docker."""

from __future__ import annotations

import base64
import json
from typing import Any

from .bookkeeping import replace
from .serialized_aws import DISPATCH_LOCK

#: (module[:class], attribute) -> SHA-256 of moto's source when this patch was written (moto 5.2.5); the
#: canary test fails when an upgrade changes any of them.
RECORDED: dict[tuple[str, str], str] = {
    (
        "moto.awslambda.models:LambdaFunction",
        "_invoke_lambda",
    ): "23ce7a8f956e8090eaf8a3a4de498cf938c79db073ab0284b988f1aed8719f5f",
    (
        "moto.awslambda.models:LambdaFunction",
        "invoke",
    ): "dadc324f30aed38bf9dde5a93000c195ed3e5fb5e984f71ebd4c6629fc89aa2e",
    (
        "moto.awslambda.responses:LambdaResponse",
        "invoke",
    ): "8f68f0bf023a3eb476e13ab0f688e6fbde8462c194532e8ce67421dbeb91c44b",
}


#: Environment variables that legitimately differ per function. They are never written to the
#: shared ``os.environ`` (all functions share one process); the deployer skips them when it checks
#: that the functions agree on the shared environment.
PER_FUNCTION_ENV_VARS: frozenset[str] = frozenset(
    {
        "POWERTOOLS_SERVICE_NAME",
        "POWERTOOLS_METRICS_FUNCTION_NAME",
        "AWS_LAMBDA_FUNCTION_NAME",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
        "AWS_LAMBDA_FUNCTION_VERSION",
        "AWS_LAMBDA_LOG_GROUP_NAME",
        "AWS_LAMBDA_LOG_STREAM_NAME",
        "AWS_LAMBDA_EXEC_WRAPPER",
        "AWS_NODEJS_CONNECTION_REUSE_ENABLED",
        "_HANDLER",
    }
)


def _handler_name(fn: Any) -> str:
    if getattr(fn, "package_type", "Zip") == "Image":
        cmd = list(getattr(fn.image_config, "cmd", None) or [])
        if not cmd:
            raise ValueError(f"Image function {fn.function_name} has no ImageConfig.Command")
        return str(cmd[0])
    if not fn.handler:
        raise ValueError(f"Function {fn.function_name} has no Handler")
    return str(fn.handler)


def function_spec(fn: Any) -> Any:
    """What the local Lambda runtime needs of a moto function: all of it from the template."""
    from ..runtime import FunctionSpec

    return FunctionSpec(
        name=fn.function_name,
        handler=_handler_name(fn),
        timeout_s=float(fn.timeout or 3),
        memory_mb=int(fn.memory_size or 128),
        environment=dict(fn.environment_vars or {}),
        arn=fn.function_arn,
        version=str(fn.version),
        reserved_concurrency=None if fn.reserved_concurrency is None else int(fn.reserved_concurrency),
    )


def _invoke_lambda_in_environment(self: Any, event: Any = None) -> tuple[str, bool, str]:
    """Replacement for ``LambdaFunction._invoke_lambda``: run the invocation in an execution environment.

    Returns ``(payload, errored, logs)`` like the original; on an error the payload is the Lambda error
    document (``errorType``/``errorMessage``, with ``stackTrace`` for handler exceptions). The dispatch
    lock is let go while the function runs: it calls AWS itself.
    """
    from ..runtime import current

    with DISPATCH_LOCK.released():
        result = current().invoke(function_spec(self), {} if event is None else event)
    return result.payload, result.errored, ""


def _header(headers: Any, name: str) -> str | None:
    if not headers:
        return None
    for key in (name, name.lower(), name.title()):
        try:
            value = headers.get(key)
        except AttributeError:
            return None
        if value:
            return str(value)
    for key, value in dict(headers).items():
        if str(key).lower() == name.lower():
            return str(value)
    return None


def invoke_async(fn: Any, event: Any) -> Any:
    """Queue ``event`` for ``fn`` (InvocationType=Event): retried and dead-lettered as in AWS."""
    from ..runtime import current

    return current().invoke_async(function_spec(fn), event)


def wait_async_idle(timeout: float = 30.0) -> bool:
    """Wait until no asynchronous invocation is running (also those they start). True if idle."""
    from ..runtime import current

    return current().wait_async_idle(timeout)


def _lambda_invoke(self: Any, body: Any, request_headers: Any, response_headers: Any) -> str | bytes:
    """Replacement for ``LambdaFunction.invoke``: honour InvocationType and report errors as AWS.

    * ``Event``: queue the invocation and return at once (the response layer answers 202);
    * ``DryRun``: do nothing;
    * ``RequestResponse``: run it; an error sets ``FunctionError: Unhandled`` (moto says ``Handled``).
    """
    if isinstance(body, (bytes, bytearray)):
        body = body.decode("utf-8")
    inv_type = _header(request_headers, "X-Amz-Invocation-Type") or "RequestResponse"
    if inv_type == "DryRun":
        return b""
    if inv_type == "Event":
        invoke_async(self, json.loads(body) if body else {})
        return b""
    payload, errored, logs = self._invoke_lambda(event=body or "{}")
    if errored:
        response_headers["x-amz-function-error"] = "Unhandled"
    response_headers["x-amz-log-result"] = base64.b64encode(logs.encode("utf-8")).decode("ascii")
    return payload.encode("utf-8")


def patch_lambda_runtime() -> None:
    """P1: run Lambda invocations in the local runtime's execution environments instead of Docker.

    moto's ``LambdaFunction._invoke_lambda`` starts a Docker container; there is no Docker here. The
    replacement hands the invocation to ``infra.local.runtime`` (worker processes with Lambda's
    contract). ``LambdaFunction.invoke`` is replaced too: moto runs ``Event`` invocations synchronously
    and flags handler errors as ``Handled``; AWS returns 202 at once and says ``Unhandled``.
    """
    from moto.awslambda.models import LambdaFunction

    replace(LambdaFunction, "_invoke_lambda", _invoke_lambda_in_environment)
    replace(LambdaFunction, "invoke", _lambda_invoke)
