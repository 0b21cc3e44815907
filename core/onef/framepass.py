"""The fused per-CDS-frame passes of the 1/f analysis (issue 23): two compiled passes over each
frame's read-order samples do what five kernels and several numpy expressions did
(``center_and_clip``, ``side_sums``, ``neighbour_diff_sumsq``,
``row_corrected`` and the masks), with the same values (tests compare them).

Conventions as :mod:`core.onef.kernel`: ``chans`` (nout, ny, w) float32 DN in read order, masks
bool of the same shape, sums in float64; the kernels release the GIL and treat the outputs
independently, so :func:`core.onef.accumulate.by_output_halves` runs them on the two cores.

1. :func:`centre_stats` -- per output: ``valid = finite & active`` (written), the exact median of
   the valid samples, the robust sigma (1.4826 x the median |deviation| of every ``step``-th valid
   sample, ``step = max(1, n // 200000)``), and per read-order row the sum and count of the finite
   *side* reference samples after centring (the input of the side-reference row correction).
2. :func:`clip_and_correct` -- per output: centre (``chans`` written), clip beyond the limit
   (``valid`` updated), the centred series ``x`` (0 where not valid), its row sums / counts and sum
   of squares, the neighbour-difference sums of the side and of the valid samples, and -- with the
   side correction's per-row offsets ``corr`` -- the corrected series ``xa`` re-centred on its own
   exact median, with its sum of squares and row sums.
"""

from __future__ import annotations

import numba
import numpy as np

from core.median import median_of_first
from core.onef.params import ROBUST_SUBSAMPLE
from core.stats import MAD_TO_SIGMA


