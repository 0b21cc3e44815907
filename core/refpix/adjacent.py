"""Reference-pixel instability against the active pixels read next to them (issue 20).

Per file, integration, group (frame) and amplifier, in DN per read (per group: for NFRAMES > 1 a
group averages its reads, and so does an offset):

Series (:func:`adjacent_series`, per file)
    For each reference edge of the amp -- the bottom and top reference rows, the left or right
    side reference columns -- the pixel set ``R`` (the reference rows over the amp's *active*
    columns, or the side columns over the active rows) and ``ADJ_BLOCKS`` blocks ``A_0, A_1, ..``
    of active pixels of the same shape next to it, ``A_0`` adjacent (rows read just after the
    bottom rows or just before the top rows; columns read microseconds after or before the side
    columns in every row).  Each set's *drift* per frame is the clipped mean after removing each
    pixel's own straight-line ramp (:func:`core.refpix.levels.set_levels`).
    ``D = drift(A_0) - drift(R)`` is what the reference pixels see that their neighbours do not;
    ``N_j = drift(A_j+1) - drift(A_j)`` is the same comparison between active neighbours only.

Estimate (:func:`instability_estimate`, pooled over files)
    The 1/f common to ``R`` and ``A_0`` cancels in ``D`` only partly: for pink noise the difference
    of two adjacent box means keeps a part that does not shrink with the box (~1.6 DN per read for
    5 DN CDS of correlated 1/f, between 4-row blocks).  ``N_j`` has the same geometry and timing,
    so the same 1/f part, and no reference pixel: the estimate of the instability variance is ::

        I^2 = < D^2 > - < N^2 > - (w_D - w_N)

    with ``<.>`` the mean over frames (times G / (G - 2), the variance the per-pixel line fit
    leaves) and ``w`` the white-noise floors of exactly those pixel sets,
    ``w_D = s_ref^2 / n_R + s_act^2 / n_A0`` and ``w_N = s_act^2 (1 / n_Aj + 1 / n_Aj+1)``
    (per-read white noises of the amp, kept pixel counts).  Its expectation is zero when the
    reference pixels carry no offset the active ones lack, whatever the 1/f.  Per frame the
    edges of the amp are averaged, ``y = mean_e(D_e^2 - mean_j N_ej^2) G/(G-2) - (w_D - w_N)``;
    ``I^2 = mean(y)``, its error ``std(y) / sqrt(n)`` with n = nints (G - 2) per file, the
    independent values the line fit leaves (the 1/f left in D
    dominates it: ~0.6 DN^2 for 18 frames, two edges, 5 DN CDS of correlated 1/f).  Reported as
    the signed root ``sign(I^2) sqrt(|I^2|)`` (DN per read, negative: below the null) with error
    ``sqrt(|I^2| + err) - sqrt(|I^2|)`` (err in DN^2: err / 2I when well measured, sqrt(err) near zero).
    The white floor ``sqrt(w_D)`` and the 1/f between neighbours ``sqrt(<N^2> - w_N)`` are given
    beside it.
"""

from __future__ import annotations

import math

import numpy as np

from core.refpix.amps import AmpGeom
from core.refpix.levels import set_levels
from core.refpix.stripes import StripeSums
from core.stats import finite_or_none


def _edge_entry(edge: str, ref_raw: np.ndarray, adj_raw: np.ndarray, block: int, axis: int) -> dict | None:
    """Drifts of the reference set and of the adjacent blocks (cut along ``axis`` of ``adj_raw``)."""
    nblk = adj_raw.shape[axis] // block
    if nblk < 2:
        return None
    _, ref_dr, ref_n = set_levels(ref_raw)
    act_dr, act_n = [], []
    for j in range(nblk):
        sl = [slice(None)] * adj_raw.ndim
        sl[axis] = slice(j * block, (j + 1) * block)
        _, dr, nk = set_levels(adj_raw[tuple(sl)])
        act_dr.append(dr)
        act_n.append(nk)
    return {"edge": edge, "ref": ref_dr, "n_ref": ref_n, "act": np.stack(act_dr, axis=-1),
            "n_act": np.stack(act_n, axis=-1)}


