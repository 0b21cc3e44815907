"""Compiled per-CDS-frame passes of the 1/f analysis (:mod:`core.onef`).

Each function replaces a chain of numpy expressions over a full frame (4 outputs x 2048 rows x
512 pixels, read order) by one pass without float64 temporaries; :mod:`core.onef` documents what
is computed.  Conventions: ``chans`` is (nout, ny, w) float32 DN in read order, ``valid`` the
samples that take part (finite, active, not clipped); sums are accumulated in float64.  The kernels
release the GIL, so two analysis sections (or two row halves) run on the two cores at once.

Since issue 23 the analysis calls the two fused frame passes of :mod:`core.onef.framepass`; the
four kernels they replaced (centre-and-clip, side sums, neighbour differences, row correction)
live on in ``tests/onef_reference_kernels.py`` as the references the fused passes are tested
against.
"""

from __future__ import annotations

import functools

import numba
import numpy as np

from core.median import HIST_BINS, hist_median


@numba.njit(cache=True, nogil=True)
def accumulate_power(X, weight, auto, cross, pair_a, pair_b, f0=0, f1=-1):
    """``auto[k] += weight |X_k|^2`` and ``cross[j] += weight Re(X_a X_b*)`` for the output pairs
    ``(pair_a[j], pair_b[j])``; ``X`` (nout, nf) complex64, sums float64, in place.  Only the
    frequencies ``f0:f1`` (``f1 = -1``: to the end), so that two threads can share the work."""
    nout, nf = X.shape
    npair = pair_a.size
    if f1 < 0:
        f1 = nf
    for f in range(f0, f1):
        for k in range(nout):
            re = np.float64(X[k, f].real)
            im = np.float64(X[k, f].imag)
            auto[k, f] += weight * (re * re + im * im)
        for j in range(npair):
            a = X[pair_a[j], f]
            b = X[pair_b[j], f]
            cross[j, f] += weight * (np.float64(a.real) * b.real + np.float64(a.imag) * b.imag)


@numba.njit(cache=True, nogil=True)
def savgol_split_sums(x, valid, coeffs, edge_model, i0=0, i1=-1):
    """pynrc-style time-domain split without the model arrays.

    ``x`` (nout, n) samples in read order (0 where not valid), ``coeffs`` the Savitzky-Golay
    smoothing coefficients (odd length L), ``edge_model`` (nout, 2, L//2) the model at the first
    and last L//2 samples (polynomial fit of the end windows, as scipy's ``mode='interp'``).
    Per sample: model_k = SG smoothing of output k, corr = mean over outputs, unc_k = model_k - corr.
    Returns (sum of corr^2 over every output's valid samples, their count, per-output sum of unc_k^2
    over its valid samples, per-output counts), float64.  Worked in blocks of samples so that the
    31-tap filter vectorises and stays in the L1 cache.  Only samples ``i0:i1`` (``i1 = -1``: to
    the end) are summed, so that two threads can share the work.
    """
    nout, n = x.shape
    if i1 < 0:
        i1 = n
    L = coeffs.size
    h = L // 2
    B = 2048
    corr_ss = 0.0
    corr_n = 0
    unc_ss = np.zeros(nout)
    unc_n = np.zeros(nout, np.int64)
    model = np.zeros((nout, B))
    for b0 in range(i0, i1, B):
        nb = min(i1, b0 + B) - b0
        lo = max(b0, h)  # interior samples of this block: the full window is inside x
        hi = min(b0 + nb, n - h)
        for k in range(nout):
            mk = model[k]
            mk[:nb] = 0.0
            if hi > lo:
                acc = mk[lo - b0:hi - b0]
                for j in range(L):  # 1-D slices: this loop vectorises
                    c = coeffs[j]
                    xs = x[k, lo - h + j:hi - h + j]
                    for i in range(hi - lo):
                        acc[i] += c * xs[i]
            for i in range(b0, lo):
                mk[i - b0] = edge_model[k, 0, i]
            for i in range(max(b0, n - h), b0 + nb):
                mk[i - b0] = edge_model[k, 1, i - (n - h)]
        for i in range(nb):
            c = 0.0
            for k in range(nout):
                c += model[k, i]
            c /= nout
            for k in range(nout):
                if valid[k, b0 + i]:
                    corr_ss += c * c
                    corr_n += 1
                    u = model[k, i] - c
                    unc_ss[k] += u * u
                    unc_n[k] += 1
    return corr_ss, corr_n, unc_ss, unc_n