@numba.njit(cache=True, nogil=True)
def centre_stats(chans, active, side, valid):
    """Pass 1 of a frame (see the module): returns ``(med (nout,) float32, sig (nout,) float64
    (0: no valid sample), side_num (nout, ny), side_cnt (nout, ny))``; ``valid`` is written.
    An output without valid samples keeps median 0 (its samples are left as they are)."""
    nout, ny, w = chans.shape
    buf = np.empty(ny * w, np.float64)
    med = np.zeros(nout, np.float32)
    sig = np.zeros(nout)
    snum = np.zeros((nout, ny))
    scnt = np.zeros((nout, ny))
    for k in range(nout):
        n = 0
        for r in range(ny):
            for p in range(w):  # branch-free gather of the valid samples
                v = chans[k, r, p]
                ok = np.isfinite(v) & active[k, r, p]
                valid[k, r, p] = ok
                buf[n] = v
                n += ok
        m = np.float32(0.0)
        if n > 0:
            m = np.float32(median_of_first(buf, n))
            med[k] = m
            step = max(1, n // ROBUST_SUBSAMPLE)
            ns = 0
            skip = 0  # valid samples to pass over before the next one taken (j % step, without a division)
            for r in range(ny):
                for p in range(w):
                    if valid[k, r, p]:
                        if skip == 0:
                            buf[ns] = abs(np.float32(chans[k, r, p] - m))
                            ns += 1
                            skip = step
                        skip -= 1
            sig[k] = MAD_TO_SIGMA * median_of_first(buf, ns)
        for r in range(ny):
            for p in range(w):
                if side[k, r, p]:  # few samples: the branch is predicted
                    v = np.float32(chans[k, r, p] - m)
                    if np.isfinite(v):
                        snum[k, r] += v
                        scnt[k, r] += 1.0
    return med, sig, snum, scnt


@numba.njit(cache=True, nogil=True)
def clip_and_correct(chans, valid, side, med, sig, x, xa, corr, clip_sigma, do_after):
    """Pass 2 of a frame (see the module).  Returns ``(nclipped, nvalid, sumsq, rowsum, rowcnt,
    ss_side, n_side, ss_valid, n_valid_pairs, sumsq_after, rowsum_after)``: clipped samples (scalar),
    per output the valid samples left, sum of ``x^2``, per row sum and count of ``x``; sums of squared
    read-order neighbour differences (10 us apart) where both samples are finite side samples / both
    valid, and their counts; with ``do_after`` the sum of ``xa^2`` and the row sums of ``xa`` (else 0,
    and ``xa`` is not written)."""
    nout, ny, w = chans.shape
    buf = np.empty(ny * w if do_after else 1, np.float64)
    nvalid = np.zeros(nout, np.int64)
    sumsq = np.zeros(nout)
    rowsum = np.zeros((nout, ny))
    rowcnt = np.zeros((nout, ny), np.int64)
    ss_a = np.zeros(nout)
    n_a = np.zeros(nout, np.int64)
    ss_b = np.zeros(nout)
    n_b = np.zeros(nout, np.int64)
    sumsq_after = np.zeros(nout)
    rowsum_after = np.zeros((nout, ny))
    nclipped = 0
    for k in range(nout):
        m = med[k]
        lim = clip_sigma * sig[k] if sig[k] > 0 else np.inf
        ss = 0.0
        nv = 0
        sa = 0.0
        sb = 0.0
        na = 0
        nb = 0
        n = 0  # gathered samples of the side-corrected series
        for r in range(ny):
            rs = 0.0
            rc = 0
            c = corr[r]
            prev = np.float32(0.0)
            prev_side = False
            prev_keep = False
            for p in range(w):  # branch-free: selects, sums in sample order
                v = np.float32(chans[k, r, p] - m)
                chans[k, r, p] = v
                was = valid[k, r, p]
                keep = was & (abs(v) <= lim)
                valid[k, r, p] = keep
                nclipped += np.int64(was) - np.int64(keep)
                o = v if keep else np.float32(0.0)
                x[k, r, p] = o
                rc += keep
                ss += np.float64(o) * o
                rs += o
                s_ok = side[k, r, p] & np.isfinite(v)
                if p > 0:
                    d = np.float64(np.float32(v - prev))
                    d2 = d * d
                    in_a = s_ok & prev_side
                    in_b = keep & prev_keep
                    sa += d2 if in_a else 0.0  # a non-finite difference outside the mask must not leak in
                    na += in_a
                    sb += d2 if in_b else 0.0
                    nb += in_b
                prev = v
                prev_side = s_ok
                prev_keep = keep
                if do_after:
                    buf[n] = np.float32(v - c)
                    n += keep
            rowsum[k, r] = rs
            rowcnt[k, r] = rc
            nv += rc
        nvalid[k] = nv
        sumsq[k] = ss
        ss_a[k] = sa
        n_a[k] = na
        ss_b[k] = sb
        n_b[k] = nb
        if not do_after:
            continue
        if n == 0:
            xa[k] = 0.0
            continue
        m2 = np.float32(median_of_first(buf, n))
        ss2 = 0.0
        for r in range(ny):
            c = corr[r]
            rs = 0.0
            for p in range(w):
                v2 = np.float32(np.float32(chans[k, r, p] - c) - m2)
                o = v2 if valid[k, r, p] else np.float32(0.0)
                xa[k, r, p] = o
                ss2 += np.float64(o) * o
                rs += o
            rowsum_after[k, r] = rs
        sumsq_after[k] = ss2
    return nclipped, nvalid, sumsq, rowsum, rowcnt, ss_a, n_a, ss_b, n_b, sumsq_after, rowsum_after


def warm_up() -> None:
    """Compile (or load from the disk cache) the kernels here for the types :mod:`core.onef` uses."""
    chans = np.zeros((2, 4, 64), np.float32)
    valid = np.ones(chans.shape, bool)
    med, sig, _, _ = centre_stats(chans, valid, valid, valid)
    for after in (False, True):
        clip_and_correct(chans, valid, valid, med, sig, np.empty_like(chans), np.empty_like(chans),
                         np.zeros(4, np.float32), 20.0, after)
