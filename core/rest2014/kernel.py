"""Compiled iterative sigma clip of boxes for the Rest (2014) box readnoise (core/rest2014.py).

The numpy version (``rest2014._clip_rows_numpy``) clips all boxes of a chunk at once, which costs a
dozen full-size temporaries per pass, a sort of every box for the first-pass median, a difference
image per group pair and a fancy-index copy of every box's pixels beforehand.  The kernels here clip
one box at a time in scratch that stays in cache, find the median by selection, and form a box's
group differences straight from the stripe of group frames (:func:`clip_stripe`): about 45 us per
128 x 128 box on one core, against ~550 us for the numpy version.

Same results, bit for bit.  numpy sums a row (``where(use, x, 0).sum(axis=1)``) with its pairwise
summation: above 128 terms the range is split in two, the first part rounded down to a multiple of
8, and the parts' sums added; a part of 8 .. 128 terms is summed with 8 interleaved accumulators
(term ``i`` goes to accumulator ``i % 8``), combined as ((a0+a1)+(a2+a3))+((a4+a5)+(a6+a7)), and
the last ``n % 8`` terms are then added one by one.  A box is laid out here as ``_band_pixels``
lays it out (band rows, then the box's ``cols``), positions that are not used hold 0.0 and stay in
the sums, and the same additions are done in the same order -- so every mean, std and keep/clip
decision is numpy's, including a value lying exactly on the clip bound.  (numba does not reassociate
floating-point sums without fast-math, so the order written is the order executed.)

To let the compiler vectorise those sums, a box is stored *transposed* (:func:`plan`): slot
``q * W + 8 L + k`` holds term ``8 q + k`` of leaf (128-term part) ``L``, with ``W = 8 * nleaves``,
so all leaves' accumulators advance together along contiguous memory; a leaf's last ``n % 8`` terms
sit after that block.  Leaves shorter than the longest are padded with unused slots, which add 0.0
to an accumulator (exact; at most the sign of a zero sum can differ, which no decision sees).

Conventions (see ``rest2014.clip_boxes``): a value is *valid* when it is finite and not masked; the
first pass centres on the median of the valid values, later passes on the mean of the kept ones; the
spread is the N-1 std of the kept values; a pass keeps the valid values with
``|x - centre| <= clip_sigma * std``; with fewer than 2 kept values (or a non-finite std) a pass
keeps all valid values; the clip stops when a pass changes nothing (converged) or after
``max_iters`` passes.  Units are those of the input (DN for difference images).

The kernels release the GIL (``nogil``); the wrappers split large calls over :data:`THREADS` plain
threads rather than numba ``parallel=True`` (no OpenMP runtime, and safe when several analyses run
at once, as in the app).  Compiled code is cached on disk next to this file.
"""

from __future__ import annotations

import functools
import math

import numba
import numpy as np

from core.runtime import CORES, pool
from core.select import insertion_sort, kth_smallest

THREADS = CORES  # a call is split in this many parts
SPLIT_MIN = 1 << 18  # values from which a call is worth splitting over threads
PW_BLOCK = 128  # numpy's PW_BLOCKSIZE: the largest part summed without splitting
NSAMPLE = 64  # median: values sampled per bracketing round
MARGIN = 10  # median: the bracket reaches this many sample positions beyond the target ranks
SELECT_MAX = 256  # median: candidates from which a plain selection finishes the job
BRACKET0 = 0.1  # median: half-width of the first bracket around the mean, in std
_RESULTS = ("n_used", "n_valid", "mean", "std", "converged")


