"""One pass over the row stripes of one *unit*: a pair of integrations (their difference / sqrt 2,
so every fixed pattern cancels) or, when the selection has a single integration, that integration
(each pixel's mean over the groups removed).  Everything is reduced as the stripe goes by; what is
kept per unit is small (histograms, per-row means, spectrum sums)."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from core.io.geometry import Layout
from core.io.ramps import DEFAULT_GROUPDQ_MASK, Ramp, stripe_rows_for, stripes
from core.noisebudget.model import intercept_weights, slope_lattice, slope_matrix
from core.noisebudget.params import STRIPE_BUDGET_BYTES
from core.noisebudget.robust import RobustHist

Sample = tuple[Path, int]  # (file, integration)


@dataclass
class AmpSums:
    """One amp's reductions over one unit."""

    slopes: RobustHist  # (counts) slopes in DN/s (pairs only)
    cds: RobustHist  # (G - 1) CDS frames of the active pixels, DN
    cds_ref: RobustHist  # (G - 1) CDS frames of the amp's reference pixels, DN
    icpt: RobustHist  # intercepts of the active pixels, DN (pairs only)
    icpt_ref: RobustHist  # intercepts of the reference pixels
    rowmean: np.ndarray  # (G, ny) mean of the row's active pixels per group, NaN for none
    rowcount: np.ndarray  # (ny,) active pixels that entered it (group 0)
    pix_abs2: np.ndarray  # (G // 2 + 1,) sum over pixels of |rfft along the ramp|^2
    pix_n: int = 0


@dataclass
class UnitSums:
    samples: tuple  # (a,) or (a, b)
    amps: list[AmpSums] = field(default_factory=list)
    n_bad: int = 0  # saturated / non-finite samples read
    n_dq: int = 0  # samples left out by GROUPDQ / PIXELDQ
    dq_columns: np.ndarray | None = None  # the same per column (None: no file carries DQ arrays)

    @property
    def temporal(self) -> bool:
        return len(self.samples) == 2

    @property
    def same_file(self) -> bool:
        """A pair of integrations of one file (its bias pattern cancels: what kTC needs)."""
        return self.temporal and self.samples[0][0] == self.samples[1][0]


def _reference_pixels(layout: Layout):
    """(rows of the reference rows, columns of the side columns) in array indices."""
    bottom, top = layout.reference_rows()
    left, right = layout.reference_columns()
    return np.concatenate([bottom, top]), np.concatenate([left, right])


