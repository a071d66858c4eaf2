"""AWS cost per 1,000 jobs, per path, from the synthesised template and a measured local run.

    python bench/cost.py [--template T] [--jobs 10] [--price-arch arm64]

Per path (engine batch job, engine single job, provider webhook path, provider poll path; every job
with a client webhook that the first attempt delivers), it prices:
- Step Functions Standard transitions ($0.025 per 1,000): the states a path enters, walked in the
  template's own state machines (StartAt -> Next ...; a Choice takes the branch the path names), plus
  the retries of the job's Run task that the measured run made (each poll is one retry);
- Lambda: invocations per job and each function's median duration, measured here one job at a time
  (in AWS each invocation has its own CPU), times the MemorySize and Architectures the template gives
  the function, at that architecture's GB-s price; plus $0.20 per 1M requests;
- DynamoDB (on-demand; a request counted as one unit: items here stay near 1 KB), S3, EventBridge,
  SQS and API Gateway requests, counted per operation where the embedded AWS answers them.
Prices are us-east-1 list prices (see PRICES); `--price-arch` prices every function as if it ran on
that architecture (the template's own is the default), for comparisons. Prints the breakdown and
writes bench/results/cost.json. `price_path` is the pricing function bench/batch.py uses too.
"""

from __future__ import annotations

import argparse
import http.server
import json
import os
import statistics
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "functions"), str(ROOT / "bench")]
FIXTURES = ROOT / "tests" / "fixtures" / "images"

PRICES: dict[str, Any] = {
    "sfn_transition": 0.025 / 1000,
    "lambda_gb_s": {"x86_64": 0.0000166667, "arm64": 0.0000133334},
    "lambda_request": 0.20 / 1_000_000,
    "dynamodb_write": 0.625 / 1_000_000,  # on-demand, per write request unit (since Nov 2024)
    "dynamodb_read": 0.125 / 1_000_000,
    "s3_write": 0.005 / 1000,  # PUT, COPY, POST, LIST
    "s3_read": 0.0004 / 1000,  # GET, HEAD
    "eventbridge_event": 1.00 / 1_000_000,
    "sqs_request": 0.40 / 1_000_000,
    "apigateway_request": 3.50 / 1_000_000,  # REST API
}
DDB_WRITES = {"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"}
S3_WRITES = {"PutObject", "CopyObject", "PostObject", "ListObjects", "ListObjectsV2", "CreateMultipartUpload"}
# Requests the meters see that AWS does not bill or that are the bench's own (it reads to check).
UNBILLED = {"lambda:Invoke", "stepfunctions:SendTaskSuccess", "stepfunctions:SendTaskFailure"}


# ---- the template ------------------------------------------------------------------------------------


