"""A 1,000-job batch on the local stack (engine provider), and what the same batch would cost in AWS.

Prints and writes bench/results/batch.json. Run with `make bench-batch` (BENCH_BATCH_JOBS, default 1000).
- wall time from POST /v1/batches to the batch's `completed`, jobs/s, the runner's concurrency limit;
- AWS cost per 1,000 jobs, from the synthesised template and what this run measured:
  Step Functions state transitions ($0.025 per 1,000): the job workflow's states entered, counted in
  sampled executions' histories, plus the batch runner's child workflow per job (the states of its
  Distributed Map item processor on the success path, from the template) and its parent per batch;
  Lambda GB-s ($0.0000166667 per GB-s, x86): each function's MemorySize from the template times the
  handler durations measured here, per invocation; Lambda requests ($0.20 per 1M); EventBridge custom
  events ($1.00 per 1M: a terminal event per job and one Swap Batch Completed); SQS: none on the
  success path (only dead letters). DynamoDB and S3 requests are left out (cents per 1,000 jobs).
Handler durations: each invocation's own duration, measured in its execution environment (a worker
process of the local Lambda runtime); the environments share the machine's cores with moto, so
durations inside the batch are inflated; in AWS each invocation has its own CPU. The cost
uses the median of each handler measured while jobs run one at a time (a calibration before the
batch) times the invocations per job counted in the batch; both medians are in the JSON.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import threading
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "functions")]
FIXTURES = ROOT / "tests" / "fixtures" / "images"
JOBS = int(os.environ.get("BENCH_BATCH_JOBS", "1000"))
SAMPLE = 25  # job executions whose history is read for state transitions
CALIBRATION_JOBS = int(os.environ.get("BENCH_CALIBRATION_JOBS", "8"))

PRICE_TRANSITION = 0.025 / 1000
PRICE_GB_SECOND = 0.0000166667
PRICE_LAMBDA_REQUEST = 0.20 / 1_000_000
PRICE_EVENT = 1.00 / 1_000_000


class LambdaMeter:
    """Times every invocation in the local Lambda runtime (sync and async), per function: the handler's
    own duration as its execution environment measured it (``Invocation.duration_ms``)."""

    def __init__(self) -> None:
        self.phase = "calibration"
        self.durations: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
        self.lock = threading.Lock()

    def install(self) -> None:
        from infra.local.runtime import LambdaRuntime

        invoke = LambdaRuntime.invoke
        meter = self

        def timed(runtime: Any, spec: Any, event: Any, request_id: str | None = None) -> Any:
            result = invoke(runtime, spec, event, request_id)
            with meter.lock:
                meter.durations[meter.phase][spec.name].append(result.duration_ms / 1000)
            return result

        LambdaRuntime.invoke = timed  # type: ignore[method-assign]


def function_memory(template: dict[str, Any], deployment: Any) -> dict[str, tuple[str, int]]:
    """Deployed function name -> (logical id, MemorySize in MB) from the synthesised template."""
    out = {}
    for logical_id, name in deployment.functions.items():
        props = template["Resources"][logical_id]["Properties"]
        out[name] = (logical_id, int(props.get("MemorySize", 128)))
    return out


def runner_transitions_per_job(template: dict[str, Any]) -> tuple[int, int]:
    """(per job: states of the runner's item processor on the success path, per batch: parent states)."""
    for resource in template["Resources"].values():
        if resource["Type"] != "AWS::StepFunctions::StateMachine":
            continue
        parts = resource["Properties"]["DefinitionString"]["Fn::Join"][1]
        definition = json.loads("".join(p if isinstance(p, str) else "ARN" for p in parts))
        run_jobs = definition["States"].get("RunJobs")
        if not run_jobs:
            continue
        processor = run_jobs["ItemProcessor"]["States"]
        per_job = 0
        for name, state in processor.items():
            if state["Type"] == "Succeed" and name == "SlotLost":
                continue
            per_job += 1
            for branch in state.get("Branches", []):
                per_job += len(branch["States"])
        return per_job, len(definition["States"])
    raise RuntimeError("no batch runner in the template")


def job_transitions(sfn: Any, machine_arn: str, job_ids: list[str]) -> float:
    counts = []
    for job_id in job_ids:
        arn = machine_arn.replace(":stateMachine:", ":execution:") + f":{job_id}"
        history = sfn.get_execution_history(executionArn=arn, maxResults=1000)["events"]
        counts.append(sum(1 for e in history if e["type"].endswith("StateEntered")))
    return statistics.mean(counts)


def main() -> None:
    import tempfile

    import boto3

    from infra.local import moto_patches
    from infra.local.client import ApiClient
    from infra.local.runner import LocalConfig, LocalStack, synthesize

    template = synthesize()
    template_file = Path(tempfile.mkdtemp()) / "template.json"
    template_file.write_text(json.dumps(template))
    os.environ.setdefault("SWAPFLOW_LOCAL_EXECUTION_RETENTION_SECONDS", "7200")  # keep histories to sample
    meter = LambdaMeter()
    stack = LocalStack(LocalConfig(port=0, aws_port=0, template_path=str(template_file))).start()
    meter.install()
    results: dict[str, Any] = {"jobs": JOBS, "provider": "engine", "host_cpus": os.cpu_count()}
    try:
        bucket = stack.outputs["InputBucketName"]
        s3 = boto3.client("s3")
        s3.put_object(Bucket=bucket, Key="bench/source.jpg", Body=(FIXTURES / "source.jpg").read_bytes())
        s3.put_object(Bucket=bucket, Key="bench/target.jpg", Body=(FIXTURES / "target.jpg").read_bytes())
        api = ApiClient(stack.api_url, stack.config.api_key)
        images = {
            "source_image": f"s3://{bucket}/bench/source.jpg",
            "target_image": f"s3://{bucket}/bench/target.jpg",
        }
        for _ in range(CALIBRATION_JOBS):  # one job at a time: each handler's duration with a CPU to itself
            api.wait(api.submit(images)["id"], interval=0.05)
            one = api.request("POST", "/v1/batches", {"jobs": [images]})[2]  # the batch runner's step too
            while api.request("GET", f"/v1/batches/{one['id']}")[2]["status"] != "completed":
                time.sleep(0.05)
        moto_patches.wait_async_idle(10)
        meter.phase = "batch"
        body = {
            "defaults": {
                "source_image": f"s3://{bucket}/bench/source.jpg",
                "target_image": f"s3://{bucket}/bench/target.jpg",
            },
            "jobs": [{"metadata": {"n": i}} for i in range(JOBS)],
        }
        started = time.perf_counter()
        status, _, accepted = api.request("POST", "/v1/batches", body)
        accept_s = time.perf_counter() - started
        if status != 202:
            raise RuntimeError(f"POST /v1/batches answered {status}: {accepted}")
        batch = accepted
        last_print = 0.0
        while batch["status"] != "completed":
            time.sleep(1.0)
            batch = api.request("GET", f"/v1/batches/{accepted['id']}")[2]
            if time.perf_counter() - last_print > 15:
                last_print = time.perf_counter()
                print(f"{time.perf_counter() - started:6.0f} s {batch['counts']}", flush=True)
        wall = time.perf_counter() - started
        sfn = boto3.client("stepfunctions")
        runner = sfn.describe_execution(
            executionArn=stack.outputs["BatchStateMachineArn"].replace(":stateMachine:", ":execution:")
            + f":{accepted['id']}"
        )
        runner_input = json.loads(runner["input"])
        job_ids = [j["id"] for j in batch["jobs"]]
        step = max(1, len(job_ids) // SAMPLE)
        per_job_job_sm = job_transitions(sfn, stack.outputs["StateMachineArn"], job_ids[::step][:SAMPLE])
        per_job_runner, per_batch_runner = runner_transitions_per_job(template)
        results.update(
            {
                "accept_s": round(accept_s, 2),
                "wall_s": round(wall, 1),
                "jobs_per_s": round(JOBS / wall, 2),
                "counts": batch["counts"],
                "runner": {
                    "max_concurrency": runner_input["max_concurrency"],
                    "pace_seconds": runner_input["pace_seconds"],
                },
            }
        )
        results["aws_cost_per_1000_jobs"] = cost(
            meter, function_memory(template, stack.deployment), per_job_job_sm, per_job_runner, per_batch_runner
        )
    finally:
        stack.stop()
    out = ROOT / "bench" / "results" / "batch.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))
    print(f"written to {out}")


def cost(
    meter: LambdaMeter,
    memory: dict[str, tuple[str, int]],
    per_job_job_sm: float,
    per_job_runner: int,
    per_batch_runner: int,
) -> dict[str, Any]:
    """Per 1,000 jobs: invocations per job from the batch, duration per invocation from the calibration.

    In AWS every invocation has its own CPU, so the uncontended (one job at a time) median is the
    duration to bill; the batch's own durations (two cores shared by everything) are shown beside it.
    """
    transitions = 1000 * (per_job_job_sm + per_job_runner) + per_batch_runner * 1000 / JOBS
    calibration, batch = meter.durations["calibration"], meter.durations["batch"]
    functions = {}
    gb_s = 0.0
    requests = 0.0
    for name, durations in sorted(batch.items()):
        logical_id, mb = memory.get(name, (name, 128))
        if logical_id.startswith("Api"):  # the API's own requests (POST, polling GETs) are not per job
            continue
        per_job = len(durations) / JOBS
        idle = calibration.get(name) or durations
        median_s = max(statistics.median(idle), 0.001)
        fn_gb_s = 1000 * per_job * median_s * mb / 1024
        gb_s += fn_gb_s
        requests += 1000 * per_job
        functions[logical_id] = {
            "memory_mb": mb,
            "invocations_per_job": round(per_job, 2),
            "median_ms_uncontended": round(median_s * 1000, 1),
            "median_ms_in_batch": round(statistics.median(durations) * 1000, 1),
            "gb_s": round(fn_gb_s, 2),
        }
    events = 1000 + 1000 / JOBS  # one terminal event per job, one Swap Batch Completed per batch
    dollars = {
        "step_functions": round(transitions * PRICE_TRANSITION, 4),
        "lambda_compute": round(gb_s * PRICE_GB_SECOND, 4),
        "lambda_requests": round(requests * PRICE_LAMBDA_REQUEST, 4),
        "eventbridge": round(events * PRICE_EVENT, 4),
        "sqs": 0.0,
    }
    return {
        "usd_total": round(sum(dollars.values()), 4),
        "usd": dollars,
        "state_transitions": round(transitions),
        "transitions_per_job": {"job_workflow": round(per_job_job_sm, 1), "batch_runner_child": per_job_runner},
        "lambda_gb_s": round(gb_s, 1),
        "lambda_requests": round(requests),
        "lambda_functions": functions,
        "eventbridge_events": round(events),
    }


if __name__ == "__main__":
    main()
