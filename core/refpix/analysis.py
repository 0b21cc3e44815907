"""Reference-pixel versus active-pixel stability of NIRCam dark ramps (issue 4).

Everything is per file, integration, frame (group) and amplifier, in DMS *science* orientation;
each amplifier also carries its detector output number.  What is computed, and how:

Levels and drifts
    For every frame the **level** of a pixel set is the mean DN of its pixels; the **drift** is the
    same mean after removing each pixel's own straight-line ramp (per-pixel mean + slope over the
    groups of the integration: superbias, kTC and dark current go away).  Pixel sets per amp:
    bottom / top reference rows split into even / odd *detector* columns (the jwst ``refpix``
    convention), the left / right side reference columns where the amp has them (only the first
    and last amps of a full frame), all the amp's reference rows together (``ref``; the side
    columns when the amp has no reference rows) and the amp's active pixels (``active``).
    Pixels whose de-ramped values stray more than ``LEVEL_CLIP_SIGMA`` robust sigma from the
    frame's median in any group of an integration (cosmic rays, noisy or unstable pixels) are left
    out of that integration's levels, so every frame of an integration uses the same pixels: the
    active level is a clipped mean, accumulated stripe by stripe.

Instability (DN per read)
    ``u = drift(active) - drift(ref)`` per frame.  The estimate is the rms over CDS frames
    (consecutive groups) of ``du`` divided by sqrt(2), i.e. ``sqrt(sum(du^2) / c)`` with
    ``c = 2 (G-1) - 12 / (G (G+1))`` per integration: the exact expectation of ``sum(du^2)`` for
    unit white per-frame noise after the per-pixel ramp fit (the ``-12/(G(G+1))`` term is the
    variance the straight-line fit takes away; it is 1 % for 8 groups).  Pooled over
    integrations and files.
    **Floor**: with no instability ``u`` only carries pixel white noise averaged over the pixels:
    ``floor^2 = sigma_ref^2 / N_ref + sigma_act^2 / N_act`` (per read), with the robust white
    noises below and the numbers of pixels that entered each level (clipped ones excluded).  Full
    frame, 5 DN per read, ratio 0.85: ``sqrt(4.25^2/4096 + 5^2/1044480) = 0.067`` DN.
    ``instability_excess = sqrt(instability^2 - floor^2)`` estimates the injected/real part.
    Correlated or per-output 1/f noise also raises the estimate: reference rows sample it only at
    the start and end of the frame while the active level averages it over the whole frame (1-2
    DN for 5 DN CDS of correlated 1/f): real residual a reference-row correction leaves, not
    instability of the reference pixels themselves.

White-noise ratio
    From CDS frames, differences of pixel pairs two columns apart (same parity, 20 us apart in
    readout): common-mode offsets (most 1/f, reference instability, ACN) cancel, the pixel white
    noise adds.  The robust sigma is median(|d|)/0.6745 from integer-DN histograms (so memory
    stays bounded), halved to per-read noise.  The 1/f that still leaks into 20 us pairs (~1.4 DN
    per read for 5 DN CDS of correlated 1/f, +2 % on the ratio) is measured as the covariance of
    simultaneous pairs of different outputs (read in step, mirrored into read order; white noise
    is independent between outputs) and subtracted in quadrature (``pair_1f_read``); 1-output
    subarrays are left uncorrected (a note says so).

Per-reference-pixel noise
    Temporal noise of each reference pixel: residuals about its own straight-line ramp after
    removing the common mode per frame (median of the same row, amp and column parity for the
    reference rows; for side columns the median of the amp's de-ramped active pixels of the same
    row and parity, then the frame's median of that side column), chi-square with G - 2 dof per
    integration, pooled over files, given as CDS noise (sqrt(2) x per read).  A pixel is
    *unstable* when its robust z-score (median and 1.4826 MAD, computed on noise^(2/3), the
    Wilson-Hilferty cube root of the variance, which is close to normal) within its group
    (amp, row or column, even or odd) exceeds ``flag_sigma``.

The active pixels of each stripe go through compiled kernels (:mod:`core.refpix.kernel`, same
results as the numpy of :func:`_active_numpy`), the amps and row halves on both cores while the
next stripe is read.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from concurrent.futures import wait
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from astropy.io import fits

from core.errors import InputError, ParameterError
from core.io.geometry import CHANNEL_WIDTH, FULL_SIZE, NREF, Layout
from core.io.ramps import Ramp, layout_from_header, stripes
from core.median import abs_histogram, median_of, nanmedian_last
from core.refpix.kernel import active_levels, cross_hist, pair_hist
from core.runtime import pool
from core.stats import HALF_NORMAL_MEDIAN, MAD_TO_SIGMA, finite_or_none

LEVEL_CLIP_SIGMA = 6.0  # robust sigma; pixel left out of an integration's levels beyond this
CLIP_SUBSAMPLE = 2_000_000  # the clip's robust sigma comes from about this many |deviations|
STRIPE_BUDGET_BYTES = 32 * 2**20  # float32 data per stripe (two are held: the next is read meanwhile)
HIST_MAX_DN = 8192  # |pair difference| histogram range (larger values go in the last bin)
MIN_GROUP_FOR_FLAGS = 8
MIN_CORRELATION_DOF = 4  # independent drift values (nints x (ngroups - 2)) for a correlation


ROW_KINDS = ("bottom_even", "bottom_odd", "top_even", "top_odd")
COL_KINDS = ("left", "right")
LEVEL_KINDS = ROW_KINDS + COL_KINDS + ("ref", "active")


# -- parameters ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class RefPixParams:
    """``flag_sigma``: robust z-score above which a reference pixel's noise flags it unstable."""

    flag_sigma: float = 5.0

    def validate(self) -> RefPixParams:
        v = self.flag_sigma
        if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)):
            raise ParameterError(f"flag_sigma must be a number, not {v!r}")
        if not math.isfinite(float(v)) or float(v) <= 0:
            raise ParameterError(
                f"flag_sigma must be a positive finite robust z-score (typically 5), not {v!r}"
            )
        return self


