"""Log binning of the full-resolution spectra and the weighted power-law fits of the 1/f analysis."""

from __future__ import annotations

import math

import numpy as np

from core.onef.kernel import binned_sums
from core.onef.params import BINS_PER_DECADE, MIN_SLOPE


def log_binning(freq: np.ndarray, per_decade: int = BINS_PER_DECADE):
    """Bin index per frequency (-1 for DC) and the number of bins; geometric edges."""
    lo, hi = freq[1], freq[-1]
    nb = max(1, int(math.ceil(per_decade * math.log10(hi / lo))))
    edges = lo * (hi / lo) ** (np.arange(nb + 1) / nb)
    edges[0] *= 0.999
    edges[-1] *= 1.001
    idx = np.searchsorted(edges, freq, side="right") - 1
    idx[0] = -1
    idx[(idx < 0) | (idx >= nb)] = -1
    return idx, nb


def binned_mean(idx: np.ndarray, nb: int, y: np.ndarray, keep: np.ndarray | None = None):
    """Mean of ``y`` (..., nfreq) per bin and the count per bin."""
    sel = idx >= 0 if keep is None else (idx >= 0) & keep
    ii = idx[sel]
    n = np.bincount(ii, minlength=nb).astype(np.float64)
    y2 = np.atleast_2d(y)
    if y2.shape[0] == 0:  # no rows (no output pairs in a 1-output subarray)
        return np.zeros((0, nb)), n
    out = binned_sums(np.ascontiguousarray(idx, np.int64), np.ascontiguousarray(sel, np.bool_),
                      np.ascontiguousarray(y2, np.float64), nb)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = out / n
    return (out[0] if y.ndim == 1 else out), n


def power_law(f, amp, slope):
    """``amp * f^-slope`` (the 1/f model; ``amp`` is the PSD at 1 Hz)."""
    return amp * f ** (-slope)


def white_power_law(f, white, amp, slope):
    """``white + amp * f^-slope`` (the per-output model)."""
    return white + amp * f ** (-slope)


def fit_power_law(f, y, s, with_white: bool, nyquist: float) -> dict:
    """Weighted least-squares power law (+ white level) on log-binned spectra.

    Errors are statistical (bin scatter predicted from the number of averaged periodograms),
    scaled up by sqrt(reduced chi^2) when the model does not fit to within them.
    """
    from scipy.optimize import curve_fit

    ok = np.isfinite(y) & np.isfinite(s) & (s > 0)
    f, y, s = f[ok], y[ok], s[ok]
    nan = float("nan")
    res = {"white": nan, "white_err": nan, "amp": nan, "amp_err": nan, "slope": nan,
           "slope_err": nan, "chi2_red": nan, "nbins": int(f.size), "ok": False}
    npar = 3 if with_white else 2
    if f.size <= npar + 1:
        return res
    hi = f > 0.3 * nyquist
    w0 = float(np.median(y[hi])) if (with_white and hi.any()) else 0.0
    lo = f < max(10.0, f[0] * 10)
    a0 = float(np.median((y[lo] - w0) * f[lo])) if lo.any() else float(np.median(y * f))
    a0 = max(a0, 1e-12)
    try:
        if with_white:
            p, cov = curve_fit(white_power_law, f, y, p0=[max(w0, 1e-12), a0, 1.0], sigma=s,
                               absolute_sigma=True, bounds=([0, 0, MIN_SLOPE], [np.inf, np.inf, 4.0]),
                               x_scale="jac", max_nfev=2000)
            model = white_power_law(f, *p)
        else:
            p, cov = curve_fit(power_law, f, y, p0=[a0, 1.0], sigma=s, absolute_sigma=True,
                               bounds=([0, 0], [np.inf, 4.0]), x_scale="jac", max_nfev=2000)
            model = power_law(f, *p)
    except (RuntimeError, ValueError):
        return res
    chi2 = float(np.sum(((y - model) / s) ** 2) / max(1, f.size - npar))
    cov = cov * max(1.0, chi2)
    err = np.sqrt(np.clip(np.diag(cov), 0, None))
    if with_white:
        res.update(white=float(p[0]), white_err=float(err[0]), amp=float(p[1]), amp_err=float(err[1]),
                   slope=float(p[2]), slope_err=float(err[2]))
    else:
        res.update(amp=float(p[0]), amp_err=float(err[0]), slope=float(p[1]), slope_err=float(err[1]))
    res.update(chi2_red=chi2, ok=True)
    return res