# ------------------------------------------------------------------------------------------------
# The transposed layout of a box
# ------------------------------------------------------------------------------------------------
@functools.lru_cache(maxsize=64)
def plan(npix: int) -> tuple:
    """Layout of a row of ``npix`` values in numpy's pairwise-summation order (see module docstring).

    Returns (``inv``, ``rem``, ``ops``, ``q``): ``inv`` (S,) int64: the row position held by each
    slot, -1 for padding; ``rem`` (nleaves,): each leaf's trailing ``n % 8`` terms (a leaf under 8
    terms, only when ``npix < 8``, is all trailing terms); ``ops``: the additions of the leaves'
    sums in postfix (leaf index >= 0 pushes its sum, -1 adds the top two as ``below + top``);
    ``q``: the accumulator rounds (longest leaf // 8).  The arrays are read-only (cached).
    """
    leaves, ops = [], []

    def split(lo, n):  # numpy's recursion (loops_utils.h.src, pairwise_sum)
        if n <= PW_BLOCK:
            ops.append(len(leaves))
            leaves.append((lo, n))
            return
        n2 = n // 2
        n2 -= n2 % 8
        split(lo, n2)
        split(lo + n2, n - n2)
        ops.append(-1)

    split(0, int(npix))
    nl = len(leaves)
    w = 8 * nl
    q = max(n // 8 if n >= 8 else 0 for _, n in leaves)
    inv = np.full((q + 1) * w, -1, np.int64)
    rem = np.empty(nl, np.int64)
    for leaf, (lo, n) in enumerate(leaves):
        nq = n // 8 if n >= 8 else 0
        body = np.arange(8 * nq)
        inv[(body // 8) * w + 8 * leaf + body % 8] = lo + body
        rem[leaf] = n - 8 * nq
        inv[q * w + 8 * leaf + np.arange(rem[leaf])] = lo + 8 * nq + np.arange(rem[leaf])
    out = (inv, rem, np.array(ops, np.int64), q)
    for a in out[:3]:
        a.flags.writeable = False
    return out


# ------------------------------------------------------------------------------------------------
# Sums, median, the clip of one box (slots as laid out by :func:`plan`)
# ------------------------------------------------------------------------------------------------
@numba.njit(cache=True)
def _pairwise_sum(buf, use, q, rem, ops, centre, squared, acc, stack):
    """numpy's pairwise sum of ``where(use, x, 0)`` (``squared``: of ``where(use, x - centre, 0)**2``)
    over the box in ``buf``.  ``acc`` (W,) and ``stack`` (nleaves,): scratch."""
    w = acc.size
    # All leaves' 8 accumulators at once, one round of terms per row of slots (row slices: the
    # compiler vectorises these loops, but not the same loops written with computed indices).
    for m in range(w):
        acc[m] = 0.0
    for r in range(q):
        x = buf[r * w:(r + 1) * w]
        u = use[r * w:(r + 1) * w]
        if squared:
            for m in range(w):
                d = x[m] - centre
                acc[m] += d * d if u[m] else 0.0
        else:
            for m in range(w):
                acc[m] += x[m] if u[m] else 0.0
    return _finish_sum(buf, use, q, rem, ops, centre, squared, acc, stack)


@numba.njit(cache=True)
def _finish_sum(buf, use, q, rem, ops, centre, squared, acc, stack):
    """The end of :func:`_pairwise_sum` once ``acc`` holds the leaves' accumulators: each leaf's
    accumulators combined, its trailing terms added one by one, the leaves' sums added along
    numpy's recursion."""
    w = acc.size
    tail = q * w
    for leaf in range(rem.size):
        a = 8 * leaf
        res = ((acc[a] + acc[a + 1]) + (acc[a + 2] + acc[a + 3])) + ((acc[a + 4] + acc[a + 5]) + (acc[a + 6] + acc[a + 7]))
        for j in range(tail + a, tail + a + rem[leaf]):
            if squared:
                d = buf[j] - centre
                res += d * d if use[j] else 0.0
            else:
                res += buf[j] if use[j] else 0.0
        acc[a] = res  # the leaf's sum, in place of its accumulator 0
    sp = 0
    for op in ops:
        if op >= 0:
            stack[sp] = acc[8 * op]
            sp += 1
        else:
            stack[sp - 2] = stack[sp - 2] + stack[sp - 1]
            sp -= 1
    return stack[0]


@numba.njit(cache=True)
def _mean(total, n):
    """Mean from numpy's row sum ``total`` of ``n`` values (the reduction starts from its identity
    0.0, as ``rest2014._mean_std``); NaN without values."""
    return (0.0 + total) / n if n > 0 else np.nan


@numba.njit(cache=True)
def _std(buf, use, n, mean, q, rem, ops, acc, stack):
    """N-1 std of the used values about ``mean``, as ``rest2014._mean_std``; NaN below 2 values."""
    if n < 2:
        return np.nan
    ss = 0.0 + _pairwise_sum(buf, use, q, rem, ops, mean, True, acc, stack)
    return math.sqrt(ss / (n - 1))


@numba.njit(cache=True)
def _keep(buf, valid, use, centre, thr, keep_all, q, rem, ops, acc, stack):
    """One pass's decisions into ``use``: the valid values with ``|x - centre| <= thr`` (all valid
    ones with ``keep_all``); with, on the way, numpy's pairwise sum of the kept values (the next
    pass's mean: one read of the box saved per pass).  Returns (changed, n_kept, sum)."""
    w = acc.size
    changed = 0
    n_kept = 0
    for m in range(w):
        acc[m] = 0.0
    for r in range(q):
        x = buf[r * w:(r + 1) * w]
        v = valid[r * w:(r + 1) * w]
        u = use[r * w:(r + 1) * w]
        for m in range(w):  # branch-free: vectorised
            k = v[m] & ((abs(x[m] - centre) <= thr) | keep_all)
            changed += k ^ u[m]
            n_kept += k
            u[m] = k
            acc[m] += x[m] if k else 0.0
    x = buf[q * w:]  # the leaves' trailing terms: summed one by one afterwards
    v = valid[q * w:]
    u = use[q * w:]
    for m in range(w):
        k = v[m] & ((abs(x[m] - centre) <= thr) | keep_all)
        changed += k ^ u[m]
        n_kept += k
        u[m] = k
    return changed, n_kept, _finish_sum(buf, use, q, rem, ops, 0.0, False, acc, stack)


@numba.njit(cache=True)
def _median(buf, use, n, mean, std, sel, sel2, samp):
    """Median of the ``n`` used values (the two middle ones averaged as ``0.5 * (a + b)``, as
    ``rest2014._masked_median``); NaN without values.  ``mean``/``std``: of the same values (the
    first pass has them already); ``sel``, ``sel2``: scratch of the box size, ``samp``: of
    :data:`NSAMPLE`.

    Quickselect on a whole box mispredicts a branch at every other comparison.  Instead, rounds of
    bracketing: a bracket [lo, hi] that probably holds the middle ranks, one branch-free pass that
    counts the candidates below it and keeps those inside, and the target ranks move down by the
    count below -- if they fall inside; else (rarely) the round is dropped.  The first bracket is
    ``mean -/+ BRACKET0 * std`` (~8 % of a Gaussian box; the median lies well inside unless
    outliers pull the mean); later ones come from a sorted sample of the candidates, and a round
    also counts the values equal to the sample's middle value: with integer DN many values tie,
    and when the middle ranks fall among them that value is the median.  A selection finishes on
    at most a few hundred values.
    """
    if n == 0:
        return np.nan
    k0 = (n - 1) // 2
    k1 = n // 2
    cnt = -1
    if n > SELECT_MAX and np.isfinite(std):
        lo = mean - BRACKET0 * std
        hi = mean + BRACKET0 * std
        below = 0
        inside = 0
        for s in range(use.size):  # branch-free: compaction of the used values inside
            v = buf[s]
            u = use[s]
            below += u & (v < lo)
            sel[inside] = v
            inside += u & (v >= lo) & (v <= hi)
        if below <= k0 and k1 < below + inside:
            k0 -= below
            k1 -= below
            cnt = inside
    if cnt < 0:
        cnt = 0
        for s in range(use.size):  # all used values
            sel[cnt] = buf[s]
            cnt += use[s]
    src = sel
    dst = sel2
    while cnt > SELECT_MAX:
        step = cnt // NSAMPLE
        for i in range(NSAMPLE):  # spread within each step: no alignment with the box columns
            samp[i] = src[i * step + (i * 7) % step]
        insertion_sort(samp, NSAMPLE)
        i_lo = (k0 * NSAMPLE) // cnt - MARGIN
        i_hi = (k1 * NSAMPLE) // cnt + MARGIN
        lo = samp[i_lo] if i_lo >= 0 else -np.inf
        hi = samp[i_hi] if i_hi < NSAMPLE else np.inf
        c = samp[min(NSAMPLE - 1, (k1 * NSAMPLE) // cnt)]
        below = 0
        inside = 0
        less = 0
        equal = 0
        for i in range(cnt):
            v = src[i]
            below += v < lo
            dst[inside] = v
            inside += (v >= lo) & (v <= hi)
            less += v < c
            equal += v == c
        if less <= k0 and k1 < less + equal:  # both middle values equal c
            return 0.5 * (c + c)
        if not (below <= k0 and k1 < below + inside):
            break  # the bracket missed: select among the candidates as they are
        k0 -= below
        k1 -= below
        shrunk = inside < (cnt * 4) // 5
        cnt = inside
        src, dst = dst, src
        if not shrunk:  # sampling no longer narrows it down
            break
    b = kth_smallest(src, cnt, k1)  # Wirth: leaves src[:k1] <= src[k1]
    a = b
    if k0 != k1:  # even count: the lower middle value is the largest below position k1
        a = src[0]
        for i in range(1, k1):
            a = max(a, src[i])
    return 0.5 * (a + b)


@numba.njit(cache=True)
def _scratch(size, nl):
    """Scratch of one box of ``size`` slots and ``nl`` leaves: use mask, two median buffers, the
    median sample, accumulators and the leaf-sum stack."""
    return (np.empty(size, np.bool_), np.empty(size, np.float64), np.empty(size, np.float64),
            np.empty(NSAMPLE, np.float64), np.empty(8 * nl, np.float64), np.empty(nl, np.float64))


@numba.njit(cache=True)
def _clip_box(buf, valid, q, rem, ops, clip_sigma, max_iters, use, sel, sel2, samp, acc, stack):
    """Iterative clip of the box in ``buf`` (0.0 where not ``valid``), slots as :func:`plan`.

    Returns (n_used, n_valid, mean, std, converged) of the values kept after the last pass.
    """
    n_valid = 0
    for s in range(buf.size):
        use[s] = valid[s]
        n_valid += valid[s]
    n = n_valid
    total = _pairwise_sum(buf, use, q, rem, ops, 0.0, False, acc, stack)
    converged = False
    mean = np.nan
    std = np.nan
    for it in range(max_iters):
        mean = _mean(total, n)
        std = _std(buf, use, n, mean, q, rem, ops, acc, stack)
        centre = _median(buf, use, n, mean, std, sel, sel2, samp) if it == 0 else mean
        keep_all = not np.isfinite(std)  # fewer than 2 values: nothing to clip with
        changed, n, total = _keep(buf, valid, use, centre, clip_sigma * std, keep_all, q, rem, ops, acc, stack)
        if changed == 0:
            converged = True  # mean and std above are those of the final mask
            break
    if not converged:
        mean = _mean(total, n)
        std = _std(buf, use, n, mean, q, rem, ops, acc, stack)
    return n, n_valid, mean, std, converged


# ------------------------------------------------------------------------------------------------
# Kernels
# ------------------------------------------------------------------------------------------------
@numba.njit(cache=True, nogil=True)
def clip_rows_kernel(x, ok, inv, rem, ops, q, clip_sigma, max_iters, n_used, n_valid, mean, std, converged):
    """Clip each row of ``x`` (M, N) float64 over ``ok`` (M, N) bool (True = valid and finite);
    ``inv, rem, ops, q``: :func:`plan` of N.  Writes the (M,) outputs."""
    size = inv.size
    buf = np.empty(size, np.float64)
    valid = np.empty(size, np.bool_)
    use, sel, sel2, samp, acc, stack = _scratch(size, rem.size)
    for r in range(x.shape[0]):
        for s in range(size):
            p = inv[s]
            v = p >= 0 and ok[r, p]
            buf[s] = x[r, p] if v else 0.0
            valid[s] = v
        res = _clip_box(buf, valid, q, rem, ops, clip_sigma, max_iters, use, sel, sel2, samp, acc, stack)
        n_used[r], n_valid[r], mean[r], std[r], converged[r] = res


@numba.njit(cache=True, nogil=True)
def clip_stripe_kernel(frames, offset, skip, band_r0, cols, contiguous, inv, runs, rem, ops, q, t0, t1,
                       clip_sigma, max_iters, n_used, n_valid, mean, std, converged):
    """Clip the boxes ``t0 .. t1-1`` of bands of one height in the differences of a stripe,
    forming the differences and gathering the boxes' pixels directly.

    ``frames`` (ng, h, nx) float32: consecutive group frames of one integration; difference ``d``
    is ``(frames[d + 1] - frames[d]) - offset[d]`` in float32, as numpy computes it (``offset``
    (ng - 1, nx) float32: per column, zeros for none).  ``skip`` (h, nx) bool (True = reference or
    bad pixel) covers the same rows; band ``b`` starts at stripe row ``band_r0[b]``; column box
    ``j`` takes the columns ``cols[j]`` (``contiguous[j]``: they are ``cols[j, 0] + arange``; -1:
    padding of a narrow box, left out).
    ``inv, rem, ops, q``: the :func:`plan` of a box, ``runs``: :func:`_runs` of ``inv``.
    Box ``t`` is (band, column box, difference) in C order, ``t = (b * nbx + j) * nd + d``;
    outputs (t1 - t0,).  A box's values are laid out band row by band row, ``cols[j]`` within a
    row, as ``rest2014._band_pixels`` lays them out (that fixes the summation order).
    """
    ng, h, nx = frames.shape
    nd = ng - 1
    nbx, width = cols.shape
    size = inv.size  # a multiple of 8
    height = (inv.max() + 1) // width
    flat = frames.reshape(ng * h * nx)
    nan32 = np.float32(np.nan)
    natural = np.empty((height * width + 7) // 8 * 8, np.float32)  # band-pixel order, NaN = invalid
    stage = np.empty(size, np.float32)  # the same values in slot order
    natural64 = natural.view(np.int64)  # 8 values = 4 int64: moved without reading them as floats
    stage64 = stage.view(np.int64)
    buf = np.empty(size, np.float64)
    valid = np.empty(size, np.bool_)
    use, sel, sel2, samp, acc, stack = _scratch(size, rem.size)
    for t in range(t0, t1):
        d = t % nd
        j = (t // nd) % nbx
        b = t // (nd * nbx)
        lo = d * h * nx
        hi = lo + h * nx
        # 1. The box's differences in band-pixel order, left-out pixels as NaN (contiguous row
        #    slices: the compiler vectorises these loops).
        x0 = cols[j, 0]
        for r in range(height):
            row = band_r0[b] + r
            out = natural[r * width:(r + 1) * width]
            if contiguous[j]:
                a = frames[d + 1, row, x0:x0 + width]
                z = frames[d, row, x0:x0 + width]
                o = offset[d, x0:x0 + width]
                sk = skip[row, x0:x0 + width]
                for c in range(width):
                    v = (a[c] - z[c]) - o[c]
                    out[c] = nan32 if sk[c] else v
            else:  # a narrow box at an amp or array edge: padded columns
                for c in range(width):
                    col = cols[j, c]
                    if col < 0:  # padding of a box narrower than the others: not a pixel
                        out[c] = nan32
                        continue
                    v = (flat[hi + row * nx + col] - flat[lo + row * nx + col]) - offset[d, col]
                    out[c] = nan32 if skip[row, col] else v
        # 2. Into slot order: 8 slots that hold 8 consecutive values (nearly all) move as 4 int64.
        for k in range(size // 8):
            p0 = runs[k]
            if p0 >= 0:
                p0 >>= 1
                stage64[4 * k] = natural64[p0]
                stage64[4 * k + 1] = natural64[p0 + 1]
                stage64[4 * k + 2] = natural64[p0 + 2]
                stage64[4 * k + 3] = natural64[p0 + 3]
            else:
                for s in range(8 * k, 8 * k + 8):
                    stage[s] = natural[inv[s]] if inv[s] >= 0 else nan32
        # 3. float64 values and validity, one contiguous (vectorised) loop.
        for s in range(size):
            v = np.float64(stage[s])
            ok = v - v == 0.0  # finite: inf - inf and NaN - NaN are NaN
            buf[s] = v if ok else 0.0
            valid[s] = ok
        res = _clip_box(buf, valid, q, rem, ops, clip_sigma, max_iters, use, sel, sel2, samp, acc, stack)
        i = t - t0
        n_used[i], n_valid[i], mean[i], std[i], converged[i] = res


# ------------------------------------------------------------------------------------------------
# Wrappers
# ------------------------------------------------------------------------------------------------
def _outputs(m: int) -> dict:
    return {"n_used": np.empty(m, np.int64), "n_valid": np.empty(m, np.int64), "mean": np.empty(m, np.float64),
            "std": np.empty(m, np.float64), "converged": np.empty(m, np.bool_)}


def _parts(m: int, nvalues: int) -> list[tuple[int, int]]:
    """Contiguous ranges of ``m`` items, one per thread when ``nvalues`` is worth splitting."""
    k = THREADS if nvalues >= SPLIT_MIN and m >= THREADS else 1
    cuts = np.linspace(0, m, k + 1).astype(int)
    return list(zip(cuts[:-1].tolist(), cuts[1:].tolist()))


def _run(kernel, calls) -> None:
    """``kernel(*args)`` for each ``args`` of ``calls``: in the pool's threads when there are several."""
    if len(calls) == 1:
        kernel(*calls[0])
        return
    for f in [pool("boxclip", THREADS).submit(kernel, *args) for args in calls]:
        f.result()


def clip_rows(x: np.ndarray, ok: np.ndarray, clip_sigma: float, max_iters: int) -> dict:
    """Clip every row of ``x`` (M, N) over ``ok`` (M, N) bool (True = valid; must imply finite).

    Returns a dict of (M,) arrays: ``n_used``, ``n_valid``, ``mean``, ``std`` (N-1), ``converged``.
    """
    x = np.ascontiguousarray(x, dtype=np.float64)
    ok = np.ascontiguousarray(ok, dtype=np.bool_)
    m, npix = x.shape
    out = _outputs(m)
    if npix == 0:  # no values at all: nothing used, nothing to converge on
        out["n_used"][:] = out["n_valid"][:] = 0
        out["mean"][:] = out["std"][:] = np.nan
        out["converged"][:] = True
        return out
    inv, rem, ops, q = plan(npix)
    _run(clip_rows_kernel, [
        (x[a:b], ok[a:b], inv, rem, ops, q, float(clip_sigma), int(max_iters), *(out[k][a:b] for k in _RESULTS))
        for a, b in _parts(m, x.size)
    ])
    return out


def _runs(inv: np.ndarray) -> np.ndarray:
    """Per 8 slots of a :func:`plan`: the first row position when they hold 8 consecutive values
    (always a multiple of 8: leaves start at multiples of 8), else -1 (trailing terms, padding)."""
    eights = inv.reshape(-1, 8)
    full = (eights[:, :1] >= 0) & (eights == eights[:, :1] + np.arange(8)).all(axis=1, keepdims=True)
    out = np.where(full[:, 0], eights[:, 0], -1)
    out.flags.writeable = False  # cached with the plan
    return out


@functools.lru_cache(maxsize=64)
def _box_plan(npix: int) -> tuple:
    """:func:`plan` of a box of ``npix`` values and its :func:`_runs`: (inv, runs, rem, ops, q)."""
    inv, rem, ops, q = plan(npix)
    return inv, _runs(inv), rem, ops, q


def clip_stripe(frames: np.ndarray, offset: np.ndarray | None, skip: np.ndarray, bands, cols: np.ndarray,
                clip_sigma: float, max_iters: int) -> dict:
    """Clip every box of the box bands ``bands`` [(r0, r1), ...] (stripe rows) of the consecutive
    differences of ``frames``.

    ``frames`` (ng, h, nx) float32 group frames of one integration (DN); difference ``d`` is
    ``(frames[d + 1] - frames[d]) - offset[d]``, in float32, with ``offset`` (ng - 1, nx) a
    per-column offset (None: no offset).  ``skip`` (h, nx) bool (True = left out), ``cols``
    (nbx, width) column indices of each column box.  Returns a dict of arrays (nbands, nd, nbx):
    ``n_used``, ``n_valid``, ``mean``, ``std`` (N-1), ``converged``.
    """
    frames = np.ascontiguousarray(frames, dtype=np.float32)
    nd = frames.shape[0] - 1
    offset = np.zeros((nd, frames.shape[2]), np.float32) if offset is None else np.ascontiguousarray(offset, np.float32)
    skip = np.ascontiguousarray(skip, dtype=np.bool_)
    cols = np.ascontiguousarray(cols, dtype=np.int64)
    nbx, width = cols.shape
    contiguous = (cols == cols[:, :1] + np.arange(width)).all(axis=1)
    result = {k: np.empty((len(bands), nd, nbx), v.dtype) for k, v in _outputs(0).items()}
    heights = sorted({r1 - r0 for r0, r1 in bands})
    for height in heights:  # the frame's last band can be lower than the others
        which = [i for i, (r0, r1) in enumerate(bands) if r1 - r0 == height]
        band_r0 = np.array([bands[i][0] for i in which], np.int64)
        inv, runs, rem, ops, q = _box_plan(height * width)
        m = len(which) * nbx * nd
        out = _outputs(m)
        _run(clip_stripe_kernel, [
            (frames, offset, skip, band_r0, cols, contiguous, inv, runs, rem, ops, q, a, b, float(clip_sigma),
             int(max_iters), *(out[k][a:b] for k in _RESULTS))
            for a, b in _parts(m, m * height * width)
        ])
        for k in _RESULTS:  # (band, box, diff) -> (band, diff, box)
            result[k][which] = out[k].reshape(len(which), nbx, nd).transpose(0, 2, 1)
    return result


def warm_up() -> None:
    """Compile the kernels (or load them from the on-disk cache) for the types the analysis uses."""
    clip_rows(np.zeros((2, 8)), np.ones((2, 8), bool), 3.0, 10)
    clip_stripe(np.zeros((2, 8, 8), np.float32), None, np.zeros((8, 8), bool), [(0, 8)],
                np.arange(8)[None, :], 3.0, 10)
