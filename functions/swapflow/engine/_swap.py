"""Classical per-face swap: Delaunay piecewise-affine warp, LAB colour transfer, feathered blend."""

from __future__ import annotations

import math

import cv2
import numpy as np


def delaunay(pts: np.ndarray) -> np.ndarray:
    """Triangles (K x 3 vertex indices) of the Delaunay triangulation of ``pts``."""
    lo = np.floor(pts.min(0)) - 2
    hi = np.ceil(pts.max(0)) + 2
    subdiv = cv2.Subdiv2D((int(lo[0]), int(lo[1]), int(hi[0] - lo[0]) + 1, int(hi[1] - lo[1]) + 1))
    subdiv.insert([(float(x), float(y)) for x, y in pts])
    p32 = pts.astype(np.float32)
    lookup = {(float(x), float(y)): i for i, (x, y) in enumerate(p32)}
    tris = []
    for tri in np.asarray(subdiv.getTriangleList(), np.float32).reshape(-1, 3, 2):
        idx = [lookup.get((float(x), float(y)), -1) for x, y in tri]
        if -1 in idx:
            # vertex coordinates can come back rounded; fall back to a nearest search
            idx = [int(np.argmin(((p32 - v) ** 2).sum(1))) for v in tri]
            if any(float(((p32[i] - v) ** 2).sum()) > 1e-2 for i, v in zip(idx, tri, strict=True)):
                continue
        if len(set(idx)) == 3:
            tris.append(idx)
    return np.asarray(tris, dtype=np.int32).reshape(-1, 3)


def face_size(pts: np.ndarray) -> float:
    hull = cv2.convexHull(pts.astype(np.float32))
    return math.sqrt(max(cv2.contourArea(hull), 1.0))


def _odd(n: float) -> int:
    k = max(1, round(n))
    return k if k % 2 == 1 else k + 1


