"""The reference pixels of one file, per amp, once the stripe pass has them all in memory: the
white noise of their pair differences, the levels and drifts of every pixel set (and of all the
amp's reference pixels together, and of its active pixels from the stripe sums), and the temporal
noise of each reference pixel with the common mode removed."""

from __future__ import annotations

import numpy as np
import pandas as pd

from core.refpix.amps import AmpGeom
from core.refpix.kernel import pair_hist
from core.refpix.levels import set_levels
from core.refpix.numerics import detrend, median, resid_ss
from core.refpix.params import HIST_MAX_DN
from core.refpix.stripes import StripeSums


def _row_sets(a: AmpGeom, acc: StripeSums) -> list[tuple]:
    """(kind, raw (nints, G, nrows, ncols), row indices, column indices) of the amp's reference
    rows, split by edge and detector-column parity."""
    out = []
    for where, raw, ridx in (("bottom", acc.bot_raw, acc.bottom), ("top", acc.top_raw, acc.top)):
        if ridx.size == 0:
            continue
        block = raw[..., a.x0:a.x1]
        for p, pname in ((0, "even"), (1, "odd")):
            cols = np.flatnonzero(a.parity == p)
            out.append((f"{where}_{pname}", block[..., cols], ridx, cols + a.x0))
    return out


def _col_sets(a: AmpGeom, acc: StripeSums) -> list[tuple]:
    """As :func:`_row_sets` for the amp's side reference columns (one set per side)."""
    return [(s, acc.side_raw[(a.index, s)], acc.nonref, cols) for s, cols in a.side.items()]


def _reference_white(a: AmpGeom, acc: StripeSums, col_sets: list[tuple]) -> np.ndarray:
    """Histogram of |CDS pair differences| of the amp's reference pixels (pairs two columns apart)."""
    h = np.zeros(HIST_MAX_DN + 1, np.int64)
    if acc.ncds:  # pair_hist: abs_histogram(c[..., li] - c[..., ri]) of c = np.diff(raw, axis=1)
        for raw, ridx in ((acc.bot_raw, acc.bottom), (acc.top_raw, acc.top)):
            if ridx.size:
                h += pair_hist(raw, 0, ridx.size, a.x0, a.x1, HIST_MAX_DN)
        for _, raw, _, cols in col_sets:
            h += pair_hist(raw, 0, raw.shape[2], 0, cols.size, HIST_MAX_DN)
    return h


def _combined_reference(levels: dict, amp: int, row_sets: list[tuple], col_sets: list[tuple]) -> str | None:
    """Add the amp's combined reference level (all reference rows, else the side columns) to
    ``levels``; returns where it came from ("rows", "columns" or None)."""
    combo = [k for k, *_ in row_sets] or [k for k, *_ in col_sets]
    if not combo:
        return None
    nk = sum(levels[(amp, k)][2] for k in combo)
    with np.errstate(invalid="ignore", divide="ignore"):
        lev = sum(np.nan_to_num(levels[(amp, k)][0]) * levels[(amp, k)][2][:, None]
                  for k in combo) / nk[:, None]
        dr = sum(np.nan_to_num(levels[(amp, k)][1]) * levels[(amp, k)][2][:, None]
                 for k in combo) / nk[:, None]
    levels[(amp, "ref")] = (lev, dr, nk)
    return "rows" if row_sets else "columns"


def _active_level(acc: StripeSums, amp: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    n_act = acc.act_n[amp]
    with np.errstate(invalid="ignore", divide="ignore"):
        return acc.act_raw[amp] / n_act[:, None], acc.act_resid[amp] / n_act[:, None], n_act


def _pix_frame(a: AmpGeom, kind: str, where, parity, y: np.ndarray, x: np.ndarray) -> pd.DataFrame:
    """Coordinates and grouping of reference pixels: the first columns of the pixel table."""
    return pd.DataFrame({
        "y": y.astype(np.int64), "x": x.astype(np.int64), "amp": a.index, "output": a.output,
        "kind": kind, "edge": where, "parity": parity,
    })


def _row_pixel_noise(a: AmpGeom, row_sets: list[tuple]) -> list[tuple]:
    """(pixel frame, sum of squares, dof) of each reference-row set, the common mode (median of
    the same row, amp and column parity) removed per frame."""
    out = []
    for kind, raw, ridx, cols in row_sets:
        nints, G = raw.shape[:2]
        res = detrend(raw)  # (nints, G, nrows, ncols): one parity of one amp
        res -= median(res, axis=-1, nan=bool(np.isnan(res).any()))[..., None]
        ss, dof = resid_ss(res.reshape(nints, G, -1))
        yv, xv = np.meshgrid(ridx, cols, indexing="ij")
        where, par = kind.split("_")
        out.append((_pix_frame(a, "row", where, par, yv.ravel(), xv.ravel()), ss, dof))
    return out


def _column_pixel_noise(a: AmpGeom, col_sets: list[tuple], side_cm: np.ndarray) -> list[tuple]:
    """As :func:`_row_pixel_noise` for the side columns: the common mode is the median of the amp's
    de-ramped active pixels of the same row and parity, then the frame's median of that side
    column and parity."""
    out = []
    for kind, raw, ridx, cols in col_sets:
        nints, G = raw.shape[:2]
        par = a.parity[cols - a.x0]
        res = detrend(raw) - side_cm[..., par]
        for p in (0, 1):
            sel = par == p
            if sel.any():
                sub = res[..., sel]
                cm = median(sub.reshape(nints, G, -1), axis=-1, nan=True)
                res[..., sel] = sub - cm[..., None, None]
        ss, dof = resid_ss(res.reshape(nints, G, -1))
        yv, xv = np.meshgrid(ridx, cols, indexing="ij")
        parname = np.broadcast_to(np.where(par[None, :] == 0, "even", "odd"), yv.shape).ravel()
        out.append((_pix_frame(a, "column", kind, parname, yv.ravel(), xv.ravel()), ss, dof))
    return out


def reference_pass(acc: StripeSums, amps: list[AmpGeom]) -> tuple[dict, dict, dict, dict]:
    """(levels, white, pix, ref_source) of one file, as :class:`core.refpix.perfile.FileResult`
    holds them."""
    levels: dict = {}
    white: dict = {}
    pix: dict = {}
    ref_source: dict = {}
    for a in amps:
        row_sets = _row_sets(a, acc)
        col_sets = _col_sets(a, acc)
        white[a.index] = {"ref": _reference_white(a, acc, col_sets), "active": acc.hist_act[a.index]}
        for kind, raw, _ridx, _cols in row_sets + col_sets:
            levels[(a.index, kind)] = set_levels(raw)
        ref_source[a.index] = _combined_reference(levels, a.index, row_sets, col_sets)
        levels[(a.index, "active")] = _active_level(acc, a.index)
        pix[a.index] = []
        if acc.ngroups >= 3:
            pix[a.index] += _row_pixel_noise(a, row_sets)
            pix[a.index] += _column_pixel_noise(a, col_sets, acc.side_cm.get(a.index))
    return levels, white, pix, ref_source


__all__ = ["reference_pass"]
