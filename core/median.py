"""Compiled medians (and a histogram) for the shapes the 1/f and reference-pixel passes need.

numpy's ``median(axis=0)`` of a (nsamples, npix) stack partitions one strided column at a time, and
``nanmedian(axis=1)`` of an array holding NaN falls back to a Python loop over rows; together they
were half of the 1/f section's time.  These give the same values (the middle sample, or the mean of
the two middle samples computed in float64, returned as float32) ignoring NaN; a row or column
without a finite value gives NaN.
"""

from __future__ import annotations

import numba
import numpy as np

from core.runtime import CORES, pool
from core.select import BLOCK, insertion_sort, kth_smallest  # one block tuning for every kernel

BRACKET_MIN = 200_000  # samples from which a bracketed selection beats a full one
THREADS = CORES  # the kernels release the GIL; large calls are split over this many threads
SPLIT_MIN = 1 << 18  # elements from which a call is worth splitting


def _split_rows(kernel, a: np.ndarray, out_dtype=np.float32) -> np.ndarray:
    """``kernel`` on row blocks of 2-D ``a`` in :data:`THREADS` threads (kernel: rows -> one value
    per row along axis 0 of its result).  Plain threads rather than numba ``parallel=True``: no
    OpenMP runtime needed, and safe when two analysis sections call the kernels at once."""
    n = a.shape[0]
    if a.size < SPLIT_MIN or n < 2 * THREADS:
        return kernel(a)
    cuts = np.linspace(0, n, THREADS + 1).astype(int)
    parts = list(pool("median", THREADS).map(kernel, [a[c0:c1] for c0, c1 in zip(cuts[:-1], cuts[1:])]))
    return np.concatenate(parts).astype(out_dtype, copy=False)


