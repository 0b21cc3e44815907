"""Parameters and constants of the 1/f analysis (:mod:`core.onef.analysis` explains the method),
and the variance fraction the per-pixel mean removal leaves (:func:`stack_mean_factor`)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.errors import ParameterError
from core.io.ramps import DEFAULT_GROUPDQ_MASK, GROUP_DIFF_TYPES, check_groupdq_mask

UNITS = "DN rms in a CDS frame"
PSD_UNITS = "DN^2/Hz (one-sided)"
CLIP_SIGMA = 20.0  # samples further than this many robust sigma from 0 become gaps (cosmic rays)
SIDE_SMOOTH_ROWS = 11  # running mean of the side-reference row correction (jwst refpix default)
SAVGOL_WINDOW, SAVGOL_ORDER = 31, 3  # pynrc-style time-domain split
BINS_PER_DECADE = 20
HARMONIC_HALF_WIDTH = 0.05  # fits skip frequencies within this fraction of f_row of a row harmonic
FIT_MIN_CYCLES = 3.0  # fits start at FIT_MIN_CYCLES / frame time (CDS and median removal bite below)
MAX_SLOPE_ERR = 0.5  # slopes less certain than this are reported as NaN
MIN_SLOPE = 0.3  # per-output fits: a flatter 'power law' is degenerate with the white level
MAX_BANDING_FRAMES = 256  # columns of the banding image (CDS frames, evenly sub-sampled)
FFT_WORKERS = 2  # the 4 outputs' transforms split over both cores
ROBUST_SUBSAMPLE = 200_000  # robust sigma from about this many samples (pixel_stack_mean takes as many)
STRIPE_BUDGET = 64 * 2**20  # bytes of float32 per row stripe in the median pass
# A CDS sample further than this many sigma from its pixel's median over the integration's stack is a
# jump (cosmic ray, RTS switch) and is left out; sigma = the larger of the pixel's own robust sigma
# and the stack's, so noisy pixels keep their noise.  7: a Gaussian sample goes past it once in 4e11.
JUMP_SIGMA = 7.0
MIN_JUMP_FRAMES = 3  # a pixel median over fewer CDS frames cannot tell which sample jumped


@dataclass(frozen=True)
class OneFParams:
    """How CDS frames are formed and whether the top/bottom reference-row correction is applied."""

    diff_type: str = "consecutive"  # or "independent"
    refpix_correct: bool = False
    groupdq_mask: int = DEFAULT_GROUPDQ_MASK  # GROUPDQ bits whose samples are left out (core.io.ramps)

    def validate(self) -> OneFParams:
        check_groupdq_mask(self.groupdq_mask)
        if self.diff_type not in GROUP_DIFF_TYPES:
            raise ParameterError(
                f"diff_type must be one of {', '.join(GROUP_DIFF_TYPES)}, not {self.diff_type!r}"
            )
        if not isinstance(self.refpix_correct, (bool, np.bool_)):
            raise ParameterError(f"refpix_correct must be True or False, not {self.refpix_correct!r}")
        return self


def stack_mean_factor(ncds: int, diff_type: str) -> float:
    """Fraction of a CDS frame's white-noise variance left after subtracting each pixel's mean over
    the ``ncds`` CDS frames of its integration.

    ``consecutive``: the mean of G1-G0 ... GN-G(N-1) is (GN-G0)/N, so the factor is 1 - 1/N^2;
    ``independent``: the frames are independent, 1 - 1/N.  For 1/f noise the consecutive factor is
    1 - D(N T)/(N^2 D(T)) (D = structure function), within 0.5% of the white value for N >= 4; the
    independent one is 1 - 1/N up to the weak frame-to-frame correlation of CDS 1/f noise.
    """
    if ncds < 2:
        raise ValueError("need at least 2 CDS frames per integration")
    if diff_type == "consecutive":
        return 1.0 - 1.0 / ncds**2
    return 1.0 - 1.0 / ncds
