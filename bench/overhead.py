"""Orchestration overhead on the local stack, handler cold-import times, provider calls per job.

Prints a table and writes bench/results/overhead.json. Run with `make bench`.
- engine jobs: submit -> terminal (job timings) minus the engine's own swap time on the same photos
- provider jobs: provider callback (webhook recorded) -> terminal state, and provider HTTP calls per
  job on the webhook path vs the poll path (webhook lost), against the simulators
- each handler module's cold import time in a fresh interpreter (median of 5)
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "functions")]
FIXTURES = ROOT / "tests" / "fixtures" / "images"
HANDLERS = ["api", "run_job", "finisher", "webhook", "engine_worker", "client_webhook"]
JOBS = int(os.environ.get("BENCH_JOBS", "10"))


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 1)


def summary(values: list[float]) -> dict[str, float]:
    return {"p50": round(statistics.median(values), 1), "p95": pct(values, 0.95), "n": len(values)}


def cold_import(module: str, functions: Path = ROOT / "functions") -> dict[str, float]:
    """One module's import in a fresh interpreter (median of 5): wall ms, CPU ms (steadier than wall time on a
    shared machine) and the memory it added (MB of max RSS over the bare interpreter's), what a Lambda cold
    start pays before the handler runs."""
    code = (
        "import resource, time, sys, importlib; base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss; "
        "t, c = time.perf_counter(), time.process_time(); importlib.import_module(sys.argv[1]); "
        "print((time.perf_counter() - t) * 1000, (time.process_time() - c) * 1000, "
        "(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base) / 1024)"
    )
    env = {**os.environ, "PYTHONPATH": str(functions), "AWS_DEFAULT_REGION": "us-east-1"}
    runs = [
        [float(v) for v in subprocess.run(
            [sys.executable, "-c", code, module], env=env, capture_output=True, text=True, check=True
        ).stdout.split()]
        for _ in range(5)
    ]  # fmt: skip
    return {key: round(statistics.median(r[i] for r in runs), 1) for i, key in enumerate(("ms", "cpu_ms", "mb"))}


def cold_imports(functions: Path = ROOT / "functions") -> dict[str, dict[str, float]]:
    """Every handler module, and pydantic's model machinery alone (`import pydantic` by itself is lazy)."""
    out = {name: cold_import(f"swapflow.handlers.{name}", functions) for name in HANDLERS}
    out["pydantic.main"] = cold_import("pydantic.main", functions)
    return out


def imports_only(against: Path | None) -> None:
    """`bench/overhead.py --imports [--against DIR]`: the cold-import table alone (no stack), to
    bench/results/cold_imports.json; with `--against`, the same modules from another checkout's `functions/`
    (e.g. `git archive issue-16 functions | tar -x -C /tmp/base`), measured between two runs of this one."""
    results: dict[str, Any] = {"this": cold_imports()}
    if against is not None:
        results["against"] = cold_imports(against)
        results["this_again"] = cold_imports()  # either side of the other: load drifts on a shared machine
    columns = ("this", "against") if against is not None else ("this",)
    print(f"{'module':16}" + "".join(f" {c + ' ms':>12} {'cpu ms':>8} {'MB':>6}" for c in columns))
    for name in results["this"]:
        print(
            f"{name:16}"
            + "".join(
                f" {results[c][name]['ms']:12.1f} {results[c][name]['cpu_ms']:8.1f} {results[c][name]['mb']:6.1f}"
                for c in columns
            )
        )
    out = ROOT / "bench" / "results" / "cold_imports.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2))
    print(f"written to {out}")


def engine_ms(clock: Callable[[], float] = time.perf_counter) -> float:
    """The engine's median ms per swap on the bench photos (wall clock; `time.process_time`: its CPU)."""
    from swapflow.engine import swap

    source, target = (FIXTURES / "source.jpg").read_bytes(), (FIXTURES / "target.jpg").read_bytes()
    swap(source, target)
    runs = []
    for _ in range(5):
        t = clock()
        swap(source, target)
        runs.append((clock() - t) * 1000)
    return statistics.median(runs)


def job_record(job_id: str) -> dict[str, Any]:
    from swapflow.wiring import table

    item: dict[str, Any] = table().get_item(Key={"pk": f"JOB#{job_id}", "sk": "JOB"})["Item"]
    return item


def main() -> None:
    from swapflow.sim.akool import AkoolSimulator
    from swapflow.sim.wavespeed import WaveSpeedSimulator

    from infra.local.client import ApiClient, data_uri
    from infra.local.runner import LocalConfig, LocalStack

    akool = AkoolSimulator(
        api_key="k", client_id="bench-client-id1", client_secret="bench-secret-016", processing_seconds=0.2
    )
    wavespeed = WaveSpeedSimulator(api_key="k", webhook_secret="whsec_YmVuY2g", processing_seconds=0.2)
    akool.start()
    wavespeed.start()
    os.environ.update(
        {
            "SWAPFLOW_AKOOL_BASE_URL": akool.base_url,
            "SWAPFLOW_AKOOL_API_KEY": "k",
            "SWAPFLOW_AKOOL_CLIENT_ID": "bench-client-id1",
            "SWAPFLOW_AKOOL_CLIENT_SECRET": "bench-secret-016",
            "SWAPFLOW_WAVESPEED_BASE_URL": wavespeed.base_url,
            "SWAPFLOW_WAVESPEED_API_KEY": "k",
            "SWAPFLOW_WAVESPEED_WEBHOOK_SECRET": "whsec_YmVuY2g",
        }
    )
    os.environ.setdefault("SWAPFLOW_TENANT_RPS", "0")  # the bench polls fast; throttling is not measured here
    stack = LocalStack(LocalConfig(port=0, aws_port=0)).start()
    api = ApiClient(stack.api_url, stack.config.api_key)
    body = {
        "source_image": data_uri(FIXTURES / "source.jpg"),
        "target_image": data_uri(FIXTURES / "target.jpg"),
    }
    results: dict[str, Any] = {"jobs_per_case": JOBS}
    try:
        swap_ms = engine_ms()
        totals = []
        for _ in range(JOBS):
            job = api.wait(api.submit(body)["id"], interval=0.02)
            totals.append(job["timings"]["total_ms"])
        results["engine"] = {
            "swap_ms_median": round(swap_ms, 1),
            "submit_to_terminal_ms": summary(totals),
            "overhead_ms": summary([t - swap_ms for t in totals]),
        }
        for provider, sim in (("akool", akool), ("wavespeed-pro", wavespeed)):
            for path, faults in (("webhook", []), ("poll", ["lost_webhook"])):
                sim.set_faults(faults)
                callback, calls = [], []
                for _ in range(max(3, JOBS // 2)):
                    before = sum(sim.calls.values())
                    job = api.wait(api.submit({**body, "provider": provider})["id"], interval=0.02)
                    calls.append(sum(sim.calls.values()) - before)
                    record = job_record(job["id"])
                    callback.append((float(record["finished_at"]) - float(record["result_at"])) * 1000)
                results[f"{provider}_{path}"] = {
                    "result_recorded_to_terminal_ms": summary(callback),
                    "provider_calls_per_job": summary([float(c) for c in calls]),
                }
    finally:
        stack.stop()
        akool.stop()
        wavespeed.stop()
    results["handler_cold_import_ms"] = cold_imports()
    out = ROOT / "bench" / "results" / "overhead.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2))
    print(json.dumps(results, indent=2))
    print(f"written to {out}")


if __name__ == "__main__":
    if "--imports" in sys.argv:
        imports_only(Path(sys.argv[sys.argv.index("--against") + 1]) if "--against" in sys.argv else None)
    else:
        main()
