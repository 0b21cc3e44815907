"""The compiled 1/f kernels (core.onef.kernel) against the numpy / scipy expressions they replaced in
core.onef (``accumulate.Accumulator.add``, ``_side_correction``, ``_time_domain`` and ``pixel_stack_mean``).

Each test writes the reference expression out in plain numpy, as the old code did, and runs it on
random float32 data shaped like read-order channel images (nout=4, ny, w) with NaNs, cosmic-ray-like
outliers (1e4 DN), masked samples and one output without any valid sample.  Small frames keep the
tests fast; one large frame per median-based kernel (>= 200 000 valid samples per output) takes the
bracketed-median path of core.median.

Tolerances:
* medians, centred / corrected samples, clip masks, sub-samples: exact -- the kernels select the same
  middle sample(s) and do the same float32 arithmetic as numpy;
* float64 sums: 1e-9 relative (1e-12 for the power sums) -- the kernels sum sequentially, numpy
  pairwise, so only the summation order differs (a few 1e-16 relative per sample);
* per-pixel stack means: 1e-6 relative -- a float32 result of a float64 sum (1 ulp is 6e-8).
"""

from __future__ import annotations

import sys
import warnings

import numpy as np
import pytest
from scipy.signal import savgol_coeffs, savgol_filter

from core.onef.accumulate import accumulate_power_halves, by_output_halves, fft_plan, row_medians_halves
from core.onef.analysis import pixel_stack_mean
from core.onef.kernel import (
    abs_dev_subsample,
    accumulate_power,
    clipped_stack_mean,
    row_medians,
    savgol_split_sums,
)
from core.onef.params import CLIP_SIGMA, SAVGOL_ORDER, SAVGOL_WINDOW
from tests.onef_reference_kernels import center_and_clip, neighbour_diff_sumsq, row_corrected, side_sums

SUM_RTOL = 1e-9
POWER_RTOL = 1e-12
MEAN_RTOL = 1e-6
SMALL = (4, 64, 40)
LARGE = (4, 512, 512)  # 262 144 samples per output: bracketed median (>= 200 000 valid)


def _quiet_nanmedian(*a, **k):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN slices give NaN, as the kernels
        return np.nanmedian(*a, **k)


def _frame(shape, seed, ties=False, dead=2):
    """Read-order channel images (float32, per-output offsets; sigma 6 DN), NaNs (1 %), cosmic rays
    (+-1e4 DN, 0.1 %), moderate outliers (up to +-300 DN, 0.2 %), and a ``valid`` mask = finite &
    active (a few masked columns and 2 % random gaps); output ``dead`` has no valid sample.
    ``ties``: data rounded to integers (many equal values)."""
    rng = np.random.default_rng(seed)
    nout, ny, w = shape
    chans = rng.normal(0.0, 6.0, shape) + np.array([3.0, -50.0, 1000.0, 0.25])[:nout, None, None]
    if ties:
        chans = np.round(chans)
    chans = chans.astype(np.float32)
    cr = rng.random(shape) < 1e-3
    chans[cr] = rng.choice(np.array([1e4, -1e4], np.float32), cr.sum())
    wide = rng.random(shape) < 2e-3  # 0-50 sigma: the clip threshold (20 sigma) must be right
    chans[wide] += rng.uniform(-300, 300, wide.sum()).astype(np.float32)
    chans[rng.random(shape) < 0.01] = np.nan
    active = rng.random(shape) > 0.02
    active[0, :, :4] = False  # like reference columns: first in read order for one output,
    active[-1, :, -4:] = False  # last for another
    if dead is not None:
        active[dead] = False
    valid = np.isfinite(chans) & active
    return chans, valid


