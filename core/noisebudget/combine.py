"""From the running totals (:mod:`.totals`) to the per-amp numbers: the noise components, the covariance of group
values they imply, the predicted and measured slope noise, kTC and the spectra (the method is in
:mod:`core.noisebudget.analysis`)."""

from __future__ import annotations

import numpy as np

from core.io.geometry import PIXEL_TIME_S, Layout
from core.noisebudget.model import (
    excess_parameters,
    fit_power_law,
    intercept_weights,
    log_bin,
    one_sided_psd,
    propagate,
    slope_matrix,
    white_slope_sigma,
)
from core.noisebudget.params import SPECTRUM_BINS_PER_DECADE
from core.noisebudget.totals import AmpTotals


def amp_numbers(t: AmpTotals, amp, layout: Layout, counts: list[int], tgroup: float, nframes: int,
                any_pairs: bool) -> dict:
    """Everything reported for one amp (units: DN, DN^2, DN/s; see the result)."""
    G = t.G
    v_cds, v_cds_ref = t.cds.pooled(), t.cds_ref.pooled()
    out = {"amp": amp.index, "x0": amp.x0, "x1": amp.x1, "output": amp.output, "n": counts}
    C_r = t.C / t.nrows if t.nrows else np.zeros((G, G))
    inv_n = t.inv_n
    g = np.arange(G - 1)
    cds_common = float(np.mean(C_r[g, g] + C_r[g + 1, g + 1] - 2 * C_r[g, g + 1])) if G > 1 else 0.0
    D = (v_cds - cds_common) / (2.0 * (1.0 - inv_n))  # per-pixel independent variance per group value
    cov = D * np.eye(G) + C_r - D * inv_n * np.eye(G)
    W = slope_matrix(counts, G)
    pred = np.sqrt(np.maximum(propagate(W, cov), 0.0)) / tgroup
    meas = np.sqrt(t.slopes.mean()) if any_pairs else np.full(len(counts), np.nan)
    out.update(
        white_group=float(np.sqrt(D)) if D > 0 else np.nan, cds_active=float(np.sqrt(v_cds)),
        cds_common=float(np.sqrt(max(cds_common, 0.0))), predicted=pred, measured=meas,
        measured_pixels=t.slopes.n.copy(), white_only=white_slope_sigma(np.sqrt(max(D, 0.0)), counts, tgroup),
        ratio=meas / pred, excess=excess_parameters(counts, meas, pred, tgroup, nframes), cov=cov,
    )
    out.update(_ktc(t, C_r, inv_n, D, v_cds_ref, cds_common))
    out["spectra"] = _spectra(t, D, layout, tgroup)
    return out


def _ktc(t: AmpTotals, C_r, inv_n, D, v_cds_ref, cds_common) -> dict:
    """kTC of the active and the reference pixels: the robust variance of the intercept differences
    (/ sqrt 2; pairs within one file) less the intercept's own noise implied by the same covariance."""
    G = t.G
    u = intercept_weights(G)[None, :]
    res = {"ktc_active": np.nan, "ktc_reference": np.nan, "intercept_active": np.nan,
           "intercept_reference": np.nan, "white_group_reference": np.nan}
    D_ref = (v_cds_ref - cds_common) / 2.0 if np.isfinite(v_cds_ref) else np.nan
    res["white_group_reference"] = float(np.sqrt(D_ref)) if D_ref > 0 else np.nan
    for kind, vs, d in (("active", t.icpt, D), ("reference", t.icpt_ref, D_ref)):
        v = float(vs.mean()[0])
        if not np.isfinite(v) or not np.isfinite(d):
            continue
        noise = float(propagate(u, d * np.eye(G) + C_r - d * inv_n * np.eye(G))[0])
        res[f"intercept_{kind}"] = float(np.sqrt(v))
        res[f"ktc_{kind}"] = float(np.sqrt(max(v - noise, 0.0)))
    return res


def _spectra(t: AmpTotals, D, layout: Layout, tgroup: float) -> dict:
    """Along-ramp (per-pixel and frame-mean) and within-frame (row-mean) spectra of one amp, their
    white floors and the power-law fit of the common mode over both ranges."""
    G = t.G
    f_ramp = np.arange(G // 2 + 1) / (G * tgroup)
    out = {"freq_ramp": f_ramp[1:], "psd_pixel": one_sided_psd(t.pix_abs2, t.pix_n, G, tgroup)[1:],
           "floor_pixel": np.full(G // 2, 2 * tgroup * max(D, 0.0))}
    if t.nframe == 0 or t.row_abs2 is None:
        out.update(psd_frame=np.full(G // 2, np.nan), freq_rows=np.empty(0), psd_rows=np.empty(0),
                   floor_frame=out["floor_pixel"] / t.n_active, floor_rows=np.empty(0), fit=fit_power_law([], [], []))
        return out
    out["psd_frame"] = one_sided_psd(t.frame_abs2, t.nframe, G, tgroup)[1:]
    out["floor_frame"] = np.full(G // 2, 2 * tgroup * max(D, 0.0) / t.n_active)
    t_row = layout.row_clocks * PIXEL_TIME_S
    L = t.row_len
    f_rows = np.arange(L // 2 + 1) / (L * t_row)
    out["freq_rows"] = f_rows[1:]
    # G / (G - 1): the variance each row's mean over the G groups took away (white in time)
    out["psd_rows"] = one_sided_psd(t.row_abs2, t.nrow_series, L, t_row)[1:] * (G / max(G - 1, 1))
    out["floor_rows"] = np.full(L // 2, 2 * t_row * max(D, 0.0) * t.inv_n)
    f_all = np.concatenate([out["freq_ramp"], out["freq_rows"]])
    p_all = np.concatenate([out["psd_frame"], out["psd_rows"]])
    fl_all = np.concatenate([out["floor_frame"], out["floor_rows"]])
    ok = np.isfinite(p_all)
    fb, pb, _ = log_bin(f_all[ok], p_all[ok] - fl_all[ok], SPECTRUM_BINS_PER_DECADE)
    _, fl, _ = log_bin(f_all[ok], fl_all[ok], SPECTRUM_BINS_PER_DECADE)
    out["fit"] = fit_power_law(fb, pb, fl)
    return out


__all__ = ["amp_numbers"]
