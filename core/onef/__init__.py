"""1/f noise of dark ramps: readout-time series per output, power spectra, the white / correlated /
per-output split and power-law fits (:mod:`.analysis`; compiled per-frame passes in :mod:`.kernel`)."""

from core.onef.analysis import PSD_UNITS, UNITS, OneFParams, OneFResult, analyze_onef, stack_mean_factor

__all__ = ["PSD_UNITS", "UNITS", "OneFParams", "OneFResult", "analyze_onef", "stack_mean_factor"]