def warp_mesh(
    src: np.ndarray,
    src_pts: np.ndarray,
    dst_pts: np.ndarray,
    tris: np.ndarray,
    roi: tuple[int, int, int, int],
) -> tuple[np.ndarray, np.ndarray]:
    """Warp ``src`` so its mesh lands on ``dst_pts``; returns (patch, inside-mask) over ``roi``."""
    x0, y0, x1, y1 = roi
    w, h = x1 - x0, y1 - y0
    # per-triangle affine (target xy1 -> source xy)
    t = dst_pts[tris]  # K x 3 x 2
    s = src_pts[tris]
    tm = np.concatenate([t, np.ones((len(tris), 3, 1))], axis=2)  # K x 3 x 3
    det = np.linalg.det(tm)
    ok = np.abs(det) > 1e-6
    aff = np.zeros((len(tris), 3, 2))
    aff[ok] = np.linalg.solve(tm[ok], s[ok])
    # rasterise triangle ids (1-based; 0 = outside) at 1/16 px precision
    ids = np.zeros((h, w), np.int32)
    shift = 4
    fixed = np.round((t - np.array([x0, y0])) * (1 << shift)).astype(np.int32)
    for k in np.flatnonzero(ok):
        cv2.fillConvexPoly(ids, fixed[k], int(k) + 1, lineType=cv2.LINE_8, shift=shift)
    inside = ids > 0
    ys, xs = np.nonzero(inside)
    a = aff[ids[ys, xs] - 1]
    gx = (xs + x0).astype(np.float64)
    gy = (ys + y0).astype(np.float64)
    map_x = np.full((h, w), -1.0, np.float32)
    map_y = np.full((h, w), -1.0, np.float32)
    map_x[ys, xs] = gx * a[:, 0, 0] + gy * a[:, 1, 0] + a[:, 2, 0]
    map_y[ys, xs] = gx * a[:, 0, 1] + gy * a[:, 1, 1] + a[:, 2, 1]
    patch = cv2.remap(src, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    return patch, inside


def lab_transfer(patch: np.ndarray, ref: np.ndarray, stat_mask: np.ndarray) -> np.ndarray:
    """Reinhard colour transfer in LAB: match ``patch`` stats inside ``stat_mask`` to ``ref``."""
    if int(stat_mask.sum()) < 16:
        return patch
    p = cv2.cvtColor(patch.astype(np.float32) / 255.0, cv2.COLOR_RGB2LAB)
    r = cv2.cvtColor(ref.astype(np.float32) / 255.0, cv2.COLOR_RGB2LAB)
    sel = stat_mask.astype(bool)
    ps, rs = p[sel], r[sel]
    pm, psd = ps.mean(0), ps.std(0) + 1e-3
    rm, rsd = rs.mean(0), rs.std(0) + 1e-3
    gain = np.clip(rsd / psd, 0.5, 2.0)
    out = (p - pm) * gain + rm
    out[..., 0] = np.clip(out[..., 0], 0, 100)
    rgb = cv2.cvtColor(out, cv2.COLOR_LAB2RGB)
    return np.clip(rgb * 255.0 + 0.5, 0, 255).astype(np.uint8)


def feather_mask(inside: np.ndarray, size: float) -> tuple[np.ndarray, np.ndarray]:
    """Eroded + blurred hull mask (float 0..1) and the hard eroded core (for colour stats)."""
    hull_mask = inside.astype(np.uint8) * 255
    contours, _ = cv2.findContours(hull_mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    if contours:
        hull = cv2.convexHull(np.concatenate(contours))
        hull_mask = np.zeros_like(hull_mask)
        cv2.fillConvexPoly(hull_mask, hull, 255)
    er = _odd(size * 0.08)
    core = cv2.erode(hull_mask, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (er, er)))
    sigma = max(1.0, size * 0.05)
    soft = cv2.GaussianBlur(core, (0, 0), sigmaX=sigma, sigmaY=sigma).astype(np.float32) / 255.0
    soft *= inside  # never reach outside the warped mesh
    return soft, core > 0


def enhance(patch: np.ndarray, size: float) -> np.ndarray:
    """Light bilateral denoise followed by an unsharp mask."""
    den = cv2.bilateralFilter(patch, d=5, sigmaColor=25, sigmaSpace=5)
    sigma = max(1.0, size / 160.0)
    blur = cv2.GaussianBlur(den, (0, 0), sigmaX=sigma, sigmaY=sigma)
    sharp = cv2.addWeighted(den, 2.2, blur, -1.2, 0)
    return sharp


def swap_face(
    target: np.ndarray,
    source: np.ndarray,
    src_pts: np.ndarray,
    dst_pts: np.ndarray,
    face_enhance: bool,
) -> None:
    """Swap in place: the face at ``src_pts`` in ``source`` onto ``dst_pts`` in ``target``."""
    h, w = target.shape[:2]
    size_t = face_size(dst_pts)
    size_s = face_size(src_pts)
    # Pre-shrink a much larger source face so the warp does not alias.
    if size_s > 1.5 * size_t:
        margin = 0.6 * size_s
        sx0 = max(0, int(src_pts[:, 0].min() - margin))
        sy0 = max(0, int(src_pts[:, 1].min() - margin))
        sx1 = min(source.shape[1], int(src_pts[:, 0].max() + margin) + 1)
        sy1 = min(source.shape[0], int(src_pts[:, 1].max() + margin) + 1)
        f = 1.2 * size_t / size_s
        crop = source[sy0:sy1, sx0:sx1]
        nw, nh = max(2, round(crop.shape[1] * f)), max(2, round(crop.shape[0] * f))
        source = cv2.resize(crop, (nw, nh), interpolation=cv2.INTER_AREA)
        src_pts = (src_pts - np.array([sx0, sy0])) * np.array([nw / crop.shape[1], nh / crop.shape[0]])
    x0 = max(0, math.floor(dst_pts[:, 0].min()) - 2)
    y0 = max(0, math.floor(dst_pts[:, 1].min()) - 2)
    x1 = min(w, math.ceil(dst_pts[:, 0].max()) + 3)
    y1 = min(h, math.ceil(dst_pts[:, 1].max()) + 3)
    if x1 - x0 < 4 or y1 - y0 < 4:
        return
    tris = delaunay(dst_pts)
    if len(tris) == 0:
        return
    patch, inside = warp_mesh(source, src_pts, dst_pts, tris, (x0, y0, x1, y1))
    if not inside.any():
        return
    region = target[y0:y1, x0:x1]
    soft, core = feather_mask(inside, size_t)
    stat = core if core.sum() >= 16 else inside
    patch = lab_transfer(patch, region, stat)
    if face_enhance:
        patch = enhance(patch, size_t)
    a = soft[..., None]
    blended = region.astype(np.float32) * (1.0 - a) + patch.astype(np.float32) * a
    target[y0:y1, x0:x1] = np.clip(blended + 0.5, 0, 255).astype(np.uint8)
