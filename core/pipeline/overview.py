"""All-detector overview: one row per detector and amplifier, each headline number beside its
baseline (an earlier epoch, or a reference readnoise file), with the deviation and a flag.

Units: readnoise in DN (CDS); white and 1/f in DN rms in a CDS frame; instability in DN per read;
the reference/active ratio is unitless.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

METRICS = {
    # name: (label, unit)
    "readnoise": ("readnoise median", "DN, CDS"),
    "white": ("white", "DN rms, CDS"),
    "correlated": ("correlated 1/f", "DN rms, CDS"),
    "uncorrelated": ("per-amp 1/f", "DN rms, CDS"),
    "instability": ("ref instability", "DN per read"),
    "ref_active_white_ratio": ("ref/active white", "ratio"),
}


def overview_rows(key: str, readnoise=None, onef=None, refpix=None, start_mjd: float | None = None) -> pd.DataFrame:
    """Long table (detector, amp, output, x0, x1, metric, value) for one detector group's results."""
    rows = []

    def add(amp, output, x0, x1, metric, value):
        v = None if value is None else float(value)
        rows.append({"detector": key, "amp": int(amp), "output": int(output), "x0": int(x0), "x1": int(x1),
                     "metric": metric, "value": v if v is not None and np.isfinite(v) else np.nan,
                     "start_mjd": start_mjd})

    if readnoise is not None:
        for r in readnoise.amp_table.itertuples():
            add(r.amp, r.output, r.x0, r.x1, "readnoise", r.median)
    if onef is not None:
        s = onef.summary()
        for i, a in enumerate(s["amps"]):
            add(i, a["output"], a["x0"], a["x1"], "white", a["white"])
            add(i, a["output"], a["x0"], a["x1"], "uncorrelated", a["uncorrelated"])
            add(i, a["output"], a["x0"], a["x1"], "correlated", s["correlated"])
    if refpix is not None:
        for i, a in enumerate(refpix.summary()["amps"]):
            add(i, a["output"], a["x0"], a["x1"], "instability", a["instability"])
            add(i, a["output"], a["x0"], a["x1"], "ref_active_white_ratio", a["ref_active_white_ratio"])
    return pd.DataFrame(rows, columns=["detector", "amp", "output", "x0", "x1", "metric", "value", "start_mjd"])


def reference_baseline_rows(key: str, reference_map: np.ndarray, layout) -> pd.DataFrame:
    """Baseline rows (detector, amp, metric "readnoise", value) from a READNOISE reference map cut to
    the data's frame (:func:`core.readnoise.load_reference_map`): each amp's median over active
    pixels, in DN (CDS) as the maps."""
    from core.readnoise import amp_statistics

    return pd.DataFrame([{"detector": key, "amp": r.amp, "metric": "readnoise", "value": r.median}
                         for r in amp_statistics(reference_map, layout).itertuples()],
                        columns=["detector", "amp", "metric", "value"])


def compare_with_baseline(current: pd.DataFrame, baseline: pd.DataFrame | None, threshold_pct: float) -> pd.DataFrame:
    """Add ``baseline``, ``deviation_pct`` (100 x (value/baseline - 1)) and ``flagged`` columns.

    Rows without a baseline keep NaN deviation and are never flagged (nothing silently zero).
    """
    out = current.copy()
    if baseline is None or baseline.empty:
        out["baseline"] = np.nan
    else:
        b = baseline.set_index(["detector", "amp", "metric"])["value"]
        out["baseline"] = [b.get((d, a, m), np.nan) for d, a, m in zip(out["detector"], out["amp"], out["metric"])]
    with np.errstate(divide="ignore", invalid="ignore"):
        out["deviation_pct"] = np.where(out["baseline"] > 0, 100.0 * (out["value"] / out["baseline"] - 1.0), np.nan)
    out["flagged"] = np.abs(out["deviation_pct"]) > threshold_pct
    return out
