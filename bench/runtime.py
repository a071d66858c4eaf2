"""What the local Lambda runtime costs: per function of the real template, and the dispatch lock.

Prints a table and writes bench/results/runtime.json. Run: `.venv/bin/python bench/runtime.py` (~1-2 min).
- cold start per function (median of BENCH_COLD_RUNS, default 3): the first invocation of a fresh
  environment, round trip minus the handler's own duration (fork from the fork server + handler import
  + the invocation's IPC), and the handler import alone as the worker measured it (init_ms);
- warm invoke overhead per function (median of BENCH_WARM_RUNS, default 20): round trip minus the
  handler's own duration, through the runtime directly and through the Lambda API (boto3 -> moto -> P1);
  the event is `{}`, which every handler rejects at once (what it costs is the runtime, not the handler);
- each environment's resident memory after warm-up: RSS and PSS (/proc/PID/smaps_rollup; PSS shares
  the pages inherited from the fork server fairly among the processes that map them);
- the dispatch lock (P0): DynamoDB GetItem+PutItem calls/s through the local endpoint from 1, 8 and 32
  client threads (in a separate process, as environments are), with DISPATCH_LOCK on and off
  (alternating, BENCH_LOCK_REPEATS runs of BENCH_LOCK_SECONDS each; the median).
"""

from __future__ import annotations

import dataclasses
import json
import multiprocessing.forkserver
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "functions")]
COLD_RUNS = int(os.environ.get("BENCH_COLD_RUNS", "3"))
WARM_RUNS = int(os.environ.get("BENCH_WARM_RUNS", "20"))
LOCK_SECONDS = float(os.environ.get("BENCH_LOCK_SECONDS", "2"))
LOCK_REPEATS = int(os.environ.get("BENCH_LOCK_REPEATS", "2"))
THREADS = (1, 8, 32)

#: The client side of the dispatch-lock measurement: T threads, GetItem+PutItem for a while, calls/s.
LOAD_CLIENT = """
import sys, threading, time, boto3
url, table, threads, seconds = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
ddb = boto3.client("dynamodb", endpoint_url=url, region_name="us-east-1",
                   config=__import__("botocore.config").config.Config(max_pool_connections=threads))
counts, errors = [0] * threads, []
def run(i):
    key = {"pk": {"S": f"BENCH#{i % 4}"}, "sk": {"S": "item"}}
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            ddb.put_item(TableName=table, Item={**key, "n": {"N": str(counts[i])}, "by": {"S": str(i)}})
            ddb.get_item(TableName=table, Key=key)
            counts[i] += 2
        except Exception as exc:
            errors.append(repr(exc))
started = time.monotonic()
ts = [threading.Thread(target=run, args=(i,)) for i in range(threads)]
[t.start() for t in ts]; [t.join() for t in ts]
print(sum(counts) / (time.monotonic() - started), len(errors))
"""


def median(values: list[float]) -> float:
    return round(statistics.median(values), 2) if values else 0.0


def memory_kb(pid: int) -> dict[str, int]:
    """RSS and PSS of one process, in kB."""
    out = {"rss_kb": 0, "pss_kb": 0}
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            name, _, value = line.partition(":")
            if name in ("Rss", "Pss"):
                out[f"{name.lower()}_kb"] = int(value.split()[0])
    except OSError:
        pass
    return out


def specs(stack: Any) -> dict[str, Any]:
    """Logical id -> the runtime's FunctionSpec of each function of the deployed template."""
    from moto.awslambda.utils import get_backend

    from infra.local.patches import lambda_runtime

    backend = get_backend(stack.deployment.account, stack.deployment.region)
    return {
        logical: lambda_runtime.function_spec(backend.get_function(name))
        for logical, name in sorted(stack.deployment.functions.items())
    }


def cold_starts(stack: Any, functions: dict[str, Any]) -> dict[str, dict[str, float]]:
    """Each run uses a fresh spec (its own pool), so every function's first invocation is cold."""
    runtime = stack.aws.runtime
    cold: dict[str, list[float]] = {k: [] for k in functions}
    init: dict[str, list[float]] = {k: [] for k in functions}
    for run in range(COLD_RUNS):
        for logical, spec in functions.items():
            fresh = dataclasses.replace(spec, version=f"bench-cold-{run}")
            started = time.perf_counter()
            result = runtime.invoke(fresh, {})
            wall = (time.perf_counter() - started) * 1000
            if result.cold and result.init_ms is not None:
                cold[logical].append(wall - result.duration_ms)
                init[logical].append(result.init_ms)
    return {k: {"cold_start_ms": median(cold[k]), "handler_import_ms": median(init[k])} for k in functions}


