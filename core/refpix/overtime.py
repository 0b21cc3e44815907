"""Unstable reference pixels exposure by exposure (issue 20).

Each reference pixel's temporal CDS noise (common mode removed, :mod:`core.refpix.reference`) is
z-scored within its group (amp, row or column, even or odd) in every exposure on its own, as the
pooled flags of :mod:`core.refpix.assemble` are: robust z (median and 1.4826 MAD) of the cube
root of the variance (Wilson-Hilferty), flagged above ``flag_sigma``.  For every pixel flagged in
any exposure the history table says in how many of the exposures that measured it it was flagged,
which ones (file and EXPSTART, MJD), its median z when flagged and when not (does its noise stay
high below the threshold?), and whether it is *persistent*: flagged in every exposure that
measured it, two at least.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from core.io.geometry import Layout
from core.refpix.amps import AmpGeom
from core.refpix.params import MIN_GROUP_FOR_FLAGS
from core.stats import MAD_TO_SIGMA

PIXEL_KEYS = ["y", "x", "amp", "output", "kind", "edge", "parity"]
HISTORY_COLUMNS = PIXEL_KEYS + [
    "det_y", "det_x", "n_exposures", "n_flagged", "persistent", "flagged_files", "flagged_expstart",
    "first_flagged", "last_flagged", "z_median_flagged", "z_median_unflagged", "noise_cds_median_flagged",
    "noise_cds_median_unflagged"]


def flag_group(pix: pd.DataFrame, idx) -> None:
    """Group median and robust z-score of the pixels ``idx`` of one amp, kind and parity."""
    v = pix.loc[idx, "noise_cds"].to_numpy()
    fin = np.isfinite(v)
    if fin.sum() < MIN_GROUP_FOR_FLAGS:
        return
    pix.loc[idx, "group_median_cds"] = float(np.median(v[fin]))
    # z-score of the cube root of the variance (Wilson-Hilferty): a variance estimate from a
    # few frames is chi-square distributed, long-tailed; its cube root is close to normal, so
    # "z > 5" keeps the meaning of a 5-sigma tail (a linear z flags chi-square tail pixels).
    t = v ** (2.0 / 3.0)
    med = float(np.median(t[fin]))
    mad = MAD_TO_SIGMA * float(np.median(np.abs(t[fin] - med)))
    if mad > 0:
        pix.loc[idx, "robust_z"] = (t - med) / mad


def noise_frame(parts: list[list[tuple]]) -> pd.DataFrame | None:
    """Pixel coordinates and CDS noise from (pixel frame, sum of squares, dof) parts of one amp,
    summed over the files given (one file: that exposure alone).  The sums are of per-read residuals
    about each pixel's line (:func:`core.refpix.numerics.resid_ss`): CDS = sqrt(2) x per read."""
    if not parts or not parts[0]:
        return None
    frames = []
    for j in range(len(parts[0])):
        df = parts[0][j][0].copy()
        ss = sum(p[j][1] for p in parts)
        dof = sum(p[j][2] for p in parts)
        with np.errstate(invalid="ignore", divide="ignore"):
            df["noise_cds"] = np.where(dof > 0, np.sqrt(2.0 * ss / np.where(dof > 0, dof, 1)), np.nan)
        frames.append(df)
    return pd.concat(frames, ignore_index=True)


def flag_pixels(pix: pd.DataFrame, flag_sigma: float) -> pd.DataFrame:
    """Add group_median_cds, robust_z and unstable to a noise frame (in place; returned)."""
    pix["group_median_cds"] = np.nan
    pix["robust_z"] = np.nan
    for _, idx in pix.groupby(["amp", "kind", "parity"]).groups.items():
        flag_group(pix, idx)
    pix["unstable"] = (pix["robust_z"] > flag_sigma).fillna(False).astype(bool)
    return pix


def exposure_flags(results, amps: list[AmpGeom], flag_sigma: float) -> pd.DataFrame:
    """Per exposure and reference pixel: noise_cds, robust_z, unstable -- for the pixels flagged in
    at least one exposure (every other pixel is simply never flagged)."""
    cols = ["file", "expstart"] + PIXEL_KEYS + ["noise_cds", "robust_z", "unstable"]
    frames = []
    for r in results:
        for a in amps:
            df = noise_frame([r.pix.get(a.index, [])])
            if df is None:
                continue
            df = flag_pixels(df, flag_sigma)
            df["file"], df["expstart"] = r.name, r.expstart
            frames.append(df[cols])
    if not frames:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in cols})
    allpix = pd.concat(frames, ignore_index=True)
    hit = allpix.loc[allpix["unstable"], ["y", "x"]].drop_duplicates()
    out = allpix.merge(hit, on=["y", "x"], how="inner")
    return out.sort_values(["amp", "y", "x", "expstart", "file"], na_position="last").reset_index(drop=True)


def _median(v: pd.Series) -> float | None:
    v = v.dropna()
    return float(v.median()) if len(v) else None


def pixel_history(flags: pd.DataFrame, layout: Layout) -> pd.DataFrame:
    """One row per reference pixel flagged in any exposure (see the module docstring)."""
    rows = []
    for key, g in flags.groupby(PIXEL_KEYS, sort=False):
        meas = g[np.isfinite(g["noise_cds"].astype(float))]
        fl = meas[meas["unstable"]]
        un = meas[~meas["unstable"]]
        when = [e for e in fl["expstart"] if e is not None and not (isinstance(e, float) and math.isnan(e))]
        row = dict(zip(PIXEL_KEYS, key))
        row.update({
            "det_y": int(layout.ny - 1 - row["y"]) if layout.yflip else int(row["y"]),
            "det_x": int(layout.nx - 1 - row["x"]) if layout.xflip else int(row["x"]),
            "n_exposures": int(len(meas)), "n_flagged": int(len(fl)),
            "persistent": bool(len(meas) >= 2 and len(fl) == len(meas)),
            "flagged_files": "; ".join(fl["file"]),
            "flagged_expstart": "; ".join(f"{e:.4f}" for e in when),
            "first_flagged": min(when) if when else None, "last_flagged": max(when) if when else None,
            "z_median_flagged": _median(fl["robust_z"]), "z_median_unflagged": _median(un["robust_z"]),
            "noise_cds_median_flagged": _median(fl["noise_cds"]),
            "noise_cds_median_unflagged": _median(un["noise_cds"]),
        })
        rows.append(row)
    if not rows:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in HISTORY_COLUMNS})
    out = pd.DataFrame(rows)[HISTORY_COLUMNS]
    return out.sort_values(["amp", "n_flagged", "y", "x"], ascending=[True, False, True, True]).reset_index(drop=True)


__all__ = ["exposure_flags", "flag_group", "flag_pixels", "noise_frame", "pixel_history"]