def _assert_sums(got, want, rtol=SUM_RTOL, scale=None):
    """rtol relative, plus ``rtol * scale`` absolute for sums that cancel to near 0 (row sums of
    centred samples): the rounding error is relative to the sum of |terms|, not to the result."""
    got = np.asarray(got, np.float64)
    want = np.asarray(want, np.float64)
    atol = 0.0 if scale is None else rtol * np.asarray(scale, np.float64)
    assert got.shape == want.shape
    assert np.all(np.abs(got - want) <= rtol * np.abs(want) + atol), np.max(np.abs(got - want))


# ------------------------------------------------------------------------------------------------
# center_and_clip (``Accumulator.add``)
# ------------------------------------------------------------------------------------------------
def _center_and_clip_reference(chans, valid, clip_sigma):
    """The old per-output numpy code; modifies ``chans`` and ``valid`` in place, as the kernel."""
    nout = chans.shape[0]
    med = np.zeros(nout, np.float32)
    nclipped = 0
    for k in range(nout):
        v = chans[k][valid[k]]
        if v.size == 0:
            continue
        m = np.float32(np.median(v))
        med[k] = m
        chans[k] -= m
        sub = (v - m)[:: max(1, v.size // 200_000)]
        sig = 1.4826 * np.median(np.abs(sub))
        if sig > 0:
            out = valid[k] & (np.abs(chans[k]) > clip_sigma * sig)
            nclipped += int(out.sum())
            valid[k] &= ~out
    x = np.where(valid, chans, np.float32(0))
    return (x, med, nclipped, valid.sum(axis=(1, 2)), (x.astype(np.float64) ** 2).sum(axis=(1, 2)),
            x.sum(axis=2, dtype=np.float64), valid.sum(axis=2))


@pytest.mark.parametrize("shape, ties, halves", [
    (SMALL, False, False),
    (SMALL, True, False),
    (LARGE, False, False),
    (LARGE, False, True),  # through core.onef.accumulate.by_output_halves, as Accumulator.add calls it
    ((4, 1024, 512), False, False),  # > 400 000 valid per output: robust sigma from every 2nd sample
])
def test_center_and_clip_matches_numpy(shape, ties, halves):
    """Medians, centred samples (in place), clip mask (in place), x and counts exact; float64 sums
    within 1e-9 relative (summation order only)."""
    chans, valid = _frame(shape, seed=shape[1] + ties)
    if ties:  # output 3: mostly one value -> robust sigma 0 -> nothing clipped there
        chans[3, :, : shape[2] * 3 // 4] = 7.0
        chans[3, 5, 32], valid[3, 5, 32] = 1e4, True  # kept: no clipping without a sigma
    rc, rv = chans.copy(), valid.copy()
    want = _center_and_clip_reference(rc, rv, CLIP_SIGMA)
    kernel = by_output_halves if halves else (lambda f, *a: f(*a))
    x, med, nclipped, nvalid, sumsq, rowsum, rowcnt = kernel(center_and_clip, chans, valid, CLIP_SIGMA)
    wx, wmed, wncl, wnvalid, wsumsq, wrowsum, wrowcnt = want
    assert want[2] > 0  # the cosmic rays were clipped: the clip path is exercised
    assert wnvalid[2] == 0 and (shape[1] * shape[2] < 200_000 or wnvalid[[0, 1, 3]].min() >= 200_000)
    np.testing.assert_array_equal(med, wmed)
    np.testing.assert_array_equal(chans, rc)  # centred in place (NaN == NaN here)
    np.testing.assert_array_equal(valid, rv)  # clipped in place
    if ties:
        assert valid[3, 5, 32] and wmed[3] == 7.0
    np.testing.assert_array_equal(x, wx)
    assert x.dtype == np.float32
    assert int(nclipped) == wncl
    np.testing.assert_array_equal(nvalid, wnvalid)
    np.testing.assert_array_equal(rowcnt, wrowcnt)
    _assert_sums(sumsq, wsumsq)
    _assert_sums(rowsum, wrowsum, scale=np.abs(wx).astype(np.float64).sum(axis=2))


@pytest.mark.parametrize("halves", [False, True])
def test_kernels_write_into_a_reused_buffer(halves):
    """As Accumulator.add calls them: x and xa written into a reused buffer that holds garbage
    (NaN) from before, by output halves in two threads: every element is written (0 where not
    valid, also for the output without any valid sample), equal to the freshly allocated result."""
    chans, valid = _frame(LARGE, seed=7)
    corr = np.random.default_rng(8).normal(0, 3, LARGE[1]).astype(np.float32)
    fresh = center_and_clip(chans.copy(), valid.copy(), CLIP_SIGMA)
    c2, v2 = chans.copy(), valid.copy()
    buf = np.full(LARGE, np.nan, np.float32)
    if halves:
        rest = by_output_halves(lambda c, v, o: center_and_clip(c, v, CLIP_SIGMA, o)[1:], c2, v2, buf, split=3)
    else:
        rest = center_and_clip(c2, v2, CLIP_SIGMA, buf)[1:]
    np.testing.assert_array_equal(buf, fresh[0])
    assert valid[2].sum() == 0 and np.all(buf[2] == 0)
    np.testing.assert_array_equal(rest[0], fresh[1])
    np.testing.assert_array_equal(rest[2], fresh[3])
    want_xa = row_corrected(c2, v2, corr)[0]
    buf[:] = np.nan
    if halves:
        by_output_halves(lambda c, v, o: row_corrected(c, v, corr, o)[1:], c2, v2, buf, split=3)
    else:
        row_corrected(c2, v2, corr, buf)
    np.testing.assert_array_equal(buf, want_xa)


def test_center_and_clip_robust_sigma_uses_every_step_th_valid_sample():
    """The robust sigma comes from every ``n // 200000``-th valid sample in C order.  Output 0 has
    sigma 1 at even and 10 at odd positions, all valid, n = 524 288 (step 2): the sub-sample is the
    quiet half, so ~5 % of the odd samples are clipped; another step or no sub-sampling gives
    another sigma and another clip mask.  Exact, as the other center_and_clip checks."""
    rng = np.random.default_rng(41)
    shape = (4, 1024, 512)
    chans = rng.normal(0, 1, shape).astype(np.float32)
    chans[0].reshape(-1)[1::2] *= 10
    valid = np.ones(shape, bool)
    valid[1:, :, :3] = False
    rc, rv = chans.copy(), valid.copy()
    want = _center_and_clip_reference(rc, rv, CLIP_SIGMA)
    got = center_and_clip(chans, valid, CLIP_SIGMA)
    assert np.count_nonzero(~rv[0]) > 10_000
    np.testing.assert_array_equal(valid, rv)
    np.testing.assert_array_equal(got[1], want[1])
    assert int(got[2]) == want[2]
    np.testing.assert_array_equal(got[0], want[0])


# ------------------------------------------------------------------------------------------------
# accumulate_power (``add`` and ``_side_correction``)
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("with_pairs", [True, False])
def test_accumulate_power_matches_numpy(with_pairs):
    """auto += w |X|^2, cross[j] += w Re(X_a X_b*) in float64, added to what the sums held;
    1e-12 relative (a few float64 roundings per element)."""
    rng = np.random.default_rng(5)
    nout, nf = 4, 1001
    X = (rng.normal(0, 30, (nout, nf)) + 1j * rng.normal(0, 30, (nout, nf))).astype(np.complex64)
    X[:, 0] = X[:, 0].real  # DC
    pairs = [(a, b) for a in range(nout) for b in range(a + 1, nout)] if with_pairs else []
    pa = np.array([a for a, _ in pairs], np.int64)
    pb = np.array([b for _, b in pairs], np.int64)
    auto0 = rng.random((nout, nf)) * 1e3
    cross0 = rng.normal(0, 1e3, (len(pairs), nf))
    w = 0.37
    auto, cross = auto0.copy(), cross0.copy()
    accumulate_power(X, w, auto, cross, pa, pb)
    # as Accumulator calls it: frequency halves in two threads give the same sums, bit for bit
    auto2, cross2 = auto0.copy(), cross0.copy()
    accumulate_power_halves(X, w, auto2, cross2, pa, pb)
    np.testing.assert_array_equal(auto2, auto)
    np.testing.assert_array_equal(cross2, cross)
    re, im = X.real.astype(np.float64), X.imag.astype(np.float64)
    np.testing.assert_allclose(auto, auto0 + w * (re ** 2 + im ** 2), rtol=POWER_RTOL, atol=0)
    want_cross = cross0 + np.array([w * (X[a] * np.conj(X[b]).astype(np.complex128)).real for a, b in pairs]
                                   ).reshape(len(pairs), nf)
    # Cross sums cancel: relative to the size of the terms, not of the result.
    scale = np.abs(cross0) + w * np.array([np.abs(X[a]) * np.abs(X[b]) for a, b in pairs]).reshape(len(pairs), nf)
    assert np.all(np.abs(cross - want_cross) <= POWER_RTOL * scale)


# ------------------------------------------------------------------------------------------------
# neighbour_diff_sumsq, side_sums, row_corrected (``_side_correction``)
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("shape", [SMALL, LARGE])
def test_neighbour_diff_sumsq_matches_numpy(shape):
    """Per output: sum of squared float32 neighbour differences (float64 squares) where both samples
    are in the mask, and the pair count; sums 1e-9 relative, counts exact."""
    chans, valid = _frame(shape, seed=11)
    side = np.isfinite(chans) & ~valid  # the "side" samples: beside non-finite ones (must not leak NaN)
    assert not np.isfinite(chans).all()
    got = neighbour_diff_sumsq(chans, side, valid)
    got2 = by_output_halves(neighbour_diff_sumsq, chans, side, valid, split=3)
    for j, mask in enumerate((side, valid)):  # both masks from one pass
        both = mask[..., 1:] & mask[..., :-1]
        d = (chans[..., 1:] - chans[..., :-1]).astype(np.float64)  # float32 difference
        want_ss = np.where(both, d ** 2, 0.0).sum(axis=(1, 2))
        ss, n = got[2 * j], got[2 * j + 1]
        np.testing.assert_array_equal(n, both.sum(axis=(1, 2)))
        _assert_sums(ss, want_ss)
        ss2, n2 = got2[2 * j], got2[2 * j + 1]
        np.testing.assert_array_equal(n2, n)
        _assert_sums(ss2, want_ss)
    assert got[3][2] == 0  # the dead output


def test_side_sums_matches_numpy():
    """Per read-order row: sum (float64) and count of the side samples of all outputs; 1e-9
    relative (with the sum of |terms| as scale, rows cancel), counts exact."""
    chans, valid = _frame(SMALL, seed=12)
    side = np.zeros(SMALL, bool)
    side[:, :, :4] = True
    side[:, :, -3:] = True
    side[:, 5:9] = False  # rows without any side sample
    side &= np.isfinite(chans)
    num, cnt = side_sums(chans, side)
    xs = np.where(side, chans, 0).astype(np.float64)
    np.testing.assert_array_equal(cnt, side.sum(axis=(0, 2)))
    _assert_sums(num, xs.sum(axis=(0, 2)), scale=np.abs(xs).sum(axis=(0, 2)))
    assert np.all(cnt[5:9] == 0) and np.all(num[5:9] == 0)


@pytest.mark.parametrize("shape", [SMALL, LARGE])
def test_row_corrected_matches_numpy(shape):
    """After the row correction: xa exact (same float32 subtraction, same median), sumsq and rowsum
    within 1e-9 relative (summation order)."""
    chans, valid = _frame(shape, seed=13)
    rng = np.random.default_rng(14)
    corr = rng.normal(0, 3, shape[1]).astype(np.float32)
    corr[:3] = 0.0
    after = chans - corr[None, :, None]
    for k in range(shape[0]):
        if valid[k].any():
            after[k] -= np.median(after[k][valid[k]])
    wxa = np.where(valid, after, np.float32(0))
    xa, sumsq, rowsum = row_corrected(chans, valid, corr)
    assert xa.dtype == np.float32
    np.testing.assert_array_equal(xa, wxa)
    _assert_sums(sumsq, (wxa.astype(np.float64) ** 2).sum(axis=(1, 2)))
    _assert_sums(rowsum, wxa.sum(axis=2, dtype=np.float64), scale=np.abs(wxa).astype(np.float64).sum(axis=2))
    xa2, sumsq2, rowsum2 = by_output_halves(row_corrected, chans, valid, corr)
    np.testing.assert_array_equal(xa2, wxa)
    _assert_sums(sumsq2, (wxa.astype(np.float64) ** 2).sum(axis=(1, 2)))


# ------------------------------------------------------------------------------------------------
# savgol_split_sums (``_time_domain``)
# ------------------------------------------------------------------------------------------------
def _edges(flat):
    """edge_model exactly as ``Accumulator._time_domain`` builds it."""
    h = SAVGOL_WINDOW // 2
    return np.stack([savgol_filter(flat[:, :SAVGOL_WINDOW], SAVGOL_WINDOW, SAVGOL_ORDER, axis=-1,
                                   mode="interp")[:, :h],
                     savgol_filter(flat[:, -SAVGOL_WINDOW:], SAVGOL_WINDOW, SAVGOL_ORDER, axis=-1,
                                   mode="interp")[:, -h:]], axis=1).astype(np.float64)


def _split_reference(x, valid):
    model = savgol_filter(x, SAVGOL_WINDOW, SAVGOL_ORDER, axis=-1, mode="interp")
    corr = model.mean(axis=0)
    unc = model - corr
    corr_ss = sum(float(np.sum(corr[valid[k]] ** 2)) for k in range(x.shape[0]))
    unc_ss = np.array([np.sum(unc[k][valid[k]] ** 2) for k in range(x.shape[0])])
    return corr_ss, int(valid.sum()), unc_ss, valid.sum(axis=1)


def _series(n, seed):
    """(4, n) read-order series as _time_domain gets them: x = 0 where not valid; 1/f-like common
    part (random walk) plus white noise, one output without valid samples."""
    rng = np.random.default_rng(seed)
    common = np.cumsum(rng.normal(0, 0.3, n))
    x = (common + rng.normal(0, 5, (4, n)) + np.cumsum(rng.normal(0, 0.1, (4, n)), axis=1)).astype(np.float32)
    valid = rng.random((4, n)) > 0.03
    valid[:, :7] = False  # gaps among the end samples
    valid[2] = False
    x[~valid] = 0.0
    return x, valid


@pytest.mark.parametrize("n", [
    64 * 40,  # one small frame: 1 full block + a part block
    2048 * 2 + 5,  # last block holds only end samples (5 < 15); the one before ends in 10 more
    2048 * 3,  # a multiple of the block size
    2048 + 15,  # last block = exactly the last-window end samples
    100,  # one block, shorter than it
])
def test_savgol_split_sums_matches_scipy(n):
    """corr_ss, unc_ss within 1e-9 relative, counts exact, against savgol_filter(mode='interp').

    The reference (and the edge model) is computed from float64 x: for float32 input scipy filters
    in float32 (~1e-7 relative per sample), while the kernel multiplies the float32 samples by
    float64 coefficients; with float64 x both are float64 and differ only in summation order."""
    x, valid = _series(n, seed=n)
    coeffs = savgol_coeffs(SAVGOL_WINDOW, SAVGOL_ORDER, use="dot").astype(np.float64)
    x64 = x.astype(np.float64)
    got = savgol_split_sums(x, valid, coeffs, _edges(x64))
    want = _split_reference(x64, valid)
    _assert_sums(got[0], want[0])
    assert int(got[1]) == want[1]
    _assert_sums(got[2], want[2])
    np.testing.assert_array_equal(got[3], want[3])
    assert got[3][2] == 0 and got[2][2] == 0.0
    # Sample ranges (how _time_domain splits the work over two threads): the parts add up to the whole.
    for cut in sorted({min(n, 2048), min(n, 4096), n // 2, n // 2 + 7, n - 3}):
        a = savgol_split_sums(x, valid, coeffs, _edges(x64), 0, cut)
        b = savgol_split_sums(x, valid, coeffs, _edges(x64), cut, n)
        _assert_sums(a[0] + b[0], want[0])
        assert int(a[1] + b[1]) == want[1]
        _assert_sums(a[2] + b[2], want[2])
        np.testing.assert_array_equal(a[3] + b[3], want[3])


def test_savgol_split_sums_float32_as_called():
    """As ``_time_domain`` calls it (edge model from the float32 series) against the old float32
    scipy expression: 1e-5 relative, the float32 rounding of scipy's filter output (~1e-7 per
    sample) accumulated through the corr = mean cancellation."""
    x, valid = _series(64 * 40 * 4, seed=3)
    coeffs = savgol_coeffs(SAVGOL_WINDOW, SAVGOL_ORDER, use="dot").astype(np.float64)
    got = savgol_split_sums(x, valid, coeffs, _edges(x))
    want = _split_reference(x, valid)
    _assert_sums(got[0], want[0], rtol=1e-5)
    _assert_sums(got[2], want[2], rtol=1e-5)


# ------------------------------------------------------------------------------------------------
# row_medians (banding image column)
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("ties", [False, True])
def test_row_medians_matches_nanmedian(ties):
    """Median over all outputs' valid samples of each row, NaN for rows without any: exact float32."""
    chans, valid = _frame(SMALL, seed=21, ties=ties)
    valid[:, 10] = False  # a row without valid samples
    valid[:, 11] = False
    valid[1, 11, 7] = True  # a row with one valid sample...
    valid[3, 12] = False
    valid[:, 12, 9:] = False
    valid[0, 12, 9] = True  # ...and one with an even count
    chans[1, 11, 7] = 42.5
    ny = SMALL[1]
    want = _quiet_nanmedian(np.where(valid, chans, np.nan).transpose(1, 0, 2).reshape(ny, -1), axis=1)
    want = want.astype(np.float32)
    assert np.isnan(want[10]) and want[11] == np.float32(42.5)
    np.testing.assert_array_equal(row_medians(chans, valid, 0, ny), want)
    np.testing.assert_array_equal(row_medians(chans, valid, 7, 30), want[7:30])
    np.testing.assert_array_equal(row_medians_halves(chans, valid), want)


# ------------------------------------------------------------------------------------------------
# abs_dev_subsample, clipped_stack_mean, pixel_stack_mean
# ------------------------------------------------------------------------------------------------
def _stack(shape, seed):
    """CDS stack (n, ny, nx) float32 with per-pixel offsets, NaNs, cosmic rays, an all-NaN pixel."""
    rng = np.random.default_rng(seed)
    d = (rng.normal(0, 8, shape) + rng.normal(0, 50, shape[1:])).astype(np.float32)
    cr = rng.random(shape) < 2e-3
    d[cr] = rng.choice(np.array([1e4, -1e4], np.float32), cr.sum())
    d[rng.random(shape) < 0.02] = np.nan
    d[:, 3, 4] = np.nan
    return d


def _stack_mean_reference(d):
    """``pixel_stack_mean`` as the old numpy code computed it."""
    med = _quiet_nanmedian(d, axis=0)
    dev = np.abs(d - med)
    fin = dev[np.isfinite(dev)]
    sig = 1.4826 * float(np.median(fin[:: max(1, fin.size // 200_000)]))
    bad = ~np.isfinite(d) | (dev > CLIP_SIGMA * sig)
    cnt = (~bad).sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(bad, 0, d).sum(axis=0, dtype=np.float64) / cnt
    return np.where(cnt > 0, mean, np.nan), sig, bad


@pytest.mark.parametrize("target", [200_000, 1000, 1])
def test_abs_dev_subsample_matches_numpy(target):
    """Every step-th finite |d - med| in C order, step = max(1, nfinite // target): exact."""
    d = _stack((7, 64, 40), seed=31).reshape(7, -1)
    med = _quiet_nanmedian(d, axis=0).astype(np.float32)
    dev = np.abs(d - med)
    fin = dev[np.isfinite(dev)]
    want = fin[:: max(1, fin.size // target)]
    got = abs_dev_subsample(d, med, target)
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, want)


def test_clipped_stack_mean_matches_numpy():
    """Mean of the finite samples within ``limit`` of the pixel median (all finite ones for limit
    <= 0), NaN without any; 1e-6 relative (float32 result of a float64 sum)."""
    d = _stack((7, 64, 40), seed=32).reshape(7, -1)
    med = _quiet_nanmedian(d, axis=0).astype(np.float32)
    for limit in (30.0, 5.0, 0.0):
        keep = np.isfinite(d) & ((np.abs(d - med) <= limit) if limit > 0 else True)
        cnt = keep.sum(axis=0)
        with np.errstate(invalid="ignore", divide="ignore"):
            want = np.where(cnt > 0, np.where(keep, d, 0).sum(axis=0, dtype=np.float64) / cnt, np.nan)
        got = clipped_stack_mean(d, med, limit)
        assert got.dtype == np.float32
        np.testing.assert_allclose(got, want, rtol=MEAN_RTOL, atol=0, equal_nan=True)
        assert np.isnan(got[3 * 40 + 4])


@pytest.mark.parametrize("shape", [(6, 64, 40), (5, 64, 40), (9, 256, 256)])
def test_pixel_stack_mean_matches_numpy(shape):
    """core.onef.analysis.pixel_stack_mean as a whole against the old numpy expression (nanmedian, robust
    sigma of the sub-sampled deviations, 20-sigma clip, mean): 1e-6 relative.  (9, 256, 256) has
    ~580 000 finite deviations: sub-sampled (step 2) and a bracketed median of the sub-sample."""
    d = _stack(shape, seed=shape[0])
    want, sig, bad = _stack_mean_reference(d)
    assert sig > 0 and np.count_nonzero(bad & np.isfinite(d)) > 0  # outliers were clipped
    got = pixel_stack_mean(d)
    assert got.shape == shape[1:] and got.dtype == np.float32
    np.testing.assert_allclose(got, want, rtol=MEAN_RTOL, atol=0, equal_nan=True)
    assert np.isnan(got[3, 4])


@pytest.mark.parametrize("backend", ["default", "scipy"])
def test_fft_plan_is_the_real_fft_of_its_buffer(backend, monkeypatch):
    """``fft_plan``: FFTW (pyFFTW, when installed) or scipy's pocketfft must give numpy's
    float64 rfft of the buffer contents after they are written in place, call after call (the plan
    reads the buffer it returned).  Tolerance 2e-6 of the spectrum's peak: single-precision
    transforms of 2 x 3000 samples of O(1) values."""
    if backend == "scipy":
        monkeypatch.setitem(sys.modules, "pyfftw", None)  # import fails: the fallback
    rng = np.random.default_rng(11)
    buf, plan = fft_plan(2, 3000)
    assert buf.shape == (2, 3000) and not buf.any()
    for _ in range(2):
        buf[:, :2500] = rng.normal(0, 1, (2, 2500)).astype(np.float32)
        got = np.array(plan())
        want = np.fft.rfft(buf.astype(np.float64), axis=-1)
        assert got.shape == want.shape
        np.testing.assert_allclose(got, want, atol=2e-6 * np.abs(want).max(), rtol=0)
