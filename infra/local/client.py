"""The local stack's face of `swapflow.Client` for `make demo`, tests and benchmarks: raw answers, dict jobs.

Tests assert on status codes and bodies, so `request` answers (status, headers, payload) whatever the
status, where `swapflow.Client.call` raises. The key goes in `x-api-key` (a test may override it with
its own header); the HTTP itself is the client's.
"""

from __future__ import annotations

import base64
import mimetypes
import time
from pathlib import Path
from typing import Any

from swapflow.client import TERMINAL, Client, fetch


def data_uri(path: Path) -> str:
    mime = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    return f"data:{mime};base64,{base64.b64encode(path.read_bytes()).decode()}"


class ApiClient:
    def __init__(self, base_url: str, api_key: str | None) -> None:
        self.client = Client(api_key="", base_url=base_url)
        self.base_url = self.client.base_url
        self.api_key = api_key

    def request(
        self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None
    ) -> tuple[int, dict[str, str], Any]:
        auth = {"x-api-key": self.api_key} if self.api_key else {}
        answer = self.client.request(method, path, body, {**auth, **(headers or {})})
        payload = answer.json()
        return answer.status, answer.headers, payload if payload is not None or not answer.body else answer.body

    def submit(self, body: dict[str, Any]) -> dict[str, Any]:
        status, _, payload = self.request("POST", "/v1/jobs", body)
        if status not in (200, 202):
            raise RuntimeError(f"submit failed with HTTP {status}: {payload}")
        return dict(payload)

    def wait(self, job_id: str, timeout: float = 120.0, interval: float = 0.2) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            status, _, job = self.request("GET", f"/v1/jobs/{job_id}")
            if status == 200 and job["status"] in TERMINAL:
                return dict(job)
            if time.monotonic() > deadline:
                raise TimeoutError(f"job {job_id} still {job and job.get('status')} after {timeout} s")
            time.sleep(interval)


def download(url: str) -> bytes:
    return fetch(url)
