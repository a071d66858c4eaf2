"""Does a long-running local stack stay flat in memory? Runs N engine jobs through the HTTP API and
samples the process's resident memory every `--every` jobs, sweeping finished executions and threads
as the stack's janitor does. Writes bench/results/memory.json.

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

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "functions")]
FIXTURES = ROOT / "tests" / "fixtures" / "images"


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument("--every", type=int, default=100)
    args = parser.parse_args()

    from infra.local import moto_patches
    from infra.local.client import ApiClient, data_uri
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
                moto_patches.wait_async_idle(10)
                moto_patches.prune_finished_threads()
                moto_patches.forget_finished_executions(0)
                gc.collect()
                samples.append(
                    {"jobs": i, "rss_mb": round(rss_mb(), 1), "elapsed_s": round(time.monotonic() - started, 1)}
                )
                print(samples[-1], flush=True)
    finally:
        stack.stop()
    first, last = samples[0], samples[-1]
    per_1000 = (last["rss_mb"] - first["rss_mb"]) / max(1, last["jobs"] - first["jobs"]) * 1000
    result = {
        "jobs": args.jobs,
        "samples": samples,
        "rss_growth_mb_per_1000_jobs_after_warmup": round(per_1000, 1),
        "note": "S3 objects, DynamoDB items and audit-log events are kept (real data); moto holds them in memory",
    }
    out = ROOT / "bench" / "results" / "memory.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
