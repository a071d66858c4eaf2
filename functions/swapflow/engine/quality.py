"""How a swap looks, as numbers: used by ``bench/engine.py`` and the engine's unit tests.

Every measure compares the result with the original target around the target's face, given
the target's 468-point mesh (``detect_faces(target)[i].landmarks``). Inputs are RGB uint8
arrays of the same size. Importing this module imports numpy and OpenCV (the engine package
itself stays cheap to import).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import cv2
import numpy as np

from swapflow.engine import _mesh

Points = np.ndarray | Sequence[Sequence[float]]


def _pts(p: Points) -> np.ndarray:
    return np.asarray(p, np.float64).reshape(-1, 2)


def face_size(pts: Points) -> float:
    hull = cv2.convexHull(_pts(pts).astype(np.float32))
    return math.sqrt(max(cv2.contourArea(hull), 1.0))


def inter_ocular(pts: Points) -> float:
    p = _pts(pts)
    return float(np.linalg.norm(p[list(_mesh.EYE_LEFT)].mean(0) - p[list(_mesh.EYE_RIGHT)].mean(0)))


def _morph(mask: np.ndarray, px: float) -> np.ndarray:
    k = max(1, round(2 * abs(px) + 1))
    el = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k))
    return cv2.dilate(mask, el) if px > 0 else cv2.erode(mask, el) if px < 0 else mask


def hull_mask(shape: tuple[int, ...], pts: Points, grow: float = 0.0) -> np.ndarray:
    """Convex hull of the mesh, grown (or shrunk, ``grow`` < 0) by a fraction of the face size."""
    p = _pts(pts)
    m = np.zeros(shape[:2], np.uint8)
    cv2.fillConvexPoly(m, cv2.convexHull(np.round(p).astype(np.int32)), 1)
    return _morph(m, grow * face_size(p)).astype(bool)


def polygon_mask(shape: tuple[int, ...], pts: Points, ring: Sequence[int], grow_px: float = 0.0) -> np.ndarray:
    m = np.zeros(shape[:2], np.uint8)
    cv2.fillPoly(m, [np.round(_pts(pts)[list(ring)]).astype(np.int32)], 1)
    return _morph(m, grow_px).astype(bool)


def mouth_open(pts: Points) -> float:
    """Inner-lip gap over mouth width (about 0 closed, 0.1 teeth showing, 0.3 wide open)."""
    return _mesh.mouth_open(_pts(pts))


def mouth_interior(shape: tuple[int, ...], pts: Points) -> np.ndarray:
    """The target's mouth interior (inside the inner lip contour, 1 px in from the lips)."""
    return polygon_mask(shape, pts, _mesh.INNER_LIPS, grow_px=-1)


def lips(shape: tuple[int, ...], pts: Points) -> np.ndarray:
    """The lips themselves: between the outer and the inner lip contour."""
    return polygon_mask(shape, pts, _mesh.OUTER_LIPS) & ~polygon_mask(shape, pts, _mesh.INNER_LIPS, grow_px=1)


def mouth_difference(result: np.ndarray, target: np.ndarray, pts: Points) -> float | None:
    """Mean absolute RGB difference (0..255) inside the target's open mouth; None if closed."""
    m = mouth_interior(target.shape, pts)
    if mouth_open(pts) < 0.08 or m.sum() < 8:
        return None
    return float(np.abs(result[m].astype(np.float64) - target[m].astype(np.float64)).mean())


def _lightness(rgb: np.ndarray, sigma: float) -> np.ndarray:
    lab = cv2.cvtColor(rgb.astype(np.float32) / 255.0, cv2.COLOR_RGB2LAB)
    return cv2.GaussianBlur(lab[..., 0], (0, 0), sigmaX=sigma, sigmaY=sigma)


