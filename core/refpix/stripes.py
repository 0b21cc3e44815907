"""The pass over one file's row stripes: the reference rows and side columns are kept whole (they
are small), the active pixels of every amp are reduced to clipped level sums and |pair difference|
histograms as each stripe goes by (compiled kernels on both cores while the next stripe is read),
and, for 4-output frames, the cross-output histograms of simultaneous pair differences."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import wait
from dataclasses import dataclass, field

import numpy as np

from core.io.geometry import CHANNEL_WIDTH, NREF, Layout
from core.io.ramps import Ramp, stripes
from core.refpix.amps import AmpGeom, read_order
from core.refpix.kernel import cross_hist
from core.refpix.levels import active_sums
from core.refpix.numerics import pair_index
from core.refpix.params import ADJ_BLOCKS, HIST_MAX_DN, STRIPE_BUDGET_BYTES
from core.runtime import pool


@dataclass
class StripeSums:
    """What the stripe pass leaves of one file (``nints`` x ``ngroups`` frames, ``nx`` columns)."""

    nints: int
    ngroups: int
    bottom: np.ndarray  # bottom reference rows
    top: np.ndarray  # top reference rows
    refrow: np.ndarray  # (ny,) True on reference rows
    nonref: np.ndarray  # the other rows
    nonref_pos: np.ndarray  # (ny,) position of a row among ``nonref`` (-1 for reference rows)
    bot_raw: np.ndarray  # (nints, G, bottom rows, nx) float32
    top_raw: np.ndarray  # (nints, G, top rows, nx) float32
    side_raw: dict  # (amp, "left"/"right") -> (nints, G, nonref rows, side columns) float32
    # Common mode for the side columns: median of the amp's de-ramped active pixels of the same
    # row and column parity, per frame (read within microseconds of the side columns).
    side_cm: dict  # amp -> (nints, G, nonref rows, 2) float32
    act_raw: dict  # amp -> (nints, G) sums of the kept active pixels' raw values
    act_resid: dict  # amp -> (nints, G) sums of their de-ramped values
    act_n: dict  # amp -> (nints,) kept active pixels
    hist_act: dict  # amp -> histogram of |CDS pair differences| of the active pixels
    cross: tuple | None  # (hist of |e_k + e_j|, hist of |e_k - e_j|), simultaneous active pairs
    # Active rows read next to each edge's reference rows, and active columns next to each side
    # reference column, in ``ADJ_BLOCKS`` blocks as tall / wide as the reference edge, ordered by
    # distance from it (:mod:`core.refpix.adjacent`): edge -> row indices, (amp, side) -> columns.
    edge_rows: dict = field(default_factory=dict)
    edge_raw: dict = field(default_factory=dict)  # edge -> (nints, G, rows, nx) float32
    side_adj_cols: dict = field(default_factory=dict)
    side_adj_raw: dict = field(default_factory=dict)  # (amp, side) -> (nints, G, nonref rows, cols) float32

    @property
    def ncds(self) -> int:
        return max(self.ngroups - 1, 0)


@dataclass
class CrossPlan:
    """Read positions (p, p + 2), p0 <= p < p1, of every output, and the science column
    ``start + step * p`` of read position p of each output (:func:`read_order`)."""

    start: np.ndarray
    step: np.ndarray
    p0: int
    p1: int


def _adjacent(ref: np.ndarray, allowed: np.ndarray) -> np.ndarray:
    """Indices next to the reference indices ``ref`` (contiguous, at one end of ``allowed``), moving
    away from them, in whole blocks of ``ref.size`` that stay inside ``allowed`` (at most
    ADJ_BLOCKS blocks; empty when fewer than 2 fit: an adjacent block and one for the null)."""
    if ref.size == 0:
        return np.zeros(0, np.int64)
    n, ok = ref.size, set(int(v) for v in allowed)
    up = ref.max() + 1 + np.arange(n * ADJ_BLOCKS)
    down = ref.min() - 1 - np.arange(n * ADJ_BLOCKS)
    best = np.zeros(0, np.int64)
    for cand in (up, down):
        k = 0
        while k < ADJ_BLOCKS and all(int(v) in ok for v in cand[k * n:(k + 1) * n]):
            k += 1
        if k >= 2 and k * n > best.size:
            best = cand[:k * n].astype(np.int64)
    return best


def _allocate(layout: Layout, amps: list[AmpGeom], shape) -> StripeSums:
    nints, G, ny, nx = shape
    bottom, top = layout.reference_rows()
    refrow = np.zeros(ny, bool)
    refrow[bottom] = True
    refrow[top] = True
    nonref = np.flatnonzero(~refrow)
    nonref_pos = np.full(ny, -1)
    nonref_pos[nonref] = np.arange(nonref.size)
    cross = None
    if layout.noutputs == 4 and G > 1:
        cross = (np.zeros(HIST_MAX_DN + 1, np.int64), np.zeros(HIST_MAX_DN + 1, np.int64))
    edge_rows = {e: _adjacent(r, nonref) for e, r in (("bottom", bottom), ("top", top))}
    edge_rows = {e: r for e, r in edge_rows.items() if r.size}
    side_adj = {(a.index, s): _adjacent(cols, a.act_cols) for a in amps for s, cols in a.side.items()}
    side_adj = {k: c for k, c in side_adj.items() if c.size}
    return StripeSums(
        edge_rows=edge_rows,
        edge_raw={e: np.empty((nints, G, r.size, nx), np.float32) for e, r in edge_rows.items()},
        side_adj_cols=side_adj,
        side_adj_raw={k: np.empty((nints, G, nonref.size, c.size), np.float32) for k, c in side_adj.items()},
        nints=nints, ngroups=G, bottom=bottom, top=top, refrow=refrow, nonref=nonref, nonref_pos=nonref_pos,
        bot_raw=np.empty((nints, G, bottom.size, nx), np.float32),
        top_raw=np.empty((nints, G, top.size, nx), np.float32),
        side_raw={(a.index, s): np.empty((nints, G, nonref.size, cols.size), np.float32)
                  for a in amps for s, cols in a.side.items()},
        side_cm={a.index: np.zeros((nints, G, nonref.size, 2), np.float32) for a in amps if a.side},
        act_raw={a.index: np.zeros((nints, G)) for a in amps},
        act_resid={a.index: np.zeros((nints, G)) for a in amps},
        act_n={a.index: np.zeros(nints, np.int64) for a in amps},
        hist_act={a.index: np.zeros(HIST_MAX_DN + 1, np.int64) for a in amps},
        cross=cross,
    )


def _cross_plan(layout: Layout) -> CrossPlan:
    """Pairs of consecutive read positions whose both pixels are active, in every output."""
    cl, cr = pair_index(CHANNEL_WIDTH)
    ok = (cl >= NREF) & (cr < CHANNEL_WIDTH - NREF)
    start, step = read_order(layout)
    return CrossPlan(start, step, int(cl[ok][0]), int(cl[ok][-1]) + 1)


def _side_positions(amps: list[AmpGeom]) -> dict:
    """amp -> positions of its even / odd detector columns among its active ones (amps with side
    reference columns only)."""
    out = {}
    for a in amps:
        if a.side:
            par = a.parity[a.act_cols - a.x0]
            out[a.index] = (np.flatnonzero(par == 0), np.flatnonzero(par == 1))
    return out


def _stripe_rows(shape) -> int:
    nints, G, ny, nx = shape
    per_row = max(1, nints * G * nx * 4)
    return int(max(8, min(ny, STRIPE_BUDGET_BYTES // per_row)))


def _keep_reference_rows(acc: StripeSums, d: np.ndarray, y0: int, y1: int) -> None:
    pairs = [(acc.bot_raw, acc.bottom), (acc.top_raw, acc.top)]
    pairs += [(acc.edge_raw[e], r) for e, r in acc.edge_rows.items()]
    for arr, idx in pairs:
        sel = np.flatnonzero((idx >= y0) & (idx < y1))
        if sel.size:
            arr[:, :, sel] = d[:, :, idx[sel] - y0]


def _active_stripe(acc: StripeSums, amps: list[AmpGeom], d: np.ndarray, ya: int, yb: int, pos: np.ndarray,
                   side_cols: dict, scratch: dict, plan: CrossPlan | None) -> None:
    """Active level per amp of rows ``ya:yb`` of the stripe: clipped mean of de-ramped pixels, the
    same pixels in every group; and the cross-output histograms in two row halves.  Compiled
    kernels (core.refpix.kernel) on both cores."""
    jobs = {a.index: pool("refpix").submit(active_sums, d, ya, yb, int(a.act_cols[0]), int(a.act_cols[-1]) + 1,
                                           side_cols.get(a.index), scratch[a.index])
            for a in amps if a.act_cols.size}
    halves = []
    if acc.cross is not None:
        ym = (ya + yb) // 2
        halves = [pool("refpix").submit(cross_hist, d, r0, r1, plan.start, plan.step, plan.p0, plan.p1, HIST_MAX_DN)
                  for r0, r1 in ((ya, ym), (ym, yb)) if r1 > r0]
    for ai, job in jobs.items():
        raw_sum, res_sum, n_kept, cm, hist = job.result()
        acc.act_raw[ai] += raw_sum
        acc.act_resid[ai] += res_sum
        acc.act_n[ai] += n_kept
        if cm is not None:
            acc.side_cm[ai][:, :, pos] = cm
        if acc.ncds:
            acc.hist_act[ai] += hist
    for job in halves:
        hp, hm = job.result()
        acc.cross[0][:] += hp
        acc.cross[1][:] += hm


def _add_stripe(acc: StripeSums, amps: list[AmpGeom], d: np.ndarray, y0: int, y1: int, side_cols: dict,
                scratch: dict, plan: CrossPlan | None) -> None:
    """Everything the pass takes from the stripe ``d`` of rows ``y0:y1``."""
    # Keep reference rows and side columns whole; they are small.
    _keep_reference_rows(acc, d, y0, y1)
    local_nonref = np.flatnonzero(~acc.refrow[y0:y1])  # contiguous: reference rows sit at the ends
    if not local_nonref.size:
        return
    pos = acc.nonref_pos[np.arange(y0, y1)[local_nonref]]
    ya, yb = int(local_nonref[0]), int(local_nonref[-1]) + 1
    for a in amps:
        for s, cols in a.side.items():
            acc.side_raw[(a.index, s)][:, :, pos] = d[:, :, ya:yb][..., cols]
            adj = acc.side_adj_cols.get((a.index, s))
            if adj is not None:
                acc.side_adj_raw[(a.index, s)][:, :, pos] = d[:, :, ya:yb][..., adj]
    _active_stripe(acc, amps, d, ya, yb, pos, side_cols, scratch, plan)


def stripe_pass(ramp: Ramp, layout: Layout, amps: list[AmpGeom], name: str,
                progress: Callable[[float, str], None] | None) -> StripeSums:
    """Read ``ramp`` stripe by stripe; see the module docstring."""
    nints, G, ny, nx = ramp.shape
    acc = _allocate(layout, amps, ramp.shape)
    side_cols = _side_positions(amps)
    plan = _cross_plan(layout) if acc.cross is not None else None
    rows = _stripe_rows(ramp.shape)
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
            _add_stripe(acc, amps, d, y0, y1, side_cols, scratch, plan)
            del d
            if progress:
                progress((s_i + 1) / (len(stripe_list) + 1), f"{name}: rows {y0}-{y1} of {ny}")
    finally:
        if ahead is not None:  # an error left a read under way: let it end before the file closes
            ahead.cancel()
            wait([ahead])
    return acc


__all__ = ["CrossPlan", "StripeSums", "stripe_pass"]
