"""What a local-stack run did, counted where it happens: Lambda invocations (and their durations) and
AWS API requests, by phase, in the process that runs moto.

`LambdaMeter` wraps the local runtime's `LambdaRuntime.invoke`, which every invocation passes through
(synchronous ones from moto's `_invoke_lambda`, asynchronous ones from the runtime's own event queue),
so a duration is the invocation as the stack sees it, waiting for an environment included.
`RequestMeter` wraps moto's `BaseResponse.call_action`, which every request to the embedded AWS passes
through (boto3 in this process or over the local endpoint), so it counts DynamoDB, S3, EventBridge,
SQS and Step Functions requests per operation, whoever made them.
"""

from __future__ import annotations

import threading
import time
from collections import Counter, defaultdict
from typing import Any

# Where the benches put their photos: the local tenant's uploads (a job may only name its own objects).
UPLOADS = "uploads/local/bench"


class Phases:
    """A current phase label shared by the meters (e.g. "calibration", "batch")."""

    def __init__(self, phase: str = "setup") -> None:
        self.phase = phase


class LambdaMeter:
    def __init__(self, phases: Phases) -> None:
        self.phases = phases
        self.durations: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
        self.lock = threading.Lock()

    def install(self) -> None:
        """Times every invocation the local runtime runs: RequestResponse ones (moto's `_invoke_lambda`
        reaches it) and Event ones (the engine, client webhooks, S3 triggers), which never pass moto's."""
        from infra.local.runtime.service import LambdaRuntime

        invoke = LambdaRuntime.invoke
        meter = self

        def timed(runtime: Any, spec: Any, event: Any, request_id: str | None = None) -> Any:
            started = time.perf_counter()
            try:
                return invoke(runtime, spec, event, request_id)
            finally:
                with meter.lock:
                    meter.durations[meter.phases.phase][spec.name].append(time.perf_counter() - started)

        LambdaRuntime.invoke = timed  # type: ignore[method-assign]


class RequestMeter:
    def __init__(self, phases: Phases) -> None:
        self.phases = phases
        self.counts: dict[str, Counter[str]] = defaultdict(Counter)
        self.lock = threading.Lock()

    def install(self) -> None:
        from moto.core.responses import BaseResponse

        call_action = BaseResponse.call_action
        meter = self

        def counted(response: Any) -> Any:
            try:
                name = f"{response.service_name}:{response._get_action()}"
            except Exception:  # never break a request for a count
                name = f"{getattr(response, 'service_name', '?')}:?"
            with meter.lock:
                meter.counts[meter.phases.phase][name] += 1
            return call_action(response)

        BaseResponse.call_action = counted  # type: ignore[method-assign]
        self._install_s3()

    def _install_s3(self) -> None:
        """S3 answers through its own dispatch, not `call_action`: count objects' and buckets' requests."""
        from moto.s3.responses import S3Response

        meter = self
        key_response, bucket_response = S3Response._key_response, S3Response._bucket_response

        def op(request: Any, scope: str) -> str:
            method = request.method.upper()
            if scope == "bucket":
                return {"GET": "ListObjects", "POST": "PostObject", "DELETE": "DeleteObjects"}.get(method, method)
            headers = request.headers
            names = headers.keys() if hasattr(headers, "keys") else [h[0] for h in headers]
            if method == "PUT" and "x-amz-copy-source" in {str(k).lower() for k in names}:
                return "CopyObject"
            return {"GET": "GetObject", "PUT": "PutObject", "HEAD": "HeadObject", "DELETE": "DeleteObject"}.get(
                method, method
            )

        def counted(original: Any, scope: str) -> Any:
            def wrapper(response: Any, request: Any, full_url: str) -> Any:
                with meter.lock:
                    meter.counts[meter.phases.phase][f"s3:{op(request, scope)}"] += 1
                return original(response, request, full_url)

            return wrapper

        S3Response._key_response = counted(key_response, "key")  # type: ignore[method-assign]
        S3Response._bucket_response = counted(bucket_response, "bucket")  # type: ignore[method-assign]

    def per_job(self, phase: str, jobs: int) -> dict[str, float]:
        return {op: round(n / jobs, 2) for op, n in sorted(self.counts[phase].items())}


def wavespeed_simulator(processing_seconds: float, retention_seconds: float | None = None, **env: str) -> Any:
    """A started WaveSpeed simulator, and this process's environment pointed at it (before the stack
    starts): the benches' stand-in for a hosted provider, with no tier and no request limit; with
    `retention_seconds` it forgets ended tasks and their files (a long bench stays flat)."""
    import os

    from swapflow.sim.wavespeed import WaveSpeedSimulator

    sim = WaveSpeedSimulator(
        api_key="k",
        webhook_secret="whsec_YmVuY2g",
        processing_seconds=processing_seconds,
        retention_seconds=retention_seconds,
    )
    sim.start()
    os.environ.update(
        {
            "SWAPFLOW_WAVESPEED_BASE_URL": sim.base_url,
            "SWAPFLOW_WAVESPEED_API_KEY": "k",
            "SWAPFLOW_WAVESPEED_WEBHOOK_SECRET": "whsec_YmVuY2g",
            "SWAPFLOW_TENANT_RPS": "0",
            "SWAPFLOW_PROVIDER_RATE_PER_MINUTE": "*=0",  # the benches run jobs back to back
            **env,
        }
    )
    return sim


class ProcessCpu:
    """CPU seconds of this process and every process below it (the fork server's Lambda environments),
    by name: `python` is the stack itself (moto, the interpreter, the gateway), `L:<handler>` one kind
    of environment. A shared machine stretches wall time, not the CPU a job costs: the benches report
    both, and the machine's load average beside them."""

    TICK = 0

    def __init__(self) -> None:
        import os

        self.root = os.getpid()
        ProcessCpu.TICK = ProcessCpu.TICK or os.sysconf("SC_CLK_TCK")

    def snapshot(self) -> dict[str, float]:
        import os

        parents: dict[int, list[int]] = defaultdict(list)
        stats: dict[int, tuple[str, float]] = {}
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open(f"/proc/{entry}/stat") as f:
                    stat = f.read()
            except OSError:
                continue
            name, rest = stat[stat.index("(") + 1 : stat.rindex(")")], stat[stat.rindex(")") + 2 :].split()
            parents[int(rest[1])].append(int(entry))
            stats[int(entry)] = (name, (int(rest[11]) + int(rest[12])) / self.TICK)
        totals: Counter[str] = Counter()
        todo = [self.root]
        while todo:
            pid = todo.pop()
            todo.extend(parents.get(pid, []))
            if pid in stats:
                name, seconds = stats[pid]
                totals[name] += seconds
        return dict(totals)

    @staticmethod
    def per_job_ms(before: dict[str, float], after: dict[str, float], jobs: int) -> dict[str, float]:
        spent = {name: after.get(name, 0.0) - before.get(name, 0.0) for name in after}
        return {name: round(s * 1000 / jobs, 1) for name, s in sorted(spent.items(), key=lambda kv: -kv[1]) if s > 0}


def load_average() -> float:
    import os

    return round(os.getloadavg()[0], 1)
