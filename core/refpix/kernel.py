"""Compiled per-stripe passes of the reference-pixel analysis (:mod:`core.refpix`).

Each kernel replaces a chain of numpy expressions over one row stripe by passes that read the
stripe in place, without float64 temporaries or copies; :mod:`core.refpix` documents what is
computed.  The results are those of the numpy expressions, sample for sample:

* float32 arithmetic is done in the same order with the same roundings (the group sums of
  :func:`core.refpix._detrend` run sequentially over the groups, as numpy's reduction over a
  non-contiguous axis does; its mean divides in float64, as ``np.mean`` does; a threshold
  compared with float32 values is rounded to float32 first, as numpy does with a Python float);
* medians are exact (the middle sample, or the mean of the two middle ones computed in float64,
  returned float32; NaN ignored), as :mod:`core.median`;
* histograms bin ``|v|`` to 1-DN bins as :func:`core.median.abs_histogram` (``np.rint``, half
  to even; the last bin takes everything larger; NaN and inf skipped);
* sums are accumulated in float64, in another order than numpy's pairwise sums (equal to ~1e-15
  relative).

Conventions: ``d`` is a stripe (nints, G, rows, nx) float32 DN, C-contiguous, science
orientation, NaN for saturated or missing samples; rows and columns are stripe array indices,
end exclusive.  The kernels release the GIL, so :mod:`core.refpix` runs the amplifiers and row
halves of a stripe on both cores at once.

Speed notes: inner loops run over slices from index 0 (numba cannot prove an offset index
non-negative, and its wrap-around check stops LLVM from vectorising the loop), and the
histogram increments sit in loops of their own, so the loops that compute bins vectorise.
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
LANES = 4  # histogram copies, against store-forwarding stalls when consecutive samples share a bin


# -- exact medians ---------------------------------------------------------------------------------
@numba.njit(cache=True, inline="always")
def _ranks(a, n, r0):
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
def _middle(lo, hi, n):
    """The median from the two middle ranks of n samples: float64 (mean of two in float64)."""
    return np.float64(lo) if n % 2 else 0.5 * (np.float64(lo) + np.float64(hi))


@numba.njit(cache=True, inline="always")
def _rank_bins(hist, nb, r0):
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
def _median_binned(a, n, hist, tb, tmp, hint):
    """Median of ``a[:n]`` (finite float64, reordered) for a few hundred samples, float64.

    Quickselect on a few hundred samples is slow (every comparison a coin flip for the branch
    predictor), so: a histogram of the samples in bins around a centre (a monotone map, its ends
    clamped) finds the bins holding the middle ranks, and only the few samples in them are
    selected exactly.  ``hint`` = [centre, bins per DN] sets the speed, never the value: the
    centre becomes this median and the bin width adapts to a few samples per bin, for the next
    call on similar data (the next row of the same group).  Scratch: ``tb`` n int64, ``tmp`` n."""
    if n <= SMALL_SORT:
        lo, hi = _ranks(a, n, (n - 1) // 2)
        return _middle(lo, hi, n) if n else np.nan
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
    lo, hi = _ranks(tmp, m, r0 - below)
    med = _middle(lo, hi, n)
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
def _count_keys(x, kb, hist):
    """Add the first-level bins of ``x`` to ``hist`` (``kb``: scratch of x.size int32)."""
    _key_bins(x, kb)
    for i in range(x.size):
        hist[kb[i]] += 1


@numba.njit(cache=True, inline="always")
def _gather_keys(x, kb, b0, b1, buf, m):
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
def _median_large(x, hist, buf, kb):
    """Exact NaN-ignoring median of the float32 vector ``x`` (contiguous), float32.

    A histogram of the top bits of the ordering key finds the bins that hold the middle ranks,
    then the few samples in those bins are gathered and selected exactly.  Scratch: ``hist``
    NBINS + 1 int64, ``buf`` x.size float32, ``kb`` x.size int32."""
    hist[:] = 0
    _count_keys(x, kb[:x.size], hist)
    n = x.size - hist[NBINS]
    if n == 0:
        return np.float32(np.nan)
    r0 = (n - 1) // 2
    b0, b1, below = _rank_bins(hist, NBINS, r0)
    m = _gather_keys(x, kb[:x.size], b0, b1, buf, 0)
    lo, hi = _ranks(buf, m, r0 - below)
    return np.float32(_middle(lo, hi, n))


@numba.njit(cache=True)
def median_exact(x, small, hint):
    """Exact NaN-ignoring median of a 1-D float32 array, float32 (test hook): through
    :func:`_median_large`, or with ``small`` through :func:`_median_binned` (``hint`` as there)."""
    x = np.ascontiguousarray(x)
    if not small:
        return _median_large(x, np.zeros(NBINS + 1, np.int64), np.empty(x.size, np.float32),
                             np.empty(x.size, np.int32))
    buf = np.empty(x.size, np.float64)
    n = 0
    for v in x:
        buf[n] = v
        n += np.isfinite(v)
    return np.float32(_median_binned(buf, n, np.zeros(SIDE_BINS, np.int64), np.empty(x.size, np.int64),
                                     np.empty(x.size, np.float64), hint))


@numba.njit(cache=True, inline="always")
def _check_box(d, y0, y1, x0, x1):
    """The kernels do not check indices as they go (numba does not): check the box once."""
    if not (0 <= y0 <= y1 <= d.shape[2] and 0 <= x0 <= x1 <= d.shape[3]):
        raise ValueError("rows y0:y1 / columns x0:x1 outside the stripe")


# -- histograms --------------------------------------------------------------------------------------
@numba.njit(cache=True, inline="always")
def _bin(v, nmax):
    """1-DN bin of |v| as core.median.abs_histogram (``np.rint``: half to even; ``nmax`` takes
    everything larger), int32; ``nmax + 1`` (a slot that is dropped) for inf and NaN."""
    a = abs(v)
    k = np.int32(min(np.rint(a), np.float32(nmax)))
    return k if a < np.float32(np.inf) else np.int32(nmax + 1)


@numba.njit(cache=True, inline="always")
def _count(bins, hist):
    """Add ``bins`` to ``hist`` (LANES, nmax + 2): a loop of its own, so that the binning loops
    vectorise; consecutive samples go to different copies (the same bin would stall)."""
    for i in range(bins.size):
        hist[i & (LANES - 1), bins[i]] += 1


@numba.njit(cache=True, inline="always")
def _pair_row(r0, r1, c, bins, hist, nmax):
    """Count |c[x] - c[x+2]| of the CDS row ``c = r1 - r0`` (float32 rows of one length w >= 2;
    scratch ``c`` and ``bins`` of w)."""
    w = r0.size
    for x in range(w):
        c[x] = r1[x] - r0[x]
    cr = c[2:w]
    bn = bins[:w - 2]
    for x in range(w - 2):
        bn[x] = _bin(c[x] - cr[x], nmax)
    _count(bn, hist)


@numba.njit(cache=True, nogil=True)
def pair_hist(d, y0, y1, x0, x1, nmax):
    """Histogram (nmax + 1,) int64 of |c[x] - c[x+2]| over the CDS frames ``c = d[:, g+1] - d[:, g]``
    of rows ``y0:y1``, for every pair x, x+2 inside columns ``x0:x1``: as
    ``abs_histogram(c[..., li] - c[..., ri], nmax)`` with ``c = np.diff(d[:, :, y0:y1, x0:x1],
    axis=1)`` and ``li, ri = _pair_index(x1 - x0)``."""
    _check_box(d, y0, y1, x0, x1)
    nints, G = d.shape[0], d.shape[1]
    hist = np.zeros((LANES, nmax + 2), np.int64)
    w = x1 - x0
    if w < 3:
        return hist[0, :nmax + 1]
    c = np.empty(w, np.float32)
    bins = np.empty(w, np.int32)
    for n in range(nints):
        for g in range(G - 1):
            for y in range(y0, y1):
                _pair_row(d[n, g, y, x0:x1], d[n, g + 1, y, x0:x1], c, bins, hist, nmax)
    return hist[:, :nmax + 1].sum(axis=0)


@numba.njit(cache=True, nogil=True)
def cross_hist(d, y0, y1, start, step, p0, p1, nmax):
    """Histograms (nmax + 1,) int64 of |e_k + e_j| and |e_k - e_j| over the output pairs k < j,
    where ``e_k[p] = c[x_k(p)] - c[x_k(p + 2)]`` for read positions ``p0 <= p < p1`` of output k
    in every CDS frame ``c = d[:, g+1] - d[:, g]`` and row ``y0:y1``.

    Output k's read position p is science column ``x_k(p) = start[k] + step[k] * p`` (step +-1:
    :meth:`core.io.geometry.Layout.channel_images`); rows are summed over, so their read order does
    not matter.  The pair differences are formed once per row in science order,
    ``D[x] = c[x] - c[x+2]``: an output read right to left has ``e_k[p] = -D[x_k(p) - 2]``
    (exact: a - b = -(b - a) in IEEE arithmetic).
    """
    _check_box(d, y0, y1, 0, d.shape[3])
    nints, G, _, nx = d.shape
    nout = start.size
    npos = max(p1 - p0, 0)
    for k in range(nout):  # every output's pair differences inside D (length nx - 2)
        first = start[k] + p0 if step[k] > 0 else start[k] - p0 - 1 - npos
        if npos and (p0 < 0 or first < 0 or first + npos > nx - 2):
            raise ValueError("read positions p0:p1 + 2 outside the row")
    hp = np.zeros((LANES, nmax + 2), np.int64)
    hm = np.zeros((LANES, nmax + 2), np.int64)
    c = np.empty(nx, np.float32)
    D = np.empty(max(nx - 2, 0), np.float32)
    e = np.empty((nout, npos), np.float32)
    bp = np.empty(npos, np.int32)
    bm = np.empty(npos, np.int32)
    for n in range(nints):
        for g in range(G - 1):
            for y in range(y0, y1):
                r0 = d[n, g, y]
                r1 = d[n, g + 1, y]
                for x in range(nx):
                    c[x] = r1[x] - r0[x]
                c2 = c[2:]
                for x in range(nx - 2):
                    D[x] = c[x] - c2[x]
                for k in range(nout):
                    ek = e[k]
                    if step[k] > 0:
                        dk = D[start[k] + p0:start[k] + p0 + npos]
                        for q in range(npos):
                            ek[q] = dk[q]
                    else:  # e_k[q] = -D[start - p0 - 2 - q]
                        dk = D[start[k] - p0 - 1 - npos:start[k] - p0 - 1]
                        for q in range(npos):
                            ek[q] = -dk[npos - 1 - q]
                for k in range(nout):
                    ek = e[k]
                    for j in range(k + 1, nout):
                        ej = e[j]
                        for q in range(npos):
                            bp[q] = _bin(ek[q] + ej[q], nmax)
                            bm[q] = _bin(ek[q] - ej[q], nmax)
                        _count(bp, hp)
                        _count(bm, hm)
    return hp[:, :nmax + 1].sum(axis=0), hm[:, :nmax + 1].sum(axis=0)


# -- active pixels of one amplifier ---------------------------------------------------------------
@numba.njit(cache=True, inline="always")
def _deviations(r, c, dev):
    """``dev = |r - c|`` (float32, as numpy)."""
    for p in range(r.size):
        dev[p] = abs(r[p] - c)


@numba.njit(cache=True, inline="always")
def _every(x, first, step, out):
    """``x[first::step]``: a view when step is 1, else copied to ``out`` (contiguous for the
    vectorised key loops)."""
    if step == 1:
        return x[first:]
    n = 0
    for p in range(first, x.size, step):
        out[n] = x[p]
        n += 1
    return out[:n]


@numba.njit(cache=True, nogil=True)
def active_levels(d, y0, y1, x0, x1, gw, g2, clip_sigma, mad_to_sigma, max_sub, side0, side1, nmax, resid):
    """Clipped level sums of the active pixels ``da = d[:, :, y0:y1, x0:x1]`` of one amplifier.

    Does in one go what :func:`core.refpix._active_numpy` writes in numpy::

        ra = _detrend(da)                    # de-ramped (nints, G, rows, cols) float32
        keep = _keep_pixels(ra.reshape(nints, G, P))
        raw_sum = np.where(keep, da, 0).sum(axis=2, dtype=float64)   # (nints, G)
        res_sum = np.where(keep, ra, 0).sum(axis=2, dtype=float64)   # (nints, G)
        n_kept = keep.sum(axis=1)                                     # (nints,)
        side_cm[..., p] = nanmedian(ra[..., side_p], axis=-1)        # (nints, G, rows, 2)
        hist = abs_histogram(c[..., li] - c[..., ri], nmax)           # c = np.diff(da, axis=1)

    ``gw`` (G,) float32 is the centred group index and ``g2`` float32 its sum of squares, as
    ``_detrend`` makes them.  The clip: per frame the median ``cm`` of the de-ramped values,
    ``dev = |ra - cm|``, the robust sigma ``s = mad_to_sigma * median(dev.ravel()[::step])`` with
    ``step = max(1, dev.size // max_sub)``, and a pixel is kept in an integration when all its
    groups are finite and ``max dev <= float32(clip_sigma * s)`` (every finite pixel when ``s`` is
    not a positive number).  ``side0`` / ``side1`` list the positions within a row of the even /
    odd detector columns for ``side_cm`` (both empty: not wanted, an empty ``side_cm`` is
    returned).  ``hist`` (nmax + 1,) counts |CDS pair differences| two columns apart, as
    :func:`pair_hist`.  ``resid`` is scratch of at least nints * G * P float32.

    Needs P >= 2: numpy adds a single pixel's groups pairwise, not in order.
    """
    _check_box(d, y0, y1, x0, x1)
    nints, G = d.shape[0], d.shape[1]
    r = y1 - y0
    w = x1 - x0
    P = r * w
    F = nints * G  # frames
    N = F * P
    if resid.size < N or gw.size != G:
        raise ValueError("resid scratch too small, or gw not one weight per group")
    for idx in (side0, side1):
        if idx.size and (idx.min() < 0 or idx.max() >= w):
            raise ValueError("side column positions outside the amplifier's columns")
    res = resid[:N]
    raw_sum = np.zeros((nints, G))
    res_sum = np.zeros((nints, G))
    n_kept = np.zeros(nints, np.int64)
    want_side = side0.size + side1.size > 0
    side_cm = np.full((nints, G, r if want_side else 0, 2), np.nan, np.float32)
    phist = np.zeros((LANES, nmax + 2), np.int64)
    acc_raw = np.zeros((G, w))  # per column: consecutive float64 adds along a row would wait on each other
    acc_res = np.zeros((G, w))
    blk = np.empty((G, w), np.float32)
    s = np.empty(w, np.float32)
    m = np.empty(w, np.float32)
    b = np.zeros(w, np.float32)  # slope; stays 0 for one group (then resid = v - m, as _detrend)
    fin = np.empty(w, np.bool_)
    c = np.empty(w, np.float32)
    bins = np.empty(w, np.int32)
    buf = np.empty(w, np.float64)
    tmp = np.empty(w, np.float64)
    tb = np.empty(w, np.int64)
    shist = np.zeros(SIDE_BINS, np.int64)
    hints = np.empty((G, 2, 2))  # per group and parity: [centre, bins per DN] of the side medians
    hints[:, :, 0] = 0.0
    hints[:, :, 1] = 4.0

    # Pass 1, row by row (the row's groups stay in L1): de-ramp, sums over the finite pixels,
    # side-column common mode, |CDS pair differences|.
    for n in range(nints):
        acc_raw[:] = 0.0
        acc_res[:] = 0.0
        for yy in range(r):
            for g in range(G):
                blk[g] = d[n, g, y0 + yy, x0:x1]
            s[:] = blk[0]
            for g in range(1, G):  # sequential over the groups, as numpy's outer-axis reduction
                bg = blk[g]
                for x in range(w):
                    s[x] += bg[x]
            for x in range(w):
                m[x] = np.float32(np.float64(s[x]) / G)  # np.mean: float32 sum / intp count in float64
                fin[x] = np.isfinite(m[x])  # one NaN group makes every group NaN
            if G >= 2:
                b0 = blk[0]
                w0 = gw[0]
                for x in range(w):
                    s[x] = w0 * (b0[x] - m[x])
                for g in range(1, G):
                    bg = blk[g]
                    wg = gw[g]
                    for x in range(w):
                        s[x] += wg * (bg[x] - m[x])
                for x in range(w):
                    b[x] = s[x] / g2
            for g in range(G):
                o = (n * G + g) * P + yy * w
                out = res[o:o + w]
                bg = blk[g]
                wg = gw[g]
                ar = acc_raw[g]
                ae = acc_res[g]
                for x in range(w):
                    v = bg[x]
                    rv = (v - m[x]) - wg * b[x]
                    out[x] = rv
                    ar[x] += np.float64(v) if fin[x] else 0.0
                    ae[x] += np.float64(rv) if fin[x] else 0.0
                if want_side:
                    for p in range(2):
                        idx = side0 if p == 0 else side1
                        k = 0
                        for i in range(idx.size):
                            v = out[idx[i]]
                            buf[k] = v
                            k += np.isfinite(v)
                        side_cm[n, g, yy, p] = np.float32(_median_binned(buf, k, shist, tb, tmp, hints[g, p]))
                if g and w >= 3:
                    _pair_row(blk[g - 1], bg, c, bins, phist, nmax)
        for g in range(G):
            raw_sum[n, g] = acc_raw[g].sum()
            res_sum[n, g] = acc_res[g].sum()
    hist = phist[:, :nmax + 1].sum(axis=0)
    if P == 0:
        return raw_sum, res_sum, n_kept, side_cm, hist

    # Pass 2: per-frame medians of the de-ramped values.
    khist = np.zeros(NBINS + 1, np.int64)
    gbuf = np.empty(P, np.float32)  # scratch of the medians
    kb = np.empty(P, np.int32)
    cm = np.empty(F, np.float32)
    for f in range(F):
        cm[f] = _median_large(res[f * P:(f + 1) * P], khist, gbuf, kb)

    # Pass 3: |deviation| from the frame's median -- the worst per pixel (NaN counts as inf) --
    # and the histogram of every step-th one (flat index f * P + p divisible by step); pass 4
    # gathers those in the bins of the middle ranks: their median is the robust sigma.
    step = max(1, N // max_sub)
    worst = np.zeros((nints, P), np.float32)
    dev = np.empty(P, np.float32)
    sub = np.empty((P + step - 1) // step, np.float32)
    khist[:] = 0
    for f in range(F):
        wn = worst[f // G]
        _deviations(res[f * P:(f + 1) * P], cm[f], dev)
        for p in range(P):
            wn[p] = max(wn[p], dev[p]) if dev[p] <= np.float32(np.inf) else np.float32(np.inf)
        ds = _every(dev, (-f * P) % step, step, sub)
        _count_keys(ds, kb[:ds.size], khist)
    ns = khist[:NBINS].sum()
    sigma = np.nan
    if ns:
        r0 = (ns - 1) // 2
        b0, b1, below = _rank_bins(khist, NBINS, r0)
        mbuf = np.empty(N // step + 1, np.float32)
        m = 0
        for f in range(F):
            _deviations(res[f * P:(f + 1) * P], cm[f], dev)
            ds = _every(dev, (-f * P) % step, step, sub)
            m = _gather_keys(ds, kb[:ds.size], b0, b1, mbuf, m)
        lo, hi = _ranks(mbuf, m, r0 - below)
        sigma = mad_to_sigma * np.float64(np.float32(_middle(lo, hi, ns)))
    clip = sigma > 0 and np.isfinite(sigma)
    thr = np.float32(clip_sigma * sigma) if clip else np.float32(np.inf)

    # Keep: finite in every group and (with a usable sigma) never beyond the threshold.  The sums
    # so far hold every finite pixel: the clipped ones (few: cosmic rays, noisy pixels) are taken
    # out again -- unless there are many, when cancellation could cost digits: then summed afresh.
    keep = np.zeros((nints, P), np.bool_)
    for n in range(nints):
        r0f = res[n * G * P:(n * G + 1) * P]  # the integration's first group: NaN iff not finite
        wn = worst[n]
        kn = keep[n]
        nfin = 0
        nk = 0
        for p in range(P):  # branch-free: it vectorises
            f_ = np.isfinite(r0f[p])
            kn[p] = f_ & (wn[p] <= thr)
            nfin += f_
            nk += kn[p]
        n_kept[n] = nk
        nclip = nfin - nk
        if nclip == 0:
            continue
        if nclip * 64 <= P:
            for p in range(P):
                if not kn[p] and np.isfinite(r0f[p]):
                    y = y0 + p // w
                    x = x0 + p % w
                    for g in range(G):
                        raw_sum[n, g] -= np.float64(d[n, g, y, x])
                        res_sum[n, g] -= np.float64(res[(n * G + g) * P + p])
        else:
            acc_raw[:] = 0.0
            acc_res[:] = 0.0
            for g in range(G):
                rg = res[(n * G + g) * P:(n * G + g + 1) * P]
                ar = acc_raw[g]
                ae = acc_res[g]
                for yy in range(r):
                    row = d[n, g, y0 + yy, x0:x1]
                    kr = kn[yy * w:(yy + 1) * w]
                    rr = rg[yy * w:(yy + 1) * w]
                    for x in range(w):
                        ar[x] += np.float64(row[x]) if kr[x] else 0.0
                        ae[x] += np.float64(rr[x]) if kr[x] else 0.0
            for g in range(G):
                raw_sum[n, g] = acc_raw[g].sum()
                res_sum[n, g] = acc_res[g].sum()
    return raw_sum, res_sum, n_kept, side_cm, hist


def warm_up() -> None:
    """Compile the kernels (or load them from the on-disk cache) for the argument types
    :mod:`core.refpix` passes, so that no analysis pays the first compilation."""
    d = np.zeros((1, 3, 4, 8), np.float32)
    gw = np.array([-1.0, 0.0, 1.0], np.float32)
    idx = np.arange(0, 8, 2, dtype=np.int64)
    none = np.zeros(0, np.int64)
    scratch = np.empty(d.size, np.float32)
    active_levels(d, 0, 4, 0, 8, gw, np.float32(2.0), 6.0, 1.5, 2_000_000, idx, idx + 1, 16, scratch)
    active_levels(d, 0, 4, 0, 8, gw, np.float32(2.0), 6.0, 1.5, 2_000_000, none, none, 16, scratch)
    pair_hist(d, 0, 4, 0, 8, 16)
    cross_hist(d, 0, 4, np.zeros(1, np.int64), np.ones(1, np.int64), 0, 2, 16)
