"""A big JSONL manifest through the manifest runner on the local stack: jobs/s and memory over time.

    python bench/manifest.py [--jobs 10000] [--provider wavespeed-pro|engine]

With the default provider the WaveSpeed simulator answers at once (no processing time, no tier), so
what is measured is our orchestration: Register passes, the Distributed Map, each job's Run pass,
webhook, finishing and bookkeeping. Samples the RSS of this process (the whole stack: moto, the
handlers, the simulator) every few seconds. Prints and writes bench/results/manifest.json:
registration time, wall time to `completed`, jobs/s, RSS samples and their growth per 1,000 jobs.
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--jobs", type=int, default=10_000)
    parser.add_argument("--provider", default="wavespeed-pro")
    parser.add_argument("--every", type=float, default=5.0, help="seconds between memory samples")
    args = parser.parse_args()

    import boto3
    from batch import BatchWatch
    from meter import wavespeed_simulator

    from infra.local.client import ApiClient
    from infra.local.runner import LocalConfig, LocalStack

    sim = wavespeed_simulator(
        0.0,  # answers at once: what is measured is the orchestration
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
            samples.append({"t_s": round(time.perf_counter() - started, 1), "rss_mb": round(rss_mb(), 1), "done": done})

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
        samples.append({"t_s": 0.0, "rss_mb": round(rss_mb(), 1), "done": 0})
        started = time.perf_counter()
        status, _, accepted = api.request("POST", "/v1/batches", {"manifest": f"{folder}/manifest.jsonl"})
        if status != 202:
            raise RuntimeError(f"POST /v1/batches answered {status}: {accepted}")
        state["batch"] = accepted["id"]
        while not watch.repo.get(accepted["id"]).sealed:
            time.sleep(0.5)
        registered = time.perf_counter() - started
        counts = watch.wait(accepted["id"], started, every=30)
        wall = time.perf_counter() - started
        stop.set()
        samples.append({"t_s": round(wall, 1), "rss_mb": round(rss_mb(), 1), "done": args.jobs})
        later = [s for s in samples if s["done"] >= min(1000, args.jobs // 10)]
        growth = (
            (later[-1]["rss_mb"] - later[0]["rss_mb"]) / max(1, later[-1]["done"] - later[0]["done"]) * 1000
            if len(later) > 1
            else 0.0
        )
        results.update(
            {
                "registered_s": round(registered, 1),
                "wall_s": round(wall, 1),
                "jobs_per_s": round(args.jobs / wall, 2),
                "counts": counts,
                "rss_mb_start": samples[0]["rss_mb"],
                "rss_mb_peak": max(s["rss_mb"] for s in samples),
                "rss_mb_end": samples[-1]["rss_mb"],
                "rss_mb_per_1000_jobs_after_warmup": round(growth, 1),
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
