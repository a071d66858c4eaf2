"""Drop-in surfaces: WaveSpeed's and Akool's request bodies, envelopes and status words, mapped onto
ordinary swapflow jobs. The mapping modules are pure (no AWS, no Lambda events); compat/service.py runs
the use cases; handlers/compat_wavespeed.py and handlers/compat_akool.py serve them.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable

from ..jobs.models import Job

__all__ = ["provider_for", "wait_until_terminal"]


def provider_for(model: str, setting: str, default: str) -> str:
    """Which provider runs a drop-in job. `setting` (SWAPFLOW_COMPAT_PROVIDER) is empty (-> `default`),
    one provider name for every model, or "model=provider" pairs separated by commas, "*" matching any."""
    setting = setting.strip()
    if not setting:
        return default
    if "=" not in setting:
        return setting
    pairs = dict(
        (name.strip(), value.strip())
        for name, _, value in (part.partition("=") for part in setting.split(","))
        if name.strip() and value.strip()
    )
    return pairs.get(model) or pairs.get("*") or default


def wait_until_terminal(
    fetch: Callable[[], Job],
    seconds: float,
    *,
    interval: float = 0.25,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> Job:
    """Re-read the job until it is terminal or `seconds` have passed (sync modes); returns the last read."""
    deadline = clock() + max(seconds, 0)
    job = fetch()
    while not job.terminal and clock() < deadline:
        sleep(min(interval, max(deadline - clock(), 0)))
        job = fetch()
    return job


_HTTP_WORD = re.compile(r"\bHTTP(?:/\d(?:\.\d)?)?[\s:]*(?=\d)", re.IGNORECASE)


def safe_error_text(text: str) -> str:
    """Job error text for clients whose SDKs re-submit on "HTTP 5xx"/"HTTP 429" in it: say "status" instead."""
    return _HTTP_WORD.sub("status ", text)[:500]
