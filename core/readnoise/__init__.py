"""Readnoise maps (CDS noise in DN, science orientation) and their per-amp statistics.

Engines: ``native`` (:mod:`.native`, one streaming pass on both cores, or on a Dask cluster through
:mod:`.dask_engine`) and ``reffiles`` (:mod:`.reffiles`, jwst_reffiles ``make_readnoise`` behind its
guards); :func:`make_readnoise_map` chooses between them.  :mod:`.clip` is the native engine's
compiled sigma clip, :mod:`.stats` the per-amp statistics, :mod:`.reference` reference files and map
comparison.
"""

from core.readnoise.maps import all_nan_pixels, make_readnoise_map, with_crds_meta
from core.readnoise.params import ENGINES, METHODS, MODES, UNITS, CrdsMeta, ReadnoiseParams, ReadnoiseResult
from core.readnoise.reference import compare_maps, load_gain_map, load_reference_map
from core.readnoise.reffiles import ENGINE_REFFILES, sample_census, warm_datamodels
from core.readnoise.stats import (
    amp_statistics,
    expected_clipped_std_factor,
    histograms,
    noisy_pixels,
    sigma_clipped_stats,
)


def analyze_readnoise(paths, params: ReadnoiseParams = ReadnoiseParams(), progress=None) -> ReadnoiseResult:
    """The section contract (``analyze(paths, params, progress)``): the map with default CRDS fields."""
    return make_readnoise_map(paths, params, None, progress=progress)


__all__ = [
    "ENGINES", "ENGINE_REFFILES", "METHODS", "MODES", "UNITS", "CrdsMeta", "ReadnoiseParams", "ReadnoiseResult",
    "all_nan_pixels", "amp_statistics", "analyze_readnoise", "compare_maps", "expected_clipped_std_factor",
    "histograms", "load_gain_map", "load_reference_map", "make_readnoise_map", "noisy_pixels", "sample_census",
    "sigma_clipped_stats", "warm_datamodels", "with_crds_meta",
]
