"""All-detector overview: one row per detector and amplifier, each headline number beside its
baseline (an earlier epoch, or a reference readnoise file), with the deviation and a flag.

Units: readnoise in DN (CDS); white and 1/f in DN rms in a CDS frame; instability in DN per read
(against the adjacent active pixels, with its statistical error in ``error``); the reference/active
ratio is unitless; unstable reference pixels are a count (flagged in any exposure of the group).
A metric with an error is flagged only when its change exceeds both the threshold and 3 errors.
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
    "unstable_ref_pixels": ("unstable ref pixels", "count, any exposure"),
}
CHANGE_SIGMAS = 3.0  # a metric with an error is flagged only beyond this many combined errors


def overview_rows(key: str, readnoise=None, onef=None, refpix=None, start_mjd: float | None = None) -> pd.DataFrame:
    """Long table (detector, amp, output, x0, x1, metric, value, error, start_mjd) for one detector
    group's results; ``error`` is the value's statistical error where the section gives one (NaN
    otherwise)."""
    rows = []

    def num(v):
        v = None if v is None else float(v)
        return v if v is not None and np.isfinite(v) else np.nan

    def add(amp, output, x0, x1, metric, value, error=None):
        rows.append({"detector": key, "amp": int(amp), "output": int(output), "x0": int(x0), "x1": int(x1),
                     "metric": metric, "value": num(value), "error": num(error), "start_mjd": start_mjd})

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
            add(i, a["output"], a["x0"], a["x1"], "instability", a["instability"], a.get("instability_err"))
            add(i, a["output"], a["x0"], a["x1"], "ref_active_white_ratio", a["ref_active_white_ratio"])
            add(i, a["output"], a["x0"], a["x1"], "unstable_ref_pixels", a.get("unstable_pixels_any_exposure"))
    return pd.DataFrame(rows, columns=["detector", "amp", "output", "x0", "x1", "metric", "value", "error",
                                       "start_mjd"])


def reference_baseline_rows(key: str, reference_map: np.ndarray, layout) -> pd.DataFrame:
    """Baseline rows (detector, amp, metric "readnoise", value) from a READNOISE reference map cut to
    the data's frame (:func:`core.readnoise.load_reference_map`): each amp's median over active
    pixels, in DN (CDS) as the maps."""
    from core.readnoise import amp_statistics

    return pd.DataFrame([{"detector": key, "amp": r.amp, "metric": "readnoise", "value": r.median}
                         for r in amp_statistics(reference_map, layout).itertuples()],
                        columns=["detector", "amp", "metric", "value"])


def compare_with_baseline(current: pd.DataFrame, baseline: pd.DataFrame | None, threshold_pct: float) -> pd.DataFrame:
    """Add ``baseline``, ``deviation_pct`` (100 x (value/baseline - 1)), ``change_sigma`` and
    ``flagged`` columns.

    Rows without a baseline keep NaN deviation and are never flagged (nothing silently zero).  Where
    the value and the baseline have errors (column ``error``), ``change_sigma`` is |value -
    baseline| / sqrt(error^2 + baseline error^2) and a row is flagged only when it deviates by more
    than ``threshold_pct`` *and* more than ``CHANGE_SIGMAS`` errors (against a baseline at or below 0,
    which has no percentage, by the errors alone); rows without errors by the threshold alone.
    """
    out = current.copy()
    if "error" not in out:
        out["error"] = np.nan
    if baseline is None or baseline.empty:
        out["baseline"] = np.nan
        out["baseline_error"] = np.nan
    else:
        b = baseline.set_index(["detector", "amp", "metric"])
        keys = list(zip(out["detector"], out["amp"], out["metric"]))
        out["baseline"] = [b["value"].get(k, np.nan) for k in keys]
        be = b["error"] if "error" in b else None
        out["baseline_error"] = [be.get(k, np.nan) if be is not None else np.nan for k in keys]
    with np.errstate(divide="ignore", invalid="ignore"):
        out["deviation_pct"] = np.where(out["baseline"] > 0, 100.0 * (out["value"] / out["baseline"] - 1.0), np.nan)
        comb = np.sqrt(out["error"].astype(float) ** 2 + out["baseline_error"].astype(float) ** 2)
        out["change_sigma"] = np.where(comb > 0, np.abs(out["value"] - out["baseline"]) / comb, np.nan)
    has_err = np.isfinite(comb) & (comb > 0)
    significant = np.where(has_err, out["change_sigma"] > CHANGE_SIGMAS, True)
    # A baseline at or below 0 with an error (an instability consistent with none): no percentage
    # exists, so any change beyond CHANGE_SIGMAS errors is flagged.
    no_pct = has_err & (out["baseline"] <= 0)
    out["flagged"] = ((np.abs(out["deviation_pct"]) > threshold_pct) | no_pct) & significant
    return out
