"""A robust sigma (``MAD_TO_SIGMA`` x median absolute deviation) over more values than memory holds:
a fixed-range histogram per channel, filled stripe by stripe.

The range of channel ``k`` is set from its first ``HIST_FIRST_BATCH`` values (their median +- 16
robust sigma, ``HIST_BINS`` bins: a bin is 1/64 of a sigma), values outside go to the end bins.
The median and the MAD are read from the piecewise-linear cumulative histogram (values spread
evenly inside a bin), which is exact to far below a bin width for smooth distributions.  Values
that can only fall on a lattice (integer DN through fixed weights: a CDS frame of raw data is a
whole number of DN, a slope over n groups a multiple of 1 / sum((x - mean)^2) or half of it) get
bins a whole number of lattice steps wide centred on the lattice: each value then counts as spread
over its own lattice cell, the continuity correction without which the MAD of integer data sticks
to lattice points (several % off for a CDS frame of 14 DN sigma).  The spreading adds h^2/12 to
the variance for a lattice step h: 0.02 % for a CDS frame of 14 DN (h = 1/sqrt 2 DN for a pair
difference), less for every slope over more groups.  With fewer
values than ``HIST_FIRST_BATCH`` the values themselves are kept and the robust sigma is exact.
"""

from __future__ import annotations

import numpy as np

from core.noisebudget.params import HIST_BINS, HIST_FIRST_BATCH, HIST_HALF_RANGE, MIN_PIXELS
from core.stats import MAD_TO_SIGMA, robust_std


class RobustHist:
    """``nk`` channels of values; :meth:`add` takes an (nk, m) array (NaN ignored)."""

    def __init__(self, nk: int, lattice=None):
        """``lattice``: per channel, the spacing of the values when they can only be multiples of it
        (integer DN through a fixed linear combination), else None / 0."""
        self.nk = int(nk)
        self.lattice = np.zeros(self.nk) if lattice is None else np.broadcast_to(
            np.asarray(lattice, np.float64), (self.nk,)).copy()
        self._buffer: list[np.ndarray] = []
        self._nbuf = 0
        self.lo = self.width = None
        self.counts = None

    def add(self, values: np.ndarray) -> None:
        values = np.asarray(values, np.float64).reshape(self.nk, -1)
        if values.shape[1] == 0:
            return
        if self.counts is None:
            self._buffer.append(values)
            self._nbuf += values.shape[1]
            if self._nbuf >= HIST_FIRST_BATCH:
                self._fix_range()
            return
        self._bin(values)

    def _fix_range(self) -> None:
        buf = np.concatenate(self._buffer, axis=1)
        self._buffer, self._nbuf = [], 0
        med = np.array([np.nanmedian(r) if np.isfinite(r).any() else 0.0 for r in buf])
        sig = np.array([robust_std(r) for r in buf])
        sig = np.where(np.isfinite(sig) & (sig > 0), sig, np.maximum(np.abs(med), 1.0) * 1e-6)
        self.lo = med - HIST_HALF_RANGE * sig
        self.width = 2.0 * HIST_HALF_RANGE * sig / HIST_BINS
        h = self.lattice
        on = h > 0
        # values on a lattice: bins a whole number of lattice steps wide, edges half-way between
        # lattice points, so a bin's values spread evenly over it means each value over its own cell
        self.width[on] = h[on] * np.ceil(self.width[on] / h[on])
        self.lo[on] = (np.floor(self.lo[on] / h[on]) + 0.5) * h[on]
        self.counts = np.zeros((self.nk, HIST_BINS), np.int64)
        self._bin(buf)

    def _bin(self, values: np.ndarray) -> None:
        idx = np.floor((values - self.lo[:, None]) / self.width[:, None])
        ok = np.isfinite(idx)
        idx = np.clip(idx, 0, HIST_BINS - 1)
        flat = (idx + (np.arange(self.nk) * HIST_BINS)[:, None])[ok].astype(np.int64)
        self.counts += np.bincount(flat, minlength=self.nk * HIST_BINS).reshape(self.nk, HIST_BINS)

    def sigma(self) -> tuple[np.ndarray, np.ndarray]:
        """(robust sigma per channel, number of values per channel); NaN below ``MIN_PIXELS``."""
        if self.counts is None:
            buf = (np.concatenate(self._buffer, axis=1) if self._buffer
                   else np.empty((self.nk, 0)))
            n = np.isfinite(buf).sum(axis=1)
            s = np.array([robust_std(r) for r in buf]) if buf.shape[1] else np.full(self.nk, np.nan)
        else:
            n = self.counts.sum(axis=1)
            s = _hist_sigma(self.counts, self.lo, self.width)
        return np.where(n >= MIN_PIXELS, s, np.nan), n


def _hist_sigma(counts: np.ndarray, lo: np.ndarray, width: np.ndarray) -> np.ndarray:
    """Robust sigma of every row of ``counts`` (nk, nbins) from its piecewise-linear cumulative
    distribution (bins ``lo + width * i``): the median, then the half-width m with F(med + m) -
    F(med - m) = total / 2 by bisection, all channels at once.  NaN for an empty channel."""
    nk, nb = counts.shape
    total = counts.sum(axis=1).astype(np.float64)
    cum = np.concatenate([np.zeros((nk, 1)), np.cumsum(counts, axis=1, dtype=np.float64)], axis=1)
    half = total / 2.0
    rows = np.arange(nk)
    i = np.clip((cum < half[:, None]).sum(axis=1), 1, nb)  # the median lies in bin i - 1
    med = lo + width * (i - 1 + (half - cum[rows, i - 1]) / np.maximum(counts[rows, i - 1], 1))

    def cdf(x):
        u = np.clip((x - lo) / width, 0.0, nb)
        b = np.minimum(np.floor(u).astype(np.int64), nb - 1)
        return cum[rows, b] + (u - b) * counts[rows, b]

    a, z = np.zeros(nk), width * nb
    for _ in range(60):
        m = 0.5 * (a + z)
        inside = cdf(med + m) - cdf(med - m)
        below = inside < half
        a, z = np.where(below, m, a), np.where(below, z, m)
    return np.where(total > 0, MAD_TO_SIGMA * 0.5 * (a + z), np.nan)


__all__ = ["RobustHist"]
