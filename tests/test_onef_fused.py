"""The fused and faster 1/f passes of issue 23 against the kernels and expressions they replaced.

* ``core.onef.framepass`` (two passes per CDS frame) against the chain it replaced in
  ``Accumulator.add``: ``center_and_clip``, then ``side_sums``, ``neighbour_diff_sumsq`` and
  ``row_corrected`` on the centred frame (tests/onef_reference_kernels.py, themselves tested against numpy in
  test_onefkernel.py).  Exact: the same float32 arithmetic in the same order, the same exact medians;
  the only reordered sums are the side sums over outputs (added per output, then over the outputs),
  compared at 1e-12 relative -- float64 sums of a few float32 values, rounding 1e-16.
* ``network_median`` (sorting network) against ``core.median.median_along0``: exact (both pick the
  middle sample, or the float64 mean of the two middle ones); ``batcher_pairs`` is a sorting network
  by the 0-1 principle (it sorts every 0/1 input).
* ``frame_output_deviations`` against the numpy expression of ``jump_samples`` before it: exact.
* ``binned_sums`` against ``np.bincount``: exact (same order of additions).

Data: random float32 read-order frames with NaNs, cosmic-ray-like outliers (1e4 DN, so the clip
bites), masked columns, one output without any valid sample, and a large frame whose outputs have
more than 200 000 valid samples (the bracketed median of core.median, and a robust-sigma step > 1).
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from core.median import median_along0, median_of
from core.onef.framepass import centre_stats, clip_and_correct
from core.onef.kernel import (
    batcher_pairs,
    binned_sums,
    frame_output_deviations,
    network_median,
)
from core.onef.params import CLIP_SIGMA
from tests.onef_reference_kernels import center_and_clip, neighbour_diff_sumsq, row_corrected, side_sums


def frame(shape, seed, ties=False, dead=2):
    """(chans, active, side): float32 read-order images (per-output offsets, sigma 6 DN) with 1 % NaN,
    0.1 % +-1e4 DN outliers; ``active`` without a few columns and 2 % gaps, no valid sample in output
    ``dead``; ``side`` = the first 4 samples of each row of output 0 and the last 4 of the last output
    (as the side reference columns in read order), none in rows 5-8."""
    rng = np.random.default_rng(seed)
    nout, ny, w = shape
    chans = rng.normal(0.0, 6.0, shape) + np.array([3.0, -50.0, 1000.0, 0.25])[:nout, None, None]
    if ties:
        chans = np.round(chans)
    chans = chans.astype(np.float32)
    cr = rng.random(shape) < 1e-3
    chans[cr] = rng.choice(np.array([1e4, -1e4], np.float32), cr.sum())
    chans[:, 10, 20] = 1e4  # at least one per output
    chans[rng.random(shape) < 0.01] = np.nan
    side = np.zeros(shape, bool)
    side[0, :, :4] = True
    side[-1, :, -4:] = True
    side[:, 5:9] = False
    active = (rng.random(shape) > 0.02) & ~side
    if dead is not None:
        active[dead] = False
    return chans, active, side


def old_chain(chans, active, side, corr):
    """What Accumulator.add computed before the fusion, with the kernels it called."""
    chans = chans.copy()
    finite = np.isfinite(chans)
    valid = finite & active
    x, med, nclipped, nvalid, sumsq, rowsum, rowcnt = center_and_clip(chans, valid, CLIP_SIGMA)
    side_f = finite & side
    num, cnt = side_sums(chans, side_f)
    ss_a, n_a, ss_b, n_b = neighbour_diff_sumsq(chans, side_f, valid)
    xa, sumsq_after, rowsum_after = row_corrected(chans, valid, corr)
    return dict(chans=chans, valid=valid, x=x, nclipped=nclipped, nvalid=nvalid, sumsq=sumsq, rowsum=rowsum,
                rowcnt=rowcnt, num=num, cnt=cnt, ss_a=ss_a, n_a=n_a, ss_b=ss_b, n_b=n_b, xa=xa,
                sumsq_after=sumsq_after, rowsum_after=rowsum_after)


def fused(chans, active, side, corr, do_after=True):
    chans = chans.copy()
    valid = np.empty(chans.shape, bool)
    med, sig, snum, scnt = centre_stats(chans, active, side, valid)
    x = np.empty_like(chans)
    xa = np.full_like(chans, -1.0)
    (nclipped, nvalid, sumsq, rowsum, rowcnt, ss_a, n_a, ss_b, n_b, sumsq_after,
     rowsum_after) = clip_and_correct(chans, valid, side, med, sig, x, xa, corr, CLIP_SIGMA, do_after)
    num = np.zeros(chans.shape[1])
    cnt = np.zeros(chans.shape[1])
    for k in range(chans.shape[0]):
        num += snum[k]
        cnt += scnt[k]
    return dict(chans=chans, valid=valid, x=x, nclipped=nclipped, nvalid=nvalid, sumsq=sumsq, rowsum=rowsum,
                rowcnt=rowcnt, num=num, cnt=cnt, ss_a=ss_a, n_a=n_a, ss_b=ss_b, n_b=n_b, xa=xa,
                sumsq_after=sumsq_after, rowsum_after=rowsum_after)


@pytest.mark.parametrize("shape,ties,seed", [((4, 64, 40), False, 1), ((4, 64, 40), True, 2),
                                             ((4, 512, 512), False, 3), ((1, 32, 48), False, 4)])
def test_fused_frame_passes_equal_the_kernels_they_replaced(shape, ties, seed):
    chans, active, side = frame(shape, seed, ties, dead=2 if shape[0] == 4 else None)
    corr = np.random.default_rng(seed + 10).normal(0, 3, shape[1]).astype(np.float32)
    want = old_chain(chans, active, side, corr)
    got = fused(chans, active, side, corr)
    assert want["nclipped"] > 0  # the clip bites on this data, so its mask is compared
    for key in want:
        if key in ("num", "cnt"):
            np.testing.assert_allclose(got[key], want[key], rtol=1e-12, atol=1e-12, err_msg=key)
        else:
            np.testing.assert_array_equal(got[key], want[key], err_msg=key)


def test_fused_pass_without_side_correction_leaves_xa():
    """``do_after=False`` (a frame without finite side samples): the same clip results, ``xa`` not
    written and its sums 0."""
    chans, active, side = frame((4, 64, 40), 5)
    corr = np.zeros(64, np.float32)
    want = old_chain(chans, active, side, corr)
    got = fused(chans, active, side, corr, do_after=False)
    for key in ("chans", "valid", "x", "sumsq", "rowsum", "rowcnt", "ss_a", "ss_b"):
        np.testing.assert_array_equal(got[key], want[key], err_msg=key)
    assert np.all(got["xa"] == -1.0) and not got["sumsq_after"].any() and not got["rowsum_after"].any()


@pytest.mark.parametrize("n", range(1, 17))
def test_network_median_equals_median_along0(n):
    rng = np.random.default_rng(n)
    st = rng.normal(0, 5, (n, 3000)).astype(np.float32)
    st[:, :500] = np.round(st[:, :500])  # ties
    st[rng.random(st.shape) < 0.1] = np.nan
    st[:, 600:610] = np.nan  # columns without a finite sample
    st[0, 700:710] = np.inf  # non-finite, not NaN: ignored too
    st[-1, 710:720] = -np.inf
    pa, pb = batcher_pairs(n)
    out = np.full(3000, -7.0, np.float32)
    network_median(st, pa, pb, 0, 1700, out)
    network_median(st, pa, pb, 1700, 3000, out)
    np.testing.assert_array_equal(out, median_along0(st))


@pytest.mark.parametrize("n", range(2, 13))
def test_batcher_pairs_sort_every_01_input(n):
    """0-1 principle: a comparator network that sorts every 0/1 sequence sorts everything."""
    pa, pb = batcher_pairs(n)
    assert np.all(pa < pb) and pb.max() < n
    v = np.array(list(itertools.product([0, 1], repeat=n)), np.int8).T  # (n, 2^n)
    for i, j in zip(pa, pb):
        lo, hi = np.minimum(v[i], v[j]), np.maximum(v[i], v[j])
        v[i], v[j] = lo, hi
    assert np.all(np.diff(v, axis=0) >= 0)


def test_frame_output_deviations_matches_numpy():
    """Per output block and CDS frame: the block minus the median of its every step-th sample
    (C order, NaN ignored), float32 -- as jump_samples computed it with numpy."""
    rng = np.random.default_rng(7)
    d = rng.normal(0, 5, (5, 40, 96)).astype(np.float32) + rng.normal(0, 50, (5, 1, 1)).astype(np.float32)
    d[rng.random(d.shape) < 0.05] = np.nan
    d[2, :, 48:] = np.nan  # one block without a finite sample
    x0s, x1s = np.array([0, 48], np.int64), np.array([48, 96], np.int64)
    for target in (1000, 300):  # step 1 and step > 1
        want = np.empty_like(d)
        for x0, x1 in zip(x0s, x1s):
            block = d[:, :, x0:x1]
            for k in range(d.shape[0]):
                sample = block[k].reshape(-1)[:: max(1, block[k].size // target)]
                want[k, :, x0:x1] = block[k] - np.float32(median_of(sample))
        got = np.empty_like(d)
        frame_output_deviations(d, x0s, x1s, target, got, 0, 3)
        frame_output_deviations(d, x0s, x1s, target, got, 3, 5)
        np.testing.assert_array_equal(got, want)


def test_binned_sums_matches_bincount():
    rng = np.random.default_rng(8)
    nf, nb = 5000, 37
    idx = np.sort(rng.integers(-1, nb, nf))
    sel = (idx >= 0) & (rng.random(nf) > 0.2)
    y = rng.normal(0, 1, (3, nf)) * 10.0 ** rng.integers(-5, 5, (3, nf))
    got = binned_sums(idx, sel, y, nb)
    want = np.stack([np.bincount(idx[sel], weights=row[sel], minlength=nb) for row in y])
    np.testing.assert_array_equal(got, want)
