"""The finishing step of the 1/f analysis: from the sums of an :class:`~core.onef.accumulate.Accumulator`
to a :class:`~core.onef.result.OneFResult` (:func:`finish`).

In order: the full-resolution spectra (:func:`full_spectra`), their log bins and errors
(:func:`log_bins`), the cross-spectral split -- the correlated fit, the crossover frequency and the
correlated power each output sees (:func:`correlated_split`) --, the per-output fits
(:func:`fit_outputs`), the per-amp components table (:func:`amp_rows`), the side-reference banding
numbers (:func:`banding_summary`), the checks and the time-domain split (:func:`check_summary`,
:func:`time_domain_summary`), the binned spectra shown (:func:`display_spectra`) and the notes.
:mod:`core.onef.analysis` explains the method.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.errors import InputError
from core.io.geometry import PIXEL_TIME_S
from core.onef.accumulate import Accumulator
from core.onef.fit import binned_mean, fit_power_law, log_binning, power_law
from core.onef.params import (
    CLIP_SIGMA,
    FIT_MIN_CYCLES,
    HARMONIC_HALF_WIDTH,
    JUMP_SIGMA,
    MAX_SLOPE_ERR,
    SAVGOL_ORDER,
    SAVGOL_WINDOW,
    SIDE_SMOOTH_ROWS,
    UNITS,
    OneFParams,
)
from core.onef.result import OneFResult
from core.stats import sqrt_or_zero


# ------------------------------------------------------------------------------------------------
# Full-resolution spectra
# ------------------------------------------------------------------------------------------------
@dataclass
class Spectra:
    """Full-resolution one-sided spectra in DN^2/Hz on the rfft grid (DC included), per output."""

    freq: np.ndarray  # (nf,) Hz
    df: float  # Hz, frequency resolution
    nyq: float  # Hz
    wint: np.ndarray  # (nf,) one-sided weight: 2, except 1 at DC (and at Nyquist for an even length)
    frame_time: float  # s
    f_row: float  # Hz, row rate
    row_time: float  # s per row
    P: np.ndarray  # (nout, nf) power spectrum of each output
    Cp: np.ndarray  # (npairs, nf) real cross-spectrum of each output pair
    C: np.ndarray  # (nf,) mean real cross-spectrum: the correlated 1/f spectrum
    V: np.ndarray  # (nout,) variance from the spectrum (Parseval)
    V_pix: np.ndarray  # (nout,) variance of the processed samples (pixel domain)
    C_int: float  # integral of C


def full_spectra(acc: Accumulator) -> Spectra:
    """The accumulated power and cross sums normalised by the real samples (InputError if an output
    has none)."""
    lay = acc.layout
    dt = PIXEL_TIME_S
    M = acc.M
    freq = np.arange(acc.nf) / (M * dt)
    df = 1.0 / (M * dt)
    nyq = 1.0 / (2 * dt)
    wint = np.full(acc.nf, 2.0)
    wint[0] = 1.0
    if M % 2 == 0:
        wint[-1] = 1.0
    if np.any(acc.n_auto == 0):
        raise InputError("no valid samples in at least one output (all saturated or NaN?)")

    # Full-resolution spectra, DN^2/Hz one-sided (wint = 2 except DC/Nyquist).
    P = dt * wint * acc.auto / acc.n_auto[:, None]
    Cp = dt * wint * acc.cross / acc.n_cross[:, None]
    # one output (a 1-output window): no pair, no correlated estimate; its 1/f is all "per output"
    C = Cp.mean(axis=0) if len(acc.pairs) else np.zeros(acc.nf)
    V = (P * df).sum(axis=1)  # variance per output, = pixel-domain total (Parseval)
    V_pix = acc.sumsq / acc.n_auto
    C_int = float((C * df).sum())
    return Spectra(freq=freq, df=df, nyq=nyq, wint=wint, frame_time=lay.frame_time,
                   f_row=1.0 / (lay.row_clocks * dt), row_time=float(lay.row_clocks * dt),
                   P=P, Cp=Cp, C=C, V=V, V_pix=V_pix, C_int=C_int)


def seen_weights(nout: int, pairs: list[tuple[int, int]]) -> np.ndarray:
    """(nout, npairs) weights of the correlated power as seen by each output: 2 x mean of its pair
    cross-spectra minus the mean of the pairs without it.

    Expectation C; it also holds output i's chance covariance with the common series (large for 1/f
    noise over one integration), which then cancels in P_i - C_i."""
    w_pair = np.zeros((nout, len(pairs)))
    for i in range(nout):
        with_i = [j for j, pr in enumerate(pairs) if i in pr]
        without = [j for j, pr in enumerate(pairs) if i not in pr]
        if with_i:
            w_pair[i, with_i] = 2.0 / len(with_i)
        if without:
            w_pair[i, without] = -1.0 / len(without)
    return w_pair


def model_integral(fit: dict, sp: Spectra) -> float:
    """Variance of a fitted power law integrated over the measured grid (DC excluded); NaN if the
    fit failed."""
    if not fit["ok"]:
        return float("nan")
    fpos = sp.freq[1:]
    return float((power_law(fpos, fit["amp"], fit["slope"]) * sp.wint[1:] / 2 * sp.df).sum())


# ------------------------------------------------------------------------------------------------
# Log bins
# ------------------------------------------------------------------------------------------------
@dataclass
class Bins:
    """Log-binned spectra: every frequency for display (``*b``), and for the fits (``*f``) without the
    row-rate harmonics and the lowest frequencies."""

    idx: np.ndarray  # bin of each frequency (-1: DC / outside)
    nb: int
    keep_fit: np.ndarray  # (nf,) frequencies the fits use
    fb: np.ndarray  # display: mean frequency, count, auto, correlated, pair cross, errors
    n_b: np.ndarray
    Pb: np.ndarray
    Cb: np.ndarray
    Cpb: np.ndarray
    Pb_err: np.ndarray
    Cb_err: np.ndarray
    ff: np.ndarray  # fits: the same
    n_f: np.ndarray
    Pf: np.ndarray
    Cf: np.ndarray
    Pf_err: np.ndarray
    Cf_err: np.ndarray

    def mean(self, y: np.ndarray, keep: np.ndarray | None = None):
        """(bin means of ``y``, counts) over every frequency, or those in ``keep``."""
        return binned_mean(self.idx, self.nb, y, keep)


def log_bins(acc: Accumulator, sp: Spectra, diff_type: str) -> Bins:
    """Log bins of the spectra and their statistical errors (from the number of periodograms
    averaged; cross-spectra: from the pair products, the pairs taken as correlated by rho^2)."""
    freq = sp.freq
    idx, nb = log_binning(freq)
    h = np.rint(freq / sp.f_row)
    near_harm = (h >= 1) & (np.abs(freq - h * sp.f_row) < HARMONIC_HALF_WIDTH * sp.f_row)
    keep_fit = ~near_harm & (freq >= FIT_MIN_CYCLES / sp.frame_time)

    K = acc.nframes / (1.5 if diff_type == "consecutive" else 1.0)  # effective averages

    def binned(y, keep=None):
        return binned_mean(idx, nb, y, keep)

    Pb, n_b = binned(sp.P)
    Cb, _ = binned(sp.C)
    Cpb, _ = binned(sp.Cp)
    fb, _ = binned(freq)
    Pf, n_f = binned(sp.P, keep_fit)
    Cf, _ = binned(sp.C, keep_fit)
    ff, _ = binned(freq, keep_fit)
    if acc.pairs:
        pair_prod_b = np.mean([Pb[a] * Pb[b] for a, b in acc.pairs], axis=0)
        pair_prod_f = np.mean([Pf[a] * Pf[b] for a, b in acc.pairs], axis=0)
    else:  # one output: no cross-spectrum, no error on it
        pair_prod_b, pair_prod_f = np.full(nb, np.nan), np.full(len(Pf[0]), np.nan)

    def cross_err(pp, c, n):
        if not acc.pairs:
            return np.full(np.shape(c), np.nan)
        rho2 = np.clip(c ** 2 / np.where(pp > 0, pp, np.inf), 0, 1)
        neff = len(acc.pairs) / (1 + (len(acc.pairs) - 1) * rho2)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.sqrt((pp + c ** 2) / 2 / (K * n * neff))

    with np.errstate(invalid="ignore", divide="ignore"):
        Pb_err = Pb / np.sqrt(K * n_b)
        Pf_err = Pf / np.sqrt(K * n_f)
    Cb_err = cross_err(pair_prod_b, Cb, n_b)
    Cf_err = cross_err(pair_prod_f, Cf, n_f)
    return Bins(idx=idx, nb=nb, keep_fit=keep_fit, fb=fb, n_b=n_b, Pb=Pb, Cb=Cb, Cpb=Cpb, Pb_err=Pb_err,
                Cb_err=Cb_err, ff=ff, n_f=n_f, Pf=Pf, Cf=Cf, Pf_err=Pf_err, Cf_err=Cf_err)


# ------------------------------------------------------------------------------------------------
# The split and the fits
# ------------------------------------------------------------------------------------------------
@dataclass
class Split:
    """The correlated fit, the correlated power each output sees, and the per-output fits."""

    cfit: dict  # power-law fit of the correlated spectrum (fit_power_law's keys)
    f_cross: float  # Hz, where the correlated fit falls to the white level
    Ci_int: np.ndarray  # (nout,) integral of the correlated power seen by each output
    Cib: np.ndarray  # (nout, nbins) the same, log-binned for display
    ufits: list[dict]  # per output: white + power-law fit of P_i - C_i
    W: np.ndarray  # (nout,) white level, DN^2/Hz
    white_var: np.ndarray  # (nout,)
    unc_var: np.ndarray  # (nout,) uncorrelated variance (may be negative)
    corr_model_var: float  # variance of the correlated fit
    correlated: float  # DN rms, integral of C


def crossover(cfit: dict, bins: Bins, nout: int, nyq: float) -> float:
    """Frequency where the correlated fit falls to the mean white level (0 without a usable fit)."""
    hi = bins.ff > 0.5 * nyq
    w0 = float(np.nanmean([np.nanmean(bins.Pf[k][hi] - bins.Cf[hi]) for k in range(nout)])) if hi.any() else 0.0
    f_cross = 0.0
    if cfit["ok"] and cfit["amp"] > 0 and w0 > 0 and cfit["slope"] > 0:
        f_cross = float(np.clip((cfit["amp"] / w0) ** (1.0 / cfit["slope"]), 0.0, nyq))
    return f_cross


def fit_outputs(bins: Bins, Cif: np.ndarray, Cif_err: np.ndarray, nyq: float, notes: list[str]) -> list[dict]:
    """White + power-law fit of ``P_i - C_i`` per output; the white level falls back to the plateau
    above Nyquist/2 when the fit fails or is more than 10% from it (noted)."""
    ff, Pf, Pf_err = bins.ff, bins.Pf, bins.Pf_err
    ufits = []
    for k in range(len(Pf)):
        R = Pf[k] - Cif[k]
        Rerr = np.sqrt(Pf_err[k] ** 2 + Cif_err ** 2)
        uf = fit_power_law(ff, R, Rerr, with_white=True, nyquist=nyq)
        hi = ff > 0.5 * nyq
        plateau = float(np.nanmean(R[hi])) if hi.any() else float("nan")
        if not uf["ok"] or not np.isfinite(uf["white"]):
            uf["white"] = plateau
            notes.append(f"output {k}: power-law fit failed; white = mean PSD above {0.5 * nyq:.0f} Hz")
        elif np.isfinite(plateau) and abs(uf["white"] / plateau - 1) > 0.10:
            notes.append(f"output {k}: fitted white level {uf['white']:.3g} is >10% from the "
                         f"plateau above {0.5 * nyq:.0f} Hz ({plateau:.3g} DN^2/Hz); plateau used")
            uf["white"] = plateau
        ufits.append(uf)
    return ufits


def correlated_split(acc: Accumulator, sp: Spectra, bins: Bins, notes: list[str]) -> Split:
    """The correlated fit, C_i below the crossover and C above it, and the per-output fits.

    C_i is needed where 1/f dominates (few modes: large chance covariances); where white dominates,
    the chance terms average out and the 6-pair mean C is sqrt(10) times less noisy (white noise in
    C_i: weights 2/3, -1/3 on 6 pairs).  Crossover: correlated fit = white level."""
    nyq = sp.nyq
    w_pair = seen_weights(acc.nout, acc.pairs)
    Ci = w_pair @ sp.Cp  # replaced by C above the 1/f-white crossover, below
    cfit = (fit_power_law(bins.ff, bins.Cf, bins.Cf_err, with_white=False, nyquist=nyq) if acc.pairs
            else fit_power_law(bins.ff, np.full_like(bins.ff, np.nan), bins.Cf_err, with_white=False, nyquist=nyq))
    f_cross = crossover(cfit, bins, acc.nout, nyq)
    Ci = np.where(sp.freq[None, :] < f_cross, Ci, sp.C[None, :])
    Ci_int = (Ci * sp.df).sum(axis=1)
    Cib, _ = bins.mean(Ci)
    Cif, _ = bins.mean(Ci, bins.keep_fit)
    wfac = float(np.sqrt((w_pair[0] ** 2).sum() * len(acc.pairs)))  # pairs taken as independent
    Cif_err = np.where(bins.ff < f_cross, bins.Cf_err * wfac, bins.Cf_err)

    ufits = fit_outputs(bins, Cif, Cif_err, nyq, notes)
    W = np.array([u["white"] for u in ufits])
    white_var = W * nyq
    unc_var = sp.V - Ci_int - white_var
    return Split(cfit=cfit, f_cross=f_cross, Ci_int=Ci_int, Cib=Cib, ufits=ufits, W=W, white_var=white_var,
                 unc_var=unc_var, corr_model_var=model_integral(cfit, sp), correlated=sqrt_or_zero(sp.C_int))


def correlated_fit_summary(split: Split, sp: Spectra) -> dict:
    """The correlated fit as reported; the slope is NaN unless the component is >= 5% of the white
    noise and the fit pins it down."""
    cfit = split.cfit
    corr_model_var = split.corr_model_var
    correlated_detected = (split.correlated > 0.05 * sqrt_or_zero(float(np.mean(split.white_var))) and cfit["ok"]
                           and cfit["slope_err"] < MAX_SLOPE_ERR)
    return {
        "amplitude_1hz": cfit["amp"], "amplitude_1hz_err": cfit["amp_err"],
        "slope": cfit["slope"] if correlated_detected else float("nan"),
        "slope_fitted": cfit["slope"], "slope_err": cfit["slope_err"], "chi2_red": cfit["chi2_red"],
        "model_integral": sqrt_or_zero(corr_model_var) if np.isfinite(corr_model_var) else float("nan"),
        "fit_range_hz": [float(FIT_MIN_CYCLES / sp.frame_time), float(sp.nyq)],
        "crossover_hz": split.f_cross,
        "units": "amplitude DN^2/Hz at 1 Hz; PSD = amplitude * f^-slope",
    }


# ------------------------------------------------------------------------------------------------
# Banding and the side-reference correction
# ------------------------------------------------------------------------------------------------
def banding_summary(acc: Accumulator, white_var: np.ndarray) -> dict:
    """Row-average noise of the side reference columns and its white expectation.

    The side pixels' white noise: half the variance of neighbour differences minus the 1/f power
    near Nyquist, the latter measured the same way on the active pixels (white level known)."""
    has_sd = (acc.side_diff_n > 0) & (acc.act_diff_n > 0)
    if has_sd.any():
        onef_nyq = acc.act_diff_sumsq[has_sd] / acc.act_diff_n[has_sd] / 2.0 - white_var[has_sd]
        side_k = acc.side_diff_sumsq[has_sd] / acc.side_diff_n[has_sd] / 2.0 - onef_nyq
        side_white = float(np.average(side_k, weights=acc.side_diff_n[has_sd]))
    else:
        side_white = float("nan")
    return {
        "side_ref_row_avg_rms": sqrt_or_zero(acc.sideavg_sumsq / acc.sideavg_n) if acc.sideavg_n else None,
        "side_ref_pixel_white": sqrt_or_zero(side_white) if np.isfinite(side_white) else None,
        "side_ref_row_avg_white_expected": (sqrt_or_zero(side_white * acc.sideavg_inv_npix / acc.sideavg_n)
                                            if acc.sideavg_n and np.isfinite(side_white) else None),
        "side_smoothing_rows": SIDE_SMOOTH_ROWS,
        "available": acc.has_side,
        "units": UNITS,
        "description": ("row averages per CDS frame: side reference columns (left+right, per row) and "
                        "active pixels of each output; 'after' = after subtracting the side-reference "
                        f"row average (running mean over {SIDE_SMOOTH_ROWS} rows)"),
    }


def side_corrected_spectra(acc: Accumulator, sp: Spectra) -> tuple[np.ndarray | None, np.ndarray | None]:
    """(full-resolution spectra, variances) per output after the side-reference row correction;
    (None, None) without side reference columns."""
    if not acc.has_side:
        return None, None
    P_after = PIXEL_TIME_S * sp.wint * acc.auto_after / acc.n_auto[:, None]
    V_after = (P_after * sp.df).sum(axis=1)
    return P_after, V_after


def side_correction_columns(V_k: float, V_after_k: float | None, white_var_k: float, rowavg_sumsq_after_k: float,
                            rowavg_n_k: float) -> dict:
    """One output's 1/f and row-average noise after the side-reference correction (None where
    there are no side reference columns)."""
    if V_after_k is None:
        return {"row_avg_rms_after": None, "onef_before": sqrt_or_zero(V_k - white_var_k),
                "onef_after": None, "onef_variance_removed": None, "total_after": None}
    onef_before = V_k - white_var_k
    onef_after = V_after_k - white_var_k
    return {
        "row_avg_rms_after": sqrt_or_zero(rowavg_sumsq_after_k / rowavg_n_k),
        "onef_before": sqrt_or_zero(onef_before),
        "onef_after": sqrt_or_zero(onef_after),
        # Only meaningful where there is 1/f to remove (>= 5% of the white noise, rms).
        "onef_variance_removed": (1.0 - max(onef_after, 0.0) / onef_before
                                  if onef_before > 0.05**2 * white_var_k else float("nan")),
        "total_after": sqrt_or_zero(V_after_k),
    }


# ------------------------------------------------------------------------------------------------
# Per-amp components
# ------------------------------------------------------------------------------------------------
def amp_rows(acc: Accumulator, sp: Spectra, split: Split, factor: float, V_after: np.ndarray | None) -> list[dict]:
    """One dict per science amp (in science order): the integrated split, its fits and checks, the
    time-domain split, the row banding and the side-correction numbers."""
    nyq = sp.nyq
    white_var, unc_var = split.white_var, split.unc_var
    g = acc.sg_gain
    mean_white_var = float(np.mean(white_var))
    rows = []
    for a in acc.layout.amps():
        k = acc.layout.channel_index(a)
        uf = split.ufits[k]
        u = sqrt_or_zero(unc_var[k])
        detected = u > 0.05 * sqrt_or_zero(white_var[k]) and uf["ok"] and uf["slope_err"] < MAX_SLOPE_ERR
        unc_model_var = model_integral(uf, sp)
        model_total = sqrt_or_zero(white_var[k] + split.corr_model_var + unc_model_var)
        quad = sqrt_or_zero(white_var[k] + sp.C_int + max(unc_var[k], 0.0))
        total = sqrt_or_zero(sp.V_pix[k])
        td_unc = sqrt_or_zero(acc.td_unc_sumsq[k] / acc.td_unc_n[k]) if acc.td_unc_n[k] else float("nan")
        row = {
            "amp": a.index, "x0": a.x0, "x1": a.x1, "output": k,
            "white": sqrt_or_zero(white_var[k]),
            "white_err": (0.5 * uf["white_err"] * nyq / sqrt_or_zero(white_var[k])
                          if white_var[k] > 0 else float("nan")),
            "uncorrelated": u,
            "uncorrelated_err": (0.5 * uf["white_err"] * nyq / u if u > 0
                                 else sqrt_or_zero(uf["white_err"] * nyq)),
            "uncorrelated_slope": uf["slope"] if detected else float("nan"),
            "uncorrelated_slope_fitted": uf["slope"],
            "uncorrelated_slope_err": uf["slope_err"],
            "uncorrelated_psd_1hz": uf["amp"], "uncorrelated_psd_1hz_err": uf["amp_err"],
            "fit_chi2_red": uf["chi2_red"],
            "correlated": split.correlated,
            "correlated_seen": sqrt_or_zero(split.Ci_int[k]),
            "quadrature_sum": quad, "total": total,
            "check_ratio": quad / total if total > 0 else float("nan"),
            "total_from_spectrum": sqrt_or_zero(sp.V[k]),
            "model_quadrature_sum": model_total,
            "model_check_ratio": model_total / total if total > 0 else float("nan"),
            "td_correlated": sqrt_or_zero(acc.td_corr_sumsq / acc.td_corr_n) if acc.td_corr_n else float("nan"),
            "td_uncorrelated": td_unc,
            "td_white_leak_correlated": sqrt_or_zero(g * mean_white_var / acc.nout),
            "td_white_leak_uncorrelated": sqrt_or_zero(g * (white_var[k] * (1 - 2.0 / acc.nout)
                                                      + mean_white_var / acc.nout)),
            "row_avg_rms": sqrt_or_zero(acc.rowavg_sumsq[k] / acc.rowavg_n[k]) if acc.rowavg_n[k] else None,
            "row_avg_white_expected": (sqrt_or_zero(white_var[k] * factor * acc.rowavg_inv_npix[k]
                                              / acc.rowavg_n[k]) if acc.rowavg_n[k] else None),
        }
        row.update(side_correction_columns(sp.V[k], None if V_after is None else V_after[k], white_var[k],
                                           acc.rowavg_sumsq_after[k], acc.rowavg_n[k]))
        rows.append(row)
    return rows


def check_summary(rows: list[dict], sp: Spectra, order: list[int]) -> dict:
    """The quadrature-sum checks of the split against the pixel-domain total, and Parseval."""
    checks = [r["check_ratio"] for r in rows]
    return {
        "quadrature_sum_over_total": checks,
        "max_deviation": float(np.nanmax(np.abs(np.array(checks) - 1.0))),
        "model_quadrature_sum_over_total": [r["model_check_ratio"] for r in rows],
        "parseval_spectrum_over_pixels": [float(sp.V[k] / sp.V_pix[k]) for k in order],
        "description": ("total = rms of the processed CDS samples (pixel domain); quadrature sum = "
                        "sqrt(white^2 + correlated^2 + uncorrelated^2) from the integrated spectra "
                        "(differs from total by the chance covariance of the output with the common "
                        "1/f series, and if the uncorrelated term is clipped at 0); model = the "
                        "same with the fitted power laws integrated over the measured frequency grid"),
    }


def time_domain_summary(rows: list[dict], g: float) -> dict:
    """The pynrc-style time-domain split and its known white leakage (``g``: SG white gain)."""
    return {
        "method": (f"pynrc-style: Savitzky-Golay ({SAVGOL_WINDOW} samples, order {SAVGOL_ORDER}) "
                   "smoothing of each output's read-order pixel series as the 1/f model; mean over "
                   "outputs = correlated, remainder = uncorrelated"),
        "correlated": rows[0]["td_correlated"],
        "uncorrelated": [r["td_uncorrelated"] for r in rows],
        "white_leak_correlated": rows[0]["td_white_leak_correlated"],
        "white_leak_uncorrelated": [r["td_white_leak_uncorrelated"] for r in rows],
        "savgol_white_gain": g,
        "known_biases": (f"white leaks in with variance g*sigma^2 (g={g:.4f}): g*mean(sigma^2)/4 into "
                         "the correlated and ~3/4*g*sigma^2 into each uncorrelated term; 1/4 of the "
                         "uncorrelated variance lands in the correlated term; 1/f above ~1 kHz is "
                         "missed"),
        "units": UNITS,
    }


# ------------------------------------------------------------------------------------------------
# Display spectra, notes, result
# ------------------------------------------------------------------------------------------------
def display_spectra(acc: Accumulator, bins: Bins, split: Split, P_after: np.ndarray | None) -> dict:
    """The log-binned spectra and models of the result, per science amp (empty bins dropped)."""
    lay = acc.layout
    fb, cfit, ufits = bins.fb, split.cfit, split.ufits
    order = [lay.channel_index(a) for a in lay.amps()]  # science amp i -> output (channel index)
    amp_of_output = {lay.channel_index(a): a.index for a in lay.amps()}
    with np.errstate(invalid="ignore"):
        model_c = (power_law(fb, cfit["amp"], cfit["slope"]) if cfit["ok"]
                   else np.full_like(fb, np.nan))
        model_u = np.array([power_law(fb, ufits[k]["amp"], ufits[k]["slope"]) if ufits[k]["ok"]
                            else np.full_like(fb, np.nan) for k in order])
    good = bins.n_b > 0
    sel = lambda arr: arr[..., good]  # noqa: E731
    psd = bins.Pb[order]
    white_psd = split.W[order]
    unc_psd = psd - split.Cib[order] - white_psd[:, None]
    cross_pairs = []
    for a, b in acc.pairs:
        ia, ib = amp_of_output[a], amp_of_output[b]
        cross_pairs.append((min(ia, ib), max(ia, ib)))
    return {
        "freq": fb[good],
        "psd": sel(psd),
        "psd_err": sel(bins.Pb_err[order]),
        "correlated_psd": sel(bins.Cb),
        "correlated_psd_err": sel(bins.Cb_err),
        "cross_pairs": cross_pairs,
        "cross": sel(bins.Cpb),
        "white_psd": white_psd,
        "uncorrelated_psd": sel(unc_psd),
        "model_correlated": sel(model_c),
        "model_uncorrelated": sel(model_u),
        "model_total": sel(white_psd[:, None] + model_c[None, :] + model_u),
        "psd_after": sel(bins.mean(P_after)[0][order]) if P_after is not None else None,
    }


def closing_notes(acc: Accumulator, params: OneFParams, notes: list[str]) -> list[str]:
    """``notes`` with the clipped fraction (when above 0.1%) and the refpix_correct remark added."""
    if acc.njumps:
        notes.append(f"{acc.njumps} samples left out as jumps (cosmic rays, RTS switches: more than {JUMP_SIGMA:g} sigma "
                     "from their pixel's median over the integration)")
    nclip_frac = acc.nclipped / max(1, acc.nsamples + acc.nclipped)
    if nclip_frac > 1e-3:
        notes.append(f"{100 * nclip_frac:.2f}% of samples clipped (> {CLIP_SIGMA:g} robust sigma)")
    if not acc.pairs:
        notes.append(f"{acc.layout.nx}x{acc.layout.ny} window read by one output: the correlated / per-output split "
                     "compares the 4 outputs, so it cannot be made here. The spectrum (in read order), the white noise "
                     "and this output's total 1/f (given as its per-output 1/f, with its fit) are measured.")
    if params.refpix_correct:
        notes.append("refpix_correct: per-output, per-parity mean of the top/bottom reference rows "
                     "subtracted per CDS frame (the per-output median removal already removes any "
                     "per-output offset, so only the even/odd difference changes the numbers)")
    return notes


def banding_image(acc: Accumulator) -> np.ndarray:
    """(ny, nframes) row medians of the sub-sampled CDS frames, rows in read order."""
    return (np.stack(acc.band_cols, axis=1) if acc.band_cols
            else np.zeros((acc.layout.ny, 0), np.float32))


def finish(acc: Accumulator, params: OneFParams, files: list[str], n_integrations: int, factors: list[float],
           notes: list[str]) -> OneFResult:
    """The result from the accumulated sums of every CDS frame of ``files`` (``factors``: the
    stack-mean factor of each integration; ``notes`` so far, appended to)."""
    lay = acc.layout
    sp = full_spectra(acc)
    bins = log_bins(acc, sp, params.diff_type)
    split = correlated_split(acc, sp, bins, notes)
    factor = float(np.mean(factors)) if factors else 1.0
    P_after, V_after = side_corrected_spectra(acc, sp)
    rows = amp_rows(acc, sp, split, factor, V_after)
    order = [lay.channel_index(a) for a in lay.amps()]  # science amp i -> output (channel index)
    return OneFResult(
        detector=lay.detector,
        shape=(lay.ny, lay.nx),
        params=params,
        files=files,
        n_integrations=int(n_integrations),
        n_cds_frames=int(acc.nframes),
        frame_time=float(sp.frame_time),
        row_frequency=float(sp.f_row),
        freq_resolution=float(sp.df),
        nyquist=float(sp.nyq),
        amps=rows,
        correlated=split.correlated if acc.pairs else float("nan"),  # one output: not measurable
        correlated_fit=correlated_fit_summary(split, sp),
        **display_spectra(acc, bins, split, P_after),
        check=check_summary(rows, sp, order),
        time_domain=time_domain_summary(rows, acc.sg_gain),
        banding=banding_summary(acc, split.white_var),
        banding_image=banding_image(acc),
        banding_frames=acc.band_frames,
        row_time=sp.row_time,
        stack_mean_factor=factor,
        notes=closing_notes(acc, params, notes),
    )