def _fill_nan(flat: np.ndarray, counts: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """(values with NaN as 0, (len(counts), m) True where a NaN falls in the first n groups)."""
    bad = ~np.isfinite(flat)
    if not bad.any():
        return flat, np.zeros((len(counts), flat.shape[1]), bool)
    first = np.where(bad.any(axis=0), bad.argmax(axis=0), flat.shape[0])
    return np.where(bad, 0.0, flat), first[None, :] < np.asarray(counts)[:, None]


def _detrend(series: np.ndarray, temporal: bool) -> np.ndarray:
    """Along axis 0: the mean removed (a pair: nothing else is fixed) or a straight line (one
    integration: bias and dark current)."""
    if temporal or series.shape[0] < 3:
        return series - series.mean(axis=0)
    x = np.arange(series.shape[0], dtype=np.float64)
    x -= x.mean()
    b = (x @ series) / (x @ x)
    return series - series.mean(axis=0) - x[:, None] * b[None, :]


class StripePass:
    """The reductions of one unit, stripe by stripe (:meth:`run`)."""

    def __init__(self, layout: Layout, ngroups: int, counts: list[int], tgroup: float,
                 groupdq_mask: int = DEFAULT_GROUPDQ_MASK):
        self.layout, self.G, self.counts, self.tgroup = layout, ngroups, counts, tgroup
        self.groupdq_mask = groupdq_mask
        self.W = slope_matrix(counts, ngroups)
        self.u = intercept_weights(ngroups)
        self.act_rows, self.act_cols = layout.active_slices()
        self.ref_rows, self.side_cols = _reference_pixels(layout)

    def new_amp(self, scale: float) -> AmpSums:
        """``scale``: the lattice step of the values read (1/sqrt 2 DN for a pair difference of raw
        integer DN, 1 DN for one raw integration, 0 for floating-point data)."""
        G, ny = self.G, self.layout.ny
        h_slope = scale * np.array([slope_lattice(n) for n in self.counts]) / self.tgroup
        return AmpSums(RobustHist(len(self.counts), h_slope), RobustHist(G - 1, scale), RobustHist(G - 1, scale),
                       RobustHist(1), RobustHist(1), np.full((G, ny), np.nan), np.zeros(ny, np.int64),
                       np.zeros(G // 2 + 1))

    def run(self, samples: tuple, progress: Callable[[float, str], None] | None = None) -> UnitSums:
        layout = self.layout
        ramps = {p: Ramp(p, groupdq_mask=self.groupdq_mask) for p in dict.fromkeys(s[0] for s in samples)}
        try:
            integer = not any(r.is_float for r in ramps.values())
            scale = (1 / np.sqrt(2.0) if len(samples) == 2 else 1.0) if integer else 0.0
            out = UnitSums(samples, [self.new_amp(scale) for _ in layout.amps()])
            rows = stripe_rows_for((len(samples), self.G, layout.ny, layout.nx), STRIPE_BUDGET_BYTES)
            spans = list(stripes(layout.ny, rows))
            for s_i, (y0, y1) in enumerate(spans):
                x = self._read(ramps, samples, y0, y1, out)
                self._stripe(x, y0, y1, out)
                if progress:
                    progress((s_i + 1) / len(spans), f"noise budget: rows {y0}-{y1}")
        finally:
            for r in ramps.values():
                out.n_dq += int(r.dq_masked_columns.sum())
                if r.has_dq:
                    out.dq_columns = r.dq_masked_columns + (0 if out.dq_columns is None else out.dq_columns)
                r.close()
        return out

    def _read(self, ramps, samples, y0, y1, out: UnitSums) -> np.ndarray:
        vals = []
        for path, i in samples:
            data, nbad = ramps[path].read_stripe(y0, y1, groups=slice(0, self.G), ints=slice(i, i + 1))
            out.n_bad += nbad
            vals.append(data[0])
        if len(vals) == 2:
            return (vals[0] - vals[1]) * np.float32(1 / np.sqrt(2.0))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # a pixel NaN in every group stays NaN
            return vals[0] - np.nanmean(vals[0], axis=0, keepdims=True)

    def _stripe(self, x: np.ndarray, y0: int, y1: int, out: UnitSums) -> None:
        G = self.G
        rows = np.arange(y0, y1)
        act = rows[(rows >= self.act_rows.start) & (rows < self.act_rows.stop)]
        refr = rows[np.isin(rows, self.ref_rows)]
        for a, s in zip(self.layout.amps(), out.amps):
            cols = np.arange(a.x0, a.x1)
            acols = cols[(cols >= self.act_cols.start) & (cols < self.act_cols.stop)]
            scols = cols[np.isin(cols, self.side_cols)]
            if act.size and acols.size:
                xa = x[:, act - y0][:, :, acols]
                self._active(xa, act, s, out.temporal)
            ref = []
            if refr.size:
                ref.append(x[:, refr - y0][:, :, cols].reshape(G, -1))
            if act.size and scols.size:
                ref.append(x[:, act - y0][:, :, scols].reshape(G, -1))
            if ref:
                r = np.concatenate(ref, axis=1).astype(np.float64)
                s.cds_ref.add(r[1:] - r[:-1])
                if out.temporal:
                    s.icpt_ref.add(self.u @ r)  # NaN for a pixel with a flagged sample: left out

    def _active(self, xa: np.ndarray, act_rows: np.ndarray, s: AmpSums, temporal: bool) -> None:
        """The active pixels (G, rows, cols) of one amp in one stripe."""
        G = self.G
        flat = xa.reshape(G, -1).astype(np.float64)
        filled, masked = _fill_nan(flat, self.counts)
        if temporal:
            slopes = (self.W @ filled) / self.tgroup
            slopes[masked] = np.nan
            s.slopes.add(slopes)
            icpt = self.u @ filled
            icpt[masked[-1]] = np.nan  # the last count is NGROUPS: any NaN in the ramp
            s.icpt.add(icpt)
        s.cds.add(flat[1:] - flat[:-1])
        good = ~masked[-1]
        if good.any():
            X = np.fft.rfft(_detrend(flat[:, good], temporal), axis=0)
            s.pix_abs2 += (X.real ** 2 + X.imag ** 2).sum(axis=1)
            s.pix_n += int(good.sum())
        # Row means over the pixels complete in every group: a pixel that drops out part-way (a
        # flagged jump, saturation) would step the mean by its own offset and pass for 1/f.
        complete = good.reshape(xa.shape[1], xa.shape[2])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # a row without complete pixels stays NaN
            s.rowmean[:, act_rows] = np.nanmean(np.where(complete[None], xa, np.nan), axis=1 + 1)
        s.rowcount[act_rows] = complete.sum(axis=1)


__all__ = ["AmpSums", "Sample", "StripePass", "UnitSums"]