# -- small helpers ---------------------------------------------------------------------------------
def _group_weights(G: int) -> tuple[np.ndarray, np.float32]:
    """Centred group index (G,) float32 and its sum of squares: the straight-line fit's weights."""
    g = np.arange(G, dtype=np.float32) - np.float32((G - 1) / 2)
    return g, np.float32((g**2).sum())


def _detrend(d: np.ndarray) -> np.ndarray:
    """Remove each pixel's straight-line fit over the group axis (axis 1) of (nints, G, ...)."""
    G = d.shape[1]
    m = d.mean(axis=1, keepdims=True)
    if G < 2:
        return d - m
    gw, g2 = _group_weights(G)
    g = gw.reshape((1, G) + (1,) * (d.ndim - 2))
    dm = d - m
    b = (g * dm).sum(axis=1, keepdims=True) / g2
    dm -= g * b
    return dm


def _median(a: np.ndarray, axis=None, nan=False):
    """Median over all values or the last axis (compiled, NaN ignored: ``nan`` only says whether
    NaN can be present); any other axis through numpy."""
    if axis is None:
        return median_of(a)
    if axis in (-1, a.ndim - 1):
        return nanmedian_last(a)
    return np.nanmedian(a, axis=axis) if nan else np.median(a, axis=axis)