def state_machines(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Logical id -> parsed definition of every state machine in the template."""
    out = {}
    for logical_id, resource in template["Resources"].items():
        if resource["Type"] != "AWS::StepFunctions::StateMachine":
            continue
        parts = resource["Properties"]["DefinitionString"]["Fn::Join"][1]
        out[logical_id] = json.loads("".join(p if isinstance(p, str) else "ARN" for p in parts))
    return out


def machine(template: dict[str, Any], prefix: str) -> dict[str, Any]:
    (definition,) = [d for k, d in state_machines(template).items() if k.startswith(prefix)]
    return definition


def walk(definition: dict[str, Any], branches: tuple[str, ...] = ()) -> list[str]:
    """The states a path enters from StartAt to its end; each Choice takes the next of `branches`
    (the value it compares, or "default")."""
    states, name, taken, path = definition["States"], definition["StartAt"], list(branches), []
    while name:
        state = states[name]
        path.append(name)
        if state["Type"] == "Choice":
            want = taken.pop(0)
            match = [c["Next"] for c in state["Choices"] if c.get("StringEquals") == want]
            name = match[0] if match else state["Default"]
        elif state.get("End") or state["Type"] in ("Succeed", "Fail"):
            name = ""
        else:
            name = state["Next"]
    return path


def functions(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Logical id -> {memory_mb, architecture, handler} of each Lambda function."""
    out = {}
    for logical_id, resource in template["Resources"].items():
        if resource["Type"] != "AWS::Lambda::Function":
            continue
        props = resource["Properties"]
        out[logical_id] = {
            "memory_mb": int(props.get("MemorySize", 128)),
            "architecture": (props.get("Architectures") or ["x86_64"])[0],
            "handler": props.get("Handler", ""),
        }
    return out


def transitions_per_job(template: dict[str, Any], path: str, run_retries: float, batch_jobs: int) -> dict[str, float]:
    """Billed transitions per job of a path, by state machine (walked in the template)."""
    job = len(walk(machine(template, "Workflow"))) + run_retries
    out = {"job_workflow": job}
    if path.endswith("batch"):
        runner = machine(template, "BatchesRunner")
        run_jobs = runner["States"][runner["StartAt"]]
        out["batch_runner_child"] = len(walk(run_jobs["ItemProcessor"]))
        out["batch_runner_parent"] = len(walk(runner)) / batch_jobs
    out["client_webhook"] = 0.0  # the first attempt is made outside the delivery machine
    return out


def client_webhook_retry_transitions(template: dict[str, Any]) -> int:
    """A delivery that needs one retry: Outcome -> Backoff -> Deliver -> Outcome -> Delivered."""
    return len(walk(machine(template, "ClientWebhooks"), ("retry", "default")))


# ---- pricing -----------------------------------------------------------------------------------------


def price_path(
    template: dict[str, Any],
    *,
    transitions: dict[str, float],
    lambdas: dict[str, dict[str, float]],
    requests: dict[str, float],
    price_arch: str | None = None,
) -> dict[str, Any]:
    """Per 1,000 jobs. `lambdas`: logical id -> {invocations (per job), median_ms}; `requests`:
    "service:Operation" -> per job."""
    specs = functions(template)
    gb_s = {"x86_64": 0.0, "arm64": 0.0}
    invocations = 0.0
    fn_rows = {}
    for logical_id, measured in sorted(lambdas.items()):
        spec = specs[logical_id]
        arch = price_arch or spec["architecture"]
        seconds = 1000 * measured["invocations"] * max(measured["median_ms"], 1.0) / 1000  # Lambda bills per ms
        fn_gb_s = seconds * spec["memory_mb"] / 1024
        gb_s[arch] += fn_gb_s
        invocations += 1000 * measured["invocations"]
        fn_rows[logical_id] = {
            **measured,
            "memory_mb": spec["memory_mb"],
            "architecture": arch,
            "gb_s": round(fn_gb_s, 2),
        }
    by_kind: Counter[str] = Counter()
    for op, per_job in requests.items():
        if op in UNBILLED:
            continue
        service, _, action = op.partition(":")
        n = 1000 * per_job
        if service == "dynamodb":
            by_kind["dynamodb_write" if action in DDB_WRITES else "dynamodb_read"] += n
        elif service == "s3":
            by_kind["s3_write" if action in S3_WRITES else "s3_read"] += n
        elif service == "events" and action == "PutEvents":
            by_kind["eventbridge_event"] += n
        elif service == "sqs":
            by_kind["sqs_request"] += n
        elif service == "apigateway":
            by_kind["apigateway_request"] += n
    total_transitions = 1000 * sum(transitions.values())
    usd = {
        "step_functions": total_transitions * PRICES["sfn_transition"],
        "lambda_compute": sum(gb * PRICES["lambda_gb_s"][arch] for arch, gb in gb_s.items()),
        "lambda_requests": invocations * PRICES["lambda_request"],
        "dynamodb": by_kind["dynamodb_write"] * PRICES["dynamodb_write"]
        + by_kind["dynamodb_read"] * PRICES["dynamodb_read"],
        "s3": by_kind["s3_write"] * PRICES["s3_write"] + by_kind["s3_read"] * PRICES["s3_read"],
        "eventbridge": by_kind["eventbridge_event"] * PRICES["eventbridge_event"],
        "sqs": by_kind["sqs_request"] * PRICES["sqs_request"],
        "api_gateway": by_kind["apigateway_request"] * PRICES["apigateway_request"],
    }
    return {
        "usd_total": round(sum(usd.values()), 4),
        "usd": {k: round(v, 5) for k, v in usd.items()},
        "state_transitions": round(total_transitions),
        "transitions_per_job": {k: round(v, 2) for k, v in transitions.items()},
        "lambda_gb_s": round(sum(gb_s.values()), 1),
        "lambda_invocations": round(invocations),
        "lambda_functions": fn_rows,
        "requests_per_1000_jobs": {k: round(v) for k, v in sorted(by_kind.items())},
    }


def lambda_rows(
    durations: dict[str, list[float]], names: dict[str, str], jobs: int, medians: dict[str, list[float]] | None = None
) -> dict[str, dict[str, float]]:
    """Deployed name -> durations, as logical id -> {invocations per job, median_ms}. `medians`: take
    the median from these (uncontended) durations where present, else from `durations`."""
    rows = {}
    for name, values in durations.items():
        logical_id = names.get(name, name)
        idle = (medians or {}).get(name) or values
        rows[logical_id] = {
            "invocations": round(len(values) / jobs, 3),
            "median_ms": round(statistics.median(idle) * 1000, 1),
        }
    return rows


# ---- the measured run --------------------------------------------------------------------------------


class Receiver(http.server.BaseHTTPRequestHandler):
    """The client's webhook endpoint: answers 204 to every POST and counts it. The bench waits on it
    instead of polling the API, so the counted requests are the jobs' own."""

    delivered = threading.Semaphore(0)

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send_response(204)
        self.end_headers()
        Receiver.delivered.release()

    def log_message(self, *args: Any) -> None:
        return


def measure(template: dict[str, Any], jobs: int) -> dict[str, Any]:
    """Run each path `jobs` times on the local stack, one job at a time; meters split by path."""
    import tempfile

    import boto3
    from meter import UPLOADS, LambdaMeter, Phases, RequestMeter, wavespeed_simulator

    from infra.local.client import ApiClient
    from infra.local.patches import lambda_runtime
    from infra.local.runner import LocalConfig, LocalStack

    receiver = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    sim = wavespeed_simulator(0.2)
    template_file = Path(tempfile.mkdtemp()) / "template.json"
    template_file.write_text(json.dumps(template))
    phases = Phases()
    lambdas, requests = LambdaMeter(phases), RequestMeter(phases)
    stack = LocalStack(LocalConfig(port=0, aws_port=0, template_path=str(template_file))).start()
    lambdas.install()
    requests.install()
    names = {name: logical_id for logical_id, name in stack.deployment.functions.items()}
    results: dict[str, Any] = {}

    def delivered(n: int) -> None:
        for _ in range(n):
            if not Receiver.delivered.acquire(timeout=120):
                raise RuntimeError("a job's client webhook never arrived")
        lambda_runtime.wait_async_idle(10)

    try:
        bucket = stack.outputs["InputBucketName"]
        s3 = boto3.client("s3")
        for name in ("source", "target"):  # the local tenant's uploads: a job may only name its own objects
            s3.put_object(Bucket=bucket, Key=f"{UPLOADS}/{name}.jpg", Body=(FIXTURES / f"{name}.jpg").read_bytes())
        hook = f"http://127.0.0.1:{receiver.server_address[1]}/hook"
        body = {
            "source_image": f"s3://{bucket}/{UPLOADS}/source.jpg",
            "target_image": f"s3://{bucket}/{UPLOADS}/target.jpg",
            "webhook_url": hook,
        }
        api = ApiClient(stack.api_url, stack.config.api_key)
        sfn = boto3.client("stepfunctions")
        machine_arn = stack.outputs["StateMachineArn"]
        cases = {
            "engine_single": ({}, []),
            "provider_webhook": ({"provider": "wavespeed-pro"}, []),
            "provider_poll": ({"provider": "wavespeed-pro"}, ["lost_webhook"]),
        }
        for case, (extra, faults) in cases.items():
            sim.set_faults(faults)
            phases.phase = case
            passes = []
            ids = []
            for _ in range(jobs):
                ids.append(api.submit({**body, **extra})["id"])
                delivered(1)
            phases.phase = "between"
            for job_id in ids:
                arn = machine_arn.replace(":stateMachine:", ":execution:") + f":{job_id}"
                history = sfn.get_execution_history(executionArn=arn, maxResults=1000)["events"]
                passes.append(sum(1 for e in history if e["type"] == "TaskScheduled"))
            results[case] = {"jobs": jobs, "run_passes": statistics.mean(passes)}
        phases.phase = "engine_batch"
        status, _, batch = api.request(
            "POST", "/v1/batches", {"defaults": body, "jobs": [{"metadata": {"n": i}} for i in range(jobs)]}
        )
        if status != 202:
            raise RuntimeError(f"POST /v1/batches answered {status}: {batch}")
        delivered(jobs)
        time.sleep(1.0)  # the batch's own completion (Swap Batch Completed) follows the last job's event
        lambda_runtime.wait_async_idle(10)
        phases.phase = "done"
        view = api.request("GET", f"/v1/batches/{batch['id']}")[2]
        if view["status"] != "completed":
            raise RuntimeError("the batch did not complete")
        passes = []
        for member in view["jobs"]:
            arn = machine_arn.replace(":stateMachine:", ":execution:") + f":{member['id']}"
            history = sfn.get_execution_history(executionArn=arn, maxResults=1000)["events"]
            passes.append(sum(1 for e in history if e["type"] == "TaskScheduled"))
        results["engine_batch"] = {"jobs": jobs, "run_passes": statistics.mean(passes)}
    finally:
        stack.stop()
        sim.stop()
        receiver.shutdown()
    for case, row in results.items():
        # Jobs of the batch ran several at once on this machine's cores; in AWS each invocation has its
        # own CPU, so a function also measured one job at a time is priced at that median.
        row["lambdas"] = lambda_rows(lambdas.durations[case], names, jobs, lambdas.durations["engine_single"])
        row["requests"] = requests.per_job(case, jobs)
        # Requests through API Gateway: the submit (one per batch), the provider's webhook call.
        gateway = (1.0 / jobs if case == "engine_batch" else 1.0) + (1.0 if case == "provider_webhook" else 0.0)
        row["requests"]["apigateway:Request"] = gateway
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--template", help="a synthesised template (default: synthesise the app now)")
    parser.add_argument("--jobs", type=int, default=int(os.environ.get("BENCH_COST_JOBS", "8")))
    parser.add_argument("--price-arch", choices=["x86_64", "arm64"], help="price every function on this architecture")
    args = parser.parse_args()

    from infra.local.runner import load_template

    template = load_template(args.template)
    measured = measure(template, args.jobs)
    report: dict[str, Any] = {"prices_usd": PRICES, "measured_jobs_per_path": args.jobs, "paths": {}}
    for case, row in measured.items():
        retries = max(0.0, row["run_passes"] - 1)
        transitions = transitions_per_job(template, case, retries, batch_jobs=args.jobs)
        priced = price_path(
            template,
            transitions=transitions,
            lambdas=row["lambdas"],
            requests=row["requests"],
            price_arch=args.price_arch,
        )
        report["paths"][case] = {
            "run_passes": round(row["run_passes"], 2),
            **priced,
            "requests_per_job": row["requests"],
        }
    report["client_webhook_retry_transitions"] = client_webhook_retry_transitions(template)
    out = ROOT / "bench" / "results" / "cost.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    print_breakdown(report)
    print(f"written to {out}")


def print_breakdown(report: dict[str, Any]) -> None:
    kinds = list(next(iter(report["paths"].values()))["usd"])
    print(f"{'USD per 1,000 jobs':<22}" + "".join(f"{k:>16}" for k in report["paths"]))
    for kind in [*kinds, "usd_total"]:
        cells = [p["usd_total"] if kind == "usd_total" else p["usd"][kind] for p in report["paths"].values()]
        print(f"{kind:<22}" + "".join(f"{c:>16.4f}" for c in cells))
    print(
        f"{'transitions per job':<22}"
        + "".join(f"{sum(p['transitions_per_job'].values()):>16.2f}" for p in report["paths"].values())
    )


if __name__ == "__main__":
    main()
