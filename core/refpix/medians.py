"""Exact NaN-ignoring float32 medians for the compiled passes of :mod:`core.refpix.kernel`.

Two kinds, both exact (the middle sample, or the mean of the two middle ones computed in float64;
NaN ignored), as :mod:`core.median`: :func:`median_large` for the ~200k-2M de-ramped values of a
frame (a histogram of the top bits of the float ordering key finds the bins of the middle ranks)
and :func:`median_binned` for the few hundred samples of a side-column row (a histogram in bins
around a moving centre).  The helpers are ``inline="always"``: the kernels that use them compile
them into their own loops.
"""

from __future__ import annotations

import numba
import numpy as np

from core.select import insertion_sort, kth_smallest

KEY_BITS = 16  # first-level bins of the exact median: the top 16 bits of the ordered float32 key
NBINS = 1 << KEY_BITS
SMALL_SORT = 32  # insertion sort up to this many samples
SIDE_BINS = 256  # bins of the median of a few hundred samples
GATHER_BLOCK = 64  # samples checked at once for the bins of the middle ranks (most blocks have none)


@numba.njit(cache=True, inline="always")
def ranks(a, n, r0):
    """(r0-th, (r0+1)-th) smallest of ``a[:n]`` (0-based; reordered in place); the second is the
    first again when r0 is the last rank."""
    if n <= SMALL_SORT:
        insertion_sort(a, n)
        return a[r0], a[min(r0 + 1, n - 1)]
    lo = kth_smallest(a, n, r0)  # Wirth: leaves a[:r0] <= a[r0] <= a[r0 + 1:n]
    hi = lo
    if r0 + 1 < n:
        hi = a[r0 + 1]
        for i in range(r0 + 2, n):  # all right of r0 are >= lo: their minimum is rank r0 + 1
            hi = min(hi, a[i])
    return lo, hi


@numba.njit(cache=True, inline="always")
def middle(lo, hi, n):
    """The median from the two middle ranks of n samples: float64 (mean of two in float64)."""
    return np.float64(lo) if n % 2 else 0.5 * (np.float64(lo) + np.float64(hi))


@numba.njit(cache=True, inline="always")
def rank_bins(hist, nb, r0):
    """(first bin holding rank r0, bin holding rank r0 + 1, samples in the bins before the first)
    of a histogram over ``nb`` bins (r0 + 1 may not exist: then the last bin)."""
    cum = 0
    b0 = 0
    while cum + hist[b0] <= r0:
        cum += hist[b0]
        b0 += 1
    return b0, _next_rank_bin(hist, nb, b0, cum, r0), cum


@numba.njit(cache=True, inline="always")
def _next_rank_bin(hist, nb, b0, below, r0):
    """The bin holding rank r0 + 1, given that rank r0 is in bin ``b0`` with ``below`` samples in
    the bins before it (the last bin when r0 + 1 does not exist)."""
    cum = below
    b1 = b0
    while cum + hist[b1] <= r0 + 1 and b1 < nb - 1:
        cum += hist[b1]
        b1 += 1
    return b1


