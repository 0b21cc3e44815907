"""The four per-CDS-frame kernels of the 1/f analysis that :mod:`core.onef.framepass` fused into
two passes (issue 23), kept here as the references the fused passes are tested against
(``tests/test_onef_fused.py``) and that are themselves tested against numpy
(``tests/test_onefkernel.py``).  The analysis no longer calls them, so they are not compiled at
start-up."""

from __future__ import annotations

import numba
import numpy as np

from core.median import median_of_first
from core.onef.params import ROBUST_SUBSAMPLE
from core.stats import MAD_TO_SIGMA


@numba.njit(cache=True, nogil=True)
def center_and_clip(chans, valid, clip_sigma, x=None):
    """Per output: subtract the median of the valid samples (in place, all samples), then clip
    valid samples further than ``clip_sigma`` robust sigma from 0 (``valid`` updated in place).

    The robust sigma is 1.4826 x the median |deviation| of every ``step``-th valid sample
    (``step = max(1, n // 200000)``), as :func:`core.onef.analysis.pixel_stack_mean` does.

    Returns ``(x, med, nclipped, nvalid, sumsq, rowsum, rowcnt)``: ``x`` = centred samples where
    valid, 0 elsewhere (float32; written into the ``x`` given, a reused buffer, else a new array);
    ``med`` (nout,) the medians; ``nclipped`` the samples clipped; ``nvalid`` (nout,) valid samples
    left; ``sumsq`` (nout,) sum of x^2; ``rowsum``/``rowcnt`` (nout, ny) sum and count of the valid
    samples of each read-order row.
    """
    nout, ny, w = chans.shape
    buf = np.empty(ny * w, np.float64)
    med = np.zeros(nout, np.float32)
    if x is None:
        out = np.empty((nout, ny, w), np.float32)
    else:
        out = x
    nvalid = np.zeros(nout, np.int64)
    sumsq = np.zeros(nout)
    rowsum = np.zeros((nout, ny))
    rowcnt = np.zeros((nout, ny), np.int64)
    nclipped = 0
    for k in range(nout):
        n = 0
        for r in range(ny):
            for p in range(w):
                if valid[k, r, p]:
                    buf[n] = chans[k, r, p]
                    n += 1
        if n == 0:
            out[k] = 0.0
            continue
        m = np.float32(median_of_first(buf, n))
        med[k] = m
        # Robust sigma from a sub-sample of the centred valid values, in valid-sample order.
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
        sig = MAD_TO_SIGMA * median_of_first(buf, ns)
        # Clip beyond lim (none when sig is 0). Branch-free: selects instead of ifs, sums in the
        # same order (the results are those of the branching loop, bit for bit).
        lim = clip_sigma * sig if sig > 0 else np.inf
        ss = 0.0
        nv = 0
        for r in range(ny):
            rs = 0.0
            rc = 0
            for p in range(w):
                v = np.float32(chans[k, r, p] - m)
                chans[k, r, p] = v
                was = valid[k, r, p]
                keep = was & (abs(v) <= lim)
                valid[k, r, p] = keep
                nclipped += np.int64(was) - np.int64(keep)  # keep implies was
                o = v if keep else np.float32(0.0)
                out[k, r, p] = o
                rc += keep
                ss += np.float64(o) * o
                rs += o
            rowsum[k, r] = rs
            rowcnt[k, r] = rc
            nv += rc
        nvalid[k] = nv
        sumsq[k] = ss
    return out, med, nclipped, nvalid, sumsq, rowsum, rowcnt


@numba.njit(cache=True, nogil=True)
def neighbour_diff_sumsq(chans, mask_a, mask_b):
    """Per output: sum of squared differences of read-order neighbours (10 us apart) that are both
    in ``mask_a``, and how many such pairs; the same for ``mask_b`` (one pass for two masks);
    float64.  Returns ``(ssq_a, cnt_a, ssq_b, cnt_b)``."""
    nout, ny, w = chans.shape
    ssq_a = np.zeros(nout)
    cnt_a = np.zeros(nout, np.int64)
    ssq_b = np.zeros(nout)
    cnt_b = np.zeros(nout, np.int64)
    for k in range(nout):
        sa = 0.0
        sb = 0.0
        na = 0
        nb = 0
        for r in range(ny):
            for p in range(1, w):
                d = np.float64(np.float32(chans[k, r, p] - chans[k, r, p - 1]))
                d2 = d * d
                in_a = mask_a[k, r, p] & mask_a[k, r, p - 1]
                in_b = mask_b[k, r, p] & mask_b[k, r, p - 1]
                # branch-free, and a non-finite difference outside the mask must not leak in (0*inf)
                sa += d2 if in_a else 0.0
                na += in_a
                sb += d2 if in_b else 0.0
                nb += in_b
        ssq_a[k] = sa
        cnt_a[k] = na
        ssq_b[k] = sb
        cnt_b[k] = nb
    return ssq_a, cnt_a, ssq_b, cnt_b


@numba.njit(cache=True, nogil=True)
def side_sums(chans, side):
    """Per read-order row: the sum (float64) and count of the ``side`` samples of all outputs."""
    nout, ny, w = chans.shape
    num = np.zeros(ny)
    cnt = np.zeros(ny)
    for k in range(nout):
        for r in range(ny):
            for p in range(w):
                if side[k, r, p]:
                    num[r] += chans[k, r, p]
                    cnt[r] += 1.0
    return num, cnt


@numba.njit(cache=True, nogil=True)
def row_corrected(chans, valid, corr, xa=None):
    """The side-reference row correction applied: per output, ``chans - corr[row]`` re-centred on
    the median of its valid samples; returns (xa (valid samples, 0 elsewhere; float32, written into
    the ``xa`` given, else a new array), sumsq (nout,), rowsum (nout, ny)) -- the inputs of the
    spectra and row averages after correction."""
    nout, ny, w = chans.shape
    buf = np.empty(ny * w, np.float64)
    if xa is None:
        out = np.empty((nout, ny, w), np.float32)
    else:
        out = xa
    sumsq = np.zeros(nout)
    rowsum = np.zeros((nout, ny))
    for k in range(nout):
        n = 0
        for r in range(ny):
            c = corr[r]
            for p in range(w):  # branch-free gather of the valid samples
                buf[n] = np.float32(chans[k, r, p] - c)
                n += valid[k, r, p]
        if n == 0:
            out[k] = 0.0
            continue
        m = np.float32(median_of_first(buf, n))
        ss = 0.0
        for r in range(ny):
            c = corr[r]
            rs = 0.0
            for p in range(w):  # branch-free (a select), sums in the order of the valid samples
                v = np.float32(np.float32(chans[k, r, p] - c) - m)
                o = v if valid[k, r, p] else np.float32(0.0)
                out[k, r, p] = o
                ss += np.float64(o) * o
                rs += o
            rowsum[k, r] = rs
        sumsq[k] = ss
    return out, sumsq, rowsum
