"""Compiled medians and histogram against numpy: they replace numpy calls, so the answer must be
numpy's (the same middle sample(s); exact equality, not a tolerance)."""

import warnings

import numba
import numpy as np
import pytest

from core.median import HIST_BINS, abs_histogram, hist_median, median_along0, median_of, nanmedian_last


def _nanmedian(*a, **k):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN slices
        return np.nanmedian(*a, **k)


@pytest.mark.parametrize("n", [1, 2, 9, 10, 33, 54, 107, 128, 129])
def test_median_along_axis0_is_numpys(n):
    """Up to RANK_MAX_N (128) samples the branch-free rank median, above it the selection."""
    rng = np.random.default_rng(n)
    x = np.round(rng.normal(0, 3, (n, 37, 300))).astype(np.float32)  # integers: ties
    x[rng.random(x.shape) < 0.05] = np.nan
    x[:, 0, :7] = np.nan  # columns with no finite sample
    got = median_along0(x)
    assert got.shape == (37, 300)
    np.testing.assert_array_equal(got, _nanmedian(x, axis=0).astype(np.float32))


@pytest.mark.parametrize("size", [5, 1_000, 250_001, 1_000_000])
def test_median_of_large_and_small_samples_is_numpys(size):
    """Above 200 000 samples the median is found inside a bracket from a sub-sample; outliers and
    ties must not move it."""
    rng = np.random.default_rng(size)
    for v in (rng.normal(3, 5, size), np.round(rng.normal(3, 5, size)), rng.exponential(2, size)):
        v = v.astype(np.float32)
        v[::11] = np.nan
        v[::997] = 1e6
        assert median_of(v) == np.float32(_nanmedian(v))


def test_row_medians_and_all_nan_rows():
    rng = np.random.default_rng(3)
    a = rng.normal(0, 1, (50, 2048)).astype(np.float32)
    a[rng.random(a.shape) < 0.3] = np.nan
    a[4] = np.nan
    got = nanmedian_last(a)
    np.testing.assert_array_equal(got, _nanmedian(a, axis=1).astype(np.float32))
    assert np.isnan(got[4])


def test_abs_histogram_is_the_rounded_bincount():
    rng = np.random.default_rng(4)
    v = (rng.normal(0, 30, 100_000)).astype(np.float32)
    v[:20] = [0.5, 1.5, 2.5, -0.5, -1.5, np.nan, np.inf, 9000, -9000, 8191.4] + [0.0] * 10
    fin = v[np.isfinite(v)]
    want = np.bincount(np.minimum(np.rint(np.abs(fin)), 8192).astype(np.int64), minlength=8193)
    np.testing.assert_array_equal(abs_histogram(v, 8192), want)


@numba.njit(cache=False)
def _run_hist_median(buf, n):
    return hist_median(buf, n, np.empty(HIST_BINS, np.int64), np.empty(n + 1, np.float64))


def _hist_median_of(v: np.ndarray) -> float:
    """core.median.hist_median on a copy of v (the inlined helper, through one jitted wrapper)."""
    return _run_hist_median(np.asarray(v, np.float64).copy(), v.size)


@pytest.mark.parametrize("size", [1, 2, 3, 4, 31, 2032, 2033, 20_000])
def test_hist_median_is_numpys_for_hard_distributions(size):
    """The histogram pre-pass must find the exact middle sample(s) whatever the spread: one huge
    outlier (everything else in one bin), heavy tails, only two distinct values, all equal, ties."""
    rng = np.random.default_rng(size)
    cases = [rng.normal(0, 7, size), np.round(rng.normal(0, 3, size)), rng.standard_cauchy(size),
             rng.exponential(2, size), np.where(rng.random(size) < 0.5, -1.0, 2.0), np.full(size, 3.25)]
    spike = rng.normal(0, 1, size)
    spike[0] = 1e30
    cases.append(spike)
    for v in cases:
        v = v.astype(np.float32).astype(np.float64)
        assert _hist_median_of(v) == np.median(v), v[:5]
    assert np.isnan(_hist_median_of(np.zeros(0)))
