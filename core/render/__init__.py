"""Charts (altair specs) and PNG maps made from results; no streamlit, no science.

:mod:`.maps` readnoise maps and histograms, :mod:`.onef` 1/f spectra and components,
:mod:`.refpix` reference-pixel levels and trends, :mod:`.overview` the all-detector grid.
"""

from core.render.maps import MAX_MAP_PIXELS, amp_bar_chart, block_bin, histogram_chart, map_png
from core.render.style import styled

__all__ = ["MAX_MAP_PIXELS", "amp_bar_chart", "block_bin", "histogram_chart", "map_png", "styled"]