@numba.njit(cache=True, nogil=True)
def row_medians(chans, valid, r0, r1):
    """Rows ``r0:r1``: the median over all outputs of the valid samples of each read-order row
    (NaN for a row without any), float32 -- the banding image column of one CDS frame."""
    nout, ny, w = chans.shape
    out = np.empty(r1 - r0, np.float32)
    buf = np.empty(nout * w, np.float64)
    sel = np.empty(nout * w + 1, np.float64)
    counts = np.empty(HIST_BINS, np.int64)
    for r in range(r0, r1):
        n = 0
        for k in range(nout):
            for p in range(w):  # branch-free gather of the valid samples
                buf[n] = chans[k, r, p]
                n += valid[k, r, p]
        out[r - r0] = hist_median(buf, n, counts, sel)
    return out


@numba.njit(cache=True, nogil=True)
def abs_dev_subsample(d, med, target):
    """Every ``step``-th finite |d - med| of the stack ``d`` (n, npix) in C order, ``step =
    max(1, nfinite // target)`` -- the sample whose median gives the robust sigma of
    :func:`core.onef.analysis.pixel_stack_mean`."""
    n, npix = d.shape
    nfin = 0
    for s in range(n):
        for q in range(npix):
            nfin += np.isfinite(d[s, q] - med[q])
    step = max(1, nfin // target)
    out = np.empty(nfin // step + 1, np.float32)
    skip = 0  # finite samples to pass over before the next one taken (j % step, without a division)
    m = 0
    for s in range(n):
        for q in range(npix):
            v = np.float32(d[s, q] - med[q])
            if np.isfinite(v):
                if skip == 0:
                    out[m] = abs(v)
                    m += 1
                    skip = step
                skip -= 1
    return out[:m]


@numba.njit(cache=True, nogil=True)
def clipped_stack_mean(d, med, limit):
    """Per pixel of ``d`` (n, npix): mean (float64 sum, float32 result) of the finite samples within
    ``limit`` of the pixel's ``med`` (all finite ones when ``limit`` <= 0); NaN without any."""
    n, npix = d.shape
    s = np.zeros(npix)
    c = np.zeros(npix, np.int64)
    for i in range(n):
        for q in range(npix):
            v = d[i, q]
            if np.isfinite(v) and (limit <= 0 or abs(np.float32(v - med[q])) <= limit):
                s[q] += v
                c[q] += 1
    out = np.empty(npix, np.float32)
    for q in range(npix):
        out[q] = s[q] / c[q] if c[q] > 0 else np.nan
    return out


@numba.njit(cache=True, nogil=True)
def frame_output_deviations(d, x0s, x1s, target, dev, k0, k1):
    """The jump test's first step in one pass: per output column range ``x0s[a]:x1s[a]`` and CDS
    frame ``k`` of a stripe ``d`` (n, rows, nx), the median of every ``step``-th finite sample of the
    block in C order (``step = max(1, block size // target)``; float64 median, then float32, as
    :func:`core.median.median_of`) is subtracted in float32 and written to ``dev`` (n, rows, nx)
    (columns outside every range are not written).  Only frames ``k0:k1``: two threads share the work."""
    n, rows, nx = d.shape
    buf = np.empty(2 * target + 2, np.float64)
    sel = np.empty(2 * target + 3, np.float64)
    counts = np.empty(HIST_BINS, np.int64)
    for a in range(x0s.size):
        x0 = x0s[a]
        w = x1s[a] - x0
        size = rows * w
        step = max(1, size // target)
        for k in range(k0, k1):
            cnt = 0
            r = 0
            p = 0  # (row, column) of flat index i, stepped without a division
            for _ in range(0, size, step):  # branch-free gather of the finite samples
                v = d[k, r, x0 + p]
                buf[cnt] = v
                cnt += np.isfinite(v)
                p += step
                while p >= w:
                    p -= w
                    r += 1
            # hist_median: the same exact median as median_of_first, without its mispredicted branches
            m = np.float32(hist_median(buf, cnt, counts, sel))
            for r in range(rows):
                for p in range(x0, x0 + w):
                    dev[k, r, p] = d[k, r, p] - m


@numba.njit(cache=True, nogil=True)
def binned_sums(idx, sel, y, nb):
    """Per row of ``y`` (nrows, nf) float64: the sum of ``y[row, f]`` over the ``f`` with ``sel[f]``
    into bin ``idx[f]`` (nrows, nb), in frequency order -- ``np.bincount(idx[sel], y[row, sel])``
    bit for bit, without the masked copies."""
    nr, nf = y.shape
    out = np.zeros((nr, nb))
    for r in range(nr):
        for f in range(nf):
            if sel[f]:
                out[r, idx[f]] += y[r, f]
    return out


NETWORK_MAX_N = 16  # stacks up to this many CDS frames: short_stack_median's sorting network (measured to 16)


@functools.cache
def batcher_pairs(n: int) -> tuple[np.ndarray, np.ndarray]:
    """The comparators (i, j), i < j, of Batcher's odd-even merge sort of ``n`` elements (the network
    for the next power of 2, comparators touching padding dropped: padding would be +inf, never
    exchanged), as two int64 arrays; 28 comparators for 9."""
    p2 = 1
    while p2 < n:
        p2 *= 2
    pairs = []
    p = 1
    while p < p2:
        k = p
        while k >= 1:
            for j in range(k % p, p2 - k, 2 * k):
                for i in range(min(k, p2 - j - k)):
                    if (i + j) // (2 * p) == (i + j + k) // (2 * p) and i + j + k < n:
                        pairs.append((i + j, i + j + k))
            k //= 2
        p *= 2
    a = np.array(pairs, np.int64).reshape(-1, 2)
    return np.ascontiguousarray(a[:, 0]), np.ascontiguousarray(a[:, 1])


@numba.njit(cache=True, nogil=True)
def network_median(stack, pa, pb, q0, q1, out):
    """Columns ``q0:q1`` of ``stack`` (n, npix) float32: the median of each column's finite samples
    (NaN if none) into ``out``, by a sorting network (comparators ``pa``, ``pb``) run on blocks of
    columns: min/max over a block vectorise, with no branch to mispredict.  Non-finite samples sort
    last as +inf; with c finite ones the median is the sorted sample c // 2, or for an even c the
    float64 mean of samples c/2 - 1 and c/2, as float32 -- :func:`core.median.median_axis0`'s
    values."""
    n = stack.shape[0]
    B = 512
    x = np.empty((n, B), np.float32)
    cnt = np.empty(B, np.int64)
    for b0 in range(q0, q1, B):
        nb = min(q1, b0 + B) - b0
        cnt[:nb] = 0
        for s in range(n):
            for q in range(nb):
                v = stack[s, b0 + q]
                fin = np.isfinite(v)
                x[s, q] = v if fin else np.float32(np.inf)
                cnt[q] += fin
        for c in range(pa.size):
            xi = x[pa[c]]
            xj = x[pb[c]]
            for q in range(nb):
                a = xi[q]
                b = xj[q]
                xi[q] = min(a, b)
                xj[q] = max(a, b)
        for q in range(nb):
            c = cnt[q]
            if c == 0:
                out[b0 + q] = np.nan
            elif c % 2:
                out[b0 + q] = x[c // 2, q]
            else:
                out[b0 + q] = np.float32(0.5 * (np.float64(x[c // 2 - 1, q]) + np.float64(x[c // 2, q])))


def warm_up() -> None:
    """Compile (or load from the disk cache) every kernel here and in :mod:`core.onef.framepass` for
    the types :mod:`core.onef` uses."""
    from core.onef import framepass

    framepass.warm_up()
    chans = np.zeros((2, 4, 64), np.float32)
    valid = np.ones(chans.shape, bool)
    X = np.zeros((2, 5), np.complex64)
    accumulate_power(X, 1.0, np.zeros((2, 5)), np.zeros((1, 5)), np.zeros(1, np.int64), np.ones(1, np.int64), 0, 3)
    flat = chans.reshape(2, -1)
    savgol_split_sums(flat, valid.reshape(2, -1), np.ones(31) / 31, np.zeros((2, 2, 15)), 0, 128)
    row_medians(chans, valid, 0, 4)
    abs_dev_subsample(flat, np.zeros(flat.shape[1], np.float32), 1000)
    clipped_stack_mean(flat, np.zeros(flat.shape[1], np.float32), 1.0)
    pa, pb = batcher_pairs(2)
    network_median(flat, pa, pb, 0, flat.shape[1], np.empty(flat.shape[1], np.float32))
    binned_sums(np.zeros(3, np.int64), np.ones(3, np.bool_), np.ones((2, 3)), 1)
    frame_output_deviations(chans, np.zeros(1, np.int64), np.full(1, 64, np.int64), 20_000, np.empty_like(chans), 0, 2)
