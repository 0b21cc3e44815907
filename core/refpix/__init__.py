"""Reference-pixel stability against active pixels, per amp (:mod:`.analysis`; compiled stripe
passes in :mod:`.kernel`)."""

from core.refpix.analysis import LEVEL_CLIP_SIGMA, RefPixParams, RefPixResult, analyze_refpix

__all__ = ["LEVEL_CLIP_SIGMA", "RefPixParams", "RefPixResult", "analyze_refpix"]