def seam_step(result: np.ndarray, target: np.ndarray, pts: Points, sectors: int = 12) -> dict[str, float]:
    """Lightness step that the swap adds across its blend boundary (L units, 0..100).

    The boundary is sampled where swaps fade out (the mesh hull, 2 to 12 % of the face size
    inside it). At each sample the step is L(outside) - L(inside) over 3 % of the face size
    along the outward normal, in the result minus in the target; the steps are averaged per
    angular sector (the two faces' own features average out, a darker or lighter band or
    edge stays; a smooth change of light over the face does not count). ``step``: mean
    |sector average| at the worst inset, about 0 for an invisible boundary; ``worst_sector``:
    the largest one.
    """
    p = _pts(pts)
    size = face_size(p)
    centre = p.mean(0)
    lr, lt = _lightness(result, max(1.0, 0.005 * size)), _lightness(target, max(1.0, 0.005 * size))
    h, w = lr.shape
    d = 0.015 * size
    best = {"step": 0.0, "worst_sector": 0.0}
    for inset in (0.02, 0.04, 0.06, 0.08, 0.10, 0.12):
        m = hull_mask(target.shape, p, -inset).astype(np.uint8)
        contours, _ = cv2.findContours(m, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
        if not contours:
            continue
        c = max(contours, key=len).reshape(-1, 2).astype(np.float64)
        n = c - centre
        n /= np.maximum(np.linalg.norm(n, axis=1, keepdims=True), 1e-9)
        a = np.clip(np.round(c + d * n), 0, [w - 1, h - 1]).astype(int)
        b = np.clip(np.round(c - d * n), 0, [w - 1, h - 1]).astype(int)
        delta = (lr[a[:, 1], a[:, 0]] - lr[b[:, 1], b[:, 0]]) - (lt[a[:, 1], a[:, 0]] - lt[b[:, 1], b[:, 0]])
        angle = np.arctan2(n[:, 1], n[:, 0])
        bins = np.minimum(((angle + np.pi) / (2 * np.pi) * sectors).astype(int), sectors - 1)
        means = np.array([delta[bins == k].mean() for k in range(sectors) if (bins == k).any()])
        step = float(np.abs(means).mean())
        if step > best["step"]:
            best = {"step": step, "worst_sector": float(np.abs(means).max())}
    return best


def _lap(rgb: np.ndarray, mask: np.ndarray) -> tuple[float, float]:
    """Variance and robust spread (1.4826 x median |.|) of the Laplacian inside ``mask``."""
    if mask.sum() <= 16:
        return 0.0, 0.0
    lap = cv2.Laplacian(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY), cv2.CV_64F)[mask]
    return float(lap.var()), float(1.4826 * np.median(np.abs(lap)))


def sharpness(result: np.ndarray, target: np.ndarray, pts: Points) -> dict[str, float]:
    """Laplacian variance inside the face (eyes and mouth left out) against a ring around it.

    ``ratio`` = (inside/around in the result) / (inside/around in the target): 1 means the
    swapped face is as sharp relative to its surroundings as the original face was. The
    variance also counts strong edges that differ between two people (glasses frames,
    wrinkles), so ``texture_ratio`` compares the robust spread instead (skin texture, grain).
    """
    p = _pts(pts)
    shape = target.shape
    inside = hull_mask(shape, p, -0.08)
    for ring in (_mesh.INNER_LIPS, _mesh.EYE_LEFT_RING, _mesh.EYE_RIGHT_RING):
        inside &= ~polygon_mask(shape, p, ring, grow_px=0.03 * face_size(p))
    around = hull_mask(shape, p, 0.25) & ~hull_mask(shape, p, 0.05)
    (ri, rri), (ra, rra) = _lap(result, inside), _lap(result, around)
    (ti, rti), (ta, rta) = _lap(target, inside), _lap(target, around)
    ratio = (ri / max(ra, 1e-9)) / max(ti / max(ta, 1e-9), 1e-9)
    texture = (rri / max(rra, 1e-9)) / max(rti / max(rta, 1e-9), 1e-9)
    return {
        "ratio": ratio,
        "texture_ratio": texture,
        "inside": ri,
        "around": ra,
        "target_inside": ti,
        "target_around": ta,
    }


def expression_drift(result_pts: Points, target_pts: Points) -> float:
    """Mean distance of the lips, eyelids and brows between two meshes, as a fraction of the
    target's inter-ocular distance (0 = the result keeps the target's expression exactly)."""
    r, t = _pts(result_pts), _pts(target_pts)
    idx = list(_mesh.EXPRESSION)
    return float(np.linalg.norm(r[idx] - t[idx], axis=1).mean() / max(inter_ocular(t), 1e-9))
