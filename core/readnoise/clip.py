"""Compiled per-pixel sigma clipping: astropy's fast ``sigma_clip`` path, sample for sample.

jwst_reffiles calls ``astropy.stats.sigma_clip(stack, sigma, maxiters, axis=0)`` (median centre,
ddof=0 std about the mean), which runs astropy's C routine ``compute_sigma_clipped_bounds`` once per
pixel through a generic ufunc loop -- about 0.15 s per million pixels x 10 samples, most of the
native engine's time.  The functions here replicate that routine operation for operation, in
float64 and in the same order (Wirth's ``kth_smallest`` with its in-place swaps, then the mean and
the std summed over the *permuted* buffer, then the packing), so the bounds are bit-identical and
exactly the same samples are kept -- including ties at a bound, which any other implementation
resolves differently through rounding.  As in astropy, the samples finally kept are all finite
input samples inside the *last* bounds (one rejected early can come back).

The kernels are compiled with numba (``nogil``: the engine's threads run them on both cores) and
cached on disk next to this file, so the one-time compilation (a few seconds) is paid once per
installation.  Arrays are (nsamples, npixels) float32, samples along axis 0 as in the stacks the
engine builds; NaN marks a missing sample (saturated, non-finite).
"""

from __future__ import annotations

import math

import numba
import numpy as np

from core.select import BLOCK, kth_smallest


