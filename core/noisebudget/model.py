"""The slope fit and what a covariance of group values implies for it (pure functions on arrays).

Conventions: groups are indexed 0..G-1 and one group apart is TGROUP seconds; a covariance ``C`` of
group values is in DN^2 (per read, i.e. per group value, not per CDS frame); slopes are DN per group
until divided by TGROUP (DN/s).
"""

from __future__ import annotations

import numpy as np


def slope_weights(n: int, ngroups: int) -> np.ndarray:
    """(ngroups,) weights of the unweighted least-squares slope (DN per group) over groups 0..n-1."""
    x = np.arange(n, dtype=np.float64)
    w = np.zeros(ngroups)
    w[:n] = (x - x.mean()) / np.sum((x - x.mean()) ** 2)
    return w


def slope_matrix(counts: list[int], ngroups: int) -> np.ndarray:
    """(len(counts), ngroups): one row of :func:`slope_weights` per group count."""
    return np.stack([slope_weights(n, ngroups) for n in counts])


def slope_lattice(n: int) -> float:
    """Spacing (DN per group) of the slopes over n groups of integer-valued data: the weights are
    (x - mean) / S with S = n (n^2 - 1) / 12 and x - mean half-integers for even n."""
    s = n * (n * n - 1) / 12.0
    return 1.0 / (2.0 * s) if n % 2 == 0 else 1.0 / s


def intercept_weights(ngroups: int) -> np.ndarray:
    """(ngroups,) weights of the least-squares intercept at group 0 of a straight line over all groups."""
    x = np.arange(ngroups, dtype=np.float64)
    w = slope_weights(ngroups, ngroups)
    return 1.0 / ngroups - x.mean() * w


def white_slope_sigma(sigma_group: float, n, tgroup: float) -> np.ndarray:
    """White noise only: sigma of the slope over n groups, DN/s, for ``sigma_group`` DN per group value:
    ``sigma_group * sqrt(12 / (n (n^2 - 1))) / TGROUP``."""
    n = np.asarray(n, np.float64)
    return sigma_group * np.sqrt(12.0 / (n * (n * n - 1.0))) / tgroup


def propagate(weights: np.ndarray, cov: np.ndarray) -> np.ndarray:
    """Variance ``w^T C w`` of each row of ``weights`` (k, G) for the covariance ``cov`` (G, G)."""
    return np.einsum("kg,gh,kh->k", weights, cov, weights)


def excess_parameters(counts, measured, predicted, tgroup: float, nframes: int) -> dict:
    """The residual variance written in pynrc's excess-variance form.

    pynrc (``var_ex_model``) models the slope variance beyond its read/white model, times the ramp
    time squared, as ``12 (n - 1) / (n + 1) p0^2 - p1 / sqrt(NFRAMES)``.  Here the residual
    ``(measured^2 - predicted^2) ((n - 1) TGROUP)^2`` (DN^2) is fitted by least squares, linear in
    (p0^2, p1); ``p0`` is reported as sqrt(p0^2) with the sign of p0^2 (negative: the prediction is
    above the measurement).  None where fewer than 2 group counts have both numbers.
    """
    n = np.asarray(counts, np.float64)
    m, p = np.asarray(measured, np.float64), np.asarray(predicted, np.float64)
    ok = np.isfinite(m) & np.isfinite(p)
    if ok.sum() < 2:
        return {"p0": None, "p1": None, "units": "p0: DN, p1: DN^2"}
    y = (m[ok] ** 2 - p[ok] ** 2) * ((n[ok] - 1.0) * tgroup) ** 2
    A = np.column_stack([12.0 * (n[ok] - 1.0) / (n[ok] + 1.0), -np.ones(ok.sum()) / np.sqrt(nframes)])
    (p0sq, p1), *_ = np.linalg.lstsq(A, y, rcond=None)
    return {"p0": float(np.sign(p0sq) * np.sqrt(abs(p0sq))), "p1": float(p1), "units": "p0: DN, p1: DN^2"}


def one_sided_psd(sum_abs2: np.ndarray, count: float, length: int, dt: float) -> np.ndarray:
    """Mean one-sided PSD (DN^2/Hz) from the sum over ``count`` series of |rfft|^2 (length ``length``,
    sample spacing ``dt`` s): ``2 dt |X_k|^2 / length`` (the Nyquist bin of an even length is not doubled)."""
    p = 2.0 * dt * np.asarray(sum_abs2, np.float64) / (max(count, 1) * length)
    if length % 2 == 0 and p.size:
        p[-1] /= 2.0
    return p


def log_bin(freq: np.ndarray, psd: np.ndarray, per_decade: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean frequency, mean PSD and number of frequencies in log-spaced bins (positive frequencies)."""
    ok = (freq > 0) & np.isfinite(psd)
    f, p = freq[ok], psd[ok]
    if f.size == 0:
        return np.empty(0), np.empty(0), np.empty(0, int)
    b = np.floor(np.log10(f) * per_decade).astype(int)
    _, inv = np.unique(b, return_inverse=True)
    n = np.bincount(inv)
    return np.bincount(inv, f) / n, np.bincount(inv, p) / n, n


def fit_power_law(freq: np.ndarray, excess: np.ndarray, floor: np.ndarray) -> dict:
    """Fit ``A (f / 1 Hz)^-alpha`` to PSD points above their white floor (``excess`` = PSD - floor);
    least squares in log10, points where the excess is above the floor.  A in DN^2/Hz at 1 Hz."""
    f, e, fl = (np.asarray(a, np.float64) for a in (freq, excess, floor))
    ok = np.isfinite(e) & (e > fl) & (f > 0)
    if ok.sum() < 3:
        return {"amplitude_1hz": None, "alpha": None, "npoints": int(ok.sum()),
                "fmin": None, "fmax": None}
    slope, icpt = np.polyfit(np.log10(f[ok]), np.log10(e[ok]), 1)
    return {"amplitude_1hz": float(10 ** icpt), "alpha": float(-slope), "npoints": int(ok.sum()),
            "fmin": float(f[ok].min()), "fmax": float(f[ok].max())}


__all__ = ["excess_parameters", "fit_power_law", "intercept_weights", "log_bin", "one_sided_psd", "propagate",
           "slope_lattice", "slope_matrix", "slope_weights", "white_slope_sigma"]