def adjacent_series(acc: StripeSums, a: AmpGeom) -> dict:
    """{"rows": [edge entries], "columns": [side entries]} of one amp of one file; each entry holds
    ``ref`` (nints, G) and ``act`` (nints, G, blocks) drifts (DN per read) and their kept pixel
    counts ``n_ref`` (nints,), ``n_act`` (nints, blocks)."""
    out: dict = {"rows": [], "columns": []}
    if acc.ngroups < 3 or a.act_cols.size == 0:
        return out
    cols = a.act_cols
    for edge, ridx, raw in (("bottom", acc.bottom, acc.bot_raw), ("top", acc.top, acc.top_raw)):
        rows = acc.edge_rows.get(edge)
        if rows is None or ridx.size == 0:
            continue
        e = _edge_entry(edge, raw[..., cols], acc.edge_raw[edge][..., cols], ridx.size, axis=2)
        if e is not None:
            out["rows"].append(e)
    for side, scols in a.side.items():
        adj = acc.side_adj_raw.get((a.index, side))
        if adj is None:
            continue
        e = _edge_entry(side, acc.side_raw[(a.index, side)], adj, scols.size, axis=3)
        if e is not None:
            out["columns"].append(e)
    return out


def _frame_values(entries: list[dict], s_ref: float, s_act: float, G: int):
    """Per frame (nints, G): y, the white floor w_D and the null's 1/f + white <N^2> (see module)."""
    ys, wds, nulls, wns = [], [], [], []
    for e in entries:
        with np.errstate(invalid="ignore", divide="ignore"):
            d = e["act"][..., 0] - e["ref"]
            n = np.diff(e["act"], axis=-1)
            inv = 1.0 / e["n_act"].astype(float)
            w_d = s_ref**2 / e["n_ref"].astype(float) + s_act**2 * inv[:, 0]
            w_n = (s_act**2 * (inv[:, 1:] + inv[:, :-1])).mean(axis=-1)
        null2 = (n**2).mean(axis=-1)
        ys.append(d**2 - null2)
        wds.append(np.broadcast_to(w_d[:, None], d.shape))
        nulls.append(null2)
        wns.append(np.broadcast_to(w_n[:, None], d.shape))
    fac = G / (G - 2.0)
    mean = lambda v: np.mean(np.stack(v), axis=0)  # noqa: E731 - over the edges
    y = mean(ys) * fac - (mean(wds) - mean(wns))
    return y, mean(wds), mean(nulls) * fac, mean(wns)


def instability_estimate(series: list[tuple[dict, int]], kind: str, s_ref: float | None,
                         s_act: float | None) -> dict:
    """The instability from the ``kind`` ("rows" / "columns") entries of per-file series
    ``[(adjacent_series result, ngroups), ...]`` of one amp, with the amp's per-read white noises.
    Keys: instability, instability_err (DN per read, signed root), instability_var(_err) (DN^2),
    floor (white floor of D), onef (1/f between neighbours), n_frames (independent frames, nints (G - 2)
    per file); None where not measurable."""
    none = {"instability": None, "instability_err": None, "instability_var": None, "instability_var_err": None,
            "floor": None, "onef": None, "n_frames": 0}
    if s_ref is None or s_act is None:
        return none
    ys, wd, nl, wn = [], [], [], []
    dof = 0
    for ser, G in series:
        entries = ser.get(kind) or []
        if not entries or G < 3:
            continue
        y, w_d, null2, w_n = _frame_values(entries, s_ref, s_act, G)
        ok = np.isfinite(y).all(axis=1)  # whole integrations: the line fit needs every group
        dof += int(ok.sum()) * (G - 2)
        ys.append(y[ok].ravel())
        wd.append(w_d[ok].ravel())
        nl.append(null2[ok].ravel())
        wn.append(w_n[ok].ravel())
    if not ys or dof < 2:
        return none
    y = np.concatenate(ys)
    # G frames of an integration carry G - 2 independent values after the line fit: the error of
    # the mean counts those (std / sqrt(G) would be ~10 % small for 10 groups).
    v, err = float(y.mean()), float(y.std(ddof=1) / math.sqrt(dof))
    root = math.copysign(math.sqrt(abs(v)), v)
    floor = float(np.concatenate(wd).mean())
    onef = float(np.concatenate(nl).mean() - np.concatenate(wn).mean())
    return {"instability": finite_or_none(root),
            "instability_err": finite_or_none(math.sqrt(abs(v) + err) - math.sqrt(abs(v))),
            "instability_var": finite_or_none(v), "instability_var_err": finite_or_none(err),
            "floor": finite_or_none(math.sqrt(floor)) if floor >= 0 else None,
            "onef": finite_or_none(math.sqrt(max(onef, 0.0))), "n_frames": dof}


__all__ = ["adjacent_series", "instability_estimate"]
