"""Results of two sections side by side: the temporal per-pixel readnoise against the spatial Rest
2014 box noise, per amp, in one unit per read."""

from __future__ import annotations

import numpy as np
import pandas as pd

from core.readnoise import amp_statistics


def temporal_vs_spatial(per_read_map: np.ndarray, rest, layout, gain=1.0, unit: str = "DN") -> pd.DataFrame:
    """Per amp: the median of the temporal per-read noise map (CDS / sqrt 2, in ``unit``), the median
    of the Rest 2014 boxes (DN per read, converted with each amp's median ``gain`` when the unit is
    electrons) with its error, and their ratio spatial / temporal.

    ``gain`` is 1, one value or a per-pixel map (e-/DN); ``per_read_map`` is already in ``unit``.
    """
    temporal = amp_statistics(per_read_map, layout)
    spatial = pd.DataFrame(rest.summary()["amps"])
    if unit == "DN":
        scale = 1.0
    else:  # the box table is per amp: convert it with each amp's median gain
        gain_map = np.broadcast_to(np.float32(gain) if np.isscalar(gain) else gain, per_read_map.shape)
        scale = amp_statistics(gain_map.astype(np.float32), layout)["median"].to_numpy()
    both = pd.DataFrame({"amp": temporal["amp"], "output": temporal["output"],
                         f"temporal median ({unit}/read)": temporal["median"],
                         f"spatial median ({unit}/read)": spatial["median"] * scale,
                         f"spatial error ({unit}/read)": spatial["error"] * scale})
    both["spatial / temporal"] = both.iloc[:, 3] / both.iloc[:, 2]
    return both
