"""A tiny stdlib HTTP client for the local API (used by `make demo`, tests and benchmarks)."""

from __future__ import annotations

import base64
import json
import mimetypes
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

TERMINAL = {"completed", "failed", "cancelled"}


def data_uri(path: Path) -> str:
    mime = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    return f"data:{mime};base64,{base64.b64encode(path.read_bytes()).decode()}"


class ApiClient:
    def __init__(self, base_url: str, api_key: str | None) -> None:
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key

    def request(
        self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None
    ) -> tuple[int, dict[str, str], Any]:
        data = json.dumps(body).encode() if body is not None and not isinstance(body, bytes) else body
        req = urllib.request.Request(self.base_url + path, data=data, method=method)
        req.add_header("Content-Type", "application/json")
        if self.api_key:
            req.add_header("x-api-key", self.api_key)
        for name, value in (headers or {}).items():
            req.add_header(name, value)
        try:
            with urllib.request.urlopen(req, timeout=60) as resp:
                status, resp_headers, raw = resp.status, dict(resp.headers), resp.read()
        except urllib.error.HTTPError as err:
            status, resp_headers, raw = err.code, dict(err.headers), err.read()
        try:
            return status, resp_headers, json.loads(raw) if raw else None
        except ValueError:
            return status, resp_headers, raw

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
    with urllib.request.urlopen(url, timeout=60) as resp:
        body: bytes = resp.read()
        return body