@numba.njit(cache=True, inline="always")
def _bounds(buf, count, sigma, maxiters):
    """astropy's compute_sigma_clipped_bounds with median centre and std: (lower, upper).

    ``buf[:count]`` holds the finite samples (float64) and is reordered and packed in place.
    ``maxiters`` < 0 means until convergence.
    """
    lower = np.nan
    upper = np.nan
    iteration = 0
    while True:
        if count % 2 == 0:
            m1 = kth_smallest(buf, count, count // 2)
            m2 = kth_smallest(buf, count, count // 2 - 1)
            median = 0.5 * (m1 + m2)
        else:
            median = kth_smallest(buf, count, (count - 1) // 2)
        mean = 0.0
        for i in range(count):
            mean += buf[i]
        mean /= count
        std = 0.0
        for i in range(count):
            std += (buf[i] - mean) * (buf[i] - mean)
        std = math.sqrt(std / count)
        lower = median - sigma * std
        upper = median + sigma * std
        new_count = 0
        for i in range(count):
            if buf[i] >= lower and buf[i] <= upper:
                buf[new_count] = buf[i]
                new_count += 1
        if new_count == count or new_count == 0:
            return lower, upper
        count = new_count
        iteration += 1
        if maxiters >= 0 and iteration >= maxiters:
            return lower, upper


@numba.njit(cache=True, nogil=True)
def clipped_moments(stack, sigma, maxiters, want_std):
    """Per column of ``stack`` (nsamples, npix) float32: the astropy-clipped std (``want_std``) or
    mean of the kept samples, and how many were kept.

    std: ddof=0, two passes in float64 (as ``np.std`` of the masked array, to ~1e-7 relative).
    A column with no finite sample, or none kept, gives NaN and 0.

    Most pixels lose no sample in astropy's first pass.  For them the answer is the plain mean/std,
    and that they lose nothing can be decided without the median: all samples lie within
    sigma*std of the median iff  max - sigma*std <= median <= min + sigma*std, and where the median
    lies against a value follows from counting the samples below (above) it.  These sums run across
    a block of pixels at a time (contiguous, vectorised); a pixel where the test is not decided
    with a 1e-9 relative margin -- so neither rounding nor astropy's summation order can matter --
    takes the exact replica of astropy's routine.
    """
    n, npix = stack.shape
    out = np.empty(npix, np.float32)
    kept = np.zeros(npix, np.int32)
    buf = np.empty(n, np.float64)
    vals = np.empty(n, np.float64)
    cnt = np.empty(BLOCK, np.int64)
    tot = np.empty(BLOCK, np.float64)
    lo = np.empty(BLOCK, np.float64)
    hi = np.empty(BLOCK, np.float64)
    ss = np.empty(BLOCK, np.float64)
    a = np.empty(BLOCK, np.float64)
    b = np.empty(BLOCK, np.float64)
    below = np.empty(BLOCK, np.int64)
    above = np.empty(BLOCK, np.int64)
    for b0 in range(0, npix, BLOCK):
        nb = min(npix, b0 + BLOCK) - b0
        cnt[:] = 0
        tot[:] = 0.0
        lo[:] = np.inf
        hi[:] = -np.inf
        ss[:] = 0.0
        below[:] = 0
        above[:] = 0
        for s in range(n):
            row = stack[s, b0:b0 + nb]
            for q in range(nb):
                v = np.float64(row[q])
                f = np.isfinite(v)
                cnt[q] += f
                tot[q] += v if f else 0.0
                lo[q] = min(lo[q], v) if f else lo[q]
                hi[q] = max(hi[q], v) if f else hi[q]
        for q in range(nb):
            tot[q] = tot[q] / cnt[q] if cnt[q] > 0 else 0.0  # the mean from here on
        for s in range(n):
            row = stack[s, b0:b0 + nb]
            for q in range(nb):
                v = np.float64(row[q])
                d = v - tot[q]
                ss[q] += d * d if np.isfinite(v) else 0.0
        for q in range(nb):
            sd = math.sqrt(ss[q] / cnt[q]) if cnt[q] > 0 else 0.0
            ss[q] = sd  # the std from here on
            margin = 1e-9 * (abs(hi[q]) + abs(lo[q]) + sigma * sd)
            a[q] = hi[q] - sigma * sd + margin
            b[q] = lo[q] + sigma * sd - margin
        for s in range(n):
            row = stack[s, b0:b0 + nb]
            for q in range(nb):
                v = np.float64(row[q])  # NaN compares False: never counted
                below[q] += v < a[q]
                above[q] += v > b[q]
        for q in range(nb):
            p = b0 + q
            c = cnt[q]
            if c == 0:
                out[p] = np.nan
                continue
            half = (c - 1) // 2  # both middle samples (one when odd) are >= a when below <= half
            if sigma >= 0 and below[q] <= half and above[q] <= half:
                kept[p] = c
                out[p] = ss[q] if want_std else tot[q]
                continue
            _exact_pixel(stack, p, vals, buf, sigma, maxiters, want_std, out, kept)
    return out, kept


@numba.njit(cache=True, inline="always")
def _exact_pixel(stack, p, vals, buf, sigma, maxiters, want_std, out, kept):
    """Pixel ``p`` through the exact replica of astropy's routine."""
    count = 0
    for s in range(stack.shape[0]):
        v = np.float64(stack[s, p])
        if np.isfinite(v):
            vals[count] = v
            buf[count] = v
            count += 1
    lower, upper = _bounds(buf, count, sigma, maxiters)
    m = 0
    total = 0.0
    for i in range(count):
        v = vals[i]
        if v >= lower and v <= upper:
            total += v
            m += 1
    kept[p] = m
    if m == 0:
        out[p] = np.nan
        return
    mean = total / m
    if not want_std:
        out[p] = mean
        return
    ss = 0.0
    for i in range(count):
        v = vals[i]
        if v >= lower and v <= upper:
            ss += (v - mean) * (v - mean)
    out[p] = math.sqrt(ss / m)

def clipped_std_fast(stack: np.ndarray, sigma: float = 3.0, maxiters: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """(clipped std ddof=0, kept count) along axis 0 of a (nsamples, ...) stack, float32 / int32."""
    x = np.ascontiguousarray(stack, dtype=np.float32)
    flat = x.reshape(x.shape[0], -1)
    std, kept = clipped_moments(flat, float(sigma), int(maxiters), True)
    return std.reshape(x.shape[1:]), kept.reshape(x.shape[1:])


def clipped_mean_fast(stack: np.ndarray, sigma: float = 3.0, maxiters: int = 3) -> np.ndarray:
    """Clipped mean along axis 0 (jwst_reffiles' ``calculate_mean``: the ramp method's combine)."""
    x = np.ascontiguousarray(stack, dtype=np.float32)
    flat = x.reshape(x.shape[0], -1)
    mean, _ = clipped_moments(flat, float(sigma), int(maxiters), False)
    return mean.reshape(x.shape[1:])
