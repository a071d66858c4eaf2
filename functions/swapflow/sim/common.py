"""What both provider simulators share: a loopback ThreadingHTTPServer, per-route call counters, fault
modes, a job table with timed queued -> processing -> done transitions, input fetching, the offline
engine (with a fallback while it is not importable), served outputs and webhook delivery. The HTTP
plumbing (request, response, the loopback server) is in sim/server.py.

Fault modes (a set of names, chosen per run):
  slow               processing takes `slow_factor` times longer
  burst_5xx          the first `fault_count` API requests answer 503 (Retry-After: 1)
  rate_limit         the first `fault_count` API requests answer 429 (Retry-After: 1)
  lost_webhook       no webhook is sent
  duplicate_webhook  the same delivery (same ids, same signature) is sent twice
  early_webhook      the job runs inside the submit call: its webhook arrives before the submit answer
  fail_job           jobs end failed
  url_before_success (Akool) `url` is present while the job is still processing
  quota              submits are refused for lack of credit (Akool 1006, WaveSpeed 402)

An account tier (`tier=(concurrent, per_minute)`, e.g. WaveSpeed's lowest (2, 2)) makes a submit answer
429 when that many tasks are still running or were submitted in the last `minute_seconds` (60; tests
shrink it with the stack's time scale); `tier_refusals` counts those answers.
"""

from __future__ import annotations

import collections
import threading
import time
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from http.server import ThreadingHTTPServer
from typing import Any, Self
from urllib.parse import urlsplit

import urllib3

from swapflow.images import EXTENSIONS
from swapflow.sim.engine import EngineFailure, face_target, run_engine, sniff_type
from swapflow.sim.process import print_banner, stop_signal, wait_forever
from swapflow.sim.server import Request, Response, Route, loopback_server

FAULTS = frozenset(
    {
        "slow",
        "burst_5xx",
        "rate_limit",
        "lost_webhook",
        "duplicate_webhook",
        "early_webhook",
        "fail_job",
        "url_before_success",
        "quota",
    }
)
QUEUED, PROCESSING, COMPLETED, FAILED = "queued", "processing", "completed", "failed"


@dataclass
class SimJob:
    id: str
    status: str = QUEUED
    webhook_url: str | None = None
    request: dict[str, Any] = field(default_factory=dict)
    output_url: str | None = None
    output_ext: str = "jpg"
    error: str = ""
    created_at: float = field(default_factory=time.time)
    done: threading.Event = field(default_factory=threading.Event)


