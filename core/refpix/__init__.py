"""Reference-pixel stability against active pixels, per amp (:mod:`.analysis`, which documents the
method; one file's stripe pass in :mod:`.stripes` and its reference pixels in :mod:`.reference`,
the statistics over files in :mod:`.assemble`; compiled stripe passes in :mod:`.kernel`)."""

from core.refpix.analysis import analyze_refpix
from core.refpix.params import LEVEL_CLIP_SIGMA, RefPixParams
from core.refpix.result import RefPixResult

__all__ = ["LEVEL_CLIP_SIGMA", "RefPixParams", "RefPixResult", "analyze_refpix"]
