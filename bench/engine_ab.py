"""Interleaved A/B timing of two engine checkouts on one thread each, under the same load.

    python bench/engine_ab.py [--baseline ../main] [--reps 21]

On a machine shared with other work absolute times are noise; alternating single swaps of
the same inputs between two worker processes (this checkout and ``--baseline``) makes the
ratio of their medians meaningful. Prints one line per case and writes
bench/results/engine_ab.json.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "functions"))

import engine as bench  # noqa: E402  (bench/ is on sys.path when run as a script)

RESULTS = ROOT / "bench" / "results" / "engine_ab.json"

# Reads "CASE" lines on stdin, swaps that case once, prints the milliseconds.
WORKER = r"""
import sys, time
sys.path.insert(0, sys.argv[1])
import cv2
cv2.setNumThreads(1)
from swapflow.engine import SwapOptions, swap
folder = sys.argv[2]
src = open(f"{folder}/source.jpg", "rb").read()
cases = {
    "1024x1": (open(f"{folder}/1024x1.jpg", "rb").read(), SwapOptions()),
    "2048x6": (open(f"{folder}/2048x6.jpg", "rb").read(), SwapOptions(single_face_mode=False)),
}
for tgt, opts in cases.values():
    swap(src, tgt, opts)
print("ready", flush=True)
for line in sys.stdin:
    tgt, opts = cases[line.strip()]
    t = time.perf_counter()
    swap(src, tgt, opts)
    print((time.perf_counter() - t) * 1000, flush=True)
"""


def summary(ms: list[float]) -> dict[str, float]:
    return {"median_ms": round(statistics.median(ms), 1), "p95_ms": round(bench.p95(ms), 1)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--baseline", type=Path, default=ROOT.parent / "main", help="the other checkout")
    ap.add_argument("--reps", type=int, default=21)
    args = ap.parse_args()
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "PYTHONPATH": ""}
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "source.jpg").write_bytes((bench.FIX / "source.jpg").read_bytes())
        (Path(tmp) / "1024x1.jpg").write_bytes(bench.one_face(1024))
        (Path(tmp) / "2048x6.jpg").write_bytes(bench.six_faces(2048))
        trees = {"new": ROOT, "baseline": args.baseline.resolve()}
        procs = {
            name: subprocess.Popen(
                [sys.executable, "-c", WORKER, str(tree / "functions"), tmp],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
                env=env,
            )
            for name, tree in trees.items()
        }
        for p in procs.values():
            assert p.stdin and p.stdout and p.stdout.readline().strip() == "ready"
        load = os.getloadavg()
        cases: dict[str, object] = {}
        report: dict[str, object] = {"baseline": str(trees["baseline"]), "load_average_before": load, "cases": cases}
        for case, reps in (("1024x1", args.reps), ("2048x6", max(3, args.reps // 2))):
            ms: dict[str, list[float]] = {name: [] for name in procs}
            for _ in range(reps):
                for name, p in procs.items():
                    assert p.stdin and p.stdout
                    p.stdin.write(case + "\n")
                    p.stdin.flush()
                    ms[name].append(float(p.stdout.readline()))
            row = {n: summary(v) for n, v in ms.items()}
            ratio = statistics.median(ms["new"]) / statistics.median(ms["baseline"])
            cases[case] = {**row, "new_over_baseline": round(ratio, 3), "runs": reps}
            new, base = row["new"]["median_ms"], row["baseline"]["median_ms"]
            print(f"{case}: new {new} ms, baseline {base} ms, ratio {ratio:.2f}")
        report["load_average_after"] = os.getloadavg()
        for p in procs.values():
            assert p.stdin
            p.stdin.close()
            p.wait()
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
