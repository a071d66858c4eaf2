"""Benchmark the offline face-swap engine on one CPU thread.

    OMP_NUM_THREADS=1 python bench/engine.py [--quick]

Prints a table and writes bench/results/engine.json:
  * ms per swap (median, p95) for 512 / 1024 / 2048 px targets with one and with six faces;
  * peak memory (ru_maxrss of the process; tracemalloc peak of one 2048 px six-face swap);
  * identity: face-embedding distance source-vs-swapped next to source-vs-original-target.

The identity embedding is INDEPENDENT of the engine: dlib's ResNet face descriptor
(dlib_face_recognition_resnet_model_v1, 128-D, CC0) with its HOG detector and 5-point
aligner, installed only for the bench:

    pip install dlib-bin==20.0.1.post1 face-recognition-models==0.3.0

Without them the bench falls back to a clearly labelled classical descriptor (uniform LBP
histograms on eye-aligned grey crops), which is much weaker evidence.
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

import cv2
import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "functions"))

from swapflow.engine import SwapOptions, detect_faces, swap  # noqa: E402

FIX = ROOT / "tests" / "fixtures" / "images"
RESULTS = ROOT / "bench" / "results" / "engine.json"


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


# ---------------------------------------------------------------- identity embeddings


class DlibEmbedder:
    name = "dlib ResNet face descriptor v1 (face-recognition-models 0.3.0, dlib-bin 20.0.1)"

    def __init__(self) -> None:
        import dlib
        import face_recognition_models as frm

        self.det = dlib.get_frontal_face_detector()
        self.sp = dlib.shape_predictor(frm.pose_predictor_five_point_model_location())
        self.rec = dlib.face_recognition_model_v1(frm.face_recognition_model_location())

    def __call__(self, rgb: np.ndarray, box: tuple[int, int, int, int] | None = None) -> np.ndarray | None:
        import dlib

        rects = list(self.det(rgb, 1))
        if box is not None:
            bx, by, bw, bh = box
            cx, cy = bx + bw / 2, by + bh / 2
            rects = [r for r in rects if r.left() <= cx <= r.right() and r.top() <= cy <= r.bottom()]
        if not rects:
            return None
        r = max(rects, key=lambda r: r.area())
        shape = self.sp(rgb, dlib.rectangle(r.left(), r.top(), r.right(), r.bottom()))
        return np.asarray(self.rec.compute_face_descriptor(rgb, shape, 1))


class LbpEmbedder:
    name = "FALLBACK classical descriptor: uniform-LBP 8x8-cell histograms on eye-aligned crops (not a model)"

    def __call__(self, rgb: np.ndarray, box: tuple[int, int, int, int] | None = None) -> np.ndarray | None:
        buf = io.BytesIO()
        Image.fromarray(rgb).save(buf, "PNG")
        faces = detect_faces(buf.getvalue())
        if box is not None:
            faces = [f for f in faces if abs(f.box[0] - box[0]) < box[2] / 2] or faces
        if not faces:
            return None
        f = max(faces, key=lambda f: f.box[2] * f.box[3])
        le, re = np.array(f.keypoints[0]), np.array(f.keypoints[1])
        d = float(np.linalg.norm(re - le))
        ang = np.degrees(np.arctan2(re[1] - le[1], re[0] - le[0]))
        m = cv2.getRotationMatrix2D(tuple((le + re) / 2), ang, 64 / max(d, 1))
        m[:, 2] += np.array([64, 48]) - (le + re) / 2
        crop = cv2.warpAffine(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY), m, (128, 128))
        c = crop[1:-1, 1:-1].astype(np.int16)
        code = np.zeros_like(c, dtype=np.uint8)
        for k, (dy, dx) in enumerate([(-1, -1), (-1, 0), (-1, 1), (0, 1), (1, 1), (1, 0), (1, -1), (0, -1)]):
            nb = crop[1 + dy : 127 + dy, 1 + dx : 127 + dx].astype(np.int16)
            code |= ((nb >= c).astype(np.uint8) << k).astype(np.uint8)
        hists = []
        for gy in range(8):
            for gx in range(8):
                cell = code[gy * 15 : gy * 15 + 15, gx * 15 : gx * 15 + 15]
                h = np.bincount(cell.ravel(), minlength=256).astype(np.float64)
                hists.append(h / max(h.sum(), 1))
        v = np.sqrt(np.concatenate(hists))
        return v / np.linalg.norm(v)


def embedder() -> DlibEmbedder | LbpEmbedder:
    try:
        return DlibEmbedder()
    except ImportError:
        return LbpEmbedder()


def decode(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))


def identity(emb: DlibEmbedder | LbpEmbedder) -> list[dict[str, object]]:
    """Distance of the swapped face to the source identity vs the original target identity."""
    src_b = (FIX / "source.jpg").read_bytes()
    tgt_b = (FIX / "target.jpg").read_bytes()
    multi_b = (FIX / "multi.jpg").read_bytes()
    rows: list[dict[str, object]] = []
    cases = [
        ("Grace Hopper -> astronaut", src_b, tgt_b, None),
        ("astronaut -> Grace Hopper", tgt_b, src_b, None),
        ("Grace Hopper -> multi.jpg face 0", src_b, multi_b, 0),
        ("astronaut -> multi.jpg face 1", tgt_b, multi_b, 1),
    ]
    for label, s, t, idx in cases:
        opts = SwapOptions(target_index=idx, output_format="png")
        out = swap(s, t, opts)
        box = detect_faces(t)[idx].box if idx is not None else None
        e_src = emb(decode(s))
        e_tgt = emb(decode(t), box)
        e_out = emb(decode(out.data), box)
        if e_src is None or e_tgt is None or e_out is None:
            rows.append({"case": label, "error": "embedder found no face"})
            continue
        rows.append(
            {
                "case": label,
                "dist_source_vs_original_target": round(float(np.linalg.norm(e_src - e_tgt)), 4),
                "dist_source_vs_swapped": round(float(np.linalg.norm(e_src - e_out)), 4),
                "dist_original_target_vs_swapped": round(float(np.linalg.norm(e_tgt - e_out)), 4),
            }
        )
    return rows


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="fewer repetitions")
    args = ap.parse_args()
    cv2.setNumThreads(1)
    source = (FIX / "source.jpg").read_bytes()
    reps = {512: 7, 1024: 7, 2048: 5} if args.quick else {512: 21, 1024: 15, 2048: 9}
    timing = []
    for size in (512, 1024, 2048):
        for faces, make in ((1, one_face), (6, six_faces)):
            tgt = make(size)
            n_found = len(detect_faces(tgt))
            opts = SwapOptions(single_face_mode=(faces == 1))
            swapped = swap(source, tgt, opts).faces_swapped
            ms = timed(partial(swap, source, tgt, opts), reps[size])
            det_ms = timed(partial(detect_faces, tgt), max(3, reps[size] // 2))
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
    big = six_faces(2048)
    tracemalloc.start()
    swap(source, big, SwapOptions(single_face_mode=False))
    _, traced_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    maxrss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS {maxrss_mb:.0f} MB; tracemalloc peak of one 2048px six-face swap {traced_peak / 2**20:.0f} MB")

    emb = embedder()
    ident = identity(emb)
    print(f"identity embedding: {emb.name}")
    for r in ident:
        print("  ", r)
    result = {
        "python": platform.python_version(),
        "opencv": cv2.__version__,
        "cpu": platform.processor() or platform.machine(),
        "threads": {"cv2": cv2.getNumThreads(), "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS")},
        "timing": timing,
        "memory": {
            "peak_rss_mb": round(maxrss_mb, 1),
            "tracemalloc_peak_mb_2048_six": round(traced_peak / 2**20, 1),
        },
        "identity": {"embedding": emb.name, "lower_is_closer": True, "cases": ident},
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
