"""Classical per-face swap onto the target's geometry.

Stages (all clipped to the face ROI; docs/engine.md has the numbers): contour warp (the
target's jaw moved part-way to the source's proportions), piecewise-affine mesh warp of the
source onto the target mesh with a rigid (similarity) upper face so glasses are not
stretched, the target's mouth interior (and, for a much narrower source eye, its eye) kept,
skin-only edges, LAB colour plus low-frequency light from the target, detail matched to the
target's, and a Laplacian-pyramid blend.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from swapflow.engine import _mesh
from swapflow.engine._colour import (
    _blur,
    _lab,
    _odd,
    _rgb,
    _smooth_blur,
    enhance,
    lab_transfer,
    match_detail,
    match_light,
    pyramid_blend,
)
from swapflow.engine._geometry import Roi, _grid, _poly_mask, close_mouth, delaunay, face_size, mesh_maps

MOUTH_OPEN = 0.08  # inner-lip gap / mouth width above which the target's mouth interior is kept
# The eyelids follow the target's contour through the mesh warp; the target's eye interior
# itself is kept only where the source's eye is much narrower than the target's (a squint or
# closed eye would otherwise be stretched open).
EYE_OPEN = 0.18  # the target's eye must be at least this open (eyelid gap / eye width) ...
EYE_NARROWER = 0.6  # ... and the source's less than this fraction of it
CONTOUR_GAIN = 0.6  # share of the source's jaw/cheek outline carried onto the target ...
CONTOUR_MAX = 0.04  # ... moving it at most this fraction of the face size
CONTOUR_MAX_YAW_GAP = 0.12  # poses further apart than this: outline differences are pose, not shape
RIGID_MAX_YAW_GAP = 0.15  # the rigid upper face fades out as the yaw proxies differ by up to this
SKIN_D2 = 2.0  # squared Mahalanobis distance still counted as fully skin ...
SKIN_SOFT = 2.0  # ... and how fast the likelihood falls beyond it
SKIN_BAND = 0.08  # fraction of the face size at the mask's edge where non-skin keeps the target
# Face size (sqrt of the hull area, px) above which stages 2-5 run scaled down to it. Working
# at the source face's own (smaller) size instead was tried: faster, but the eval set's
# sharpness ratio dropped from 0.96 to 0.88 (upsampled eyes and lips), so no.
WORK_MAX = 288.0
ROI_MARGIN = 0.12  # fraction of the face size around the mesh box that the blend may touch
# Lower face outline (cheeks and jaw): the part of FACE_OVAL the contour warp moves.
JAW = _mesh.FACE_OVAL[7:30]
# Every mesh point off the face outline: the contour warp pins them (zero displacement).
INNER = np.setdiff1d(np.arange(468), _mesh.FACE_OVAL)


def rigid_upper_face(
    map_x: np.ndarray,
    map_y: np.ndarray,
    inside: np.ndarray,
    src_pts: np.ndarray,
    dst_pts: np.ndarray,
    roi: Roi,
    size: float,
) -> None:
    """Replace the mesh warp around the eyes/brows/nose bridge by one similarity transform.

    The mesh warp stretches whatever lies there (glasses frames) to the target's proportions;
    a similarity keeps it rigid. The eyelids themselves stay on the mesh warp so the eyes
    keep the target's openness; weights fade smoothly between the two maps.
    """
    idx = list(_mesh.UPPER_RIGID)
    m, _ = cv2.estimateAffinePartial2D(dst_pts[idx].astype(np.float32), src_pts[idx].astype(np.float32))
    if m is None:
        return
    # A similarity cannot follow a turned head: fade the rigid part out as the poses differ.
    strength = float(np.clip(1.0 - abs(_mesh.yaw(src_pts) - _mesh.yaw(dst_pts)) / RIGID_MAX_YAW_GAP, 0.0, 1.0))
    if strength <= 0.0:
        return
    # Work on the rigid box plus the fade's reach only, not the whole region.
    up = dst_pts[idx]
    pad = 0.08 * size
    reach = pad + 3 * 0.06 * size
    box = Roi(
        max(roi.x0, math.floor(up[:, 0].min() - reach)),
        max(roi.y0, math.floor(up[:, 1].min() - reach)),
        min(roi.x1, math.ceil(up[:, 0].max() + reach) + 1),
        min(roi.y1, math.ceil(up[:, 1].max() + reach) + 1),
    )
    if box.x1 - box.x0 < 2 or box.y1 - box.y0 < 2:
        return
    h, w = box.shape
    lo = np.floor(up.min(0) - pad - box.origin).astype(int)
    hi = np.ceil(up.max(0) + pad - box.origin).astype(int)
    weight = np.zeros((h, w), np.float32)
    cv2.rectangle(weight, (int(lo[0]), int(lo[1])), (int(hi[0]), int(hi[1])), 1.0, thickness=-1)
    weight = _smooth_blur(weight, 0.06 * size)
    eyes = np.maximum(
        _poly_mask((h, w), dst_pts[list(_mesh.EYE_LEFT_RING)], box, grow=0.02 * size),
        _poly_mask((h, w), dst_pts[list(_mesh.EYE_RIGHT_RING)], box, grow=0.02 * size),
    )
    weight *= 1.0 - _smooth_blur(eyes.astype(np.float32) / 255.0, 0.03 * size)
    win = (slice(box.y0 - roi.y0, box.y1 - roi.y0), slice(box.x0 - roi.x0, box.x1 - roi.x0))
    weight *= inside[win] * strength
    sel = weight > 1e-3
    if not sel.any():
        return
    ys, xs = np.nonzero(sel)
    gx, gy, wt = (xs + box.x0).astype(np.float32), (ys + box.y0).astype(np.float32), weight[sel]
    rx = m[0, 0] * gx + m[0, 1] * gy + m[0, 2]
    ry = m[1, 0] * gx + m[1, 1] * gy + m[1, 2]
    mx, my = map_x[win], map_y[win]  # views: written through
    mx[sel] = wt * rx + (1.0 - wt) * mx[sel]
    my[sel] = wt * ry + (1.0 - wt) * my[sel]


def contour_field(
    src_pts: np.ndarray, dst_pts: np.ndarray, roi: Roi, size: float
) -> tuple[np.ndarray, np.ndarray] | None:
    """A smooth displacement (dx, dy) over ``roi`` that moves the target's jaw/cheek outline
    part-way towards the source's (aligned on the eyes, nose and mouth), zero at the inner
    face and the ROI border; None when there is nothing worth moving."""
    anchors = [33, 133, 362, 263, _mesh.NOSE_TIP, _mesh.MOUTH_LEFT, _mesh.MOUTH_RIGHT, 168]
    m, _ = cv2.estimateAffinePartial2D(src_pts[anchors].astype(np.float32), dst_pts[anchors].astype(np.float32))
    if m is None:
        return None
    jaw = list(JAW)
    aligned = src_pts[jaw] @ m[:, :2].T + m[:, 2]
    disp = CONTOUR_GAIN * (aligned - dst_pts[jaw])
    norm = np.linalg.norm(disp, axis=1, keepdims=True)
    cap = CONTOUR_MAX * size
    disp *= np.minimum(1.0, cap / np.maximum(norm, 1e-9))
    if float(np.abs(disp).max()) < 0.5:
        return None
    # Scattered-data interpolation by normalised Gaussian splatting on a coarse grid: jaw points
    # carry their displacement, inner mesh points and the ROI border carry zero.
    h, w = roi.shape
    f = max(1, round(size / 48))
    gh, gw = max(2, math.ceil(h / f)), max(2, math.ceil(w / f))
    num = np.zeros((gh, gw, 2), np.float32)
    den = np.zeros((gh, gw), np.float32)
    for pts, val in ((dst_pts[jaw], disp), (dst_pts[INNER], np.zeros((len(INNER), 2)))):
        q = np.clip(np.round((pts - roi.origin) / f).astype(int), 0, [gw - 1, gh - 1])
        np.add.at(num, (q[:, 1], q[:, 0]), val)
        np.add.at(den, (q[:, 1], q[:, 0]), 1.0)
    den[0, :] += 1
    den[-1, :] += 1
    den[:, 0] += 1
    den[:, -1] += 1
    sigma = 0.09 * size / f
    num = _blur(num, sigma)
    den = _blur(den, sigma)
    field = num / np.maximum(den, 1e-6)[..., None]
    # Normalised splatting spreads values; restore the jaw's amplitude where it was set.
    field *= min(3.0, float(np.linalg.norm(disp, axis=1).max()) / max(float(np.linalg.norm(field, axis=2).max()), 1e-6))
    big = cv2.resize(field, (w, h), interpolation=cv2.INTER_LINEAR)
    return big[..., 0], big[..., 1]


def _pre_shrink(source: np.ndarray, src_pts: np.ndarray, size_s: float, size_t: float) -> tuple[np.ndarray, np.ndarray]:
    """Shrink a much larger source face with area interpolation so the warp does not alias."""
    margin = 0.6 * size_s
    sx0 = max(0, int(src_pts[:, 0].min() - margin))
    sy0 = max(0, int(src_pts[:, 1].min() - margin))
    sx1 = min(source.shape[1], int(src_pts[:, 0].max() + margin) + 1)
    sy1 = min(source.shape[0], int(src_pts[:, 1].max() + margin) + 1)
    f = 1.2 * size_t / size_s
    crop = source[sy0:sy1, sx0:sx1]
    nw, nh = max(2, round(crop.shape[1] * f)), max(2, round(crop.shape[0] * f))
    small = cv2.resize(crop, (nw, nh), interpolation=cv2.INTER_AREA)
    return small, (src_pts - np.array([sx0, sy0])) * np.array([nw / crop.shape[1], nh / crop.shape[0]])


@dataclass
class Masks:
    blend: np.ndarray  # float32 0..1: where the source face goes
    keep: np.ndarray  # float32 0..1: target pixels kept inside the face (mouth interior, eyes)
    core: np.ndarray  # bool: where colour, light and detail statistics are measured
    hull: np.ndarray  # bool: the eroded face hull, holes included


def skin_likelihood(lab: np.ndarray, sample: np.ndarray, size: float) -> np.ndarray:
    """0..1: how much each pixel looks like the skin sampled at ``sample`` (Mahalanobis
    distance in LAB, lightness given twice the spread so shading still counts as skin).
    Computed at about 1/100 of the face size per pixel (it gates a soft mask) and upsampled."""
    h, w = lab.shape[:2]
    f = max(1, round(size / 100))
    if f > 1:
        small = (max(1, w // f), max(1, h // f))
        lab = cv2.resize(lab, small, interpolation=cv2.INTER_AREA)
        sample = cv2.resize(sample.astype(np.uint8), small, interpolation=cv2.INTER_NEAREST)
    sel = sample.astype(bool)
    if np.count_nonzero(sel) < 32:
        return np.ones((h, w), np.float32)
    x = lab[sel].astype(np.float64)
    mu = x.mean(0)
    cov = np.cov(x.T) + np.diag([4.0, 1.0, 1.0])
    cov[0, :] *= 2.0
    cov[:, 0] *= 2.0
    inv = np.linalg.inv(cov)
    d = lab.reshape(-1, 3) - mu.astype(np.float32)
    d2 = ((d @ inv.astype(np.float32)) * d).sum(1).reshape(lab.shape[:2])
    p = np.exp(-np.maximum(d2 - SKIN_D2, 0.0) / SKIN_SOFT).astype(np.float32)
    return cv2.resize(p, (w, h), interpolation=cv2.INTER_LINEAR) if f > 1 else p


def face_masks(inside: np.ndarray, src_pts: np.ndarray, dst_pts: np.ndarray, roi: Roi, size: float) -> Masks:
    hull_mask = inside.astype(np.uint8) * 255
    contours, _ = cv2.findContours(hull_mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    if contours:
        hull = cv2.convexHull(np.concatenate(contours))
        hull_mask = np.zeros_like(hull_mask)
        cv2.fillConvexPoly(hull_mask, hull, 255)
    hull_mask &= inside.astype(np.uint8) * 255
    er = _odd(size * 0.06)
    core = cv2.erode(hull_mask, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (er, er)))
    blend = _smooth_blur(core.astype(np.float32) / 255.0, max(1.0, size * 0.02)) * inside
    keep = np.zeros(roi.shape, np.uint8)
    if _mesh.mouth_open(dst_pts) > MOUTH_OPEN:
        keep |= _poly_mask(roi.shape, dst_pts[list(_mesh.INNER_LIPS)], roi)
    for ring in (_mesh.EYE_LEFT_RING, _mesh.EYE_RIGHT_RING):
        opening = _mesh.eye_open(dst_pts, ring)
        if opening > EYE_OPEN and _mesh.eye_open(src_pts, ring) < EYE_NARROWER * opening:
            keep |= _poly_mask(roi.shape, dst_pts[list(ring)], roi, grow=-max(0.5, size * 0.004))
    soft_keep = _blur(keep.astype(np.float32) / 255.0, max(0.6, size * 0.003))
    stat = (core > 0) & (cv2.dilate(keep, np.ones((3, 3), np.uint8)) == 0)
    return Masks(blend=blend.astype(np.float32), keep=soft_keep, core=stat, hull=core > 0)


def swap_face(
    target: np.ndarray,
    source: np.ndarray,
    src_pts: np.ndarray,
    dst_pts: np.ndarray,
    face_enhance: bool,
    dst_depth: np.ndarray | None = None,
) -> None:
    """Swap in place: the face at ``src_pts`` in ``source`` onto ``dst_pts`` in ``target``
    (``dst_depth``: the target mesh's z, for turned faces)."""
    h, w = target.shape[:2]
    size_t = face_size(dst_pts)
    size_s = face_size(src_pts)
    if size_s > 1.5 * size_t:
        source, src_pts = _pre_shrink(source, src_pts, size_s, size_t)
    if _mesh.mouth_open(src_pts) > MOUTH_OPEN and _mesh.mouth_open(dst_pts) <= MOUTH_OPEN:
        source = close_mouth(source, src_pts)
    margin = ROI_MARGIN * size_t + 2
    roi = Roi(
        max(0, math.floor(dst_pts[:, 0].min() - margin)),
        max(0, math.floor(dst_pts[:, 1].min() - margin)),
        min(w, math.ceil(dst_pts[:, 0].max() + margin) + 1),
        min(h, math.ceil(dst_pts[:, 1].max() + margin) + 1),
    )
    if roi.x1 - roi.x0 < 8 or roi.y1 - roi.y0 < 8:
        return
    original = target[roi.y0 : roi.y1, roi.x0 : roi.x1]
    region = original
    # 1. contour warp: move the target's jaw (and what surrounds it) towards the source's shape
    if abs(_mesh.yaw(src_pts) - _mesh.yaw(dst_pts)) < CONTOUR_MAX_YAW_GAP:
        field = contour_field(src_pts, dst_pts, roi, size_t)
        if field is not None:
            dx, dy = field
            gx, gy = _grid(roi)
            liquified = cv2.remap(target, gx - dx, gy - dy, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
            moved = (np.abs(dx) + np.abs(dy)) > 0.05
            region = np.where(moved[..., None], liquified, original)
            q = np.clip(np.round(dst_pts - roi.origin).astype(int), 0, [roi.shape[1] - 1, roi.shape[0] - 1])
            dst_pts = dst_pts + np.stack([dx[q[:, 1], q[:, 0]], dy[q[:, 1], q[:, 0]]], axis=1)
    k = WORK_MAX / size_t
    if k >= 0.9:
        done = compose(region, source, src_pts, dst_pts, dst_depth, roi, size_t, face_enhance)
        if done is not None:
            target[roi.y0 : roi.y1, roi.x0 : roi.x1] = _to_u8(done.out)
        return
    # A large face: everything but detail runs at a working scale (the source holds no more
    # detail than that anyway), the change is brought back to full size, and the target's
    # mouth interior, the detail level and the pixels around the face stay full-size.
    h_r, w_r = roi.shape
    sw, sh = max(8, round(w_r * k)), max(8, round(h_r * k))
    small = cv2.resize(region, (sw, sh), interpolation=cv2.INTER_AREA)
    scale = np.array([sw / w_r, sh / h_r])
    pts_w = (dst_pts - roi.origin) * scale
    depth_w = None if dst_depth is None else dst_depth * float(scale.mean())
    size_w = size_t * float(scale.mean())
    done = compose(small, source, src_pts, pts_w, depth_w, Roi(0, 0, sw, sh), size_w, False, detail=False)
    if done is None:
        return

    def up(a: np.ndarray) -> np.ndarray:
        return cv2.resize(a, (w_r, h_r), interpolation=cv2.INTER_LINEAR)

    ref = region.astype(np.float32)
    m = up(done.blend)[..., None]
    # outside the face: the region plus the blend's (low-frequency) change; inside: the face
    out = ref + up(done.out - small.astype(np.float32))
    out += m * (up(done.out) - out)
    stat = up(done.stat.astype(np.uint8)) > 0
    # Detail (and enhancement) only where the face goes: the bounding box of the blend mask,
    # padded by the filters' reach, not the whole region.
    x, y, bw, bh = cv2.boundingRect(((m[..., 0] > 1e-3) | stat).astype(np.uint8))
    if bw and bh:
        pad = 12
        win = (slice(max(0, y - pad), min(h_r, y + bh + pad)), slice(max(0, x - pad), min(w_r, x + bw + pad)))
        detailed = match_detail(out[win], ref[win], stat[win])
        if face_enhance:
            detailed = enhance(detailed, size_t)
        out[win] += m[win] * (detailed - out[win])
    keep = up(done.keep)
    x, y, bw, bh = cv2.boundingRect((keep > 1e-3).astype(np.uint8))
    if bw and bh:
        win = (slice(y, y + bh), slice(x, x + bw))
        kw = keep[win][..., None]
        out[win] = out[win] * (1.0 - kw) + ref[win] * kw
    target[roi.y0 : roi.y1, roi.x0 : roi.x1] = _to_u8(out)


def _to_u8(a: np.ndarray) -> np.ndarray:
    """Round and saturate a float image to uint8 (in place on ``a``)."""
    a += 0.5
    np.clip(a, 0, 255, out=a)
    return a.astype(np.uint8)


@dataclass
class Composed:
    out: np.ndarray  # float32 H x W x 3: the region with the face swapped in
    blend: np.ndarray  # float32 0..1: where the source face went
    keep: np.ndarray  # float32 0..1: target pixels kept (mouth interior, eyes)
    stat: np.ndarray  # bool: the face core the statistics came from


def compose(
    region: np.ndarray,
    source: np.ndarray,
    src_pts: np.ndarray,
    dst_pts: np.ndarray,
    dst_depth: np.ndarray | None,
    roi: Roi,
    size_t: float,
    face_enhance: bool,
    detail: bool = True,
) -> Composed | None:
    """Stages 2-5 on one region (at full size, or at a working scale for large faces)."""
    tris = delaunay(dst_pts)
    if len(tris) == 0:
        return None
    # 2. warp: mesh onto the target geometry, rigid around the eyes/brows
    map_x, map_y, inside = mesh_maps(src_pts, dst_pts, tris, roi, dst_depth)
    if not inside.any():
        return None
    rigid_upper_face(map_x, map_y, inside, src_pts, dst_pts, roi, size_t)
    warped = cv2.remap(source, map_x, map_y, cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT)
    masks = face_masks(inside, src_pts, dst_pts, roi, size_t)
    stat = masks.core if np.count_nonzero(masks.core) >= 16 else inside
    ref_lab = _lab(region)
    src_lab = _lab(warped)
    # Near the mask's edge and on the forehead only skin replaces skin: the target's fringe
    # or beard and the source's hair stay out of the swap instead of leaving a hard step.
    k = _odd(SKIN_BAND * size_t)
    deep = cv2.erode(masks.hull.astype(np.uint8), cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k)))
    if np.count_nonzero(deep.astype(bool) & stat) >= 32:
        sample = deep.astype(bool) & stat
        skin = skin_likelihood(ref_lab, sample, size_t) * skin_likelihood(src_lab, sample, size_t)
        edge = np.clip(1.0 - _smooth_blur(deep.astype(np.float32), 0.04 * size_t) * 1.5, 0.0, 1.0)
        forehead = _poly_mask(roi.shape, dst_pts[list(_mesh.FOREHEAD)], roi).astype(np.float32) / 255.0
        forehead = _smooth_blur(forehead, 0.02 * size_t)
        gate = np.maximum(edge, forehead)
        masks.blend *= 1.0 - gate * (1.0 - _smooth_blur(skin, max(1.0, 0.01 * size_t)))
    # 3. colour and light from the target
    lab = lab_transfer(src_lab, ref_lab, stat)
    lab = match_light(lab, ref_lab, stat.astype(np.float32), size_t)
    patch = _rgb(lab)
    # 4. detail at the target's sharpness; optional enhancement
    ref = region.astype(np.float32)
    if detail:
        patch = match_detail(patch, ref, stat)
    if face_enhance:
        patch = enhance(patch, size_t)
    # 5. the target's mouth interior and eyes show through; multi-band blend into the region
    keep = masks.keep[..., None]
    patch = patch * (1.0 - keep) + ref * keep
    patch = np.where(inside[..., None], patch, ref)
    levels = int(np.clip(math.log2(max(size_t, 16) / 12), 1, 5))
    out = pyramid_blend(ref, patch, masks.blend, levels)
    out = out * (1.0 - keep) + ref * keep
    return Composed(out=out, blend=masks.blend, keep=masks.keep, stat=stat)
