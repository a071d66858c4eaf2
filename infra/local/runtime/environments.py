"""Local Lambda execution environments that keep Lambda's contract.

Each function of the template gets a pool of execution environments. An environment is a worker process
(``infra.local.runtime.worker``) that runs one invocation at a time, with module state of its own and the
function's environment from the template; it reaches the embedded AWS over the local endpoint
(``AWS_ENDPOINT_URL``), as a Lambda reaches AWS over the network. What Lambda guarantees holds here:

* one invocation at a time per environment; a new environment starts when all are busy, up to the
  function's reserved concurrency or the local cap (``SWAPFLOW_LOCAL_MAX_ENVIRONMENTS``, default 8);
  beyond it an invocation waits for a free environment (AWS would throttle);
* warm reuse (most recently used first) and reaping after ``SWAPFLOW_LOCAL_IDLE_SECONDS`` (default 300);
* ``Timeout`` enforced: the invocation fails with ``Sandbox.Timedout`` / "Task timed out after N.NN
  seconds" and the environment is discarded;
* ``MemorySize`` enforced on the worker's resident memory: over it, the environment is killed and the
  invocation fails with ``Runtime.OutOfMemory`` (``SWAPFLOW_LOCAL_MEMORY_LIMITS=0`` turns this off);
* a crash (``os._exit``, a segfault in native code) fails only that invocation (``Runtime.ExitError``);
* native thread pools sized for one environment (``SWAPFLOW_LOCAL_THREADS_PER_ENVIRONMENT``, default 1;
  ``THREAD_VARIABLES``), so environments side by side do not oversubscribe the machine's cores.

Workers are forked from a fork server that has the common libraries imported already, so a cold start
costs a fork plus the handler module's own imports; ``bench/runtime.py`` measures both.
"""

from __future__ import annotations

import contextlib
import json
import logging
import multiprocessing
import os
import signal
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

LOG = logging.getLogger(__name__)

#: Imported once in the fork server, so every environment starts with them loaded (copy-on-write).
PRELOAD = ["infra.local.runtime.worker", "json", "boto3", "botocore.session", "urllib3", "aws_lambda_powertools"]
#: Lambda's Init phase limit for on-demand environments.
INIT_TIMEOUT_S = 10.0
#: Native thread pools (OpenMP, OpenBLAS, MKL, OpenCV) sized for one environment, unless the host or the
#: template says otherwise: a Lambda environment has one or two vCPUs to itself, while here many share
#: the machine's cores, and each pool sized to all of them oversubscribes it (spinning BLAS threads).
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "OPENCV_FOR_THREADS_NUM")
_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


@dataclass(frozen=True)
class FunctionSpec:
    """What the runtime needs of a function: all of it comes from the template."""

    name: str
    handler: str
    timeout_s: float = 3.0
    memory_mb: int = 128
    environment: Mapping[str, str] = field(default_factory=dict, compare=False)
    arn: str = ""
    version: str = "$LATEST"
    reserved_concurrency: int | None = None


@dataclass(frozen=True)
class AsyncConfig:
    """A function's EventInvokeConfig: retries of failed async invocations and where they go at the end."""

    max_retries: int = 2
    on_failure_arn: str | None = None


@dataclass
class Invocation:
    """One invocation's outcome, with what the benchmarks and tests look at."""

    request_id: str
    payload: str
    errored: bool
    cold: bool = False
    init_ms: float | None = None
    duration_ms: float = 0.0
    pid: int = 0

    @property
    def error(self) -> dict[str, Any] | None:
        return json.loads(self.payload) if self.errored else None