class BaseSimulator:
    """Subclasses fill `routes` and implement `process(job)`; the base does the rest."""

    provider = "sim"

    def __init__(
        self,
        *,
        faults: Iterable[str] = frozenset(),
        processing_seconds: float = 0.5,
        port: int = 0,
        fault_count: int = 2,
        slow_factor: float = 6.0,
        webhook_attempts: int = 3,
        tier: tuple[int, int] | None = None,
        minute_seconds: float = 60.0,
        retention_seconds: float | None = None,
    ) -> None:
        self.base_processing_seconds = processing_seconds
        # Ended jobs and served files are forgotten this long after (None: kept for the sim's life), so
        # a long run (a 10,000-job manifest bench) does not keep every input and output in memory.
        self.retention_seconds = retention_seconds
        self._expiry: collections.deque[tuple[float, str, str]] = collections.deque()  # (at, "job"|"file", key)
        self.tier = tier
        self.minute_seconds = minute_seconds
        self.tier_refusals = 0
        self.peak_running = 0
        self._submitted_at: collections.deque[float] = collections.deque()
        self.slow_factor = slow_factor
        self.set_faults(faults)
        self.port = port
        self.fault_count = fault_count
        self.webhook_attempts = webhook_attempts
        self.calls: collections.Counter[str] = collections.Counter()
        # (url, status or None) for every webhook delivery attempt, in order.
        self.webhook_log: list[tuple[str, int | None]] = []
        self.jobs: dict[str, SimJob] = {}
        self.files: dict[str, tuple[bytes, str]] = {}  # served blobs: path -> (bytes, content type)
        self._lock = threading.Lock()
        self._faulted = 0
        self._stopping = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._threads: list[threading.Thread] = []
        self._http = urllib3.PoolManager(retries=False, timeout=urllib3.Timeout(connect=2.0, read=10.0))
        self.base_url = ""

    def set_faults(self, faults: Iterable[str]) -> None:
        """Choose the fault modes for the jobs submitted from now on (a long-running sim, many runs)."""
        chosen = frozenset(faults)
        unknown = chosen - FAULTS
        if unknown:
            raise ValueError(f"unknown fault mode(s): {', '.join(sorted(unknown))}")
        self.faults = chosen
        self._faulted = 0
        self.processing_seconds = self.base_processing_seconds * (self.slow_factor if "slow" in chosen else 1.0)

    # --- lifecycle --------------------------------------------------------------------------------

    def start(self) -> str:
        self._server = loopback_server(self.port, self.dispatch)
        self.port = int(self._server.server_address[1])
        self.base_url = f"http://127.0.0.1:{self.port}"
        thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"{self.provider}-sim",
            daemon=True,
        )
        thread.start()
        return self.base_url

    def stop(self) -> None:
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        for thread in list(self._threads):
            thread.join(timeout=5)

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- routing ----------------------------------------------------------------------------------

    #: Files the simulated provider serves (outputs, uploads): route name -> path prefix.
    FILES: dict[str, str] = {"serve_output": "/outputs/"}

    def api_routes(self) -> list[tuple[str, str, str, Route]]:
        """The provider's API: (method, path or prefix ending in '/', route name, handler)."""
        raise NotImplementedError

    def routes(self) -> list[tuple[str, str, str, Route]]:
        """The API's routes, then the files' (first match wins)."""
        return [*self.api_routes(), *(("GET", prefix, name, self.serve_file) for name, prefix in self.FILES.items())]

    def dispatch(self, request: Request) -> Response:
        for method, pattern, name, handler in self.routes():
            matches = request.path.startswith(pattern) if pattern.endswith("/") else request.path == pattern
            if method == request.method and matches:
                self.calls[name] += 1
                if not name.startswith("serve_"):  # the API's routes: faults first, then the key
                    refused = self._injected_fault() or self.refuse_unauthorized(request)
                    if refused is not None:
                        return refused
                return handler(request)
        self.calls["not_found"] += 1
        return self.not_found()

    def refuse_unauthorized(self, request: Request) -> Response | None:
        """The provider's answer to a request without its valid API key; None: let it through."""
        raise NotImplementedError

    def not_found(self) -> Response:
        return Response.json({"code": 404, "message": "not found", "data": None}, 404)

    def _injected_fault(self) -> Response | None:
        if not self.faults & {"burst_5xx", "rate_limit"}:
            return None
        with self._lock:
            if self._faulted >= self.fault_count:
                return None
            self._faulted += 1
        if "rate_limit" in self.faults:
            return Response.json({"code": 429, "message": "Too Many Requests", "data": None}, 429, {"Retry-After": "1"})
        return Response.json({"code": 503, "message": "Service Unavailable", "data": None}, 503, {"Retry-After": "1"})

    def over_tier(self) -> bool:
        """Whether a submit now breaks the account tier (counted in `tier_refusals`); else it is counted in."""
        now = time.monotonic()
        with self._lock:
            running = sum(1 for job in self.jobs.values() if not job.done.is_set())
            while self._submitted_at and self._submitted_at[0] <= now - self.minute_seconds:
                self._submitted_at.popleft()
            if self.tier and (running >= self.tier[0] or len(self._submitted_at) >= self.tier[1]):
                self.tier_refusals += 1
                return True
            self._submitted_at.append(now)
            self.peak_running = max(self.peak_running, running + 1)
        return False

    def serve_file(self, request: Request) -> Response:
        blob = self.files.get(request.path)
        if blob is None:
            return Response(404, b"not found", "text/plain")
        return Response(200, blob[0], blob[1])

    # --- jobs -------------------------------------------------------------------------------------

    def new_id(self) -> str:
        return uuid.uuid4().hex

    def start_job(self, job: SimJob) -> None:
        """Run `job` in the background, or inline (before the submit answer) under early_webhook."""
        with self._lock:
            self.jobs[job.id] = job
            self._forget_expired()
        if "early_webhook" in self.faults:
            self._run(job, inline=True)
            return
        thread = threading.Thread(target=self._run, args=(job,), daemon=True, name=f"job-{job.id[:8]}")
        self._threads.append(thread)
        thread.start()

    def store_file(self, path: str, data: bytes, content_type: str) -> None:
        """Serve `data` at `path` (an upload, an output) until the retention forgets it."""
        self.files[path] = (data, content_type)
        self._expire_later("file", path)

    def _expire_later(self, kind: str, key: str) -> None:
        if self.retention_seconds is not None:
            with self._lock:
                self._expiry.append((time.monotonic(), kind, key))

    def _forget_expired(self) -> None:
        """Drop ended jobs and files older than the retention (called with the lock held, at each submit)."""
        if self.retention_seconds is None:
            return
        cutoff = time.monotonic() - self.retention_seconds
        while self._expiry and self._expiry[0][0] <= cutoff:
            _, kind, key = self._expiry.popleft()
            if kind == "job":
                self.jobs.pop(key, None)
            else:
                self.files.pop(key, None)
        self._threads = [thread for thread in self._threads if thread.is_alive()]

    def _run(self, job: SimJob, inline: bool = False) -> None:
        total = 0.0 if inline else self.processing_seconds
        self._sleep(total * 0.2)
        job.status = PROCESSING
        self.on_processing(job)
        started = time.monotonic()
        try:
            if "fail_job" in self.faults:
                raise EngineFailure("provider_failed", "inference failed: HTTP 500 from the worker")
            data, content_type = self.process(job)
        except EngineFailure as exc:
            job.error = exc.message
            job.status = FAILED
        except Exception as exc:
            job.error = f"{type(exc).__name__}: {exc}"
            job.status = FAILED
        else:
            job.output_ext = EXTENSIONS.get(content_type, "jpg")
            self._sleep(max(0.0, total * 0.8 - (time.monotonic() - started)))
            # The output is served only from here on: a url handed out earlier answers 404 until now.
            self.store_file(self.output_path(job), data, content_type)
            job.output_url = self.base_url + self.output_path(job)
            job.status = COMPLETED
        job.done.set()
        self._expire_later("job", job.id)
        if job.webhook_url and "lost_webhook" not in self.faults and not self._stopping.is_set():
            headers, body = self.webhook_delivery(job)
            for _ in range(2 if "duplicate_webhook" in self.faults else 1):
                self.deliver(job.webhook_url, headers, body)

    def output_path(self, job: SimJob) -> str:
        return f"/outputs/{job.id}.{job.output_ext}"

    def _sleep(self, seconds: float) -> None:
        if seconds > 0:
            self._stopping.wait(seconds)

    def on_processing(self, job: SimJob) -> None:
        """Hook: the job just moved to processing."""

    def process(self, job: SimJob) -> tuple[bytes, str]:
        raise NotImplementedError

    def webhook_delivery(self, job: SimJob) -> tuple[dict[str, str], bytes]:
        raise NotImplementedError

    def deliver(self, url: str, headers: Mapping[str, str], body: bytes) -> int | None:
        """POST one webhook; retried a few times until it gets a 2xx (both providers retry)."""
        status: int | None = None
        for attempt in range(self.webhook_attempts):
            try:
                answer = self._http.request(
                    "POST", url, body=body, headers={"Content-Type": "application/json", **headers}
                )
                status = answer.status
            except urllib3.exceptions.HTTPError:
                status = None
            self.webhook_log.append((url, status))
            if status is not None and 200 <= status < 300:
                break
            if self._stopping.wait(0.2 * (attempt + 1)):
                break
        return status

    def fetch(self, url: str) -> bytes:
        """Read an input image: our own served files directly, anything else over HTTP."""
        parts = urlsplit(url)
        if self.base_url and url.startswith(self.base_url) and parts.path in self.files:
            return self.files[parts.path][0]
        answer = self._http.request("GET", url, timeout=urllib3.Timeout(connect=2.0, read=10.0))
        if answer.status != 200:
            raise EngineFailure("image_unreadable", f"could not fetch input (status {answer.status})")
        return bytes(answer.data)


__all__ = [
    "EXTENSIONS",
    "EngineFailure",
    "face_target",
    "print_banner",
    "run_engine",
    "sniff_type",
    "stop_signal",
    "wait_forever",
]
