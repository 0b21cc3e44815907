"""Expectations of the Rest (2014) box method: known answers for the tests and for reading the
numbers (:mod:`core.rest2014.boxes` describes the method and why these differ from a temporal
readnoise): the fixed point of the clip for a population of per-pixel sigmas, and the 1/f
variance left inside boxes, measured on given images or expected for the simulator's noise."""

from __future__ import annotations

import math

import numpy as np

from core.io.geometry import Layout
from core.rest2014.grid import band_pixels, band_used, box_grid


def expected_clipped_std(sigmas, clip_sigma: float = 3.0, weights=None, iters: int = 200) -> float:
    """Fixed point of the iterated clip for zero-mean Gaussian pixels with per-pixel ``sigmas``.

    The box values are a mixture over pixels; clipping at ``t = clip_sigma * s`` keeps the variance
    ``sum w sigma^2 [P(|z| < t/sigma) - 2 (t/sigma) phi(t/sigma)] / sum w P(|z| < t/sigma)``, and
    the clip converges where that equals ``s^2``.  For one sigma and 3-sigma clipping this is
    ~0.985 sigma; with no clipping (large ``clip_sigma``) it tends to ``sqrt(mean sigma^2)``.
    """
    from scipy.special import erf

    sig = np.asarray(sigmas, np.float64).ravel()
    w = np.ones_like(sig) if weights is None else np.asarray(weights, np.float64).ravel()
    w = w / w.sum()
    s = math.sqrt(float(np.sum(w * sig**2)))
    for _ in range(iters):
        k = clip_sigma * s / sig
        p = erf(k / math.sqrt(2.0))
        phi = np.exp(-0.5 * k * k) / math.sqrt(2 * math.pi)
        s_new = math.sqrt(float(np.sum(w * sig**2 * (p - 2 * k * phi)) / np.sum(w * p)))
        if abs(s_new - s) < 1e-12 * s:
            s = s_new
            break
        s = s_new
    return s


def onef_box_variance(cds_images: np.ndarray, layout: Layout, box: int = 128,
                      skip_mask: np.ndarray | None = None) -> list[float]:
    """Mean within-box variance (box mean removed) of CDS images (n, ny, nx), per amp.

    Applied to the 1/f part of CDS frames this is the variance the box method adds to the white
    noise variance (CDS units; divide by 2 for per read).  Reference pixels are left out.
    """
    grid = box_grid(layout, box)
    skip = layout.reference_mask() if skip_mask is None else skip_mask
    imgs = np.asarray(cds_images, np.float64)
    if imgs.ndim == 2:
        imgs = imgs[None]
    acc = np.zeros(len(layout.amps()))
    cnt = np.zeros(len(layout.amps()))
    for b0, b1 in grid.bands:
        ok = band_used(skip[b0:b1], grid)  # (nbx, npix)
        px = band_pixels(imgs[:, b0:b1], grid)  # (n, nbx, npix)
        n = ok.sum(axis=1)
        good = n > 1
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = np.where(ok, px, 0).sum(-1) / n
            var = (np.where(ok, px - mean[..., None], 0) ** 2).sum(-1) / (n - 1)
        for j in np.flatnonzero(good):
            acc[grid.col_amp[j]] += var[:, j].sum()
            cnt[grid.col_amp[j]] += var.shape[0]
    return [float(a / c) if c else float("nan") for a, c in zip(acc, cnt)]


def _pink_frames(layout: Layout, ngroups: int, alpha: float, rng) -> np.ndarray:
    """(ngroups, ny, w) frames of a unit pink pixel-clock series, cut as the simulator does."""
    from core.io.simulate import pink_series

    fc, rc = layout.frame_clocks, layout.row_clocks
    s = pink_series(ngroups * fc, alpha, rng)
    body = s.reshape(ngroups, fc)[:, : layout.ny * rc]
    return body.reshape(ngroups, layout.ny, rc)[:, :, : layout.channel_width]


def _cds_rms_median_removed(frames: np.ndarray) -> float:
    d = np.diff(frames, axis=0)
    d = d - np.median(d, axis=(-2, -1), keepdims=True)
    return float(np.sqrt(np.mean(d**2)))


def expected_onef_box_variance(truth: dict, box: int = 128, nreal: int = 8, seed: int = 2014) -> list[float]:
    """Expected within-box 1/f variance of one CDS frame (DN^2), per amp in science order.

    From the simulator truth (detector, subarray, ngroups, ``spec`` with corr_1f/unc_1f and their
    spectral slopes): draws ``nreal`` fresh 1/f realizations of the same model and normalisation
    (each series scaled so its CDS rms after per-output median removal equals the injected value,
    as :mod:`core.io.simulate` does), forms consecutive-group CDS frames and measures the variance
    left inside boxes after removing each box mean (:func:`onef_box_variance`): that is the CDS 1/f
    variance minus the variance of the box means.  Expected per-read rise in the box variance:
    this / 2.  It is an ensemble expectation: one exposure's realization scatters around it.
    """
    from core.io.simulate import SUBARRAY_SHAPES

    spec = truth["spec"]
    xsize, ysize, xstart, ystart, nout = SUBARRAY_SHAPES[truth["subarray"]]
    layout = Layout(truth["detector"], nx=xsize, ny=ysize, xstart=xstart, ystart=ystart, noutputs=nout)
    ngroups = int(truth["shape"][1])
    corr = float(spec.get("corr_1f", 0.0))
    unc = [float(v) for v in np.atleast_1d(spec.get("unc_1f", 0.0))]
    if len(unc) == 1:
        unc = unc * 4
    outputs = sorted(a.output for a in layout.amps())
    rng = np.random.default_rng(seed)
    acc = np.zeros(len(layout.amps()))
    for _ in range(nreal):
        chan = np.zeros((ngroups, layout.noutputs, layout.ny, layout.channel_width))
        if corr > 0:
            fr = _pink_frames(layout, ngroups, float(spec.get("corr_alpha", 1.0)), rng)
            chan += (corr / _cds_rms_median_removed(fr) * fr)[:, None]
        for j, k in enumerate(outputs):
            if unc[k] > 0:
                fr = _pink_frames(layout, ngroups, float(spec.get("unc_alpha", 1.0)), rng)
                chan[:, j] += unc[k] / _cds_rms_median_removed(fr) * fr
        sci = layout.from_channel_images(chan)
        acc += np.array(onef_box_variance(np.diff(sci, axis=0), layout, box))
    return [float(v) for v in acc / nreal]


__all__ = ["expected_clipped_std", "expected_onef_box_variance", "onef_box_variance"]
