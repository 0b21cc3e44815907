"""Clipped level sums of a pixel set: which pixels enter an integration's levels, and the sums of
one amp's active pixels of a stripe (compiled in :func:`core.refpix.kernel.active_levels`; the
numpy original is kept as the reference it is tested against)."""

from __future__ import annotations

import numpy as np

from core.refpix.kernel import active_levels
from core.refpix.numerics import detrend, group_weights, hist_abs, median, pair_index
from core.refpix.params import CLIP_SUBSAMPLE, HIST_MAX_DN, LEVEL_CLIP_SIGMA
from core.stats import MAD_TO_SIGMA


def keep_pixels(resid: np.ndarray, nan: bool) -> np.ndarray:
    """(nints, P) mask of pixels whose de-ramped values never stray beyond LEVEL_CLIP_SIGMA."""
    n, G, P = resid.shape
    finite = np.isfinite(resid).all(axis=1)
    if P == 0:
        return finite
    cm = median(resid, axis=2, nan=nan)[:, :, None]
    dev = np.abs(resid - cm)
    flat = dev.ravel()
    step = max(1, flat.size // CLIP_SUBSAMPLE)
    s = MAD_TO_SIGMA * median(flat[::step])
    if not np.isfinite(s) or s <= 0:
        return finite
    with np.errstate(invalid="ignore"):
        return finite & (np.nan_to_num(dev, nan=np.inf).max(axis=1) <= LEVEL_CLIP_SIGMA * s)


def set_levels(raw: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(level (nints, G), drift (nints, G), kept pixel counts (nints,)) of one pixel set ``raw``
    (nints, G, ...) DN: the mean of its kept pixels per frame, raw and after each pixel's own
    straight-line ramp (:func:`keep_pixels` decides which pixels an integration keeps)."""
    nints, G = raw.shape[:2]
    r3 = raw.reshape(nints, G, -1)
    resid = detrend(r3)
    keep = keep_pixels(resid, nan=bool(np.isnan(r3).any()))
    nk = keep.sum(axis=1)
    kf = keep[:, None, :]
    with np.errstate(invalid="ignore", divide="ignore"):
        lev = np.where(kf, r3, 0.0).sum(axis=2, dtype=np.float64) / nk[:, None]
        dr = np.where(kf, resid, 0.0).sum(axis=2, dtype=np.float64) / nk[:, None]
    return lev, dr, nk


def active_sums_numpy(da: np.ndarray, side: tuple[np.ndarray, np.ndarray] | None):
    """Clipped level sums of active pixels ``da`` (nints, G, rows, cols) of one amp, in numpy.

    Returns (raw_sum (nints, G), resid_sum (nints, G), kept pixel counts (nints,), side_cm
    (nints, G, rows, 2) or None, hist): the sums over each integration's kept pixels of the raw
    and the de-ramped values (float64); with ``side`` (column positions of the even and odd
    detector columns) the per-row medians of the de-ramped values of each parity; the histogram
    of |CDS pair differences| two columns apart.  The reference for
    :func:`core.refpix.kernel.active_levels`, which gives the same in one pass and is used instead
    except for a single pixel (whose group sums numpy adds pairwise, not in order).
    """
    nints, G = da.shape[:2]
    ra = detrend(da)
    r3 = ra.reshape(nints, G, -1)
    keep = keep_pixels(r3, nan=True)
    kf = keep[:, None, :]
    res_sum = np.where(kf, r3, 0.0).sum(axis=2, dtype=np.float64)
    raw_sum = np.where(kf, da.reshape(nints, G, -1), 0.0).sum(axis=2, dtype=np.float64)
    side_cm = None
    if side is not None:
        side_cm = np.stack([median(ra[..., cols], axis=-1, nan=True) for cols in side], axis=-1)
    c = np.diff(da, axis=1)
    li, ri = pair_index(c.shape[-1])
    hist = hist_abs(c[..., li] - c[..., ri]) if li.size else np.zeros(HIST_MAX_DN + 1, np.int64)
    return raw_sum, res_sum, keep.sum(axis=1), side_cm, hist


def active_sums(d: np.ndarray, y0: int, y1: int, x0: int, x1: int, side: tuple[np.ndarray, np.ndarray] | None,
                scratch: np.ndarray):
    """:func:`active_sums_numpy` of one amp's active pixels ``d[:, :, y0:y1, x0:x1]`` of a stripe,
    through the kernel.  Runs in a pool thread: the kernel releases the GIL."""
    if (y1 - y0) * (x1 - x0) < 2:
        return active_sums_numpy(d[:, :, y0:y1, x0:x1], side)
    gw, g2 = group_weights(d.shape[1])
    none = np.zeros(0, np.int64)
    s0, s1 = side if side is not None else (none, none)
    raw_sum, res_sum, n_kept, side_cm, hist = active_levels(
        d, y0, y1, x0, x1, gw, g2, LEVEL_CLIP_SIGMA, MAD_TO_SIGMA, CLIP_SUBSAMPLE, s0, s1, HIST_MAX_DN, scratch)
    return raw_sum, res_sum, n_kept, side_cm if side is not None else None, hist


__all__ = ["active_sums", "active_sums_numpy", "keep_pixels", "set_levels"]
