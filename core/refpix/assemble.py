"""From per-file results (:class:`core.refpix.perfile.FileResult`) to the
:class:`~core.refpix.result.RefPixResult`: the notes, the level and drift tables, the per-pixel
noise table with its flags, the per-amp statistics and the per-file trends."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from core.io.geometry import Layout
from core.refpix.adjacent import instability_estimate
from core.refpix.amps import AmpGeom, amp_geometry
from core.refpix.numerics import hist_sigma, ramp_factor
from core.refpix.overtime import exposure_flags, flag_pixels, noise_frame, pixel_history
from core.refpix.params import LEVEL_KINDS, MIN_CORRELATION_DOF, RefPixParams
from core.refpix.perfile import FileResult
from core.refpix.result import RefPixResult
from core.stats import finite_or_none


def assemble(results: list[FileResult], layout: Layout, params: RefPixParams) -> RefPixResult:
    amps = amp_geometry(layout)
    notes = _notes(results, layout, amps)
    levels, drifts = _level_table(results, amps), _drift_table(results, amps)

    # Per-pixel noise pooled over files, then flags.
    pixels = _pixel_table(results, amps, layout, params)
    flags = exposure_flags(results, amps, params.flag_sigma)
    history = pixel_history(flags, layout)

    # 1/f that leaks into the pair differences, measured as the covariance of simultaneous pairs
    # of different outputs (white noise is independent between outputs, correlated 1/f is not).
    crosses = [r.cross for r in results if r.cross is not None]
    leak = _leak((sum(c[0] for c in crosses), sum(c[1] for c in crosses))) if crosses else None
    bottom, top = layout.reference_rows()
    if leak is None and (any(a.side for a in amps) or bottom.size or top.size):
        notes.append("White noise: 1/f leaking into the pixel-pair differences is not corrected "
                     "(needs a 4-output frame); the reference/active ratio may be biased up by ~1-2 %.")
    file_leak = {r.name: (_leak(r.cross) if r.cross is not None else None) for r in results}
    floors = {a.index: {r.name: _file_floor2(r, a.index, file_leak[r.name]) for r in results} for a in amps}

    # Per-amp statistics and per-file trends.
    amp_stats, trend_rows = [], []
    for a in amps:
        amp_stats.append(_amp_stats(results, a, leak, floors[a.index], pixels, history))
        trend_rows += [_trend_row(r, a, floors[a.index], file_leak[r.name]) for r in results]
    files = pd.DataFrame([{"file": r.name, "expstart": r.expstart, "nints": r.nints, "ngroups": r.ngroups}
                          for r in results])
    trends = pd.DataFrame(trend_rows)
    if not trends.empty:
        trends = trends.sort_values(["expstart", "file", "amp"], na_position="last").reset_index(drop=True)
    return RefPixResult(layout.detector, layout, params, files, levels, drifts, amp_stats, pixels,
                        trends, notes, layout.frame_time, exposure_flags=flags, history=history)


def _notes(results: list[FileResult], layout: Layout, amps: list[AmpGeom]) -> list[str]:
    """What the subarray and the group counts leave out."""
    notes: list[str] = []
    bottom, top = layout.reference_rows()
    left, right = layout.reference_columns()
    if not (bottom.size or top.size or left.size or right.size):
        notes.append("This subarray holds no reference pixels: reference levels, instability, "
                     "noise ratio and pixel flags are not available (None).")
    else:
        if not bottom.size or not top.size:
            have = "bottom" if bottom.size else ("top" if top.size else None)
            notes.append(f"Only the {have} reference rows are in this subarray; reference-row levels use them alone."
                         if have else "No reference rows in this subarray; reference levels come from the side columns.")
        no_ref_amps = [a.index for a in amps if not (bottom.size or top.size or a.side)]
        if no_ref_amps:
            notes.append(f"Amps {no_ref_amps} have no reference pixels in this subarray (values None).")
    if any(r.ngroups < 3 for r in results):
        notes.append("Files with fewer than 3 groups give no drifts or instability (a straight-line ramp "
                     "fit of 2 groups leaves nothing); with 2 groups they still count for the noise "
                     "ratio, with 1 group for nothing but the levels.")
    return notes


def _level_table(results: list[FileResult], amps: list[AmpGeom]) -> pd.DataFrame:
    """One row per file, integration, group, amp and pixel set."""
    rows = []
    for r in results:
        for a in amps:
            for kind in LEVEL_KINDS:
                v = r.levels.get((a.index, kind))
                if v is None:
                    continue
                lev, dr, nk = v
                for i in range(r.nints):
                    for g in range(r.ngroups):
                        rows.append((r.name, r.expstart, i, g, a.index, a.output, kind, int(nk[i]),
                                     finite_or_none(lev[i, g]), finite_or_none(dr[i, g]) if r.ngroups >= 3 else None))
    return pd.DataFrame(rows, columns=["file", "expstart", "integration", "group", "amp", "output",
                                       "kind", "n_pixels", "level", "drift"])


def _drift_table(results: list[FileResult], amps: list[AmpGeom]) -> pd.DataFrame:
    """Per CDS frame: the change of the reference and active drifts and their difference."""
    rows = []
    for r in results:
        for a in amps:
            ref = r.levels.get((a.index, "ref"))
            act = r.levels.get((a.index, "active"))
            if ref is None or act is None or r.ngroups < 3:  # 2 groups: a line fits them exactly
                continue
            dref, dact = np.diff(ref[1], axis=1), np.diff(act[1], axis=1)
            for i in range(r.nints):
                for j in range(r.ngroups - 1):
                    rows.append((r.name, r.expstart, i, j, a.index, a.output,
                                 finite_or_none(dref[i, j]), finite_or_none(dact[i, j]),
                                 finite_or_none(dact[i, j] - dref[i, j])))
    return pd.DataFrame(rows, columns=["file", "expstart", "integration", "cds", "amp", "output",
                                       "ref_change", "active_change", "difference"])


def _amp_stats(results: list[FileResult], a: AmpGeom, leak: float | None, floors: dict,
               pixels: pd.DataFrame, history: pd.DataFrame) -> dict:
    """The per-amp statistics, pooled over files."""
    h_ref = sum(r.white[a.index]["ref"] for r in results)
    h_act = sum(r.white[a.index]["active"] for r in results)
    s_ref, s_act = _white_read(h_ref, leak), _white_read(h_act, leak)
    ratio = s_ref / s_act if (s_ref is not None and s_act) else None
    new = _adjacent_stats(results, a.index, s_ref, s_act)
    old = _instability(results, a.index, floors)
    st = {
        "amp": a.index, "x0": a.x0, "x1": a.x1, "output": a.output,
        "ref_source": results[0].ref_source.get(a.index),
        "ref_white_read": finite_or_none(s_ref),
        "active_white_read": finite_or_none(s_act),
        "ref_active_white_ratio": finite_or_none(ratio),
        "pair_1f_read": finite_or_none(math.sqrt(max(leak, 0.0)) / 2) if leak is not None else None,
        **new,
        **_frame_residual(old, new["instability_var"]),
        "drift_correlation": _correlation(results, a.index),
    }
    for kind in LEVEL_KINDS:
        st[f"drift_rms_{kind}"] = _drift_rms(results, a.index, kind)
    offs = [o for o in (_offset(r, a.index) for r in results) if o is not None]
    st["ref_offset"] = finite_or_none(np.mean(offs)) if offs else None
    st["unstable_pixels"] = int(pixels["unstable"][pixels["amp"] == a.index].sum()) if not pixels.empty else 0
    mine = history[history["amp"] == a.index] if not history.empty else history
    st["unstable_pixels_any_exposure"] = int(len(mine))
    st["unstable_pixels_persistent"] = int(mine["persistent"].sum()) if len(mine) else 0
    return st


def _trend_row(r: FileResult, a: AmpGeom, floors: dict, leak: float | None) -> dict:
    """One file's numbers of one amp."""
    ri = _instability([r], a.index, floors)
    ref = r.levels.get((a.index, "ref"))
    act = r.levels.get((a.index, "active"))
    hs_r = _white_read(r.white[a.index]["ref"], leak)
    hs_a = _white_read(r.white[a.index]["active"], leak)
    new = _adjacent_stats([r], a.index, hs_r, hs_a)
    return {
        "file": r.name, "expstart": r.expstart, "amp": a.index, "output": a.output,
        "ref_level": finite_or_none(np.nanmean(ref[0])) if ref is not None else None,
        "active_level": finite_or_none(np.nanmean(act[0])) if act is not None else None,
        "ref_offset": _offset(r, a.index),
        **{k: new[k] for k in ("instability", "instability_err", "instability_source", "instability_floor",
                               "instability_1f", "instability_rows", "instability_rows_err",
                               "instability_columns", "instability_columns_err")},
        **{k: v for k, v in _frame_residual(ri, new["instability_var"]).items() if k != "frame_residual_n_cds"},
        "ref_active_white_ratio": finite_or_none(hs_r / hs_a) if (hs_r is not None and hs_a) else None,
        "drift_rms_ref": _drift_rms([r], a.index, "ref"),
        "drift_rms_active": _drift_rms([r], a.index, "active"),
    }