class _Environment:
    """One worker process; owned by its pool, used by one invocation at a time."""

    def __init__(self, spec: FunctionSpec, environment: dict[str, str], ctx: Any) -> None:
        from . import worker

        self.spec = spec
        self.conn, child = ctx.Pipe()
        static = {
            "function_name": spec.name,
            "function_version": spec.version,
            "invoked_function_arn": spec.arn,
            "memory_limit_in_mb": spec.memory_mb,
            "log_group_name": f"/aws/lambda/{spec.name}",
        }
        self.process = ctx.Process(
            target=worker.main, args=(child, spec.handler, environment, static), name=f"lambda:{spec.name}", daemon=True
        )
        self.process.start()
        child.close()
        self.pid: int = self.process.pid or 0
        self.kill_reason: str | None = None
        self.last_used = time.monotonic()
        self.invocations = 0
        self.peak_rss = 0

    def wait_ready(self) -> tuple[float | None, dict[str, Any] | None]:
        """(init ms, None) once the handler is imported, or (None, the init error)."""
        if not self.conn.poll(max(INIT_TIMEOUT_S, self.spec.timeout_s)):
            self.kill("init timeout")
            return None, {"errorType": "Runtime.InitTimeout", "errorMessage": "Init phase timed out"}
        try:
            kind, value = self.conn.recv()
        except (EOFError, OSError):
            return None, self._exit_error("")
        if kind == "ready":
            return float(value), None
        self.close()
        return None, dict(value)

    def invoke(self, request_id: str, event_json: str) -> tuple[str, bool, float]:
        """Run one invocation; (payload, errored, handler ms). Discards itself when it must."""
        deadline = time.time() + self.spec.timeout_s
        self.invocations += 1
        try:
            self.conn.send(("invoke", request_id, event_json, deadline))
            ready = self.conn.poll(max(0.0, deadline - time.time()))
            if ready:
                _, payload, errored, duration_ms = self.conn.recv()
                return str(payload), bool(errored), float(duration_ms)
        except (EOFError, OSError, BrokenPipeError):
            return json.dumps(self._exit_error(request_id)), True, 0.0
        self.kill("timeout")
        message = f"RequestId: {request_id} Error: Task timed out after {self.spec.timeout_s:.2f} seconds"
        return json.dumps({"errorType": "Sandbox.Timedout", "errorMessage": message}), True, self.spec.timeout_s * 1000

    def _exit_error(self, request_id: str) -> dict[str, Any]:
        self.process.join(1)
        if self.kill_reason == "memory":
            return {
                "errorType": "Runtime.OutOfMemory",
                "errorMessage": f"RequestId: {request_id} Error: Runtime exited with error: signal: killed",
            }
        code = self.process.exitcode
        if self.kill_reason is None:
            self.kill_reason = "crash"
        if code is not None and code < 0:
            with contextlib.suppress(ValueError):
                how = f"signal: {signal.Signals(-code).name.removeprefix('SIG').lower()}"
        else:
            how = f"exit status {code}"
        return {
            "errorType": "Runtime.ExitError",
            "errorMessage": f"RequestId: {request_id} Error: Runtime exited with error: {how}",
        }

    @property
    def alive(self) -> bool:
        return self.kill_reason is None and self.process.is_alive()

    def rss_bytes(self) -> int:
        try:
            with open(f"/proc/{self.pid}/statm") as statm:
                return int(statm.read().split()[1]) * _PAGE
        except (OSError, ValueError, IndexError):
            return 0

    def kill(self, reason: str) -> None:
        if self.kill_reason is None:
            self.kill_reason = reason
        with contextlib.suppress(ProcessLookupError, OSError):
            os.kill(self.pid, signal.SIGKILL)

    def close(self) -> None:
        """End the environment: close the pipe (the worker returns), then make sure it is gone."""
        with contextlib.suppress(OSError):
            self.conn.close()
        self.process.join(2)
        if self.process.is_alive():
            self.kill("closed")
            self.process.join(2)


