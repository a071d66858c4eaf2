"""A big JSONL manifest through the manifest runner on the local stack: jobs/s and memory over time.

    python bench/manifest.py [--jobs 10000] [--provider wavespeed-pro|engine]

With the default provider the WaveSpeed simulator answers at once (no processing time, no tier), so
what is measured is our orchestration: Register passes, the Distributed Map, each job's Run pass,
webhook, finishing and bookkeeping. Samples the RSS of this process (the whole stack: moto, the
handlers, the simulator) and of every Lambda environment every few seconds. Prints and writes
bench/results/manifest.json: registration time, wall time to `completed`, jobs/s, RSS at the start,
middle and end, and its least-squares growth per 1,000 jobs after a warm-up.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "functions"), str(ROOT / "bench")]
FIXTURES = ROOT / "tests" / "fixtures" / "images"


def rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def environments_rss_mb() -> float:
    """Resident memory of every Lambda execution environment of the stack (the worker processes)."""
    from infra.local.runtime import current

    return sum(sum(fn["rss_bytes"]) for fn in current().stats().values()) / 2**20


def slope_per_1000(samples: list[dict[str, float]], key: str, warmup: int) -> float:
    """Least-squares growth of `key` in MB per 1,000 jobs done, over the samples after `warmup` jobs."""
    points = [(s["done"], s[key]) for s in samples if s["done"] >= warmup]
    if len(points) < 2 or len({x for x, _ in points}) < 2:
        return 0.0
    mean_x = sum(x for x, _ in points) / len(points)
    mean_y = sum(y for _, y in points) / len(points)
    var = sum((x - mean_x) ** 2 for x, _ in points)
    return round(sum((x - mean_x) * (y - mean_y) for x, y in points) / var * 1000, 2)


def object_census() -> dict[str, tuple[int, int]]:
    """Live objects of the stack process by type: (count, shallow bytes)."""
    import gc
    from collections import Counter

    counts: Counter[str] = Counter()
    sizes: Counter[str] = Counter()
    for obj in gc.get_objects():
        kind = f"{type(obj).__module__}.{type(obj).__qualname__}"
        counts[kind] += 1
        sizes[kind] += sys.getsizeof(obj)
    return {kind: (counts[kind], sizes[kind]) for kind in counts}


def print_growth(before: dict[str, tuple[int, int]], after: dict[str, tuple[int, int]], top: int = 25) -> None:
    """The types whose live objects grew most between two censuses (what the stack keeps per job)."""
    growth = sorted(
        ((kind, n - before.get(kind, (0, 0))[0], b - before.get(kind, (0, 0))[1]) for kind, (n, b) in after.items()),
        key=lambda row: -row[2],
    )
    for kind, count, size in growth[:top]:
        print(f"+{size / 2**20:8.2f} MB  +{count:8d}  {kind}")
    print("items by table and key prefix:", json.dumps(item_census(), indent=1))
    print("log events by group (count, message bytes):", json.dumps(log_census(), indent=1))


def log_census() -> dict[str, tuple[int, int]]:
    """CloudWatch Logs events the embedded AWS keeps, by log group."""
    from moto.logs.models import logs_backends

    found: dict[str, tuple[int, int]] = {}
    for regions in logs_backends.values():
        for backend in regions.values():
            for name, group in backend.groups.items():
                events = [e for stream in group.streams.values() for e in stream.events]
                found[name] = (len(events), sum(len(e.message) for e in events))
    return found


def item_census() -> dict[str, int]:
    """DynamoDB items of the embedded AWS by table and the prefix of their keys (what a job leaves behind)."""
    from collections import Counter

    from moto.dynamodb.models import dynamodb_backends

    kinds: Counter[str] = Counter()
    for regions in dynamodb_backends.values():
        for backend in regions.values():
            for table in backend.tables.values():
                for item in table.all_items():
                    keys = [str(v.value) for k, v in item.attrs.items() if k in ("pk", "sk")]
                    kinds[f"{table.name[:24]} {' '.join(k.split('#')[0] for k in keys)}"] += 1
    return dict(kinds.most_common(30))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--jobs", type=int, default=10_000)
    parser.add_argument("--provider", default="wavespeed-pro")
    parser.add_argument("--every", type=float, default=5.0, help="seconds between memory samples")
    parser.add_argument("--trace", action="store_true", help="objects kept per job (a census)")
    parser.add_argument("--tracemalloc", action="store_true", help="with --trace: the lines that allocated it")
    args = parser.parse_args()
    if args.tracemalloc:
        import tracemalloc

        tracemalloc.start(1)

    import boto3
    from batch import BatchWatch
    from meter import load_average, wavespeed_simulator

    from infra.local.client import ApiClient
    from infra.local.runner import LocalConfig, LocalStack

    sim = wavespeed_simulator(
        0.0,  # answers at once: what is measured is the orchestration
        retention_seconds=60.0,  # what the provider keeps of an ended task: a minute, then forgotten
        SWAPFLOW_PROVIDER_CONCURRENCY=f"{args.provider}=16,*=16",
        # Finished executions are forgotten after a minute (default 15): what stays is the jobs' data.
        SWAPFLOW_LOCAL_EXECUTION_RETENTION_SECONDS=os.environ.get("SWAPFLOW_LOCAL_EXECUTION_RETENTION_SECONDS", "60"),
    )
    stack = LocalStack(LocalConfig(port=0, aws_port=0)).start()
    samples: list[dict[str, float]] = []
    stop = threading.Event()
    started = time.perf_counter()
    watch = BatchWatch(stack.outputs["TableName"])
    state: dict[str, Any] = {"batch": None}

    def sample() -> None:
        while not stop.wait(args.every):
            done = 0
            if state["batch"]:
                done = sum(
                    v
                    for k, v in watch.repo.get(state["batch"]).counts_view().items()
                    if k in ("completed", "failed", "cancelled")
                )
            samples.append(sample_now(done))

    def sample_now(done: int) -> dict[str, float]:
        stack_mb, envs_mb = rss_mb(), environments_rss_mb()
        return {
            "t_s": round(time.perf_counter() - started, 1),
            "done": done,
            "rss_mb": round(stack_mb, 1),
            "environments_rss_mb": round(envs_mb, 1),
            "total_rss_mb": round(stack_mb + envs_mb, 1),
            # S3 objects over moto's buffer live in temporary files: one descriptor each while they exist
            "open_files": len(os.listdir("/proc/self/fd")),
            "threads": threading.active_count(),
        }

    results: dict[str, Any] = {"jobs": args.jobs, "provider": args.provider, "host_cpus": os.cpu_count()}
    try:
        bucket = stack.outputs["InputBucketName"]
        s3 = boto3.client("s3")
        folder = f"uploads/local/bench-{int(time.time())}"
        for name in ("source", "target"):
            s3.put_object(Bucket=bucket, Key=f"{folder}/{name}.jpg", Body=(FIXTURES / f"{name}.jpg").read_bytes())
        line = {"provider": args.provider, "source_image": "source.jpg", "target_image": "target.jpg"}
        body = "".join(json.dumps({**line, "metadata": {"n": i}}) + "\n" for i in range(args.jobs)).encode()
        s3.put_object(Bucket=bucket, Key=f"{folder}/manifest.jsonl", Body=body)
        api = ApiClient(stack.api_url, stack.config.api_key)
        threading.Thread(target=sample, daemon=True).start()
        samples.append(sample_now(0))
        started = time.perf_counter()
        status, _, accepted = api.request("POST", "/v1/batches", {"manifest": f"{folder}/manifest.jsonl"})
        if status != 202:
            raise RuntimeError(f"POST /v1/batches answered {status}: {accepted}")
        state["batch"] = accepted["id"]
        while not watch.repo.get(accepted["id"]).sealed:
            time.sleep(0.5)
        registered = time.perf_counter() - started
        if args.trace:
            while samples[-1]["done"] < args.jobs // 5:
                time.sleep(1)
            baseline = object_census()
            if args.tracemalloc:
                allocated = tracemalloc.take_snapshot()
        counts = watch.wait(accepted["id"], started, every=30)
        if args.trace:
            print_growth(baseline, object_census())
            if args.tracemalloc:
                for stat in tracemalloc.take_snapshot().compare_to(allocated, "lineno")[:25]:
                    print(stat)
        wall = time.perf_counter() - started
        stop.set()
        samples.append(sample_now(args.jobs))
        warmup = min(1000, args.jobs // 10)
        middle = min(samples, key=lambda s: abs(s["done"] - args.jobs / 2))
        results.update(
            {
                "registered_s": round(registered, 1),
                "wall_s": round(wall, 1),
                "jobs_per_s": round(args.jobs / wall, 2),
                "counts": counts,
                "load_average_1m": load_average(),
                # the stack process and all its environments: start, middle and end of the run, and the
                # least-squares growth per 1,000 jobs once `warmup` jobs are done (flat: about 0)
                "rss_mb": {
                    point: {k: v for k, v in s.items() if k.endswith("rss_mb")}
                    for point, s in (("start", samples[0]), ("middle", middle), ("end", samples[-1]))
                },
                "rss_mb_peak": max(s["total_rss_mb"] for s in samples),
                "warmup_jobs": warmup,
                "rss_mb_per_1000_jobs_after_warmup": {
                    key: slope_per_1000(samples, key, warmup)
                    for key in ("rss_mb", "environments_rss_mb", "total_rss_mb")
                },
                "rss_samples": samples,
            }
        )
    finally:
        stop.set()
        stack.stop()
        sim.stop()
    out = ROOT / "bench" / "results" / "manifest.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps({k: v for k, v in results.items() if k != "rss_samples"}, indent=2))
    print(f"written to {out}")


if __name__ == "__main__":
    main()