def _offset(r: FileResult, amp: int) -> float | None:
    ref = r.levels.get((amp, "ref"))
    act = r.levels.get((amp, "active"))
    if ref is None or act is None:
        return None
    return finite_or_none(np.nanmean(ref[0] - act[0]))


def _leak(cross) -> float | None:
    """Variance common to simultaneous pair differences of different outputs (pair units)."""
    if cross is None:
        return None
    sp, sm = hist_sigma(cross[0]), hist_sigma(cross[1])
    if sp is None or sm is None:
        return None
    return (sp**2 - sm**2) / 4.0


def _white_read(h: np.ndarray, leak: float | None) -> float | None:
    """Per-read white noise from a histogram of |CDS pair differences|, 1/f leak removed."""
    s = hist_sigma(h)
    if s is None:
        return None
    v = s * s - (leak or 0.0)
    return math.sqrt(v) / 2.0 if v > 0 else None


def _file_floor2(r: FileResult, amp: int, leak: float | None) -> float | None:
    """Expected per-frame variance of (active - reference) level from pixel white noise alone."""
    ref = r.levels.get((amp, "ref"))
    act = r.levels.get((amp, "active"))
    s_r = _white_read(r.white[amp]["ref"], leak)
    s_a = _white_read(r.white[amp]["active"], leak)
    if ref is None or act is None or s_r is None or s_a is None:
        return None
    nr, na = np.asarray(ref[2], float), np.asarray(act[2], float)
    ok = (nr > 0) & (na > 0)
    if not ok.any():
        return None
    return float(np.mean(s_r**2 / nr[ok] + s_a**2 / na[ok]))


