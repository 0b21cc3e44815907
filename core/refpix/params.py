"""Parameters and fixed settings of the reference-pixel analysis (:mod:`core.refpix.analysis`)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from core.errors import ParameterError
from core.io.ramps import DEFAULT_GROUPDQ_MASK, check_groupdq_mask

LEVEL_CLIP_SIGMA = 6.0  # robust sigma; pixel left out of an integration's levels beyond this
CLIP_SUBSAMPLE = 2_000_000  # the clip's robust sigma comes from about this many |deviations|
STRIPE_BUDGET_BYTES = 32 * 2**20  # float32 data per stripe (two are held: the next is read meanwhile)
HIST_MAX_DN = 8192  # |pair difference| histogram range (larger values go in the last bin)
MIN_GROUP_FOR_FLAGS = 8
ADJ_BLOCKS = 3  # blocks of active rows / columns kept beside each reference edge: the adjacent one + 2 for the null
MIN_CORRELATION_DOF = 4  # independent drift values (nints x (ngroups - 2)) for a correlation


ROW_KINDS = ("bottom_even", "bottom_odd", "top_even", "top_odd")
COL_KINDS = ("left", "right")
LEVEL_KINDS = ROW_KINDS + COL_KINDS + ("ref", "active")


@dataclass(frozen=True)
class RefPixParams:
    """``flag_sigma``: robust z-score above which a reference pixel's noise flags it unstable."""

    flag_sigma: float = 5.0
    groupdq_mask: int = DEFAULT_GROUPDQ_MASK  # GROUPDQ bits whose samples are left out (core.io.ramps)

    def validate(self) -> RefPixParams:
        check_groupdq_mask(self.groupdq_mask)
        v = self.flag_sigma
        if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)):
            raise ParameterError(f"flag_sigma must be a number, not {v!r}")
        if not math.isfinite(float(v)) or float(v) <= 0:
            raise ParameterError(
                f"flag_sigma must be a positive finite robust z-score (typically 5), not {v!r}"
            )
        return self


__all__ = [
    "ADJ_BLOCKS", "CLIP_SUBSAMPLE", "COL_KINDS", "HIST_MAX_DN", "LEVEL_CLIP_SIGMA", "LEVEL_KINDS", "MIN_CORRELATION_DOF",
    "MIN_GROUP_FOR_FLAGS", "ROW_KINDS", "STRIPE_BUDGET_BYTES", "RefPixParams",
]
