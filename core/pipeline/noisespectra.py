"""The 1/f section's within-frame spectra in the units of the noise budget's spectra, so that both
sections' spectra share one chart (no section imports the other: this module reads the 1/f result
it is given, it imports neither).

The 1/f spectra are of CDS frames (DN^2/Hz, one-sided): a CDS frame is the difference of two reads
a frame or more apart, whose transfer ``|1 - exp(-2 pi i f T)|^2`` averages 2 at the frequencies the
within-frame spectrum covers (f >= 1/TFRAME), so ``PSD / 2`` is the spectrum of one read, the unit of
the noise budget's along-ramp spectra (:mod:`core.noisebudget`).
"""

from __future__ import annotations

import numpy as np

from core.units import CDS, PER_READ, factor


def within_frame_per_read(onef_result) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """Detector output -> (frequency Hz, PSD DN^2/Hz per read) of each output's total within-frame
    spectrum from a 1/f result (``freq``, ``psd`` (namps, nbins), ``amps[i]["output"]``); empty when
    the result has none of these."""
    try:
        freq = np.asarray(onef_result.freq, np.float64)
        psd = np.asarray(onef_result.psd, np.float64)
        outputs = [int(a["output"]) for a in onef_result.amps]
    except (AttributeError, KeyError, TypeError, ValueError):
        return {}
    if psd.ndim != 2 or psd.shape != (len(outputs), freq.size):
        return {}
    to_read = factor(CDS, PER_READ) ** 2  # a power: (1 / sqrt 2)^2
    return {k: (freq, psd[i] * to_read) for i, k in enumerate(outputs)}


__all__ = ["within_frame_per_read"]
