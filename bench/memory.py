"""Does a long-running local stack stay flat in memory? Runs N engine jobs through the HTTP API and
samples resident memory every `--every` jobs, sweeping finished executions and threads as the stack's
janitor does: the stack's process (moto, the gateway) and the Lambda runtime's execution environments
(worker processes: their RSS summed, and PSS, which shares the pages they inherit from the fork server
fairly). Writes bench/results/memory.json.

    .venv/bin/python bench/memory.py --jobs 1000 --every 100
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "functions")]
FIXTURES = ROOT / "tests" / "fixtures" / "images"


def environments_mb(runtime: Any) -> dict[str, float]:
    """RSS and PSS of every execution environment of the runtime, summed, in MB."""
    from bench.runtime import memory_kb

    pids = [pid for pool in runtime.stats().values() for pid in pool["pids"]]
    kb = [memory_kb(pid) for pid in pids]
    return {
        "environments": len(pids),
        "environments_rss_mb": round(sum(m["rss_kb"] for m in kb) / 1024, 1),
        "environments_pss_mb": round(sum(m["pss_kb"] for m in kb) / 1024, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument("--every", type=int, default=100)
    args = parser.parse_args()

    from bench.runtime import memory_kb
    from infra.local.client import ApiClient, data_uri
    from infra.local.patches import housekeeping, lambda_runtime
    from infra.local.runner import LocalConfig, LocalStack

    os.environ.setdefault("SWAPFLOW_TENANT_RPS", "0")  # the bench polls fast; throttling is not measured here
    stack = LocalStack(LocalConfig(port=0, aws_port=0)).start()
    api = ApiClient(stack.api_url, stack.config.api_key)
    body = {"source_image": data_uri(FIXTURES / "source.jpg"), "target_image": data_uri(FIXTURES / "target.jpg")}
    samples = []
    started = time.monotonic()
    try:
        for i in range(1, args.jobs + 1):
            job = api.wait(api.submit(body)["id"], interval=0.02)
            assert job["status"] == "completed", job
            if i % args.every == 0:
                lambda_runtime.wait_async_idle(10)
                housekeeping.prune_finished_threads()
                housekeeping.forget_finished_executions(0)
                gc.collect()
                stack_kb = memory_kb(os.getpid())
                envs = environments_mb(stack.aws.runtime)
                samples.append(
                    {
                        "jobs": i,
                        "rss_mb": round(stack_kb["rss_kb"] / 1024, 1),
                        **envs,
                        "total_pss_mb": round(stack_kb["pss_kb"] / 1024 + envs["environments_pss_mb"], 1),
                        "elapsed_s": round(time.monotonic() - started, 1),
                    }
                )
                print(samples[-1], flush=True)
    finally:
        stack.stop()
    first, last = samples[0], samples[-1]
    jobs = max(1, last["jobs"] - first["jobs"])
    result = {
        "jobs": args.jobs,
        "samples": samples,
        "rss_growth_mb_per_1000_jobs_after_warmup": round((last["rss_mb"] - first["rss_mb"]) / jobs * 1000, 1),
        "total_pss_growth_mb_per_1000_jobs_after_warmup": round(
            (last["total_pss_mb"] - first["total_pss_mb"]) / jobs * 1000, 1
        ),
        "note": "S3 objects, DynamoDB items and audit-log events are kept (real data); moto holds them in memory",
    }
    out = ROOT / "bench" / "results" / "memory.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