def _instability(results: list[FileResult], amp: int, floors: dict) -> dict:
    ss = fac = fl = 0.0
    n_cds = 0
    have_floor = True
    for r in results:
        ref = r.levels.get((amp, "ref"))
        act = r.levels.get((amp, "active"))
        if ref is None or act is None or r.ngroups < 3:
            continue
        u = act[1] - ref[1]
        ok = np.isfinite(u).all(axis=1)
        if not ok.any():
            continue
        du = np.diff(u[ok], axis=1)
        f = ok.sum() * ramp_factor(r.ngroups)
        ss += float((du**2).sum())
        fac += f
        n_cds += du.size
        if floors.get(r.name) is None:
            have_floor = False
        else:
            fl += f * floors[r.name]
    if fac <= 0:
        return {"instability": None, "floor": None, "excess": None, "n_cds": 0}
    inst = math.sqrt(ss / fac)
    floor = math.sqrt(fl / fac) if have_floor else None
    excess = math.sqrt(max(inst**2 - floor**2, 0.0)) if floor is not None else None
    return {"instability": finite_or_none(inst), "floor": finite_or_none(floor), "excess": finite_or_none(excess),
            "n_cds": n_cds}


def _adjacent_stats(results: list[FileResult], amp: int, s_ref: float | None, s_act: float | None) -> dict:
    """The instability against adjacent active pixels (:mod:`core.refpix.adjacent`): from the
    reference rows where the amp has them, else from its side columns; both given."""
    series = [(r.adjacent.get(amp, {}), r.ngroups) for r in results]
    est = {k: instability_estimate(series, k, s_ref, s_act) for k in ("rows", "columns")}
    src = "rows" if est["rows"]["n_frames"] else ("columns" if est["columns"]["n_frames"] else None)
    m = est[src] if src else est["rows"]
    out = {
        "instability": m["instability"], "instability_err": m["instability_err"],
        "instability_var": m["instability_var"], "instability_var_err": m["instability_var_err"],
        "instability_source": src, "instability_floor": m["floor"], "instability_1f": m["onef"],
        "instability_n_frames": m["n_frames"],
    }
    for k in ("rows", "columns"):
        out[f"instability_{k}"] = est[k]["instability"]
        out[f"instability_{k}_err"] = est[k]["instability_err"]
        out[f"instability_{k}_floor"] = est[k]["floor"]
        out[f"instability_{k}_var"] = est[k]["instability_var"]
        out[f"instability_{k}_var_err"] = est[k]["instability_var_err"]
    return out


