"""The compiled sigma clip against astropy's own ``sigma_clip`` (what jwst_reffiles calls).

The kernel exists for speed; its only acceptable answer is astropy's.  Injected: CDS-like integer
samples (ties everywhere), outliers, missing samples.  Tolerance: the *same* samples kept in every
pixel (exact), and the std within 1e-5 DN or 1e-6 relative (float64 here, float32 in numpy's
masked std).
"""

import warnings

import numpy as np
import pytest
from astropy.stats import sigma_clip

from core.readnoise.clip import clipped_mean_fast, clipped_std_fast


def _astropy(x, sigma, maxiters):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        c = sigma_clip(x, sigma=sigma, maxiters=maxiters, axis=0, masked=True)
        return (np.std(c, axis=0).filled(np.nan), np.mean(c, axis=0).filled(np.nan),
                (~np.ma.getmaskarray(c)).sum(axis=0))


@pytest.mark.parametrize("n", [2, 3, 9, 10, 20, 54])
@pytest.mark.parametrize("sigma,maxiters", [(3.0, 3), (2.5, 5), (3.0, 1)])
def test_same_samples_kept_as_astropy(n, sigma, maxiters):
    rng = np.random.default_rng(n)
    x = np.round(rng.normal(0, 4, (n, 60_000))).astype(np.float32)  # small integers: many ties
    hot = rng.random(x.shape) < 0.01
    x[hot] += rng.choice([-300, 400], hot.sum())
    x[rng.random(x.shape) < 0.02] = np.nan  # saturated / missing samples
    x[:, :50] = np.nan  # pixels with no sample at all
    std, kept = clipped_std_fast(x, sigma, maxiters)
    mean = clipped_mean_fast(x, sigma, maxiters)
    ref_std, ref_mean, ref_kept = _astropy(x, sigma, maxiters)
    assert np.array_equal(kept, ref_kept)
    assert np.array_equal(np.isnan(std), np.isnan(ref_std))
    # numpy's masked std/mean run in float32: 1e-6 relative (outliers reach hundreds of DN)
    np.testing.assert_allclose(std, ref_std, rtol=1e-6, atol=1e-5)
    np.testing.assert_allclose(mean, ref_mean, rtol=1e-6, atol=1e-5)


def test_exact_ties_at_the_bound_resolved_as_astropy():
    """Pixels where a sample equals astropy's bound to the last bit (found by search, then checked
    present): keeping or dropping it is decided by float rounding, so only a replica agrees."""
    rng = np.random.default_rng(7)
    x = rng.integers(-3, 4, (10, 400_000)).astype(np.float32)
    x[0] = rng.integers(-12, 13, 400_000)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _, lo, hi = sigma_clip(x, sigma=2.0, maxiters=1, axis=0, masked=True, return_bounds=True)
    tie = ((x == lo) | (x == hi)).any(axis=0)
    assert tie.sum() >= 20  # the case under test really occurs
    std, kept = clipped_std_fast(x, 2.0, 1)
    ref_std, _, ref_kept = _astropy(x, 2.0, 1)
    assert np.array_equal(kept[tie], ref_kept[tie])
    assert np.nanmax(np.abs(std - ref_std)) < 1e-5


def test_axis_and_shape_preserved():
    x = np.arange(3 * 4 * 5, dtype=np.float32).reshape(3, 4, 5)
    std, kept = clipped_std_fast(x)
    assert std.shape == (4, 5) and kept.shape == (4, 5)
    np.testing.assert_allclose(std, np.std(x, axis=0), rtol=1e-6)  # nothing clipped: plain std
