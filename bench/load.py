"""Load on the local stack: requests/s and p50/p95/p99 latency per route at 1, 8 and 32 concurrent
clients (no think time), and jobs/s end to end (accepted -> terminal).

    .venv/bin/python bench/load.py [--seconds 20] [--levels 1,8,32]

Prints a table and writes bench/results/load.json. The clients use the route mix of the e2e load test
(tests/e2e/load_mix.py) on the engine provider, with two tenants; loopback only, bounded in time.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests" / "e2e")]
RESULTS = ROOT / "bench" / "results" / "load.json"


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--levels", default="1,8,32")
    args = parser.parse_args()
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")
    os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
    os.environ["SWAPFLOW_TENANT_RPS"] = "0"
    os.environ.setdefault("SWAPFLOW_LOCAL_MAX_ENVIRONMENTS", "8")

    from load_mix import LoadMix

    from infra.local.runner import LocalConfig, LocalStack

    stack = LocalStack(LocalConfig(port=0, aws_port=0)).start()
    from swapflow.wiring import tenants

    keys = {"local": stack.config.api_key, "bench-b": tenants().create_key("bench-b")[0]}
    levels: dict[str, Any] = {}
    try:
        for clients in (int(c) for c in args.levels.split(",")):
            mix = LoadMix(
                stack.api_url,
                stack.aws_url,
                stack.outputs["InputBucketName"],
                keys,
                think=(0.0, 0.0),
                trigger_tenant="local",
            )
            per_tenant = max(1, clients // len(keys))
            started = time.monotonic()
            mix.run(args.seconds, clients_per_tenant=per_tenant)
            owner = {job_id: sent.tenant for job_id, sent in mix.ledger.jobs.items()}
            owner.update({job_id: "local" for job_id in mix.manifest_jobs(timeout=120)})
            mix.wait_terminal(sorted(owner), keys, owner, timeout=180)
            drained = time.monotonic() - started
            routes = mix.latency_table(args.seconds)
            total = sum(r["requests"] for r in routes.values())
            levels[str(per_tenant * len(keys))] = {
                "routes": routes,
                "requests_per_s": round(total / args.seconds, 2),
                "jobs": len(owner),
                "jobs_per_s_end_to_end": round(len(owner) / drained, 2),
                "problems": mix.ledger.problems[:20],
            }
            print(
                f"\n{per_tenant * len(keys)} clients: {total / args.seconds:.1f} req/s, "
                f"{len(owner)} jobs, {len(owner) / drained:.2f} jobs/s end to end"
            )
            print(f"  {'route':48} {'req':>5} {'rps':>7} {'p50':>8} {'p95':>8} {'p99':>8}")
            for route, row in routes.items():
                print(
                    f"  {route:48} {row['requests']:5} {row['rps']:7.2f} {row['p50_ms']:8.1f} "
                    f"{row['p95_ms']:8.1f} {row['p99_ms']:8.1f}"
                )
            if mix.ledger.problems:
                print("  problems:", *mix.ledger.problems[:5], sep="\n    ")
    finally:
        stack.stop()
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(
        json.dumps({"seconds_per_level": args.seconds, "cores": os.cpu_count(), "levels": levels}, indent=2)
    )
    print(f"\nwrote {RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
