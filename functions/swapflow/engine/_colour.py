"""The swap's colour and detail stages: LAB colour transfer, low-frequency light from the target,
detail (sharpness and grain) matched to the target's, optional enhancement, and the pyramid blend."""

from __future__ import annotations

import math

import cv2
import numpy as np

DETAIL_SIGMA = 0.8  # px: the finest band that match_detail levels
DETAIL_STEPS = 2  # unsharp steps towards the target's detail level
DETAIL_MAX_GAIN = 1.4  # per step: more reads as over-sharpened
GRAIN_MAX = 2.0  # grey levels: the most grain match_detail adds


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
