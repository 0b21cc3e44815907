"""Compiled per-stripe passes of the reference-pixel analysis (:mod:`core.refpix`).

Each kernel replaces a chain of numpy expressions over one row stripe by passes that read the
stripe in place, without float64 temporaries or copies; :mod:`core.refpix` documents what is
computed.  The results are those of the numpy expressions, sample for sample:

* float32 arithmetic is done in the same order with the same roundings (the group sums of
  :func:`core.refpix.numerics.detrend` run sequentially over the groups, as numpy's reduction
  over a non-contiguous axis does; its mean divides in float64, as ``np.mean`` does; a threshold
  compared with float32 values is rounded to float32 first, as numpy does with a Python float);
* medians are exact (the middle sample, or the mean of the two middle ones computed in float64,
  returned float32; NaN ignored), as :mod:`core.median` (they are in :mod:`core.refpix.medians`);
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

from core.refpix.medians import (
    NBINS,
    SIDE_BINS,
    count_keys,
    gather_keys,
    median_binned,
    median_large,
    middle,
    rank_bins,
    ranks,
)

LANES = 4  # histogram copies, against store-forwarding stalls when consecutive samples share a bin


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


@numba.njit(cache=True, inline="always")
def _line_fit(blk, gw, g2, s, m, b, fin):
    """Per column of one row's groups ``blk`` (G, w) float32: the mean ``m`` as ``np.mean`` (the
    float32 sum sequential over the groups, as numpy's outer-axis reduction, divided in float64),
    ``fin`` (the mean is finite: one NaN group makes every group NaN) and for G >= 2 the slope
    ``b`` of the straight-line fit (left as it is for one group).  Scratch ``s`` (w,) float32."""
    G, w = blk.shape
    s[:] = blk[0]
    for g in range(1, G):
        bg = blk[g]
        for x in range(w):
            s[x] += bg[x]
    for x in range(w):
        m[x] = np.float32(np.float64(s[x]) / G)  # np.mean: float32 sum / intp count in float64
        fin[x] = np.isfinite(m[x])
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


@numba.njit(cache=True, inline="always")
def _deramp_row(bg, m, wg, b, fin, out, ar, ae):
    """``out = (bg - m) - wg * b``: one group of a row de-ramped (float32, as ``detrend``); the raw
    and de-ramped values of the finite pixels are added to the float64 column sums ``ar``, ``ae``."""
    for x in range(out.size):
        v = bg[x]
        rv = (v - m[x]) - wg * b[x]
        out[x] = rv
        ar[x] += np.float64(v) if fin[x] else 0.0
        ae[x] += np.float64(rv) if fin[x] else 0.0


@numba.njit(cache=True, inline="always")
def _side_medians(out, side0, side1, buf, shist, tb, tmp, hints, cm):
    """``cm[p]`` = median of the finite ``out`` at the positions ``side0`` (p = 0, even detector
    columns) and ``side1`` (p = 1), float32; ``hints`` (2, 2) and the scratch as
    :func:`median_binned`."""
    for p in range(2):
        idx = side0 if p == 0 else side1
        k = 0
        for i in range(idx.size):
            v = out[idx[i]]
            buf[k] = v
            k += np.isfinite(v)
        cm[p] = np.float32(median_binned(buf, k, shist, tb, tmp, hints[p]))


@numba.njit(cache=True, inline="always")
def _deramp_pass(d, y0, y1, x0, x1, gw, g2, side0, side1, nmax, res):
    """Pass 1 of :func:`active_levels`, row by row (the row's groups stay in L1): de-ramp into
    ``res`` (frame-major, nints * G * P), sums over the finite pixels, side-column common mode,
    |CDS pair differences|.  Returns (raw_sum, res_sum, side_cm, hist)."""
    nints, G = d.shape[0], d.shape[1]
    r = y1 - y0
    w = x1 - x0
    P = r * w
    raw_sum = np.zeros((nints, G))
    res_sum = np.zeros((nints, G))
    want_side = side0.size + side1.size > 0
    side_cm = np.full((nints, G, r if want_side else 0, 2), np.nan, np.float32)
    phist = np.zeros((LANES, nmax + 2), np.int64)
    acc_raw = np.zeros((G, w))  # per column: consecutive float64 adds along a row would wait on each other
    acc_res = np.zeros((G, w))
    blk = np.empty((G, w), np.float32)
    s = np.empty(w, np.float32)
    m = np.empty(w, np.float32)
    b = np.zeros(w, np.float32)  # slope; stays 0 for one group (then resid = v - m, as detrend)
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
    for n in range(nints):
        acc_raw[:] = 0.0
        acc_res[:] = 0.0
        for yy in range(r):
            for g in range(G):
                blk[g] = d[n, g, y0 + yy, x0:x1]
            _line_fit(blk, gw, g2, s, m, b, fin)
            for g in range(G):
                o = (n * G + g) * P + yy * w
                out = res[o:o + w]
                _deramp_row(blk[g], m, gw[g], b, fin, out, acc_raw[g], acc_res[g])
                if want_side:
                    _side_medians(out, side0, side1, buf, shist, tb, tmp, hints[g], side_cm[n, g, yy])
                if g and w >= 3:
                    _pair_row(blk[g - 1], blk[g], c, bins, phist, nmax)
        for g in range(G):
            raw_sum[n, g] = acc_raw[g].sum()
            res_sum[n, g] = acc_res[g].sum()
    return raw_sum, res_sum, side_cm, phist[:, :nmax + 1].sum(axis=0)


@numba.njit(cache=True, inline="always")
def _frame_medians(res, F, P, khist, kb):
    """Pass 2: the median of each of the ``F`` frames of ``P`` de-ramped values (float32)."""
    gbuf = np.empty(P, np.float32)  # scratch of the medians
    cm = np.empty(F, np.float32)
    for f in range(F):
        cm[f] = median_large(res[f * P:(f + 1) * P], khist, gbuf, kb)
    return cm


@numba.njit(cache=True, inline="always")
def _robust_sigma(res, cm, G, P, max_sub, mad_to_sigma, worst, khist, kb):
    """Passes 3 and 4: ``worst`` (nints, P) = the largest |deviation| of each pixel from its frame's
    median in an integration (NaN counts as inf); the robust sigma = ``mad_to_sigma`` x the median
    of every step-th |deviation| (flat index f * P + p divisible by step), found from a histogram
    of them (pass 3) and the few in the bins of the middle ranks (pass 4).  NaN if none is finite."""
    F = cm.size
    N = F * P
    step = max(1, N // max_sub)
    dev = np.empty(P, np.float32)
    sub = np.empty((P + step - 1) // step, np.float32)
    khist[:] = 0
    for f in range(F):
        wn = worst[f // G]
        _deviations(res[f * P:(f + 1) * P], cm[f], dev)
        for p in range(P):
            wn[p] = max(wn[p], dev[p]) if dev[p] <= np.float32(np.inf) else np.float32(np.inf)
        ds = _every(dev, (-f * P) % step, step, sub)
        count_keys(ds, kb[:ds.size], khist)
    ns = khist[:NBINS].sum()
    sigma = np.nan
    if ns:
        r0 = (ns - 1) // 2
        b0, b1, below = rank_bins(khist, NBINS, r0)
        mbuf = np.empty(N // step + 1, np.float32)
        m = 0
        for f in range(F):
            _deviations(res[f * P:(f + 1) * P], cm[f], dev)
            ds = _every(dev, (-f * P) % step, step, sub)
            m = gather_keys(ds, kb[:ds.size], b0, b1, mbuf, m)
        lo, hi = ranks(mbuf, m, r0 - below)
        sigma = mad_to_sigma * np.float64(np.float32(middle(lo, hi, ns)))
    return sigma


@numba.njit(cache=True, inline="always")
def _keep_row(r0f, wn, thr, kn):
    """``kn`` = finite (``r0f``: the integration's first group, NaN iff not finite) and ``wn`` (worst
    deviation) <= ``thr``; returns (finite pixels, kept pixels).  Branch-free: it vectorises."""
    nfin = 0
    nk = 0
    for p in range(r0f.size):
        f_ = np.isfinite(r0f[p])
        kn[p] = f_ & (wn[p] <= thr)
        nfin += f_
        nk += kn[p]
    return nfin, nk


@numba.njit(cache=True, inline="always")
def _subtract_clipped(d, n, y0, x0, w, res, r0f, kn, raw_sum, res_sum):
    """Take the finite, not kept pixels of integration ``n`` out of its sums again."""
    G = raw_sum.shape[1]
    P = kn.size
    for p in range(P):
        if not kn[p] and np.isfinite(r0f[p]):
            y = y0 + p // w
            x = x0 + p % w
            for g in range(G):
                raw_sum[n, g] -= np.float64(d[n, g, y, x])
                res_sum[n, g] -= np.float64(res[(n * G + g) * P + p])


@numba.njit(cache=True, inline="always")
def _resum(d, n, y0, x0, x1, res, kn, raw_sum, res_sum, acc_raw, acc_res):
    """Sum the kept pixels of integration ``n`` afresh (per column, then along the row, as pass 1);
    scratch ``acc_raw``, ``acc_res`` (G, w) float64."""
    G = raw_sum.shape[1]
    w = x1 - x0
    P = kn.size
    r = P // w
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


@numba.njit(cache=True, inline="always")
def _drop_clipped(d, y0, x0, x1, res, worst, thr, raw_sum, res_sum, n_kept):
    """Pass 5, keep: finite in every group and never beyond ``thr``.  The sums so far hold every
    finite pixel: the clipped ones (few: cosmic rays, noisy pixels) are taken out again -- unless
    there are many, when cancellation could cost digits: then summed afresh."""
    nints, G = raw_sum.shape
    P = worst.shape[1]
    w = x1 - x0
    keep = np.zeros((nints, P), np.bool_)
    acc_raw = np.zeros((G, w))
    acc_res = np.zeros((G, w))
    for n in range(nints):
        r0f = res[n * G * P:(n * G + 1) * P]
        kn = keep[n]
        nfin, nk = _keep_row(r0f, worst[n], thr, kn)
        n_kept[n] = nk
        nclip = nfin - nk
        if nclip == 0:
            continue
        if nclip * 64 <= P:
            _subtract_clipped(d, n, y0, x0, w, res, r0f, kn, raw_sum, res_sum)
        else:
            _resum(d, n, y0, x0, x1, res, kn, raw_sum, res_sum, acc_raw, acc_res)


@numba.njit(cache=True, nogil=True)
def active_levels(d, y0, y1, x0, x1, gw, g2, clip_sigma, mad_to_sigma, max_sub, side0, side1, nmax, resid):
    """Clipped level sums of the active pixels ``da = d[:, :, y0:y1, x0:x1]`` of one amplifier.

    Does in one go what :func:`core.refpix.levels.active_sums_numpy` writes in numpy::

        ra = detrend(da)                     # de-ramped (nints, G, rows, cols) float32
        keep = keep_pixels(ra.reshape(nints, G, P))
        raw_sum = np.where(keep, da, 0).sum(axis=2, dtype=float64)   # (nints, G)
        res_sum = np.where(keep, ra, 0).sum(axis=2, dtype=float64)   # (nints, G)
        n_kept = keep.sum(axis=1)                                     # (nints,)
        side_cm[..., p] = nanmedian(ra[..., side_p], axis=-1)        # (nints, G, rows, 2)
        hist = abs_histogram(c[..., li] - c[..., ri], nmax)           # c = np.diff(da, axis=1)

    ``gw`` (G,) float32 is the centred group index and ``g2`` float32 its sum of squares, as
    ``detrend`` makes them.  The clip: per frame the median ``cm`` of the de-ramped values,
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
    w = x1 - x0
    P = (y1 - y0) * w
    F = nints * G  # frames
    N = F * P
    if resid.size < N or gw.size != G:
        raise ValueError("resid scratch too small, or gw not one weight per group")
    for idx in (side0, side1):
        if idx.size and (idx.min() < 0 or idx.max() >= w):
            raise ValueError("side column positions outside the amplifier's columns")
    res = resid[:N]
    raw_sum, res_sum, side_cm, hist = _deramp_pass(d, y0, y1, x0, x1, gw, g2, side0, side1, nmax, res)
    n_kept = np.zeros(nints, np.int64)
    if P == 0:
        return raw_sum, res_sum, n_kept, side_cm, hist
    khist = np.zeros(NBINS + 1, np.int64)
    kb = np.empty(P, np.int32)
    cm = _frame_medians(res, F, P, khist, kb)
    worst = np.zeros((nints, P), np.float32)
    sigma = _robust_sigma(res, cm, G, P, max_sub, mad_to_sigma, worst, khist, kb)
    clip = sigma > 0 and np.isfinite(sigma)
    thr = np.float32(clip_sigma * sigma) if clip else np.float32(np.inf)
    _drop_clipped(d, y0, x0, x1, res, worst, thr, raw_sum, res_sum, n_kept)
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