def warm_overheads(stack: Any, functions: dict[str, Any]) -> dict[str, dict[str, Any]]:
    import boto3

    runtime = stack.aws.runtime
    lam = boto3.client("lambda", region_name=stack.deployment.region)
    out: dict[str, dict[str, Any]] = {}
    for logical, spec in functions.items():
        runtime.invoke(spec, {})  # warm
        direct, durations, api = [], [], []
        errored = 0
        for _ in range(WARM_RUNS):
            started = time.perf_counter()
            result = runtime.invoke(spec, {})
            direct.append((time.perf_counter() - started) * 1000 - result.duration_ms)
            durations.append(result.duration_ms)
            errored += result.errored
        for _ in range(WARM_RUNS):
            started = time.perf_counter()
            lam.invoke(FunctionName=spec.name, Payload=b"{}")["Payload"].read()
            api.append((time.perf_counter() - started) * 1000)
        out[logical] = {
            "warm_runtime_overhead_ms": median(direct),
            "warm_api_overhead_ms": round(median(api) - median(durations), 2),
            "handler_ms": median(durations),
            "rejected": f"{errored}/{WARM_RUNS}",
        }
    return out


def environment_memory(stack: Any, functions: dict[str, Any]) -> dict[str, dict[str, int]]:
    stats = stack.aws.runtime.stats()
    out = {}
    for logical, spec in functions.items():
        pids = stats.get(spec.name, {}).get("pids", [])
        out[logical] = memory_kb(pids[0]) if pids else {"rss_kb": 0, "pss_kb": 0}
    return out


def dispatch_lock_cost(stack: Any) -> dict[str, dict[str, Any]]:
    import boto3

    from infra.local.patches.serialized_aws import DISPATCH_LOCK

    table = "bench-dispatch"
    boto3.client("dynamodb", region_name=stack.deployment.region).create_table(
        TableName=table,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[{"AttributeName": a, "AttributeType": "S"} for a in ("pk", "sk")],
        BillingMode="PAY_PER_REQUEST",
    )
    rates: dict[str, list[float]] = {}
    errors: dict[str, int] = {}
    try:
        for threads in THREADS:
            for _ in range(LOCK_REPEATS):  # alternate, so a change in the machine's load hits both alike
                for enabled in (True, False):
                    DISPATCH_LOCK.enabled = enabled
                    done = subprocess.run(
                        [sys.executable, "-c", LOAD_CLIENT, stack.aws_url, table, str(threads), str(LOCK_SECONDS)],
                        capture_output=True,
                        text=True,
                        check=True,
                        env={**os.environ, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"},
                    )
                    rate, failed = done.stdout.split()
                    key = f"{'locked' if enabled else 'unlocked'}_{threads}_threads"
                    rates.setdefault(key, []).append(float(rate))
                    errors[key] = errors.get(key, 0) + int(failed)
    finally:
        DISPATCH_LOCK.enabled = True
    return {key: {"calls_per_s": median(values), "errors": errors[key]} for key, values in rates.items()}


def main() -> None:
    from infra.local.runner import LocalConfig, LocalStack

    began = time.monotonic()
    os.environ.setdefault("SWAPFLOW_TENANT_RPS", "0")
    # the handlers reject `{}` with a warning and a metric per invocation: keep the table readable
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "ERROR")
    os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
    stack = LocalStack(LocalConfig(port=0, aws_port=0)).start()
    try:
        functions = specs(stack)
        cold = cold_starts(stack, functions)
        warm = warm_overheads(stack, functions)
        memory = environment_memory(stack, functions)
        fork_server = memory_kb(multiprocessing.forkserver._forkserver._forkserver_pid or 0)
        lock = dispatch_lock_cost(stack)
    finally:
        stack.stop()
    per_function = {k: {**cold[k], **warm[k], **memory[k]} for k in functions}
    result = {
        "cold_runs": COLD_RUNS,
        "warm_runs": WARM_RUNS,
        "cpus": os.cpu_count(),
        "load_average_1m": round(os.getloadavg()[0], 2),
        "functions": per_function,
        "environments_total_kb": {
            "rss": sum(m["rss_kb"] for m in memory.values()),
            "pss": sum(m["pss_kb"] for m in memory.values()),
        },
        "fork_server_kb": fork_server,
        "memory_note": "after `{}` invocations: the handler's imports only (the engine loads its model on a real job)",
        "dispatch_lock": lock,
        "elapsed_s": round(time.monotonic() - began, 1),
    }
    columns = [
        "cold_start_ms",
        "handler_import_ms",
        "warm_runtime_overhead_ms",
        "warm_api_overhead_ms",
        "handler_ms",
        "rss_kb",
        "pss_kb",
    ]
    width = max(len(k) for k in per_function)
    print(f"{'function':<{width}}  " + "  ".join(columns))
    for logical, row in per_function.items():
        print(f"{logical:<{width}}  " + "  ".join(f"{row[c]:>{len(c)}}" for c in columns))
    print("environments in all (kB):", result["environments_total_kb"], "fork server (kB):", fork_server)
    print(f"{'dispatch lock':<24}" + "".join(f"{t:>12} thr" for t in THREADS))
    for mode in ("locked", "unlocked"):
        cells = [lock[f"{mode}_{t}_threads"] for t in THREADS]
        print(f"{mode + ' calls/s (errors)':<24}" + "".join(f"{c['calls_per_s']:>10} ({c['errors']})" for c in cells))
    out = ROOT / "bench" / "results" / "runtime.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    print(f"written to {out} in {result['elapsed_s']} s")


if __name__ == "__main__":
    main()
