"""Local Lambda execution environments that keep Lambda's contract.

Each function of the template gets a pool of execution environments. An environment is a worker process
(``infra.local.runtime.worker``) that runs one invocation at a time, with module state of its own and the
function's environment from the template; it reaches the embedded AWS over the local endpoint
(``AWS_ENDPOINT_URL``), as a Lambda reaches AWS over the network. What Lambda guarantees holds here:

* one invocation at a time per environment; a new environment starts when all are busy, up to the
  function's reserved concurrency or the local cap (``SWAPFLOW_LOCAL_MAX_ENVIRONMENTS``, default 8);
  beyond it an invocation waits for a free environment (AWS would throttle); a caller that stops
  waiting first (a Step Functions task past its timeout, ``caller_waits_while``) has its invocation
  dropped before it starts, as a throttled invocation never runs;
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
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .service import LambdaRuntime

LOG = logging.getLogger(__name__)

#: How often a queued invocation looks whether its caller still waits for it.
CALLER_CHECK_SECONDS = 0.25

_CALLER = threading.local()


@contextlib.contextmanager
def caller_waits_while(alive: Callable[[], bool]) -> Iterator[None]:
    """Invocations made in this block (this thread) are dropped unstarted once ``alive()`` is false."""
    previous = getattr(_CALLER, "alive", None)
    _CALLER.alive = alive
    try:
        yield
    finally:
        _CALLER.alive = previous


#: What a dropped invocation answers (nobody reads it: its caller has gone).
_ABANDONED = {
    "errorType": "TooManyRequestsException",
    "errorMessage": "Rate Exceeded. The caller stopped waiting before an execution environment was free",
}


def _caller_gone() -> bool:
    alive = getattr(_CALLER, "alive", None)
    return alive is not None and not alive()


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


class Pool:
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
            return Invocation(request_id, json.dumps(init_error), True, cold=init_error is not _ABANDONED)
        try:
            payload, errored, duration = acquired.invoke(request_id, event_json)
            return Invocation(request_id, payload, errored, init_ms is not None, init_ms, duration, acquired.pid)
        finally:
            self._release(acquired)

    def _acquire(self) -> tuple[_Environment | None, float | None, dict[str, Any] | None]:
        with self.cond:
            while True:
                if _caller_gone():
                    self.cond.notify()  # pass on a wake-up this waiter may have taken
                    return None, None, _ABANDONED
                while self.idle:
                    warm = self.idle.pop()  # most recently used first: warm
                    if warm.alive:
                        self.busy.add(warm)
                        return warm, None, None
                    warm.close()
                if len(self.busy) + self.starting < self.cap:
                    self.starting += 1
                    break
                self.cond.wait(CALLER_CHECK_SECONDS if getattr(_CALLER, "alive", None) else None)
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


def keep_main_out() -> None:
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
