"""What the sample handlers saw, shared between their execution environments and the test process.

The handlers run in worker processes (the local Lambda runtime), so they cannot append to a list the
test reads. They append one JSON line per record to ``$SWAPFLOW_TEST_RECORDS/<kind>.jsonl`` instead,
set by the fixture before the stack starts (each environment inherits it). One ``write`` of one line
on an ``O_APPEND`` descriptor: concurrent environments never interleave records.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

ENV = "SWAPFLOW_TEST_RECORDS"


def _path(kind: str) -> Path:
    return Path(os.environ[ENV]) / f"{kind}.jsonl"


def record(kind: str, **fields: Any) -> None:
    """Append one record of ``kind`` (atomically: one line, one write)."""
    line = (json.dumps(fields) + "\n").encode()
    fd = os.open(_path(kind), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line)
    finally:
        os.close(fd)


def read(kind: str) -> list[dict[str, Any]]:
    """Every record of ``kind`` so far, oldest first."""
    try:
        text = _path(kind).read_text()
    except FileNotFoundError:
        return []
    return [json.loads(line) for line in text.split("\n")[:-1]]  # a line still being written has no "\n" yet


def tokens_for(job_id: str) -> list[dict[str, Any]]:
    """The task tokens the sample ``token_handler`` was given for ``job_id``, in order."""
    return [t for t in read("tokens") if t["input"].get("job_id") == job_id]
