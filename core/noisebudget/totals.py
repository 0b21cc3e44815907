"""Running totals over units (pairs of integrations, or the one integration): each unit's stripe
pass (:mod:`.accumulate`) is folded in as soon as it ends and then dropped, so memory does not grow
with the number of files.  Robust variances are summed weighted by their pixel counts; the row-mean
covariance and the spectra as sums."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from core.noisebudget.accumulate import AmpSums


@dataclass
class VarSum:
    """Count-weighted sum of robust variances, per channel."""

    s: np.ndarray
    n: np.ndarray

    @classmethod
    def zeros(cls, nk: int) -> VarSum:
        return cls(np.zeros(nk), np.zeros(nk, np.int64))

    def add(self, sigma: np.ndarray, count: np.ndarray) -> None:
        ok = np.isfinite(sigma)
        self.s += np.where(ok, sigma ** 2 * count, 0.0)
        self.n += np.where(ok, count, 0)

    def mean(self) -> np.ndarray:
        """The count-weighted mean variance per channel (NaN where nothing was added)."""
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(self.n > 0, self.s / np.maximum(self.n, 1), np.nan)

    def pooled(self) -> float:
        """The count-weighted mean over channels as well (DN^2); NaN if none."""
        return float(self.s.sum() / self.n.sum()) if self.n.sum() > 0 else np.nan


@dataclass
class AmpTotals:
    """What is kept of one amp over all units."""

    G: int
    slopes: VarSum  # slope noise per group count (pairs), (DN/s)^2
    cds: VarSum  # per CDS frame, active pixels, DN^2
    cds_ref: VarSum  # per CDS frame, reference pixels
    icpt: VarSum  # intercepts, active pixels (pairs within one file)
    icpt_ref: VarSum
    C: np.ndarray  # sum over rows of R R^T, R = row mean - frame mean (G, G), DN^2
    nrows: int = 0
    inv_sum: float = 0.0  # sum over rows of 1 / pixels in the row
    frame_abs2: np.ndarray = field(default=None)  # sum of |rfft|^2 of the frame-mean series
    nframe: int = 0
    row_abs2: np.ndarray | None = None  # sum of |rfft|^2 of the row series within frames
    nrow_series: int = 0
    row_len: int = 0
    pix_abs2: np.ndarray = field(default=None)
    pix_n: int = 0
    n_act_sum: int = 0
    n_units: int = 0

    @classmethod
    def new(cls, G: int, ncounts: int) -> AmpTotals:
        return cls(G, VarSum.zeros(ncounts), VarSum.zeros(G - 1), VarSum.zeros(G - 1), VarSum.zeros(1),
                   VarSum.zeros(1), np.zeros((G, G)), frame_abs2=np.zeros(G // 2 + 1), pix_abs2=np.zeros(G // 2 + 1))

    @property
    def inv_n(self) -> float:
        return self.inv_sum / self.nrows if self.nrows else 0.0

    @property
    def n_active(self) -> int:
        """Active pixels of the amp that entered the row means, per unit (mean)."""
        return max(1, int(round(self.n_act_sum / max(self.n_units, 1))))

    def fold(self, s: AmpSums, temporal: bool, same_file: bool, yflip: bool) -> None:
        """Add one unit's reductions of this amp."""
        if temporal:
            self.slopes.add(*s.slopes.sigma())
        self.cds.add(*s.cds.sigma())
        self.cds_ref.add(*s.cds_ref.sigma())
        if same_file:
            self.icpt.add(*s.icpt.sigma())
            self.icpt_ref.add(*s.icpt_ref.sigma())
        self.pix_abs2 += s.pix_abs2
        self.pix_n += s.pix_n
        self.n_act_sum += int(s.rowcount.sum())
        self.n_units += 1
        self._fold_rows(s, temporal, yflip)

    def _fold_rows(self, s: AmpSums, temporal: bool, yflip: bool) -> None:
        keep = s.rowcount > 0
        if keep.sum() < 2:
            return
        M, w = s.rowmean[:, keep], s.rowcount[keep].astype(np.float64)
        fm = np.nansum(M * w, axis=1) / w.sum()  # the frame mean of the amp's complete pixels
        R = np.where(np.isfinite(M), M - fm[:, None], 0.0)
        # Each row's mean over the groups removed: what stays constant through the ramp (a row's
        # share of the kTC or, across exposures, of the bias pattern) is no noise of the slope (slope
        # and CDS weights sum to zero, so they do not change), and it would swamp the row spectrum.
        R -= R.mean(axis=0, keepdims=True)
        self.C += R @ R.T
        self.nrows += R.shape[1]
        self.inv_sum += float(np.sum(1.0 / w))
        X = np.fft.rfft(_line_removed(fm, temporal))
        self.frame_abs2 += X.real ** 2 + X.imag ** 2
        self.nframe += 1
        series = R[:, ::-1] if yflip else R  # rows in read order (detector rows bottom to top)
        Y = np.fft.rfft(series - series.mean(axis=1, keepdims=True), axis=1)
        a2 = (Y.real ** 2 + Y.imag ** 2).sum(axis=0)
        if self.row_abs2 is None or self.row_abs2.size != a2.size:  # the first (or a differently cut) unit
            self.row_abs2, self.nrow_series, self.row_len = a2, 0, int(keep.sum())
        else:
            self.row_abs2 = self.row_abs2 + a2
        self.nrow_series += self.G


def _line_removed(y: np.ndarray, temporal: bool) -> np.ndarray:
    """The mean removed (a pair) or a straight line (one integration: bias and dark current)."""
    y = y - y.mean()
    if temporal or y.size < 3:
        return y
    x = np.arange(y.size) - (y.size - 1) / 2.0
    return y - x * (x @ y) / (x @ x)


__all__ = ["AmpTotals", "VarSum"]
