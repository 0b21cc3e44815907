"""Box-wise spatial readnoise after Rest et al. (2014): per box, the clipped std of CDS pixel values
(:mod:`.boxes`, which documents the method; the box grid in :mod:`.grid`, the expectations the
tests compare against in :mod:`.expected`; the compiled box clip in :mod:`.kernel`)."""

from core.rest2014.boxes import (
    UNITS_DN,
    UNITS_E,
    Rest2014Params,
    Rest2014Result,
    analyze_rest2014,
    box_accepted,
    c4,
    clip_box,
    clip_boxes,
    to_electrons,
)
from core.rest2014.expected import expected_clipped_std, expected_onef_box_variance, onef_box_variance
from core.rest2014.grid import BoxGrid, box_grid

__all__ = [
    "BoxGrid", "Rest2014Params", "Rest2014Result", "UNITS_DN", "UNITS_E", "analyze_rest2014",
    "box_accepted", "box_grid", "c4", "clip_box", "clip_boxes", "expected_clipped_std",
    "expected_onef_box_variance", "onef_box_variance", "to_electrons",
]
