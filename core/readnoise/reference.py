"""Reference files (READNOISE, GAIN) cut to a data frame, and comparison of two readnoise maps."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from core.errors import InputError
from core.io.geometry import Layout
from core.readnoise.stats import amp_statistics


def load_reference_map(path, layout: Layout) -> tuple[np.ndarray, dict]:
    """Read a READNOISE reference file and return its map cut to ``layout``'s frame.

    A full-frame reference is cut to a subarray with SUBSTRT.  Refuses, with a specific message, a
    file that is not a readnoise model, is for another detector, or does not cover the frame.
    """
    return _load_reference(path, layout, "ReadnoiseModel", "readnoise")


def load_gain_map(path, layout: Layout) -> tuple[np.ndarray, dict]:
    """A GAIN reference file (e-/DN) cut to ``layout``'s frame, with the same checks."""
    return _load_reference(path, layout, "GainModel", "gain")


def _load_reference(path, layout: Layout, model_name: str, what: str) -> tuple[np.ndarray, dict]:
    from stdatamodels.jwst import datamodels

    path = Path(path)
    try:
        with getattr(datamodels, model_name)(str(path)) as m:
            data = np.asarray(m.data, dtype=np.float32)
            det = m.meta.instrument.detector
            xstart = m.meta.subarray.xstart or 1
            ystart = m.meta.subarray.ystart or 1
            meta = {"file": path.name, "detector": det, "reftype": m.meta.reftype,
                    "pedigree": m.meta.pedigree, "useafter": m.meta.useafter,
                    "description": m.meta.description}
    except FileNotFoundError:
        raise InputError("the reference file does not exist", path.name) from None
    except Exception as e:
        raise InputError(f"not a readable {what} reference file ({type(e).__name__}: {e})", path.name) from None
    if data is None or data.ndim != 2 or data.size == 0:
        raise InputError(f"the reference file holds no 2-D {what} map", path.name)
    if det and str(det).upper() != layout.detector:
        raise InputError(f"the reference file is for {det}, but the data are {layout.detector}", path.name)
    y0, x0 = layout.ystart - ystart, layout.xstart - xstart
    if y0 < 0 or x0 < 0 or y0 + layout.ny > data.shape[0] or x0 + layout.nx > data.shape[1]:
        raise InputError(
            f"the reference map ({data.shape[0]}x{data.shape[1]} from SUBSTRT {xstart},{ystart}) does not "
            f"cover the data frame ({layout.ny}x{layout.nx} from SUBSTRT {layout.xstart},{layout.ystart})",
            path.name)
    cut = data[y0:y0 + layout.ny, x0:x0 + layout.nx]
    if not np.isfinite(cut).any() or not np.any(cut[np.isfinite(cut)] != 0):
        raise InputError(f"the {what} map is all zero or NaN over this frame", path.name)
    return cut, meta


def compare_maps(current: np.ndarray, baseline: np.ndarray, layout: Layout,
                 labels=("current", "baseline")) -> tuple[np.ndarray, np.ndarray, pd.DataFrame]:
    """Ratio (current / baseline) and difference (current - baseline) maps, and a per-amp table.

    Baseline pixels <= 0 give NaN in the ratio (never a silent inf or 0).
    """
    if current.shape != baseline.shape:
        raise InputError(f"cannot compare maps of shapes {current.shape} and {baseline.shape}")
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(baseline > 0, current / baseline, np.nan).astype(np.float32)
    diff = (current - baseline).astype(np.float32)
    a_tab = amp_statistics(current, layout)
    b_tab = amp_statistics(baseline, layout)
    la, lb = labels
    tab = pd.DataFrame({
        "amp": a_tab["amp"], "x0": a_tab["x0"], "x1": a_tab["x1"], "output": a_tab["output"],
        f"median {la} (DN)": a_tab["median"], f"median {lb} (DN)": b_tab["median"],
        "delta (DN)": a_tab["median"] - b_tab["median"],
        "ratio": a_tab["median"] / b_tab["median"],
        "median pixel ratio": [np.nanmedian(ratio[:, r.x0:r.x1][~layout.reference_mask()[:, r.x0:r.x1]])
                               for r in a_tab.itertuples()],
    })
    return ratio, diff, tab
