"""An engine batch on the local stack: wall time, jobs/s, against the engine's own compute bound.

    python bench/batch.py [--jobs 1000]        (make bench-batch; --jobs 100 for a quick run)

Prints and writes bench/results/batch.json:
- `compute_bound_s`: the engine's swap time per job (median of the same photos, one core, measured
  here first) x jobs / this machine's cores: the fastest any orchestration could run the batch;
- `wall_s` from POST /v1/batches to the batch's `completed`, `jobs_per_s`, and
  `compute_bound_ratio` = compute_bound_s / wall_s (1.0: orchestration costs nothing);
- `cpu_ms_per_job`: CPU a job cost, by process (the stack; each kind of Lambda environment), and
  `compute_bound_ratio_idle_machine`: the ratio the same CPU per job reaches with this machine's
  cores to itself (the engine's CPU per swap, `engine_cpu_ms_per_job`, over a job's CPU spread on the
  cores, never below the stack process's own: one interpreter lock); the measured ratio is
  stretched by whatever else runs (`load_average_1m`);
- `orchestration_cpu_ms_per_job`: a job's CPU less the swap's, and `orchestration_budget_ms_at_target`:
  what it may be for `compute_bound_ratio_idle_machine` to reach 0.6 (the swap's CPU / 0.6, less the swap);
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
CALIBRATION_JOBS = int(os.environ.get("BENCH_CALIBRATION_JOBS", "6"))
TARGET_RATIO = 0.6  # issue 16: the batch at 60% of the engine's own compute bound


class BatchWatch:
    """Waits for a batch by reading its completion mark (one projected GetItem a poll, counted and taken
    off the cost); its counts are read only to print progress. GET /v1/batches/{id}, or the counts at
    every poll, would read every member (or count shard) each time and compete with the batch for the CPU."""

    def __init__(self, table_name: str) -> None:
        import boto3
        from swapflow.storage.batches import DynamoBatchRepository

        self.table = boto3.resource("dynamodb").Table(table_name)
        self.repo = DynamoBatchRepository(self.table)
        self.polls = 0

    def completion(self, batch_id: str) -> str | None:
        self.polls += 1
        key = {"pk": f"BATCH#{batch_id}", "sk": "BATCH"}
        item = self.table.get_item(Key=key, ProjectionExpression="completion", ConsistentRead=True).get("Item")
        return (item or {}).get("completion")

    def wait(self, batch_id: str, started: float, every: float = 15.0) -> dict[str, int]:
        last_print = time.perf_counter()
        while self.completion(batch_id) != "sent":
            if time.perf_counter() - last_print > every:
                last_print = time.perf_counter()
                self.polls += 1
                print(f"{time.perf_counter() - started:6.0f} s {self.repo.get(batch_id).counts_view()}", flush=True)
            time.sleep(0.2)
        self.polls += 1
        return self.repo.get(batch_id).counts_view()


def idle_machine_ratio(engine_ms: float, cpu_ms: dict[str, float], cores: int) -> float:
    """The ratio the same CPU per job gives with this machine's cores to itself: a job's CPU spread over
    the cores, but never below the stack process's own share (one interpreter lock, one core)."""
    per_job_wall_ms = max(sum(cpu_ms.values()) / cores, cpu_ms.get("python", 0.0))
    return round(min(1.0, engine_ms / cores / per_job_wall_ms), 3) if per_job_wall_ms else 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--jobs", type=int, default=int(os.environ.get("BENCH_BATCH_JOBS", "1000")))
    args = parser.parse_args()
    jobs = args.jobs

    import boto3
    from cost import lambda_rows, price_path, transitions_per_job
    from meter import UPLOADS, LambdaMeter, Phases, ProcessCpu, RequestMeter, load_average
    from overhead import engine_ms

    from infra.local.client import ApiClient
    from infra.local.patches import lambda_runtime
    from infra.local.runner import LocalConfig, LocalStack, synthesize

    swap_s = engine_ms() / 1000  # the engine alone on the bench photos, one core (bench/overhead.py)
    swap_cpu_ms = engine_ms(time.process_time)  # its CPU: what the idle-machine ratio compares
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
        images = {f"{name}_image": f"s3://{bucket}/{UPLOADS}/{name}.jpg" for name in ("source", "target")}
        api = ApiClient(stack.api_url, stack.config.api_key)
        watch = BatchWatch(stack.outputs["TableName"])
        for _ in range(CALIBRATION_JOBS):  # one at a time: each handler's duration with a CPU to itself
            one = api.request("POST", "/v1/batches", {"jobs": [images]})[2]
            watch.wait(one["id"], time.perf_counter(), every=1e9)
        lambda_runtime.wait_async_idle(10)
        phases.phase = "batch"
        watch.polls = 0
        cpu, load_before = ProcessCpu(), load_average()
        cpu_before = cpu.snapshot()
        body = {"defaults": images, "jobs": [{"metadata": {"n": i}} for i in range(jobs)]}
        started = time.perf_counter()
        status, _, accepted = api.request("POST", "/v1/batches", body)
        accept_s = time.perf_counter() - started
        if status != 202:
            raise RuntimeError(f"POST /v1/batches answered {status}: {accepted}")
        counts = watch.wait(accepted["id"], started)
        wall = time.perf_counter() - started
        cpu_ms = ProcessCpu.per_job_ms(cpu_before, cpu.snapshot(), jobs)
        load_after = load_average()
        lambda_runtime.wait_async_idle(10)
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
                # what a job cost in CPU (the stack, each kind of environment), whatever else the machine ran
                "cpu_ms_per_job": cpu_ms,
                "cpu_ms_per_job_total": round(sum(cpu_ms.values()), 1),
                "engine_cpu_ms_per_job": round(swap_cpu_ms, 1),
                "compute_bound_ratio_idle_machine": idle_machine_ratio(swap_cpu_ms, cpu_ms, cores),
                # what is not the swap: the number orchestration controls, and what the 0.6 target leaves it
                "orchestration_cpu_ms_per_job": round(sum(cpu_ms.values()) - swap_cpu_ms, 1),
                "orchestration_budget_ms_at_target": round(swap_cpu_ms / TARGET_RATIO - swap_cpu_ms, 1),
                "load_average_1m": {"before": load_before, "after": load_after},
            }
        )
        batch_lambdas = lambda_rows(lambdas.durations["batch"], names, jobs, lambdas.durations["calibration"])
        batch_requests = requests.per_job("batch", jobs)
        batch_requests["dynamodb:GetItem"] -= watch.polls / jobs  # the bench's own reads
        batch_requests["apigateway:Request"] = 1 / jobs
        results["aws_requests_per_job"] = {op: n for op, n in batch_requests.items() if n >= 0.01}
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