def _frame_residual(old: dict, inst_var: float | None) -> dict:
    """Today's figure under its name: the per-frame (active - reference-row) residual a whole-frame
    reference-row correction leaves (DN per read), its white floor, and the share of its variance
    that is neither white floor nor instability (1/f sampled at the frame's start and end)."""
    share = None
    r, f = old["instability"], old["floor"]
    if r and f is not None and inst_var is not None:
        share = min(max((r**2 - f**2 - max(inst_var, 0.0)) / r**2, 0.0), 1.0)
    return {"frame_residual": r, "frame_residual_floor": f, "frame_residual_excess": old["excess"],
            "frame_residual_1f_share": finite_or_none(share), "frame_residual_n_cds": old["n_cds"]}


def _correlation(results: list[FileResult], amp: int) -> float | None:
    xs, ys = [], []
    dof = 0
    for r in results:
        ref = r.levels.get((amp, "ref"))
        act = r.levels.get((amp, "active"))
        if ref is None or act is None or r.ngroups < 3:
            continue
        xs.append(ref[1].ravel())
        ys.append(act[1].ravel())
        dof += r.nints * (r.ngroups - 2)
    if dof < MIN_CORRELATION_DOF:  # residuals of a line through 3 groups are always +-1 correlated
        return None
    x, y = np.concatenate(xs), np.concatenate(ys)
    ok = np.isfinite(x) & np.isfinite(y)
    x, y = x[ok], y[ok]
    if x.size < 3:
        return None
    x, y = x - x.mean(), y - y.mean()
    den = math.sqrt(float((x**2).sum()) * float((y**2).sum()))
    return finite_or_none(float((x * y).sum()) / den) if den > 0 else None


def _drift_rms(results: list[FileResult], amp: int, kind: str) -> float | None:
    ss = dof = 0.0
    for r in results:
        v = r.levels.get((amp, kind))
        if v is None or r.ngroups < 3:
            continue
        dr = v[1]
        ok = np.isfinite(dr).all(axis=1)
        ss += float((dr[ok] ** 2).sum())
        dof += ok.sum() * (r.ngroups - 2)
    return finite_or_none(math.sqrt(ss / dof)) if dof > 0 else None


def _pixel_table(results: list[FileResult], amps: list[AmpGeom], layout: Layout,
                 params: RefPixParams) -> pd.DataFrame:
    cols = ["y", "x", "det_y", "det_x", "amp", "output", "kind", "edge", "parity", "noise_cds",
            "noise_read", "group_median_cds", "robust_z", "unstable"]
    frames = [f for f in (noise_frame([r.pix.get(a.index, []) for r in results]) for a in amps) if f is not None]
    if not frames:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in cols})
    pix = pd.concat(frames, ignore_index=True)
    pix["noise_read"] = pix["noise_cds"] / math.sqrt(2.0)
    pix["det_y"] = (layout.ny - 1 - pix["y"]) if layout.yflip else pix["y"]
    pix["det_x"] = (layout.nx - 1 - pix["x"]) if layout.xflip else pix["x"]
    pix = flag_pixels(pix, params.flag_sigma)
    return pix[cols].sort_values(["amp", "kind", "edge", "y", "x"]).reset_index(drop=True)


__all__ = ["assemble"]
