"""From the units' reductions to the per-amp numbers: the noise components, the covariance of group
values they imply, the predicted and measured slope noise, kTC and the spectra (the method is in
:mod:`core.noisebudget.analysis`)."""

from __future__ import annotations

import numpy as np

from core.io.geometry import PIXEL_TIME_S, Layout
from core.noisebudget.accumulate import UnitSums
from core.noisebudget.model import (excess_parameters, fit_power_law, intercept_weights, log_bin, one_sided_psd,
                                    propagate, slope_matrix, white_slope_sigma)
from core.noisebudget.params import SPECTRUM_BINS_PER_DECADE


def _mean_var(pairs: list[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    """Count-weighted mean of robust variances over units: (variance, total count); NaN where none."""
    if not pairs:
        return np.array([np.nan]), np.array([0])
    s = np.stack([np.where(np.isfinite(sig), sig ** 2 * n, 0.0) for sig, n in pairs])
    n = np.stack([np.where(np.isfinite(sig), n, 0) for sig, n in pairs])
    tot = n.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(tot > 0, s.sum(axis=0) / np.maximum(tot, 1), np.nan), tot


def _pooled_cds(pairs) -> float:
    """Mean over CDS frames of the count-weighted robust variance (DN^2)."""
    v, n = _mean_var(pairs)
    ok = np.isfinite(v) & (n > 0)
    return float(np.average(v[ok], weights=n[ok])) if ok.any() else np.nan


def _row_common(units: list[UnitSums], k: int, G: int, layout: Layout):
    """Covariance of the row means about the frame mean (G, G) DN^2, mean 1/pixels per row, and
    the spectra sums of the frame means and of the rows (read order) of amp ``k``."""
    C, nrows, inv_n = np.zeros((G, G)), 0, []
    frame_abs2, row_abs2, nrow_series, nframe = np.zeros(G // 2 + 1), None, 0, 0
    for u in units:
        s = u.amps[k]
        keep = s.rowcount > 0
        if keep.sum() < 2:
            continue
        M, w = s.rowmean[:, keep], s.rowcount[keep].astype(np.float64)
        M = np.where(np.isfinite(M), M, np.nan)
        fm = np.nansum(M * w, axis=1) / w.sum()
        R = np.where(np.isfinite(M), M - fm[:, None], 0.0)
        C += R @ R.T
        nrows += R.shape[1]
        inv_n.extend(1.0 / w)
        X = np.fft.rfft(_line_removed(fm, u.temporal))
        frame_abs2 += X.real ** 2 + X.imag ** 2
        nframe += 1
        series = R[:, ::-1] if layout.yflip else R  # rows in read order (detector rows bottom to top)
        Y = np.fft.rfft(series - series.mean(axis=1, keepdims=True), axis=1)
        a2 = (Y.real ** 2 + Y.imag ** 2).sum(axis=0)
        if row_abs2 is None or row_abs2.size != a2.size:
            row_abs2, nrow_series = a2, 0
        else:
            row_abs2 = row_abs2 + a2
        nrow_series += G
    if nrows == 0:
        return None
    return {"C": C / nrows, "inv_n": float(np.mean(inv_n)), "frame_abs2": frame_abs2, "nframe": nframe,
            "row_abs2": row_abs2, "nrow_series": nrow_series, "row_len": int(keep.sum())}


def _line_removed(y: np.ndarray, temporal: bool) -> np.ndarray:
    y = y - y.mean()
    if temporal or y.size < 3:
        return y
    x = np.arange(y.size) - (y.size - 1) / 2.0
    return y - x * (x @ y) / (x @ x)


def amp_numbers(units: list[UnitSums], k: int, layout: Layout, counts: list[int], G: int, tgroup: float,
                nframes: int) -> dict:
    """Everything reported for amp ``k`` (units: DN, DN^2, DN/s; see the result)."""
    amp = layout.amps()[k]
    pairs = [u for u in units if u.temporal]
    common = _row_common(units, k, G, layout)
    v_cds = _pooled_cds([u.amps[k].cds.sigma() for u in units])
    v_cds_ref = _pooled_cds([u.amps[k].cds_ref.sigma() for u in units])
    out = {"amp": amp.index, "x0": amp.x0, "x1": amp.x1, "output": amp.output, "n": counts}
    C_r = common["C"] if common else np.zeros((G, G))
    inv_n = common["inv_n"] if common else 0.0
    g = np.arange(G - 1)
    cds_common = float(np.mean(C_r[g, g] + C_r[g + 1, g + 1] - 2 * C_r[g, g + 1])) if G > 1 else 0.0
    D = (v_cds - cds_common) / (2.0 * (1.0 - inv_n))  # per-pixel independent variance per group value
    cov = D * np.eye(G) + C_r - D * inv_n * np.eye(G)
    W = slope_matrix(counts, G)
    pred = np.sqrt(np.maximum(propagate(W, cov), 0.0)) / tgroup
    meas_var, meas_n = _mean_var([u.amps[k].slopes.sigma() for u in pairs]) if pairs else (None, None)
    meas = np.sqrt(meas_var) if pairs else np.full(len(counts), np.nan)
    out.update(
        white_group=float(np.sqrt(D)) if D > 0 else np.nan, cds_active=float(np.sqrt(v_cds)),
        cds_common=float(np.sqrt(max(cds_common, 0.0))), predicted=pred, measured=meas,
        measured_pixels=(meas_n if pairs else np.zeros(len(counts), int)),
        white_only=white_slope_sigma(np.sqrt(max(D, 0.0)), counts, tgroup),
        ratio=meas / pred, excess=excess_parameters(counts, meas, pred, tgroup, nframes), cov=cov,
    )
    out.update(_ktc([p for p in pairs if p.same_file], k, G, C_r, inv_n, D, v_cds_ref, cds_common))
    out["spectra"] = _spectra(units, k, common, D, layout, G, tgroup)
    return out


def _ktc(pairs, k, G, C_r, inv_n, D, v_cds_ref, cds_common) -> dict:
    """kTC of the active and the reference pixels: the robust variance of the intercept differences
    (/ sqrt 2) less the intercept's own read noise implied by the same covariance."""
    u = intercept_weights(G)[None, :]
    res = {"ktc_active": np.nan, "ktc_reference": np.nan, "intercept_active": np.nan,
           "intercept_reference": np.nan, "white_group_reference": np.nan}
    D_ref = (v_cds_ref - cds_common) / 2.0 if np.isfinite(v_cds_ref) else np.nan
    res["white_group_reference"] = float(np.sqrt(D_ref)) if D_ref > 0 else np.nan
    if not pairs:
        return res
    for kind, hist, d in (("active", "icpt", D), ("reference", "icpt_ref", D_ref)):
        v, n = _mean_var([getattr(p.amps[k], hist).sigma() for p in pairs])
        if not np.isfinite(v[0]) or not np.isfinite(d):
            continue
        noise = float(propagate(u, d * np.eye(G) + C_r - d * inv_n * np.eye(G))[0])
        res[f"intercept_{kind}"] = float(np.sqrt(v[0]))
        res[f"ktc_{kind}"] = float(np.sqrt(max(v[0] - noise, 0.0)))
    return res


def _spectra(units, k, common, D, layout: Layout, G: int, tgroup: float) -> dict:
    """Along-ramp (per-pixel and frame-mean) and within-frame (row-mean) spectra of amp ``k``, their
    white floors and the power-law fit of the common mode over both ranges."""
    pix_abs2 = sum(u.amps[k].pix_abs2 for u in units)
    pix_n = sum(u.amps[k].pix_n for u in units)
    f_ramp = np.arange(G // 2 + 1) / (G * tgroup)
    out = {"freq_ramp": f_ramp[1:], "psd_pixel": one_sided_psd(pix_abs2, pix_n, G, tgroup)[1:],
           "floor_pixel": np.full(G // 2, 2 * tgroup * max(D, 0.0))}
    n_act = max(1, int(np.median([u.amps[k].rowcount.sum() for u in units])))
    if common is None:
        out.update(psd_frame=np.full(G // 2, np.nan), freq_rows=np.empty(0), psd_rows=np.empty(0),
                   floor_frame=out["floor_pixel"] / n_act, floor_rows=np.empty(0), fit=fit_power_law([], [], []))
        return out
    out["psd_frame"] = one_sided_psd(common["frame_abs2"], common["nframe"], G, tgroup)[1:]
    out["floor_frame"] = np.full(G // 2, 2 * tgroup * max(D, 0.0) / n_act)
    t_row = layout.row_clocks * PIXEL_TIME_S
    L = common["row_len"]
    f_rows = np.arange(L // 2 + 1) / (L * t_row)
    out["freq_rows"] = f_rows[1:]
    out["psd_rows"] = one_sided_psd(common["row_abs2"], common["nrow_series"], L, t_row)[1:]
    out["floor_rows"] = np.full(L // 2, 2 * t_row * max(D, 0.0) * common["inv_n"])
    f_all = np.concatenate([out["freq_ramp"], out["freq_rows"]])
    p_all = np.concatenate([out["psd_frame"], out["psd_rows"]])
    fl_all = np.concatenate([out["floor_frame"], out["floor_rows"]])
    ok = np.isfinite(p_all)
    fb, pb, _ = log_bin(f_all[ok], p_all[ok] - fl_all[ok], SPECTRUM_BINS_PER_DECADE)
    _, fl, _ = log_bin(f_all[ok], fl_all[ok], SPECTRUM_BINS_PER_DECADE)
    out["fit"] = fit_power_law(fb, pb, fl)
    return out


__all__ = ["amp_numbers"]
