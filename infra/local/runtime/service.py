"""The local Lambda service: every function's pool of environments, async invocations, housekeeping.

Synchronous invocations go to the function's pool (``environments``); asynchronous ones (``Event``) run
on a thread each and are retried as the function's EventInvokeConfig says (AWS waits about 1 then 2
minutes, scaled by the stack's time scale), then handed to the on-failure destination. A memory watchdog
enforces ``MemorySize`` on busy environments and a reaper closes idle ones.
"""

from __future__ import annotations

import contextlib
import json
import logging
import multiprocessing
import os
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

from .environments import THREAD_VARIABLES, AsyncConfig, FunctionSpec, Invocation, Pool, keep_main_out

LOG = logging.getLogger(__name__)

#: Imported once in the fork server, so every environment starts with them loaded (copy-on-write).
PRELOAD = ["infra.local.runtime.worker", "json", "boto3", "botocore.session", "urllib3", "aws_lambda_powertools"]


class LambdaRuntime:
    """Every function's environments, the memory watchdog, the reaper and async invocations."""

    def __init__(
        self,
        *,
        endpoint: str,
        region: str = "us-east-1",
        max_environments: int | None = None,
        idle_seconds: float | None = None,
        enforce_memory: bool | None = None,
        delay_scale: Callable[[], float] = lambda: 1.0,
    ) -> None:
        self.endpoint = endpoint
        self.region = region
        self.max_environments = max_environments or int(os.environ.get("SWAPFLOW_LOCAL_MAX_ENVIRONMENTS", "8"))
        self.idle_seconds = idle_seconds or float(os.environ.get("SWAPFLOW_LOCAL_IDLE_SECONDS", "300"))
        if enforce_memory is None:
            enforce_memory = os.environ.get("SWAPFLOW_LOCAL_MEMORY_LIMITS", "1") != "0"
        self.enforce_memory = enforce_memory
        self.delay_scale = delay_scale
        self.async_configs: dict[str, AsyncConfig] = {}
        self.failure_sink: Callable[[str, dict[str, Any]], None] | None = None
        self.async_failures: list[dict[str, Any]] = []
        keep_main_out()
        self.context = multiprocessing.get_context("forkserver")
        with contextlib.suppress(ValueError):
            self.context.set_forkserver_preload(PRELOAD)
        self._pools: dict[str, Pool] = {}
        self._lock = threading.Lock()
        self._async_threads: set[threading.Thread] = set()
        self._stopping = threading.Event()
        for target, name in ((self._watch_memory, "lambda-memory"), (self._reap, "lambda-reaper")):
            threading.Thread(target=target, name=name, daemon=True).start()

    # ------------------------------------------------------------------ invocations
    def environment_for(self, spec: FunctionSpec) -> dict[str, str]:
        """The host's environment, the function's variables from the template, and what Lambda sets."""
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_LAMBDA_", "_HANDLER", "_X_AMZN"))}
        threads = os.environ.get("SWAPFLOW_LOCAL_THREADS_PER_ENVIRONMENT", "1")
        env.update({name: threads for name in THREAD_VARIABLES if name not in env})
        env.update({str(k): str(v) for k, v in spec.environment.items()})
        env.update(
            {
                "AWS_ENDPOINT_URL": self.endpoint,
                "AWS_REGION": self.region,
                "AWS_DEFAULT_REGION": self.region,
                "AWS_ACCESS_KEY_ID": env.get("AWS_ACCESS_KEY_ID", "testing"),
                "AWS_SECRET_ACCESS_KEY": env.get("AWS_SECRET_ACCESS_KEY", "testing"),
                "AWS_EXECUTION_ENV": "AWS_Lambda_python3.12",
                "AWS_LAMBDA_FUNCTION_NAME": spec.name,
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory_mb),
                "AWS_LAMBDA_FUNCTION_VERSION": spec.version,
                "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{spec.name}",
                "_HANDLER": spec.handler,
            }
        )
        return env

    def _pool(self, spec: FunctionSpec) -> Pool:
        with self._lock:
            if self._stopping.is_set():
                raise RuntimeError("the local Lambda runtime is shut down")
            pool = self._pools.get(spec.name)
            if pool is None or pool.spec != spec:  # a changed function gets fresh environments, as in AWS
                if pool is not None:
                    threading.Thread(target=pool.close, daemon=True).start()
                pool = self._pools[spec.name] = Pool(self, spec)
            return pool

    def invoke(self, spec: FunctionSpec, event: Any, request_id: str | None = None) -> Invocation:
        """A synchronous (RequestResponse) invocation."""
        request_id = request_id or str(uuid.uuid4())
        event_json = event if isinstance(event, str) else json.dumps(event)
        return self._pool(spec).invoke(event_json, request_id)

    def invoke_async(self, spec: FunctionSpec, event: Any) -> threading.Thread:
        """An asynchronous (Event) invocation: retried on error as the function's EventInvokeConfig says."""
        thread = threading.Thread(target=self._run_async, args=(spec, event), name=f"lambda-event:{spec.name}")
        thread.daemon = True
        with self._lock:
            self._async_threads.add(thread)
        thread.start()
        return thread

    def _run_async(self, spec: FunctionSpec, event: Any) -> None:
        config = self.async_configs.get(spec.name, AsyncConfig())
        request_id = str(uuid.uuid4())
        try:
            for attempt in range(config.max_retries + 1):
                # AWS waits about 1 minute, then 2, between attempts
                if attempt and self._stopping.wait(60.0 * attempt * self.delay_scale()):
                    return
                result = self.invoke(spec, event, request_id)
                if not result.errored:
                    return
                error = result.error or {}
                LOG.error(
                    "async invoke of %s failed (attempt %d): %s: %s",
                    spec.name,
                    attempt + 1,
                    error.get("errorType"),
                    error.get("errorMessage"),
                )
            record = _destination_record(spec, event, request_id, config.max_retries + 1, error)
            self.async_failures.append(record)
            del self.async_failures[:-1000]
            if config.on_failure_arn and self.failure_sink is not None:
                try:
                    self.failure_sink(config.on_failure_arn, record)
                except Exception:
                    LOG.exception("could not deliver the failed invocation of %s", spec.name)
        finally:
            with self._lock:
                self._async_threads.discard(threading.current_thread())

    def wait_async_idle(self, timeout: float = 30.0) -> bool:
        """Wait until no asynchronous invocation is running (also those they start). True if idle."""
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                threads = list(self._async_threads)
            if not threads:
                return True
            for thread in threads:
                thread.join(max(0.0, deadline - time.monotonic()))
            if time.monotonic() >= deadline:
                with self._lock:
                    return not self._async_threads

    # ------------------------------------------------------------------ housekeeping
    def _watch_memory(self) -> None:
        while not self._stopping.wait(0.05):
            with self._lock:
                pools = list(self._pools.values())
            for pool in pools:
                limit = pool.spec.memory_mb * 1024 * 1024
                with pool.cond:
                    busy = list(pool.busy)
                for env in busy:
                    rss = env.rss_bytes()
                    env.peak_rss = max(env.peak_rss, rss)
                    if self.enforce_memory and rss > limit:
                        LOG.error("%s used %d MB of its %d MB: killed", pool.spec.name, rss >> 20, pool.spec.memory_mb)
                        env.kill("memory")

    def _reap(self) -> None:
        while not self._stopping.wait(min(5.0, self.idle_seconds)):
            with self._lock:
                pools = list(self._pools.values())
            for pool in pools:
                pool.reap(self.idle_seconds)

    def stats(self) -> dict[str, dict[str, Any]]:
        """Per function: environments idle and busy, started so far, and their resident memory."""
        out: dict[str, dict[str, Any]] = {}
        with self._lock:
            pools = list(self._pools.values())
        for pool in pools:
            with pool.cond:
                envs = [*pool.idle, *pool.busy]
                out[pool.spec.name] = {
                    "idle": len(pool.idle),
                    "busy": len(pool.busy),
                    "started": pool.started,
                    "rss_bytes": [e.rss_bytes() for e in envs],
                    "pids": [e.pid for e in envs],
                }
        return out

    def shutdown(self) -> None:
        self._stopping.set()
        with self._lock:
            pools = list(self._pools.values())
            self._pools.clear()
        for pool in pools:
            pool.close()


def _destination_record(
    spec: FunctionSpec, event: Any, request_id: str, attempts: int, error: dict[str, Any]
) -> dict[str, Any]:
    """What Lambda sends an on-failure destination for an async invocation that kept failing."""
    return {
        "version": "1.0",
        "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()),
        "requestContext": {
            "requestId": request_id,
            "functionArn": f"{spec.arn}:{spec.version}",
            "condition": "RetriesExhausted",
            "approximateInvokeCount": attempts,
        },
        "requestPayload": event,
        "responseContext": {"statusCode": 200, "executedVersion": spec.version, "functionError": "Unhandled"},
        "responsePayload": error,
    }