def _keep_pixels(resid: np.ndarray, nan: bool) -> np.ndarray:
    """(nints, P) mask of pixels whose de-ramped values never stray beyond LEVEL_CLIP_SIGMA."""
    n, G, P = resid.shape
    finite = np.isfinite(resid).all(axis=1)
    if P == 0:
        return finite
    cm = _median(resid, axis=2, nan=nan)[:, :, None]
    dev = np.abs(resid - cm)
    flat = dev.ravel()
    step = max(1, flat.size // CLIP_SUBSAMPLE)
    s = MAD_TO_SIGMA * _median(flat[::step])
    if not np.isfinite(s) or s <= 0:
        return finite
    with np.errstate(invalid="ignore"):
        return finite & (np.nan_to_num(dev, nan=np.inf).max(axis=1) <= LEVEL_CLIP_SIGMA * s)


def _active_numpy(da: np.ndarray, side: tuple[np.ndarray, np.ndarray] | None):
    """Clipped level sums of active pixels ``da`` (nints, G, rows, cols) of one amp, in numpy.

    Returns (raw_sum (nints, G), resid_sum (nints, G), kept pixel counts (nints,), side_cm
    (nints, G, rows, 2) or None, hist): the sums over each integration's kept pixels of the raw
    and the de-ramped values (float64); with ``side`` (column positions of the even and odd
    detector columns) the per-row medians of the de-ramped values of each parity; the histogram
    of |CDS pair differences| two columns apart.  The reference for
    :func:`core.refpix.kernel.active_levels`, which gives the same in one pass and is used instead
    except for a single pixel (whose group sums numpy adds pairwise, not in order).
    """
    nints, G = da.shape[:2]
    ra = _detrend(da)
    r3 = ra.reshape(nints, G, -1)
    keep = _keep_pixels(r3, nan=True)
    kf = keep[:, None, :]
    res_sum = np.where(kf, r3, 0.0).sum(axis=2, dtype=np.float64)
    raw_sum = np.where(kf, da.reshape(nints, G, -1), 0.0).sum(axis=2, dtype=np.float64)
    side_cm = None
    if side is not None:
        side_cm = np.stack([_median(ra[..., cols], axis=-1, nan=True) for cols in side], axis=-1)
    c = np.diff(da, axis=1)
    li, ri = _pair_index(c.shape[-1])
    hist = _hist_abs(c[..., li] - c[..., ri]) if li.size else np.zeros(HIST_MAX_DN + 1, np.int64)
    return raw_sum, res_sum, keep.sum(axis=1), side_cm, hist


def _active(d: np.ndarray, y0: int, y1: int, x0: int, x1: int, side: tuple[np.ndarray, np.ndarray] | None,
            scratch: np.ndarray):
    """:func:`_active_numpy` of one amp's active pixels ``d[:, :, y0:y1, x0:x1]`` of a stripe,
    through the kernel.  Runs in a pool thread: the kernel releases the GIL."""
    if (y1 - y0) * (x1 - x0) < 2:
        return _active_numpy(d[:, :, y0:y1, x0:x1], side)
    gw, g2 = _group_weights(d.shape[1])
    none = np.zeros(0, np.int64)
    s0, s1 = side if side is not None else (none, none)
    raw_sum, res_sum, n_kept, side_cm, hist = active_levels(
        d, y0, y1, x0, x1, gw, g2, LEVEL_CLIP_SIGMA, MAD_TO_SIGMA, CLIP_SUBSAMPLE, s0, s1, HIST_MAX_DN, scratch)
    return raw_sum, res_sum, n_kept, side_cm if side is not None else None, hist


def _pair_index(n: int) -> tuple[np.ndarray, np.ndarray]:
    """All pairs (k, k+2) among ``n`` consecutive columns (same parity, 20 us apart in readout).

    Overlapping pairs are correlated, which the median does not mind; they carry ~1.5x the
    information of disjoint pairs (measured: 20 % smaller scatter of the noise ratio)."""
    left = np.arange(max(n - 2, 0))
    return left, left + 2


def _hist_abs(values: np.ndarray) -> np.ndarray:
    """Histogram of |values| in 1-DN bins centred on integers (bin 0 covers [0, 0.5))."""
    return abs_histogram(values, HIST_MAX_DN)


def _hist_sigma(h: np.ndarray) -> float | None:
    """Gaussian sigma from the median of |d| of a :func:`_hist_abs` histogram (continuity-corrected)."""
    n = float(h.sum())
    if n < 20:
        return None
    target = n / 2.0
    cum = np.cumsum(h)
    k = int(np.searchsorted(cum, target))
    before = float(cum[k - 1]) if k else 0.0
    lo, width = (0.0, 0.5) if k == 0 else (k - 0.5, 1.0)
    med = lo + width * (target - before) / float(h[k])
    return med / HALF_NORMAL_MEDIAN


def _ramp_factor(G: int) -> float:
    """E[sum over CDS of (du)^2] / sigma^2 for white per-frame noise after a per-pixel line fit."""
    return 2.0 * (G - 1) - 12.0 / (G * (G + 1))


# -- per-file accumulation -----------------------------------------------------------------------
@dataclass
class _AmpGeom:
    index: int
    x0: int
    x1: int
    output: int
    act_cols: np.ndarray  # array columns of the amp's active pixels
    side: dict  # "left"/"right" -> array columns of the side reference columns in this amp
    parity: np.ndarray  # detector-column parity of columns x0..x1-1


def _amp_geometry(layout: Layout) -> list[_AmpGeom]:
    left, right = layout.reference_columns()
    _, acols = layout.active_slices()
    full_sci = np.arange(layout.nx) + layout.xstart - 1
    det_col = (FULL_SIZE - 1 - full_sci) if layout.xflip else full_sci
    out = []
    for a in layout.amps():
        cols = np.arange(a.x0, a.x1)
        act = cols[(cols >= acols.start) & (cols < acols.stop)]
        side = {}
        for name, sc in (("left", left), ("right", right)):
            s = sc[(sc >= a.x0) & (sc < a.x1)]
            if s.size:
                side[name] = s
        out.append(_AmpGeom(a.index, a.x0, a.x1, a.output, act, side, det_col[a.x0:a.x1] % 2))
    return out


@dataclass
class _FileResult:
    name: str
    expstart: float | None
    nints: int
    ngroups: int
    levels: dict  # (amp, kind) -> (level (nints, G), drift (nints, G), kept pixel counts (nints,))
    white: dict  # amp -> {"ref": hist, "active": hist} of |pair differences| of CDS
    cross: tuple | None  # (hist of |e_k + e_j|, hist of |e_k - e_j|), simultaneous active pairs
    pix: dict  # amp -> list of (DataFrame of pixel coordinates, sum of squares, dof)
    ref_source: dict  # amp -> "rows" / "columns" / None


def _resid_ss(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-pixel sum of squared residuals about a straight line over groups, and its dof.

    ``x`` is (nints, G, P) with the common mode already removed; the dof is G - 2 per
    integration in which the pixel is finite (chi-square with G - 2 dof for white noise).
    """
    nints, G, P = x.shape
    res = _detrend(x)
    valid = np.isfinite(res).all(axis=1)  # (nints, P)
    ss = (np.where(valid[:, None, :], res, 0.0).astype(np.float64) ** 2).sum(axis=(0, 1))
    return ss, valid.sum(axis=0) * float(G - 2)


def _read_order(layout: Layout) -> tuple[np.ndarray, np.ndarray]:
    """Per detector output k: science column ``start[k] + step[k] * p`` of its p-th pixel read in a
    row (:meth:`Layout.channel_images` applied to column indices; step is +1 or -1)."""
    cols = layout.channel_images(np.arange(layout.nx)[None, :])[:, 0, :]  # (noutputs, width)
    step = np.where(cols[:, 1] > cols[:, 0], 1, -1)
    start = cols[:, 0]
    p = np.arange(cols.shape[1])
    if not np.array_equal(cols, start[:, None] + step[:, None] * p):
        raise AssertionError("channel_images is not a mirror/shift of the columns")
    return start.astype(np.int64), step.astype(np.int64)


def _process_file(path: Path, layout: Layout, progress: Callable[[float, str], None] | None) -> _FileResult:
    name = path.name
    try:
        ramp = Ramp(path)
    except Exception as exc:  # noqa: BLE001 - any failure to open is the file's fault
        raise InputError(f"{name}: cannot be read ({exc})", file=str(path)) from exc
    with ramp:
        nints, G, ny, nx = ramp.shape
        expstart = finite_or_none(ramp.header.get("EXPSTART"))
        amps = _amp_geometry(layout)
        bottom, top = layout.reference_rows()
        refrow = np.zeros(ny, bool)
        refrow[bottom] = True
        refrow[top] = True
        nonref = np.flatnonzero(~refrow)
        nonref_pos = np.full(ny, -1)
        nonref_pos[nonref] = np.arange(nonref.size)
        ncds = max(G - 1, 0)

        bot_raw = np.empty((nints, G, bottom.size, nx), np.float32)
        top_raw = np.empty((nints, G, top.size, nx), np.float32)
        side_raw = {(a.index, s): np.empty((nints, G, nonref.size, cols.size), np.float32)
                    for a in amps for s, cols in a.side.items()}
        # Common mode for the side columns: median of the amp's de-ramped active pixels of the
        # same row and column parity, per frame (read within microseconds of the side columns).
        side_cm = {a.index: np.zeros((nints, G, nonref.size, 2), np.float32) for a in amps if a.side}
        act_resid = {a.index: np.zeros((nints, G)) for a in amps}
        act_raw = {a.index: np.zeros((nints, G)) for a in amps}
        act_n = {a.index: np.zeros(nints, np.int64) for a in amps}
        hist_act = {a.index: np.zeros(HIST_MAX_DN + 1, np.int64) for a in amps}
        side_cols = {}  # amp -> positions of its even / odd detector columns among its active ones
        for a in amps:
            if a.side:
                par = a.parity[a.act_cols - a.x0]
                side_cols[a.index] = (np.flatnonzero(par == 0), np.flatnonzero(par == 1))
        # Cross-channel sums and differences of simultaneous active pair differences (4 outputs):
        # pairs of read positions (p, p + 2), p0 <= p < p1, of every output.
        cross = None
        if layout.noutputs == 4 and ncds:
            cross = (np.zeros(HIST_MAX_DN + 1, np.int64), np.zeros(HIST_MAX_DN + 1, np.int64))
            cl, cr = _pair_index(CHANNEL_WIDTH)
            ok = (cl >= NREF) & (cr < CHANNEL_WIDTH - NREF)
            p0, p1 = int(cl[ok][0]), int(cl[ok][-1]) + 1  # consecutive read positions
            start, step = _read_order(layout)

        per_row = max(1, nints * G * nx * 4)
        rows = int(max(8, min(ny, STRIPE_BUDGET_BYTES // per_row)))
        stripe_list = list(stripes(ny, rows))
        # De-ramped values of each amp's active pixels of a stripe (scratch of the kernels).
        scratch = {a.index: np.empty(nints * G * rows * a.act_cols.size, np.float32) for a in amps}
        # The next stripe is read while the kernels work on this one (file reading and numpy
        # conversion release the GIL as the kernels do).
        ahead = pool("refpix-read", 1).submit(ramp.read_stripe, *stripe_list[0])
        try:
            for s_i, (y0, y1) in enumerate(stripe_list):
                d = np.ascontiguousarray(ahead.result()[0])
                ahead = (pool("refpix-read", 1).submit(ramp.read_stripe, *stripe_list[s_i + 1])
                         if s_i + 1 < len(stripe_list) else None)
                yy = np.arange(y0, y1)
                # Keep reference rows and side columns whole; they are small.
                for arr, idx in ((bot_raw, bottom), (top_raw, top)):
                    sel = np.flatnonzero((idx >= y0) & (idx < y1))
                    if sel.size:
                        arr[:, :, sel] = d[:, :, idx[sel] - y0]
                local_nonref = np.flatnonzero(~refrow[y0:y1])  # contiguous: reference rows sit at the ends
                if local_nonref.size:
                    pos = nonref_pos[yy[local_nonref]]
                    ya, yb = int(local_nonref[0]), int(local_nonref[-1]) + 1
                    for a in amps:
                        for s, cols in a.side.items():
                            side_raw[(a.index, s)][:, :, pos] = d[:, :, ya:yb][..., cols]
                    # Active level per amp: clipped mean of de-ramped pixels, the same pixels in every
                    # group; and the cross-output histograms in two row halves.  Compiled kernels
                    # (core.refpix.kernel) on both cores.
                    jobs = {a.index: pool("refpix").submit(_active, d, ya, yb, int(a.act_cols[0]), int(a.act_cols[-1]) + 1,
                                                  side_cols.get(a.index), scratch[a.index])
                            for a in amps if a.act_cols.size}
                    halves = []
                    if cross is not None:
                        ym = (ya + yb) // 2
                        halves = [pool("refpix").submit(cross_hist, d, r0, r1, start, step, p0, p1, HIST_MAX_DN)
                                  for r0, r1 in ((ya, ym), (ym, yb)) if r1 > r0]
                    for ai, job in jobs.items():
                        raw_sum, res_sum, n_kept, cm, hist = job.result()
                        act_raw[ai] += raw_sum
                        act_resid[ai] += res_sum
                        act_n[ai] += n_kept
                        if cm is not None:
                            side_cm[ai][:, :, pos] = cm
                        if ncds:
                            hist_act[ai] += hist
                    for job in halves:
                        hp, hm = job.result()
                        cross[0][:] += hp
                        cross[1][:] += hm
                del d
                if progress:
                    progress((s_i + 1) / (len(stripe_list) + 1), f"{name}: rows {y0}-{y1} of {ny}")
        finally:
            if ahead is not None:  # an error left a read under way: let it end before the file closes
                ahead.cancel()
                wait([ahead])

        # -- reference pixels of each amp (all in memory now) ------------------------------------
        levels: dict = {}
        white: dict = {}
        pix: dict = {}
        ref_source: dict = {}
        for a in amps:
            row_sets = []  # (kind, raw (nints, G, nrows, ncols), row indices, column indices)
            for where, raw, ridx in (("bottom", bot_raw, bottom), ("top", top_raw, top)):
                if ridx.size == 0:
                    continue
                block = raw[..., a.x0:a.x1]
                for p, pname in ((0, "even"), (1, "odd")):
                    cols = np.flatnonzero(a.parity == p)
                    row_sets.append((f"{where}_{pname}", block[..., cols], ridx, cols + a.x0))
            col_sets = [(s, side_raw[(a.index, s)], nonref, cols) for s, cols in a.side.items()]

            # White noise of the reference pixels (pairs two columns apart, CDS).
            h = np.zeros(HIST_MAX_DN + 1, np.int64)
            if ncds:  # pair_hist: abs_histogram(c[..., li] - c[..., ri]) of c = np.diff(raw, axis=1)
                for raw, ridx in ((bot_raw, bottom), (top_raw, top)):
                    if ridx.size:
                        h += pair_hist(raw, 0, ridx.size, a.x0, a.x1, HIST_MAX_DN)
                for _, raw, _, cols in col_sets:
                    h += pair_hist(raw, 0, raw.shape[2], 0, cols.size, HIST_MAX_DN)
            white[a.index] = {"ref": h, "active": hist_act[a.index]}

            # Levels and drifts of every reference pixel set.
            for kind, raw, _ridx, _cols in row_sets + col_sets:
                r3 = raw.reshape(nints, G, -1)
                resid = _detrend(r3)
                keep = _keep_pixels(resid, nan=bool(np.isnan(r3).any()))
                nk = keep.sum(axis=1)
                kf = keep[:, None, :]
                with np.errstate(invalid="ignore", divide="ignore"):
                    lev = np.where(kf, r3, 0.0).sum(axis=2, dtype=np.float64) / nk[:, None]
                    dr = np.where(kf, resid, 0.0).sum(axis=2, dtype=np.float64) / nk[:, None]
                levels[(a.index, kind)] = (lev, dr, nk)

            # Combined reference level: all reference rows, else the side columns.
            combo = [k for k, *_ in row_sets] or [k for k, *_ in col_sets]
            ref_source[a.index] = ("rows" if row_sets else "columns") if combo else None
            if combo:
                nk = sum(levels[(a.index, k)][2] for k in combo)
                with np.errstate(invalid="ignore", divide="ignore"):
                    lev = sum(np.nan_to_num(levels[(a.index, k)][0]) * levels[(a.index, k)][2][:, None]
                              for k in combo) / nk[:, None]
                    dr = sum(np.nan_to_num(levels[(a.index, k)][1]) * levels[(a.index, k)][2][:, None]
                             for k in combo) / nk[:, None]
                levels[(a.index, "ref")] = (lev, dr, nk)
            n_act = act_n[a.index]
            with np.errstate(invalid="ignore", divide="ignore"):
                levels[(a.index, "active")] = (act_raw[a.index] / n_act[:, None],
                                               act_resid[a.index] / n_act[:, None], n_act)

            # Per-pixel temporal noise with the common mode removed -> pixel table rows.
            pix[a.index] = []
            if G >= 3:
                for kind, raw, ridx, cols in row_sets:
                    res = _detrend(raw)  # (nints, G, nrows, ncols): one parity of one amp
                    res -= _median(res, axis=-1, nan=bool(np.isnan(res).any()))[..., None]
                    ss, dof = _resid_ss(res.reshape(nints, G, -1))
                    yv, xv = np.meshgrid(ridx, cols, indexing="ij")
                    where, par = kind.split("_")
                    pix[a.index].append((_pix_frame(a, "row", where, par, yv.ravel(), xv.ravel()), ss, dof))
                for kind, raw, ridx, cols in col_sets:
                    par = a.parity[cols - a.x0]
                    res = _detrend(raw) - side_cm[a.index][..., par]
                    for p in (0, 1):
                        sel = par == p
                        if sel.any():
                            sub = res[..., sel]
                            cm = _median(sub.reshape(nints, G, -1), axis=-1, nan=True)
                            res[..., sel] = sub - cm[..., None, None]
                    ss, dof = _resid_ss(res.reshape(nints, G, -1))
                    yv, xv = np.meshgrid(ridx, cols, indexing="ij")
                    parname = np.broadcast_to(np.where(par[None, :] == 0, "even", "odd"), yv.shape).ravel()
                    pix[a.index].append((_pix_frame(a, "column", kind, parname, yv.ravel(), xv.ravel()), ss, dof))
        if progress:
            progress(1.0, f"{name}: reference pixels done")
    return _FileResult(name, expstart, nints, G, levels, white, cross, pix, ref_source)


def _pix_frame(a: _AmpGeom, kind: str, where, parity, y: np.ndarray, x: np.ndarray) -> pd.DataFrame:
    return pd.DataFrame({
        "y": y.astype(np.int64), "x": x.astype(np.int64), "amp": a.index, "output": a.output,
        "kind": kind, "edge": where, "parity": parity,
    })


# -- result --------------------------------------------------------------------------------------
@dataclass
class RefPixResult:
    """Reference-pixel stability of a set of exposures of one detector.

    ``levels``: one row per file, integration, group, amp and pixel set (``kind``), with
    ``level`` (mean DN) and ``drift`` (DN, after the per-pixel ramp fit); ``drifts``: per CDS
    frame (consecutive groups) the change of the reference and active drifts and their difference;
    ``amp_stats``: per-amp statistics (None where not measurable); ``pixels``: every reference
    pixel's CDS noise, robust z-score and flag; ``trends``: per file and amp, with EXPSTART (MJD).
    """

    detector: str
    layout: Layout
    params: RefPixParams
    files: pd.DataFrame
    levels: pd.DataFrame
    drifts: pd.DataFrame
    amp_stats: list[dict]
    pixels: pd.DataFrame
    trends: pd.DataFrame
    notes: list[str] = field(default_factory=list)
    frame_time: float = 0.0

    @property
    def unstable(self) -> pd.DataFrame:
        if self.pixels.empty:
            return self.pixels
        return self.pixels[self.pixels["unstable"]].reset_index(drop=True)

    def summary(self) -> dict:
        keys = ("x0", "x1", "output", "ref_active_white_ratio", "instability", "drift_correlation")
        amps = []
        for s in self.amp_stats:
            row = {k: s[k] for k in keys}
            for k in ("x0", "x1", "output"):
                row[k] = int(row[k])
            for k in keys[3:]:
                row[k] = finite_or_none(row[k])
            amps.append(row)
        return {"amps": amps, "unstable_pixels": int(len(self.unstable))}

    def tables(self) -> dict[str, pd.DataFrame]:
        return {
            "refpix_amps": pd.DataFrame(self.amp_stats),
            "refpix_levels": self.levels,
            "refpix_drifts": self.drifts,
            "refpix_unstable_pixels": self.unstable,
            "refpix_pixel_noise": self.pixels,
            "refpix_trends": self.trends,
            "refpix_files": self.files,
        }


# -- input checks ---------------------------------------------------------------------------------
def _check_inputs(paths: Sequence[str | Path]) -> tuple[list[Path], Layout]:
    paths = [Path(p) for p in paths]
    if not paths:
        raise InputError("no files given: choose at least one *_uncal.fits ramp")
    ref = None
    layout = None
    for p in paths:
        try:
            hdr = fits.getheader(p, 0)
            sci = fits.getheader(p, "SCI")
        except FileNotFoundError as exc:
            raise InputError(f"{p.name}: file not found", file=str(p)) from exc
        except KeyError as exc:
            raise InputError(f"{p.name}: has no SCI extension", file=str(p)) from exc
        except Exception as exc:  # noqa: BLE001
            raise InputError(f"{p.name}: not a readable FITS file ({exc})", file=str(p)) from exc
        if int(sci.get("NAXIS", 0)) != 4:
            raise InputError(f"{p.name}: SCI must be 4-D (nints, ngroups, ny, nx), "
                             f"not {sci.get('NAXIS')}-D", file=str(p))
        shape = tuple(int(sci[f"NAXIS{i}"]) for i in (4, 3, 2, 1))
        h = hdr.copy()
        h.setdefault("SUBSIZE1", shape[3])
        h.setdefault("SUBSIZE2", shape[2])
        try:
            if "DETECTOR" not in h:
                raise ValueError("no DETECTOR keyword")
            lay = layout_from_header(h)
        except (ValueError, KeyError) as exc:
            raise InputError(f"{p.name}: unusable header ({exc})", file=str(p)) from exc
        if (lay.ny, lay.nx) != shape[2:]:
            raise InputError(f"{p.name}: SUBSIZE1/2 ({lay.nx}x{lay.ny}) do not match the SCI frame "
                             f"shape ({shape[3]}x{shape[2]})", file=str(p))
        key = (lay.detector, lay.ny, lay.nx, lay.xstart, lay.ystart, lay.noutputs)
        if ref is None:
            ref, layout, first = key, lay, p.name
        elif lay.detector != ref[0]:
            raise InputError(f"{p.name}: detector {lay.detector} differs from {ref[0]} of {first}; "
                             "analyse one detector at a time", file=str(p))
        elif key != ref:
            raise InputError(
                f"{p.name}: frame {lay.nx}x{lay.ny} at ({lay.xstart},{lay.ystart}) with "
                f"{lay.noutputs} outputs differs from {first} ({ref[2]}x{ref[1]} at "
                f"({ref[3]},{ref[4]}), {ref[5]} outputs); all files must have one shape", file=str(p))
    return paths, layout


# -- analysis -------------------------------------------------------------------------------------
def analyze_refpix(
    paths: Sequence[str | Path],
    params: RefPixParams = RefPixParams(),
    progress: Callable[[float, str], None] | None = None,
) -> RefPixResult:
    """Reference versus active pixel levels, drifts, instability, noise ratio and unstable pixels.

    Files are read one at a time in row stripes.  Raises :class:`InputError` naming the file when
    the files are not one detector and one frame shape, :class:`ParameterError` for bad params.
    """
    params.validate()
    paths, layout = _check_inputs(paths)
    nfiles = len(paths)
    results: list[_FileResult] = []
    for f_i, p in enumerate(paths):
        sub = None
        if progress:
            def sub(frac, msg, f_i=f_i):
                progress(min(1.0, (f_i + frac) / nfiles * 0.98), msg)
        results.append(_process_file(p, layout, sub))
    out = _assemble(results, layout, params)
    if progress:
        progress(1.0, "reference pixels: done")
    return out


def _assemble(results: list[_FileResult], layout: Layout, params: RefPixParams) -> RefPixResult:
    amps = _amp_geometry(layout)
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

    # Tables of levels and drifts.
    lev_rows, drift_rows = [], []
    for r in results:
        for a in amps:
            for kind in LEVEL_KINDS:
                v = r.levels.get((a.index, kind))
                if v is None:
                    continue
                lev, dr, nk = v
                for i in range(r.nints):
                    for g in range(r.ngroups):
                        lev_rows.append((r.name, r.expstart, i, g, a.index, a.output, kind, int(nk[i]),
                                         finite_or_none(lev[i, g]), finite_or_none(dr[i, g]) if r.ngroups >= 3 else None))
            ref = r.levels.get((a.index, "ref"))
            act = r.levels.get((a.index, "active"))
            if ref is None or act is None or r.ngroups < 3:  # 2 groups: a line fits them exactly
                continue
            dref, dact = np.diff(ref[1], axis=1), np.diff(act[1], axis=1)
            for i in range(r.nints):
                for j in range(r.ngroups - 1):
                    drift_rows.append((r.name, r.expstart, i, j, a.index, a.output,
                                       finite_or_none(dref[i, j]), finite_or_none(dact[i, j]),
                                       finite_or_none(dact[i, j] - dref[i, j])))
    levels = pd.DataFrame(lev_rows, columns=["file", "expstart", "integration", "group", "amp", "output",
                                             "kind", "n_pixels", "level", "drift"])
    drifts = pd.DataFrame(drift_rows, columns=["file", "expstart", "integration", "cds", "amp", "output",
                                               "ref_change", "active_change", "difference"])

    # Per-pixel noise pooled over files, then flags.
    pixels = _pixel_table(results, amps, layout, params)

    # 1/f that leaks into the pair differences, measured as the covariance of simultaneous pairs
    # of different outputs (white noise is independent between outputs, correlated 1/f is not).
    crosses = [r.cross for r in results if r.cross is not None]
    leak = _leak((sum(c[0] for c in crosses), sum(c[1] for c in crosses))) if crosses else None
    if leak is None and (any(a.side for a in amps) or bottom.size or top.size):
        notes.append("White noise: 1/f leaking into the pixel-pair differences is not corrected "
                     "(needs a 4-output frame); the reference/active ratio may be biased up by ~1-2 %.")
    file_leak = {r.name: (_leak(r.cross) if r.cross is not None else None) for r in results}
    floors = {a.index: {r.name: _file_floor2(r, a.index, file_leak[r.name]) for r in results} for a in amps}

    # Per-amp statistics and per-file trends.
    amp_stats, trend_rows = [], []
    for a in amps:
        h_ref = sum(r.white[a.index]["ref"] for r in results)
        h_act = sum(r.white[a.index]["active"] for r in results)
        s_ref, s_act = _white_read(h_ref, leak), _white_read(h_act, leak)
        ratio = s_ref / s_act if (s_ref is not None and s_act) else None
        inst = _instability(results, a.index, floors[a.index])
        st = {
            "amp": a.index, "x0": a.x0, "x1": a.x1, "output": a.output,
            "ref_source": results[0].ref_source.get(a.index),
            "ref_white_read": finite_or_none(s_ref),
            "active_white_read": finite_or_none(s_act),
            "ref_active_white_ratio": finite_or_none(ratio),
            "pair_1f_read": finite_or_none(math.sqrt(max(leak, 0.0)) / 2) if leak is not None else None,
            "instability": inst["instability"],
            "instability_floor": inst["floor"],
            "instability_excess": inst["excess"],
            "instability_n_cds": inst["n_cds"],
            "drift_correlation": _correlation(results, a.index),
        }
        for kind in LEVEL_KINDS:
            st[f"drift_rms_{kind}"] = _drift_rms(results, a.index, kind)
        offs = [o for o in (_offset(r, a.index) for r in results) if o is not None]
        st["ref_offset"] = finite_or_none(np.mean(offs)) if offs else None
        st["unstable_pixels"] = int(pixels["unstable"][pixels["amp"] == a.index].sum()) if not pixels.empty else 0
        amp_stats.append(st)
        for r in results:
            ri = _instability([r], a.index, floors[a.index])
            ref = r.levels.get((a.index, "ref"))
            act = r.levels.get((a.index, "active"))
            hs_r = _white_read(r.white[a.index]["ref"], file_leak[r.name])
            hs_a = _white_read(r.white[a.index]["active"], file_leak[r.name])
            trend_rows.append({
                "file": r.name, "expstart": r.expstart, "amp": a.index, "output": a.output,
                "ref_level": finite_or_none(np.nanmean(ref[0])) if ref is not None else None,
                "active_level": finite_or_none(np.nanmean(act[0])) if act is not None else None,
                "ref_offset": _offset(r, a.index),
                "instability": ri["instability"], "instability_floor": ri["floor"],
                "instability_excess": ri["excess"],
                "ref_active_white_ratio": finite_or_none(hs_r / hs_a) if (hs_r is not None and hs_a) else None,
                "drift_rms_ref": _drift_rms([r], a.index, "ref"),
                "drift_rms_active": _drift_rms([r], a.index, "active"),
            })
    files = pd.DataFrame([{"file": r.name, "expstart": r.expstart, "nints": r.nints, "ngroups": r.ngroups}
                          for r in results])
    trends = pd.DataFrame(trend_rows)
    if not trends.empty:
        trends = trends.sort_values(["expstart", "file", "amp"], na_position="last").reset_index(drop=True)
    return RefPixResult(layout.detector, layout, params, files, levels, drifts, amp_stats, pixels,
                        trends, notes, layout.frame_time)


def _offset(r: _FileResult, amp: int) -> float | None:
    ref = r.levels.get((amp, "ref"))
    act = r.levels.get((amp, "active"))
    if ref is None or act is None:
        return None
    return finite_or_none(np.nanmean(ref[0] - act[0]))


def _leak(cross) -> float | None:
    """Variance common to simultaneous pair differences of different outputs (pair units)."""
    if cross is None:
        return None
    sp, sm = _hist_sigma(cross[0]), _hist_sigma(cross[1])
    if sp is None or sm is None:
        return None
    return (sp**2 - sm**2) / 4.0


def _white_read(h: np.ndarray, leak: float | None) -> float | None:
    """Per-read white noise from a histogram of |CDS pair differences|, 1/f leak removed."""
    s = _hist_sigma(h)
    if s is None:
        return None
    v = s * s - (leak or 0.0)
    return math.sqrt(v) / 2.0 if v > 0 else None


def _file_floor2(r: _FileResult, amp: int, leak: float | None) -> float | None:
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


def _instability(results: list[_FileResult], amp: int, floors: dict) -> dict:
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
        f = ok.sum() * _ramp_factor(r.ngroups)
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


def _correlation(results: list[_FileResult], amp: int) -> float | None:
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


def _drift_rms(results: list[_FileResult], amp: int, kind: str) -> float | None:
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


def _pixel_table(results: list[_FileResult], amps: list[_AmpGeom], layout: Layout,
                 params: RefPixParams) -> pd.DataFrame:
    cols = ["y", "x", "det_y", "det_x", "amp", "output", "kind", "edge", "parity", "noise_cds",
            "noise_read", "group_median_cds", "robust_z", "unstable"]
    frames = []
    for a in amps:
        parts = [r.pix.get(a.index, []) for r in results]
        if not parts or not parts[0]:
            continue
        for j in range(len(parts[0])):
            df = parts[0][j][0].copy()
            ss = sum(p[j][1] for p in parts)
            dof = sum(p[j][2] for p in parts)
            with np.errstate(invalid="ignore", divide="ignore"):
                noise = np.where(dof > 0, np.sqrt(ss / np.where(dof > 0, dof, 1)), np.nan)
            df["noise_cds"] = noise
            frames.append(df)
    if not frames:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in cols})
    pix = pd.concat(frames, ignore_index=True)
    pix["noise_read"] = pix["noise_cds"] / math.sqrt(2.0)
    pix["det_y"] = (layout.ny - 1 - pix["y"]) if layout.yflip else pix["y"]
    pix["det_x"] = (layout.nx - 1 - pix["x"]) if layout.xflip else pix["x"]
    pix["group_median_cds"] = np.nan
    pix["robust_z"] = np.nan
    for _, idx in pix.groupby(["amp", "kind", "parity"]).groups.items():
        v = pix.loc[idx, "noise_cds"].to_numpy()
        fin = np.isfinite(v)
        if fin.sum() < MIN_GROUP_FOR_FLAGS:
            continue
        pix.loc[idx, "group_median_cds"] = float(np.median(v[fin]))
        # z-score of the cube root of the variance (Wilson-Hilferty): a variance estimate from a
        # few frames is chi-square distributed, long-tailed; its cube root is close to normal, so
        # "z > 5" keeps the meaning of a 5-sigma tail (a linear z flags chi-square tail pixels).
        t = v ** (2.0 / 3.0)
        med = float(np.median(t[fin]))
        mad = MAD_TO_SIGMA * float(np.median(np.abs(t[fin] - med)))
        if mad > 0:
            pix.loc[idx, "robust_z"] = (t - med) / mad
    pix["unstable"] = (pix["robust_z"] > params.flag_sigma).fillna(False).astype(bool)
    return pix[cols].sort_values(["amp", "kind", "edge", "y", "x"]).reset_index(drop=True)


__all__ = ["LEVEL_CLIP_SIGMA", "RefPixParams", "RefPixResult", "analyze_refpix"]
