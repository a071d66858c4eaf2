"""Public operations: detect_faces, swap, akool_detect_response."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from swapflow.engine import DetectedFace, EngineError, SwapOptions, SwapOutput, _mesh, _swap
from swapflow.engine import _imageio as io

# A source face turned the other way than the target face is mirrored first when the
# yaw estimates differ by more than this (fraction of half the face width).
MIRROR_YAW_GAP = 0.35


@dataclass
class _Face:
    pts: np.ndarray  # 468 x 2
    score: float
    box: tuple[int, int, int, int]
    depth: np.ndarray  # 468, smaller = nearer the camera

    @property
    def area(self) -> int:
        return self.box[2] * self.box[3]

    @property
    def centre(self) -> tuple[float, float]:
        x, y, w, h = self.box
        return (x + w / 2.0, y + h / 2.0)


def _faces(rgb: np.ndarray, largest_only: bool = False) -> list[_Face]:
    h, w = rgb.shape[:2]
    out: list[_Face] = []
    for det in _mesh.detect(rgb, largest_only):
        res = _mesh.face_mesh(rgb, det)
        if res is None:
            continue
        pts, _presence, depth = res
        x0 = max(0, math.floor(pts[:, 0].min()))
        y0 = max(0, math.floor(pts[:, 1].min()))
        x1 = min(w, math.ceil(pts[:, 0].max()))
        y1 = min(h, math.ceil(pts[:, 1].max()))
        if x1 - x0 < 2 or y1 - y0 < 2:
            continue
        out.append(_Face(pts=pts, score=det.score, box=(x0, y0, x1 - x0, y1 - y0), depth=depth))
    out = _dedupe(out)
    out.sort(key=lambda f: (round(f.centre[0]), round(f.centre[1])))
    return out


def _dedupe(faces: list[_Face]) -> list[_Face]:
    """Drop meshes that land on an already-kept face (tile passes can double-detect)."""
    kept: list[_Face] = []
    for f in sorted(faces, key=lambda f: -f.score):
        x, y, w, h = f.box
        dup = False
        for k in kept:
            kx, ky, kw, kh = k.box
            ix = max(0, min(x + w, kx + kw) - max(x, kx))
            iy = max(0, min(y + h, ky + kh) - max(y, ky))
            inter = ix * iy
            if inter / max(1, min(w * h, kw * kh)) > 0.5:
                dup = True
                break
        if not dup:
            kept.append(f)
    return kept


def _to_public(f: _Face) -> DetectedFace:
    kp = _mesh.keypoints5(f.pts)
    return DetectedFace(
        box=f.box,
        score=round(float(f.score), 4),
        landmarks=tuple((round(float(x), 2), round(float(y), 2)) for x, y in f.pts),
        keypoints=tuple((round(float(x), 2), round(float(y), 2)) for x, y in kp),
    )


def detect_faces(image: bytes) -> list[DetectedFace]:
    img = io.decode(image, "image")
    return [_to_public(f) for f in _faces(img.rgb)]


@dataclass
class _Source:
    rgb: np.ndarray
    face: _Face
    mirrored: tuple[np.ndarray, np.ndarray] | None = None  # (rgb, pts) once computed

    def for_target(self, dst_pts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        ys, yt = _mesh.yaw(self.face.pts), _mesh.yaw(dst_pts)
        if ys * yt < 0 and abs(ys - yt) > MIRROR_YAW_GAP:
            if self.mirrored is None:
                flipped = np.ascontiguousarray(self.rgb[:, ::-1])
                faces = _faces(flipped, largest_only=True)
                if faces:
                    best = max(faces, key=lambda f: f.area)
                    self.mirrored = (flipped, best.pts)
            if self.mirrored is not None:
                return self.mirrored
        return self.rgb, self.face.pts


def _load_source(data: bytes) -> _Source:
    img = io.decode(data, "source image")
    faces = _faces(img.rgb, largest_only=True)
    if not faces:
        raise EngineError("no_face_in_source", "no face was found in the source image")
    return _Source(rgb=img.rgb, face=max(faces, key=lambda f: f.area))


def _check_index(i: Any, n: int, what: str) -> int:
    if isinstance(i, bool) or not isinstance(i, int):
        raise EngineError("invalid_option", f"{what} must be an integer, not {i!r}")
    if i < 0 or i >= n:
        raise EngineError("target_index_out_of_range", f"{what} {i} is out of range: the target has {n} face(s)")
    return i


def swap(source: bytes, target: bytes, options: SwapOptions[bytes] = SwapOptions()) -> SwapOutput:  # noqa: B008
    if not isinstance(options, SwapOptions):
        raise EngineError("invalid_option", "options must be a SwapOptions")
    fmt = io.normalise_format(options.output_format)
    tgt = io.decode(target, "target image")
    rgb = tgt.rgb.copy()
    # Only the largest target face is needed in single-face mode without an explicit index.
    largest_only = options.target_index is None and not options.faces and options.single_face_mode
    faces = _faces(tgt.rgb, largest_only)
    if not faces:
        raise EngineError("no_face_in_target", "no face was found in the target image")

    plan: list[tuple[_Source, int]] = []
    if options.target_index is not None:
        idx = _check_index(options.target_index, len(faces), "target_index")
        plan = [(_load_source(source), idx)]
    elif options.faces:
        for ft in options.faces:
            _check_index(ft.target_face, len(faces), "target_face")
        cache: dict[bytes, _Source] = {}
        for ft in options.faces:
            src = cache.get(ft.source_image)
            if src is None:
                src = cache[ft.source_image] = _load_source(ft.source_image)
            plan.append((src, ft.target_face))
    else:
        src = _load_source(source)
        if options.single_face_mode:
            largest = max(range(len(faces)), key=lambda i: faces[i].area)
            plan = [(src, largest)]
        else:
            plan = [(src, i) for i in range(len(faces))]

    for src, i in plan:
        dst_pts = faces[i].pts
        src_rgb, src_pts = src.for_target(dst_pts)
        _swap.swap_face(rgb, src_rgb, src_pts, dst_pts, options.face_enhance, faces[i].depth)

    data, content_type = io.encode(rgb, tgt.alpha, fmt)
    h, w = rgb.shape[:2]
    return SwapOutput(data=data, content_type=content_type, width=w, height=h, faces_swapped=len(plan))


def _pt(p: np.ndarray) -> list[int]:
    return [round(float(p[0])), round(float(p[1]))]


def akool_detect_response(image: bytes, single_face: bool = False) -> dict[str, Any]:
    img = io.decode(image, "image")
    h, w = img.rgb.shape[:2]
    faces = _faces(img.rgb)
    if single_face and faces:
        faces = [max(faces, key=lambda f: f.area)]
    landmarks, landmarks_str, region, crop_region, crop_landmarks = [], [], [], [], []
    for f in faces:
        kp = _mesh.keypoints5(f.pts)  # left eye, right eye, nose, mouth left, mouth right
        mouth_c = (kp[3] + kp[4]) / 2
        six = [kp[0], kp[1], kp[2], mouth_c, kp[3], kp[4]]
        landmarks.append([_pt(p) for p in six])
        landmarks_str.append(":".join("{},{}".format(*_pt(p)) for p in six[:4]))
        x, y, bw, bh = f.box
        region.append([x, y, bw, bh])
        # crop: the face box enlarged 1.5x (square), clipped to the image
        side = 1.5 * max(bw, bh)
        cx0 = max(0, round(x + bw / 2 - side / 2))
        cy0 = max(0, round(y + bh / 2 - side / 2))
        cx1 = min(w, round(x + bw / 2 + side / 2))
        cy1 = min(h, round(y + bh / 2 + side / 2))
        crop_region.append([cx0, cy0, cx1 - cx0, cy1 - cy0])
        crop_landmarks.append(":".join(f"{px - cx0},{py - cy0}" for px, py in (_pt(p) for p in six[:4])))
    return {
        "0": {
            "landmarks": landmarks,
            "landmarks_str": landmarks_str,
            "region": region,
            "removed": [],
            "frame_time": None,
            "face_urls": [None] * len(faces),
            "crop_region": crop_region,
            "crop_landmarks": crop_landmarks,
        }
    }
