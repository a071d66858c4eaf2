"""The local Lambda runtime: execution environments with Lambda's contract (``environments``) and the
service that runs invocations on them (``service``).

One runtime serves one embedded stack (one process); ``configure`` makes it, ``current`` finds it for
the moto patch that hands every invocation to it (P1).
"""

from __future__ import annotations

from typing import Any

from .environments import AsyncConfig, FunctionSpec, Invocation
from .service import LambdaRuntime

__all__ = ["AsyncConfig", "FunctionSpec", "Invocation", "LambdaRuntime", "configure", "current", "shutdown"]

_CURRENT: list[LambdaRuntime] = []


def configure(**kwargs: Any) -> LambdaRuntime:
    """Start the runtime for this process (replacing a previous one, which is shut down)."""
    shutdown()
    runtime = LambdaRuntime(**kwargs)
    _CURRENT.append(runtime)
    return runtime


def current() -> LambdaRuntime:
    if not _CURRENT:
        raise RuntimeError("the local Lambda runtime is not started (infra.local.runtime.configure)")
    return _CURRENT[-1]


def shutdown() -> None:
    while _CURRENT:
        _CURRENT.pop().shutdown()
