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
DETAIL_SIGMA = 0.8  # px: the finest band that match_detail levels
DETAIL_STEPS = 2  # unsharp steps towards the target's detail level
DETAIL_MAX_GAIN = 1.4  # per step: more reads as over-sharpened
GRAIN_MAX = 2.0  # grey levels: the most grain match_detail adds
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


def _odd(n: float) -> int:
    k = max(1, round(n))
    return k if k % 2 == 1 else k + 1


def _blur(img: np.ndarray, sigma: float) -> np.ndarray:
    return cv2.GaussianBlur(img, (0, 0), sigmaX=sigma, sigmaY=sigma)


def _smooth_blur(img: np.ndarray, sigma: float) -> np.ndarray:
    """A wide Gaussian blur computed at reduced resolution (cheap for sigma >> 1 px)."""
    f = max(1, int(sigma // 4))
    if f == 1:
        return _blur(img, sigma)
    h, w = img.shape[:2]
    small = cv2.resize(img, (max(1, w // f), max(1, h // f)), interpolation=cv2.INTER_AREA)
    return cv2.resize(_blur(small, sigma / f), (w, h), interpolation=cv2.INTER_LINEAR)


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


def lab_transfer(patch: np.ndarray, ref: np.ndarray, stat_mask: np.ndarray) -> np.ndarray:
    """Reinhard colour transfer in LAB (float, 0..100 / -127..127): match ``patch`` stats
    inside ``stat_mask`` to ``ref``'s."""
    mask = stat_mask.astype(np.uint8)
    if int(cv2.countNonZero(mask)) < 16:
        return patch
    pm, psd = (v.ravel().astype(np.float32) for v in cv2.meanStdDev(patch, mask=mask))
    rm, rsd = (v.ravel().astype(np.float32) for v in cv2.meanStdDev(ref, mask=mask))
    psd, rsd = psd + 1e-3, rsd + 1e-3
    # Lightness contrast moves little (the target's shading comes from match_light, counting it
    # here too blows out highlights); chroma may drop to zero (a grey target stays grey).
    gain = np.clip(rsd / psd, [0.8, 0.0, 0.0], [1.25, 2.0, 2.0])
    out = (patch - pm) * gain.astype(np.float32) + rm
    out[..., 0] = np.clip(out[..., 0], 0, 100)
    return out


def match_light(patch: np.ndarray, ref: np.ndarray, weight: np.ndarray, size: float) -> np.ndarray:
    """Replace the patch's low-frequency lightness by the target's (shading, light direction),
    keeping the source's mid and high frequencies; ``weight`` excludes mouth and eyes."""
    sigma = 0.12 * size
    wb = _smooth_blur(weight, sigma)
    ok = wb > 1e-3
    lp = _smooth_blur(patch[..., 0] * weight, sigma)
    lr = _smooth_blur(ref[..., 0] * weight, sigma)
    delta = np.where(ok, (lr - lp) / np.maximum(wb, 1e-3), 0.0)
    out = patch.copy()
    out[..., 0] = np.clip(patch[..., 0] + delta, 0, 100)
    return out


def detail_energy(grey: np.ndarray, mask: np.ndarray) -> float:
    """Robust spread of the Laplacian inside ``mask`` (1.4826 x median |Laplacian|): the fine
    texture and grain of skin, what looks sharp or soft, not the few strong edges (eyes,
    glasses frames) whose placement differs between two people."""
    sel = mask.astype(bool)
    step = max(1, int(math.sqrt(np.count_nonzero(sel) / 10000)))
    lap = cv2.Laplacian(grey, cv2.CV_32F)[::step, ::step][sel[::step, ::step]]
    return float(1.4826 * np.median(np.abs(lap))) if lap.size else 0.0


def match_detail(patch: np.ndarray, ref: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Bring the patch's finest detail to the target's level there: the warp's resampling (and
    a lower-resolution source) soften it, a sharper source is toned down. What gain cannot
    restore (detail the source never had) is made up with fine luminance grain, as a
    compositor matches film grain, capped so it never reads as noise."""
    er = detail_energy(cv2.cvtColor(ref, cv2.COLOR_RGB2GRAY), mask)
    out = patch
    for _ in range(DETAIL_STEPS):  # an unsharp gain moves the Laplacian sub-linearly: go in steps
        ep = detail_energy(cv2.cvtColor(out, cv2.COLOR_RGB2GRAY), mask)
        if ep < 1e-3 or er < 1e-3 or abs(er / ep - 1.0) < 0.05:
            break
        gain = float(np.clip(er / ep, 0.7, DETAIL_MAX_GAIN))
        low = _blur(out, DETAIL_SIGMA)
        out = low + gain * (out - low)
    else:
        ep = detail_energy(cv2.cvtColor(out, cv2.COLOR_RGB2GRAY), mask)
    short = er**2 - ep**2
    if short > 0 and ep > 1e-3:
        # white noise of std s has a Laplacian of RMS ~ 4.5 s
        sigma = min(GRAIN_MAX, math.sqrt(short) / 4.5)
        rng = np.random.default_rng(0)  # deterministic: the same inputs give the same bytes
        out = out + (rng.standard_normal(patch.shape[:2], dtype=np.float32) * np.float32(sigma))[..., None]
    return np.clip(out, 0, 255)


def enhance(patch: np.ndarray, size: float) -> np.ndarray:
    """Edge-preserving denoise, then an unsharp mask clamped to the local 3x3 range (no halos)."""
    den = cv2.bilateralFilter(patch.astype(np.float32), d=5, sigmaColor=18, sigmaSpace=3)
    sigma = max(1.0, size / 150.0)
    sharp = den + 1.0 * (den - _blur(den, sigma))
    kernel = np.ones((3, 3), np.uint8)
    return np.clip(sharp, cv2.erode(den, kernel), cv2.dilate(den, kernel))


def pyramid_blend(base: np.ndarray, patch: np.ndarray, mask: np.ndarray, levels: int) -> np.ndarray:
    """Multi-band blend: each Laplacian band of ``patch - base`` is weighted by the mask blurred
    to that band's scale (wide transitions for light, narrow ones for detail)."""
    diff = patch - base
    gd = [diff]
    gm = [mask]
    for _ in range(levels):
        gd.append(cv2.pyrDown(gd[-1]))
        gm.append(cv2.pyrDown(gm[-1]))
    out = gd[-1] * gm[-1][..., None]
    for i in range(levels - 1, -1, -1):
        dsize = (gd[i].shape[1], gd[i].shape[0])
        band = gd[i] - cv2.pyrUp(gd[i + 1], dstsize=dsize)
        out = cv2.pyrUp(out, dstsize=dsize) + band * gm[i][..., None]
    return base + out


def _lab(rgb: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(rgb.astype(np.float32) / 255.0, cv2.COLOR_RGB2LAB)


def _rgb(lab: np.ndarray) -> np.ndarray:
    return np.clip(cv2.cvtColor(lab, cv2.COLOR_LAB2RGB) * 255.0, 0, 255)


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
