"""1/f noise of dark ramps: readout-time series per output, power spectra, the white / correlated /
per-output split and power-law fits.

:mod:`.analysis` explains the method and drives it (:func:`analyze_onef`: file checks, CDS frames);
:mod:`.params` holds the parameters and constants, :mod:`.accumulate` the sums over CDS frames,
:mod:`.finish` the spectra, split and tables made from them (log bins and fits in :mod:`.fit`),
:mod:`.result` the :class:`OneFResult`; compiled passes are in :mod:`.kernel` and the two fused
passes over each CDS frame in :mod:`.framepass`."""

from core.onef.analysis import analyze_onef
from core.onef.params import PSD_UNITS, UNITS, OneFParams, stack_mean_factor
from core.onef.result import OneFResult

__all__ = ["PSD_UNITS", "UNITS", "OneFParams", "OneFResult", "analyze_onef", "stack_mean_factor"]