@numba.njit(cache=True, inline="always")
def median_binned(a, n, hist, tb, tmp, hint):
    """Median of ``a[:n]`` (finite float64, reordered) for a few hundred samples, float64.

    Quickselect on a few hundred samples is slow (every comparison a coin flip for the branch
    predictor), so: a histogram of the samples in bins around a centre (a monotone map, its ends
    clamped) finds the bins holding the middle ranks, and only the few samples in them are
    selected exactly.  ``hint`` = [centre, bins per DN] sets the speed, never the value: the
    centre becomes this median and the bin width adapts to a few samples per bin, for the next
    call on similar data (the next row of the same group).  Scratch: ``tb`` n int64, ``tmp`` n."""
    if n <= SMALL_SORT:
        lo, hi = ranks(a, n, (n - 1) // 2)
        return middle(lo, hi, n) if n else np.nan
    nb = hist.size
    c = hint[0]
    scale = hint[1]
    top = nb - 1.0
    off = 0.5 * nb
    for i in range(n):
        tb[i] = np.int64(min(max((a[i] - c) * scale + off, 0.0), top))
    hist[:] = 0
    for i in range(n):
        hist[tb[i]] += 1
    r0 = (n - 1) // 2
    # The middle ranks sit near the centre bin: start there, not at bin 0.
    b0 = nb // 2
    cum = hist[:b0].sum()  # samples below bin b0
    if cum > r0:
        while cum > r0:
            b0 -= 1
            cum -= hist[b0]
    else:
        while cum + hist[b0] <= r0:
            cum += hist[b0]
            b0 += 1
    below = cum
    b1 = _next_rank_bin(hist, nb, b0, below, r0)
    m = 0
    for i in range(n):  # branch-free gather
        tmp[m] = a[i]
        m += (tb[i] >= b0) & (tb[i] <= b1)
    lo, hi = ranks(tmp, m, r0 - below)
    med = middle(lo, hi, n)
    if m > 8:  # bins too wide -- or the data sit beyond a clamped end: widen then, re-centred
        scale *= 2.0 if (b0 > 0 and b1 < nb - 1) else 0.5
    elif m < 3:
        scale *= 0.5
    hint[0] = med
    hint[1] = min(max(scale, 1e-6), 1e6)
    return med


@numba.njit(cache=True, inline="always")
def _key_bins(x, kb):
    """``kb`` = first-level bins of the float32 vector ``x``: the top KEY_BITS of the key that orders
    floats as unsigned integers (negative: all bits flipped; positive: sign bit set); NaN goes to
    the extra slot NBINS (its key could sort anywhere).  Branch-free: it vectorises."""
    u = x.view(np.uint32)
    for i in range(x.size):
        k = u[i] ^ (np.uint32(0x7FFFFFFF) * (u[i] >> np.uint32(31)) | np.uint32(0x80000000))
        kb[i] = np.int32(k >> np.uint32(32 - KEY_BITS)) if np.isfinite(x[i]) else np.int32(NBINS)


@numba.njit(cache=True, inline="always")
def count_keys(x, kb, hist):
    """Add the first-level bins of ``x`` to ``hist`` (``kb``: scratch of x.size int32)."""
    _key_bins(x, kb)
    for i in range(x.size):
        hist[kb[i]] += 1


@numba.njit(cache=True, inline="always")
def gather_keys(x, kb, b0, b1, buf, m):
    """Append the samples of ``x`` in first-level bins b0..b1 to ``buf[m:]``; returns the new m.
    Blocks are tested vectorised and gathered only where they hit (most do not)."""
    _key_bins(x, kb)
    lo = np.int32(b0)
    hi = np.int32(b1)
    for i0 in range(0, x.size, GATHER_BLOCK):
        kblk = kb[i0:i0 + GATHER_BLOCK]
        hit = 0
        for i in range(kblk.size):
            hit |= (kblk[i] >= lo) & (kblk[i] <= hi)
        if hit:
            xblk = x[i0:i0 + GATHER_BLOCK]
            for i in range(kblk.size):  # branch-free
                buf[m] = xblk[i]
                m += (kblk[i] >= lo) & (kblk[i] <= hi)
    return m


@numba.njit(cache=True)
def median_large(x, hist, buf, kb):
    """Exact NaN-ignoring median of the float32 vector ``x`` (contiguous), float32.

    A histogram of the top bits of the ordering key finds the bins that hold the middle ranks,
    then the few samples in those bins are gathered and selected exactly.  Scratch: ``hist``
    NBINS + 1 int64, ``buf`` x.size float32, ``kb`` x.size int32."""
    hist[:] = 0
    count_keys(x, kb[:x.size], hist)
    n = x.size - hist[NBINS]
    if n == 0:
        return np.float32(np.nan)
    r0 = (n - 1) // 2
    b0, b1, below = rank_bins(hist, NBINS, r0)
    m = gather_keys(x, kb[:x.size], b0, b1, buf, 0)
    lo, hi = ranks(buf, m, r0 - below)
    return np.float32(middle(lo, hi, n))


@numba.njit(cache=True)
def median_exact(x, small, hint):
    """Exact NaN-ignoring median of a 1-D float32 array, float32 (test hook): through
    :func:`median_large`, or with ``small`` through :func:`median_binned` (``hint`` as there)."""
    x = np.ascontiguousarray(x)
    if not small:
        return median_large(x, np.zeros(NBINS + 1, np.int64), np.empty(x.size, np.float32),
                            np.empty(x.size, np.int32))
    buf = np.empty(x.size, np.float64)
    n = 0
    for v in x:
        buf[n] = v
        n += np.isfinite(v)
    return np.float32(median_binned(buf, n, np.zeros(SIDE_BINS, np.int64), np.empty(x.size, np.int64),
                                    np.empty(x.size, np.float64), hint))


__all__ = [
    "GATHER_BLOCK", "KEY_BITS", "NBINS", "SIDE_BINS", "SMALL_SORT", "count_keys", "gather_keys",
    "median_binned", "median_exact", "median_large", "middle", "rank_bins", "ranks",
]
