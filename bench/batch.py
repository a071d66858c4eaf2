"""An engine batch on the local stack: wall time, jobs/s, against the engine's own compute bound.

    python bench/batch.py [--jobs 1000]        (make bench-batch; --jobs 100 for a quick run)

Prints and writes bench/results/batch.json:
- `compute_bound_s`: the engine's swap time per job (median of the same photos, one core, measured
  here first) x jobs / this machine's cores: the fastest any orchestration could run the batch;
- `wall_s` from POST /v1/batches to the batch's `completed`, `jobs_per_s`, and
  `compute_bound_ratio` = compute_bound_s / wall_s (1.0: orchestration costs nothing);
- `cost`: AWS cost per 1,000 jobs of this batch (bench/cost.py's pricing): transitions walked in the
  synthesised state machines, Lambda invocations and AWS requests counted during the batch, priced
  at each function's median measured while jobs run one at a time (a calibration before the batch:
  in AWS every invocation has its own CPU), with the template's MemorySize and architecture.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "functions"), str(ROOT / "bench")]
FIXTURES = ROOT / "tests" / "fixtures" / "images"
UPLOADS = "uploads/local/bench"
CALIBRATION_JOBS = int(os.environ.get("BENCH_CALIBRATION_JOBS", "6"))


class BatchWatch:
    """Waits for a batch by reading its record (one GetItem a poll, counted and taken off the cost);
    GET /v1/batches/{id} would read every member each time and compete with the batch for the CPU."""

    def __init__(self, table_name: str) -> None:
        import boto3
        from swapflow.storage.batches import DynamoBatchRepository

        self.repo = DynamoBatchRepository(boto3.resource("dynamodb").Table(table_name))
        self.polls = 0

    def wait(self, batch_id: str, started: float, every: float = 15.0) -> dict[str, int]:
        last_print = 0.0
        while True:
            self.polls += 1
            batch = self.repo.get(batch_id)
            if batch.completion == "sent":
                return batch.counts_view()
            if time.perf_counter() - last_print > every:
                last_print = time.perf_counter()
                print(f"{time.perf_counter() - started:6.0f} s {batch.counts_view()}", flush=True)
            time.sleep(0.2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--jobs", type=int, default=int(os.environ.get("BENCH_BATCH_JOBS", "1000")))
    args = parser.parse_args()
    jobs = args.jobs

    import boto3
    from cost import lambda_rows, price_path, transitions_per_job
    from meter import LambdaMeter, Phases, RequestMeter
    from overhead import engine_ms

    from infra.local import moto_patches
    from infra.local.client import ApiClient
    from infra.local.runner import LocalConfig, LocalStack, synthesize

    swap_s = engine_ms() / 1000  # the engine alone on the bench photos, one core (bench/overhead.py)
    cores = os.cpu_count() or 1
    template = synthesize()
    template_file = Path(tempfile.mkdtemp()) / "template.json"
    template_file.write_text(json.dumps(template))
    os.environ.setdefault("SWAPFLOW_LOCAL_EXECUTION_RETENTION_SECONDS", "7200")
    os.environ.setdefault("SWAPFLOW_TENANT_RPS", "0")
    phases = Phases("calibration")
    lambdas, requests = LambdaMeter(phases), RequestMeter(phases)
    stack = LocalStack(LocalConfig(port=0, aws_port=0, template_path=str(template_file))).start()
    lambdas.install()
    requests.install()
    names = {name: logical_id for logical_id, name in stack.deployment.functions.items()}
    results: dict[str, Any] = {"jobs": jobs, "provider": "engine", "host_cpus": cores}
    try:
        bucket = stack.outputs["InputBucketName"]
        s3 = boto3.client("s3")
        for name in ("source", "target"):
            s3.put_object(Bucket=bucket, Key=f"{UPLOADS}/{name}.jpg", Body=(FIXTURES / f"{name}.jpg").read_bytes())
        # the local tenant's uploads (a job may only name its own objects)
        images = {kind: f"s3://{bucket}/{UPLOADS}/{kind.split('_')[0]}.jpg" for kind in ("source_image", "target_image")}
        api = ApiClient(stack.api_url, stack.config.api_key)
        watch = BatchWatch(stack.outputs["TableName"])
        for _ in range(CALIBRATION_JOBS):  # one at a time: each handler's duration with a CPU to itself
            one = api.request("POST", "/v1/batches", {"jobs": [images]})[2]
            watch.wait(one["id"], time.perf_counter(), every=1e9)
        moto_patches.wait_async_idle(10)
        phases.phase = "batch"
        watch.polls = 0
        body = {"defaults": images, "jobs": [{"metadata": {"n": i}} for i in range(jobs)]}
        started = time.perf_counter()
        status, _, accepted = api.request("POST", "/v1/batches", body)
        accept_s = time.perf_counter() - started
        if status != 202:
            raise RuntimeError(f"POST /v1/batches answered {status}: {accepted}")
        counts = watch.wait(accepted["id"], started)
        wall = time.perf_counter() - started
        moto_patches.wait_async_idle(10)
        phases.phase = "done"
        compute_bound = swap_s * jobs / cores
        results.update(
            {
                "engine_ms_per_job": round(swap_s * 1000, 1),
                "compute_bound_s": round(compute_bound, 1),
                "accept_s": round(accept_s, 2),
                "wall_s": round(wall, 1),
                "jobs_per_s": round(jobs / wall, 2),
                "compute_bound_ratio": round(compute_bound / wall, 3),
                "counts": counts,
            }
        )
        batch_lambdas = lambda_rows(lambdas.durations["batch"], names, jobs, lambdas.durations["calibration"])
        batch_requests = requests.per_job("batch", jobs)
        batch_requests["dynamodb:GetItem"] -= watch.polls / jobs  # the bench's own reads
        batch_requests["apigateway:Request"] = 1 / jobs
        passes = batch_lambdas.get(next(k for k in batch_lambdas if k.startswith("WorkflowRunJobFn")), {})
        retries = max(0.0, passes.get("invocations", 1.0) - 1)
        results["cost"] = price_path(
            template,
            transitions=transitions_per_job(template, "engine_batch", retries, batch_jobs=jobs),
            lambdas=batch_lambdas,
            requests=batch_requests,
        )
        results["usd_total"] = results["cost"]["usd_total"]
    finally:
        stack.stop()
    out = ROOT / "bench" / "results" / "batch.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))
    print(f"written to {out}")


if __name__ == "__main__":
    main()