@numba.njit(cache=True, inline="always")
def median_of_first(buf, count):
    """Median of ``buf[:count]`` (reordered in place); NaN when ``count`` is 0."""
    if count == 0:
        return np.nan
    if count <= 32:  # small stacks: sorting is fastest
        insertion_sort(buf, count)
        if count % 2:
            return buf[count // 2]
        return 0.5 * (buf[count // 2 - 1] + buf[count // 2])
    if count < BRACKET_MIN:
        return _select_median(buf, count)
    return _bracket_median(buf, count)


@numba.njit(cache=True, inline="always")
def _select_median(buf, count):
    """Median of ``buf[:count]`` by Wirth's selection in place (no copy, unlike ``np.median``):
    after selecting rank k = count // 2, ``buf[:k]`` holds the smaller values, so for an even count
    the other middle value is their maximum."""
    k = count // 2
    hi = kth_smallest(buf, count, k)
    if count % 2:
        return hi
    lo = buf[0]
    for i in range(1, k):
        if buf[i] > lo:
            lo = buf[i]
    return 0.5 * (lo + hi)


@numba.njit(cache=True)
def _bracket_median(buf, count):
    """Exact median of a large sample in about one pass: a sub-sample's quantiles at 0.5 -/+ 2 %
    bracket the median (their rank error is ~0.4 % at 20 000 sub-samples); the samples inside the
    bracket (~4 %) are selected exactly, with the counts below it giving the ranks.  Falls back to a
    full selection in the (practically impossible) case that the bracket misses."""
    step = max(1, count // 20000)
    sub = buf[:count:step].copy()
    m = sub.size
    # the sub-sample's order statistics by two selections, not a sort (1.15 -> ~0.3 ms)
    lo = kth_smallest(sub, m, max(0, int(0.48 * m) - 1))
    hi = kth_smallest(sub, m, min(m - 1, int(0.52 * m) + 1))
    below = 0
    inside = np.empty(count + 1, np.float64)
    n_in = 0
    for i in range(count):  # branch-free: the comparisons are coin flips for the predictor
        v = buf[i]
        below += v < lo
        inside[n_in] = v
        n_in += (v >= lo) & (v <= hi)
    r0 = (count - 1) // 2  # the middle rank(s), 0-based
    r1 = count // 2
    if below <= r0 and r1 < below + n_in:
        # select rather than sort the ~4 % inside (40 000 samples of a 1M frame: 2.5 -> 0.4 ms)
        return _middle_of_selected(inside, n_in, r0 - below, r1 > r0)
    return np.median(buf[:count])


@numba.njit(cache=True, inline="always")
def _middle_of_selected(sel, m, k, even):
    """The value of rank ``k`` of ``sel[:m]`` (selected in place), or for an ``even`` count its
    float64 mean with the next rank -- the smallest of the larger values the selection leaves in
    ``sel[k + 1:m]``."""
    a = kth_smallest(sel, m, k)
    if not even:
        return a
    b = sel[k + 1]
    for i in range(k + 2, m):
        if sel[i] < b:
            b = sel[i]
    return 0.5 * (a + b)


HIST_BINS = 1024  # bins of :func:`hist_median`'s first pass


@numba.njit(cache=True, inline="always")
def hist_median(buf, count, counts, sel):
    """Exact median of ``buf[:count]`` (finite values; NaN when ``count`` is 0) for repeated
    mid-size calls (a thousand to a few ten thousand samples), where Wirth's selection spends
    ~10 ns per sample on mispredicted branches.  Branch-free passes instead: min/max, a histogram
    over ``counts.size`` equal bins of [min, max], then the samples of the bin(s) holding the middle
    rank(s) are gathered into ``sel`` (size > ``count``) and selected exactly; the cumulative counts
    below give their ranks.  The bin index is monotone in the value, so the result equals
    :func:`median_of_first`'s (the middle sample, or the float64 mean of the two)."""
    if count == 0:
        return np.nan
    lo = buf[0]
    hi = buf[0]
    for i in range(1, count):
        v = buf[i]
        lo = min(lo, v)
        hi = max(hi, v)
    if not hi > lo:
        return lo
    nb = counts.size
    scale = (nb - 1) / (hi - lo)
    counts[:] = 0
    for i in range(count):
        counts[min(nb - 1, np.int64((buf[i] - lo) * scale))] += 1
    r0 = (count - 1) // 2  # the middle rank(s), 0-based
    r1 = count // 2
    below = 0
    b0 = 0
    while below + counts[b0] <= r0:
        below += counts[b0]
        b0 += 1
    b1 = b0
    upto = below + counts[b0]
    while upto <= r1:
        b1 += 1
        upto += counts[b1]
    m = 0
    for i in range(count):
        v = buf[i]
        b = min(nb - 1, np.int64((v - lo) * scale))
        sel[m] = v
        m += (b >= b0) & (b <= b1)
    return _middle_of_selected(sel, m, r0 - below, r1 > r0)


RANK_MAX_N = 128  # stacks up to this many samples: median_axis0's branch-free rank median (measured up to here)


@numba.njit(cache=True, inline="always")
def _rank_median_block(stack, b0, nb, x, rank, cnt, lo, hi, out):
    """Medians of the columns ``b0:b0 + nb`` of a short stack (n <= :data:`RANK_MAX_N`) without a
    branch: each sample's rank among its column's samples (ties broken by sample index, so the
    ranks are a permutation) is counted with comparisons that vectorise over the columns, and the
    samples of the middle rank(s) are picked by equality.  A non-finite sample becomes +inf, which
    ranks above every finite one and so is never a middle rank of the finite samples.  Insertion
    sort costs ~90 ns per 9-sample column on mispredicted branches, this ~15 ns; at 107 samples
    (a 108-group ramp) Wirth's selection ~1.5 us, this ~0.6 us.  The n^2 comparisons outgrow the
    selection somewhere above that (at 128 samples this is still 2x faster); the cap keeps the
    measured range."""
    n = stack.shape[0]
    for q in range(nb):
        cnt[q] = 0
        lo[q] = 0.0
        hi[q] = 0.0
    for s in range(n):
        for q in range(nb):
            v = stack[s, b0 + q]
            fin = np.isfinite(v)
            x[s, q] = v if fin else np.inf
            cnt[q] += fin
    for i in range(n):
        for q in range(nb):
            rank[q] = 0
        for j in range(i):  # earlier samples rank below an equal one ...
            for q in range(nb):
                rank[q] += x[j, q] <= x[i, q]
        for j in range(i + 1, n):  # ... later ones only when smaller
            for q in range(nb):
                rank[q] += x[j, q] < x[i, q]
        for q in range(nb):
            v = x[i, q]
            c = cnt[q]
            lo[q] += v if rank[q] == (c - 1) // 2 else 0.0  # ranks of finite samples are < c
            hi[q] += v if rank[q] == c // 2 else 0.0
    for q in range(nb):
        c = cnt[q]
        if c == 0:
            out[b0 + q] = np.nan
        elif c % 2:
            out[b0 + q] = np.float32(lo[q])
        else:
            out[b0 + q] = np.float32(0.5 * (lo[q] + hi[q]))


@numba.njit(cache=True, nogil=True)
def median_axis0(stack):
    """Per column of ``stack`` (nsamples, npix) float32: the median of its finite samples."""
    n, npix = stack.shape
    out = np.empty(npix, np.float32)
    if n <= RANK_MAX_N:
        x = np.empty((n, BLOCK), np.float32)
        rank = np.empty(BLOCK, np.int32)
        cnt = np.empty(BLOCK, np.int32)
        lo = np.empty(BLOCK, np.float64)
        hi = np.empty(BLOCK, np.float64)
        for b0 in range(0, npix, BLOCK):
            _rank_median_block(stack, b0, min(npix, b0 + BLOCK) - b0, x, rank, cnt, lo, hi, out)
        return out
    block = np.empty((BLOCK, n), np.float64)
    buf = np.empty(n, np.float64)
    for b0 in range(0, npix, BLOCK):
        nb = min(npix, b0 + BLOCK) - b0
        for s in range(n):
            for q in range(nb):
                block[q, s] = stack[s, b0 + q]
        for q in range(nb):
            count = 0
            for s in range(n):
                v = block[q, s]
                if np.isfinite(v):
                    buf[count] = v
                    count += 1
            out[b0 + q] = median_of_first(buf, count)
    return out


@numba.njit(cache=True, nogil=True)
def nanmedian_rows(a):
    """Per row of ``a`` (nrows, ncols) float32: the median of its finite values."""
    nr, nc = a.shape
    out = np.empty(nr, np.float32)
    buf = np.empty(nc, np.float64)
    for r in range(nr):
        count = 0
        for c in range(nc):  # branch-free gather of the finite values
            v = a[r, c]
            buf[count] = v
            count += np.isfinite(v)
        out[r] = median_of_first(buf, count)
    return out


def median_along0(stack: np.ndarray) -> np.ndarray:
    """NaN-ignoring median along axis 0 of any (nsamples, ...) array, float32."""
    x = np.ascontiguousarray(stack, dtype=np.float32)
    flat = x.reshape(x.shape[0], -1)
    # Split over pixels (the columns): the kernel sees a (nsamples, npix_part) view each.
    if flat.size < SPLIT_MIN or flat.shape[1] < 2 * THREADS * BLOCK:
        return median_axis0(flat).reshape(x.shape[1:])
    cuts = np.linspace(0, flat.shape[1], THREADS + 1).astype(int)
    parts = pool("median", THREADS).map(lambda c: median_axis0(np.ascontiguousarray(flat[:, c[0]:c[1]])),
                                        zip(cuts[:-1], cuts[1:]))
    return np.concatenate(list(parts)).reshape(x.shape[1:])


def median_of(values: np.ndarray) -> float:
    """NaN-ignoring median of all values of an array (NaN if none is finite)."""
    return float(nanmedian_rows(np.ascontiguousarray(values, dtype=np.float32).reshape(1, -1))[0])


def nanmedian_last(a: np.ndarray) -> np.ndarray:
    """NaN-ignoring median along the last axis of any array, float32."""
    x = np.ascontiguousarray(a, dtype=np.float32)
    return _split_rows(nanmedian_rows, x.reshape(-1, x.shape[-1])).reshape(x.shape[:-1])


@numba.njit(cache=True, nogil=True)
def _abs_histogram(flat, nmax):
    counts = np.zeros(nmax + 1, np.int64)
    for i in range(flat.size):
        v = flat[i]
        if np.isfinite(v):
            k = np.rint(abs(v))
            counts[nmax if k >= nmax else np.int64(k)] += 1
    return counts


def abs_histogram(values: np.ndarray, nmax: int) -> np.ndarray:
    """Counts of |values| (finite only) in 1-DN bins centred on integers, rounded half to even as
    ``np.rint``; bin ``nmax`` also takes everything larger.  One pass, no temporaries."""
    return _abs_histogram(np.ascontiguousarray(values, dtype=np.float32).ravel(), int(nmax))
