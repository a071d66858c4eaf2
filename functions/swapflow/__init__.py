"""swapflow: a serverless face-swap job service (AWS Lambda + Step Functions).

`swapflow.Client` is the Python client of its API (swapflow/client/), imported on first use so
that the Lambda handlers, which import this package, do not pay for it.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    if name in {"Client", "SwapflowError", "JobFailedError"}:
        from . import client

        return getattr(client, name)
    raise AttributeError(f"module 'swapflow' has no attribute {name!r}")