class _Pool:
    """The environments of one function."""

    def __init__(self, runtime: LambdaRuntime, spec: FunctionSpec) -> None:
        self.runtime = runtime
        self.spec = spec
        reserved = spec.reserved_concurrency
        self.cap = runtime.max_environments if reserved is None else min(runtime.max_environments, reserved)
        self.idle: list[_Environment] = []
        self.busy: set[_Environment] = set()
        self.starting = 0
        self.cond = threading.Condition()
        self.started = 0

    def invoke(self, event_json: str, request_id: str) -> Invocation:
        if self.cap == 0:  # reserved concurrency 0: AWS throttles every invocation
            error = {
                "errorType": "TooManyRequestsException",
                "errorMessage": "Rate Exceeded. Reserved concurrency is 0",
            }
            return Invocation(request_id, json.dumps(error), True)
        acquired, init_ms, init_error = self._acquire()
        if acquired is None:
            return Invocation(request_id, json.dumps(init_error), True, cold=True)
        try:
            payload, errored, duration = acquired.invoke(request_id, event_json)
            return Invocation(request_id, payload, errored, init_ms is not None, init_ms, duration, acquired.pid)
        finally:
            self._release(acquired)

    def _acquire(self) -> tuple[_Environment | None, float | None, dict[str, Any] | None]:
        with self.cond:
            while True:
                while self.idle:
                    warm = self.idle.pop()  # most recently used first: warm
                    if warm.alive:
                        self.busy.add(warm)
                        return warm, None, None
                    warm.close()
                if len(self.busy) + self.starting < self.cap:
                    self.starting += 1
                    break
                self.cond.wait()
        env = None
        try:
            env = _Environment(self.spec, self.runtime.environment_for(self.spec), self.runtime.context)
            init_ms, error = env.wait_ready()
        except Exception as exc:  # could not even start a process: fail this invocation only
            LOG.exception("could not start an environment for %s", self.spec.name)
            init_ms, error = None, {"errorType": "Runtime.Unknown", "errorMessage": str(exc)}
        with self.cond:
            self.starting -= 1
            if error is None and env is not None:
                self.started += 1
                self.busy.add(env)
                return env, init_ms, None
            self.cond.notify()
        return None, None, error

    def _release(self, env: _Environment) -> None:
        env.last_used = time.monotonic()
        with self.cond:
            self.busy.discard(env)
            if env.alive:
                self.idle.append(env)
            self.cond.notify()
        if not env.alive:
            env.close()

    def reap(self, idle_for: float) -> None:
        cutoff = time.monotonic() - idle_for
        with self.cond:
            old = [e for e in self.idle if e.last_used < cutoff or not e.alive]
            self.idle = [e for e in self.idle if e not in old]
        for env in old:
            env.close()

    def close(self) -> None:
        with self.cond:
            envs = [*self.idle, *self.busy]
            self.idle, self.busy = [], set()
        for env in envs:
            env.kill("shutdown")
            env.close()


def _keep_main_out() -> None:
    """An environment must not import the stack's ``__main__`` (multiprocessing re-imports it in every child).

    Lambda's environment runs the handler's module and nothing of whoever invoked it; a script without a
    ``__main__`` guard would even run again. The preparation data of our ``lambda:`` processes leaves
    the main module out; other processes are untouched.
    """
    from multiprocessing import spawn

    original = spawn.get_preparation_data
    if getattr(original, "_swapflow", False):
        return

    def get_preparation_data(name: str) -> dict[str, Any]:
        data = original(name)
        if name.startswith("lambda:"):
            data.pop("init_main_from_name", None)
            data.pop("init_main_from_path", None)
        return data

    get_preparation_data._swapflow = True  # type: ignore[attr-defined]
    spawn.get_preparation_data = get_preparation_data


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
        _keep_main_out()
        self.context = multiprocessing.get_context("forkserver")
        with contextlib.suppress(ValueError):
            self.context.set_forkserver_preload(PRELOAD)
        self._pools: dict[str, _Pool] = {}
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

    def _pool(self, spec: FunctionSpec) -> _Pool:
        with self._lock:
            if self._stopping.is_set():
                raise RuntimeError("the local Lambda runtime is shut down")
            pool = self._pools.get(spec.name)
            if pool is None or pool.spec != spec:  # a changed function gets fresh environments, as in AWS
                if pool is not None:
                    threading.Thread(target=pool.close, daemon=True).start()
                pool = self._pools[spec.name] = _Pool(self, spec)
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
