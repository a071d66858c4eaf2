"""The swap's geometry: the face mesh triangulated, the face ROI, and piecewise-affine warp maps."""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from swapflow.engine import _mesh
from swapflow.engine._colour import _odd


def delaunay(pts: np.ndarray) -> np.ndarray:
    """Triangles (K x 3 vertex indices) of the Delaunay triangulation of ``pts``."""
    lo = np.floor(pts.min(0)) - 2
    hi = np.ceil(pts.max(0)) + 2
    subdiv = cv2.Subdiv2D((int(lo[0]), int(lo[1]), int(hi[0] - lo[0]) + 1, int(hi[1] - lo[1]) + 1))
    p32 = np.ascontiguousarray(pts, dtype=np.float32)
    subdiv.insert([(float(x), float(y)) for x, y in p32])
    tri = np.ascontiguousarray(np.asarray(subdiv.getTriangleList(), np.float32).reshape(-1, 2))
    # Vertices come back as the inserted float32 coordinates: match them bit for bit (one
    # int64 key per x,y pair), then fall back to a nearest search for any that were rounded.
    keys = p32.view(np.int64).ravel()
    order = np.argsort(keys)
    want = tri.view(np.int64).ravel()
    pos = np.clip(np.searchsorted(keys[order], want), 0, len(keys) - 1)
    idx = order[pos]
    miss = keys[idx] != want
    if miss.any():
        d = ((tri[miss][:, None, :] - p32[None]) ** 2).sum(2)
        near = d.argmin(1)
        idx[miss] = np.where(d[np.arange(len(near)), near] <= 1e-2, near, -1)
    idx = idx.reshape(-1, 3)
    ok = (idx >= 0).all(1) & (idx[:, 0] != idx[:, 1]) & (idx[:, 1] != idx[:, 2]) & (idx[:, 0] != idx[:, 2])
    return idx[ok].astype(np.int32).reshape(-1, 3)


def face_size(pts: np.ndarray) -> float:
    hull = cv2.convexHull(pts.astype(np.float32))
    return math.sqrt(max(cv2.contourArea(hull), 1.0))


@dataclass
class Roi:
    x0: int
    y0: int
    x1: int
    y1: int

    @property
    def origin(self) -> np.ndarray:
        return np.array([self.x0, self.y0], np.float64)

    @property
    def shape(self) -> tuple[int, int]:
        return (self.y1 - self.y0, self.x1 - self.x0)


def _grid(roi: Roi) -> tuple[np.ndarray, np.ndarray]:
    """Pixel coordinates over ``roi`` as a 1 x W row and an H x 1 column (they broadcast)."""
    h, w = roi.shape
    gx = np.arange(w, dtype=np.float32)[None, :] + np.float32(roi.x0)
    gy = np.arange(h, dtype=np.float32)[:, None] + np.float32(roi.y0)
    return gx, gy


def _signed_area(tri: np.ndarray) -> np.ndarray:
    a, b, c = tri[:, 0], tri[:, 1], tri[:, 2]
    return (b[:, 0] - a[:, 0]) * (c[:, 1] - a[:, 1]) - (b[:, 1] - a[:, 1]) * (c[:, 0] - a[:, 0])


def mesh_maps(
    src_pts: np.ndarray, dst_pts: np.ndarray, tris: np.ndarray, roi: Roi, depth: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-pixel source coordinates (map_x, map_y) that land the source mesh on ``dst_pts``, and
    the inside-the-mesh mask, over ``roi``. ``depth`` (the target mesh's z) orders overlapping
    triangles of a turned face far to near, so the visible surface wins."""
    h, w = roi.shape
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
    fixed = np.round((t - roi.origin) * (1 << shift)).astype(np.int32)
    # Triangles whose winding flips between source and target are folded over (the far side
    # of a turned nose or cheek): they go first, then the rest far to near.
    folded = np.sign(_signed_area(t)) != np.sign(_signed_area(s))
    far = -depth[tris].mean(1) if depth is not None else np.zeros(len(tris))
    order = np.lexsort((-far, ~folded))
    for k in order[ok[order]]:
        cv2.fillConvexPoly(ids, fixed[k], int(k) + 1, lineType=cv2.LINE_8, shift=shift)
    inside = ids > 0
    # one row of affine coefficients per triangle id (row 0: outside, maps to -1, -1)
    table = np.zeros((len(tris) + 1, 6), np.float32)
    table[0, 2] = table[0, 5] = -1.0
    table[1:] = aff.transpose(0, 2, 1).reshape(-1, 6)
    gx, gy = _grid(roi)
    c = [np.take(table[:, k], ids) for k in range(6)]
    map_x = np.ascontiguousarray(c[0] * gx + c[1] * gy + c[2])
    map_y = np.ascontiguousarray(c[3] * gx + c[4] * gy + c[5])
    return map_x, map_y, inside


def _poly_mask(shape: tuple[int, int], pts: np.ndarray, roi: Roi, grow: float = 0.0) -> np.ndarray:
    """Filled polygon (uint8 0/255) over ``roi``; ``grow`` px dilates (>0) or erodes (<0) it."""
    m: np.ndarray = np.zeros(shape, np.uint8)
    cv2.fillPoly(m, [np.round((pts - roi.origin) * 16).astype(np.int32)], 255, lineType=cv2.LINE_AA, shift=4)
    k = _odd(2 * abs(grow) + 1)
    if grow >= 0.5:
        m = cv2.dilate(m, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k)))
    elif grow <= -0.5:
        m = cv2.erode(m, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k)))
    return m


def close_mouth(source: np.ndarray, pts: np.ndarray) -> np.ndarray:
    """The source's teeth would be squeezed into the target's closed lips as a pale line:
    paint the source's mouth interior over from the lips around it (on a copy)."""
    ring = pts[list(_mesh.INNER_LIPS)]
    outer = pts[list(_mesh.OUTER_LIPS)]
    x0, y0 = np.floor(outer.min(0)).astype(int) - 3
    x1, y1 = np.ceil(outer.max(0)).astype(int) + 4
    x0, y0 = max(0, x0), max(0, y0)
    x1, y1 = min(source.shape[1], x1), min(source.shape[0], y1)
    if x1 - x0 < 4 or y1 - y0 < 4:
        return source
    box = Roi(int(x0), int(y0), int(x1), int(y1))
    hole = _poly_mask(box.shape, ring, box, grow=1.5)
    out = source.copy()
    out[y0:y1, x0:x1] = cv2.inpaint(np.ascontiguousarray(source[y0:y1, x0:x1]), hole, 3, cv2.INPAINT_TELEA)
    return out
