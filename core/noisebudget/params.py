"""Parameters and fixed settings of the noise-budget analysis (:mod:`core.noisebudget.analysis`
explains the method)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.errors import ParameterError
from core.io.ramps import DEFAULT_GROUPDQ_MASK, check_groupdq_mask

UNITS = "DN/s"
PSD_UNITS = "DN^2/Hz (one-sided), per read (group value), not per CDS frame"
# The numbers of groups the effective noise is given for (those above NGROUPS are dropped and
# NGROUPS itself is added): pynrc's list extended in the same spirit.
DEFAULT_GROUP_COUNTS = (2, 3, 4, 5, 6, 8, 10, 15, 20, 30, 50, 75, 100, 150, 200, 300, 500)
STRIPE_BUDGET_BYTES = 16 * 2**20  # float32 data of the two integrations of a pair, per row stripe
HIST_BINS = 2048  # bins of every streaming robust-sigma histogram (a bin is 1/64 of a sigma)
HIST_HALF_RANGE = 16.0  # the histogram spans +-this many first-batch robust sigma about its median
HIST_FIRST_BATCH = 2000  # values buffered before a histogram's range is fixed
MIN_PIXELS = 10  # fewer values than this: no robust sigma (None)
SPECTRUM_BINS_PER_DECADE = 12  # log bins of the displayed spectra and of the joint 1/f fit


@dataclass(frozen=True)
class NoiseBudgetParams:
    """``group_counts``: the numbers of groups n the slope noise is given for (NGROUPS is always
    added, values above it dropped); each at least 2."""

    group_counts: tuple[int, ...] = DEFAULT_GROUP_COUNTS
    groupdq_mask: int = DEFAULT_GROUPDQ_MASK  # GROUPDQ bits whose samples are left out (core.io.ramps)

    def validate(self) -> NoiseBudgetParams:
        check_groupdq_mask(self.groupdq_mask)
        v = self.group_counts
        if not isinstance(v, (tuple, list)) or not v:
            raise ParameterError(f"group_counts must be a non-empty tuple of integers >= 2, not {v!r}")
        for n in v:
            if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or int(n) < 2:
                raise ParameterError(
                    f"group_counts must hold integers >= 2 (a slope needs two groups), not {n!r}")
        return self

    def counts_for(self, ngroups: int) -> list[int]:
        """The sorted group counts that fit in ``ngroups`` groups, NGROUPS included."""
        return sorted({int(n) for n in self.group_counts if int(n) <= ngroups} | {int(ngroups)})


__all__ = [
    "DEFAULT_GROUP_COUNTS", "HIST_BINS", "HIST_FIRST_BATCH", "HIST_HALF_RANGE", "MIN_PIXELS", "PSD_UNITS",
    "SPECTRUM_BINS_PER_DECADE", "STRIPE_BUDGET_BYTES", "UNITS", "NoiseBudgetParams",
]
