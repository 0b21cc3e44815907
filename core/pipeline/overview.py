"""All-detector overview: one row per detector and amplifier, each headline number beside its
baseline (an earlier epoch, or a reference readnoise file), with the deviation and a flag.

Each metric keeps the convention it was measured in (:data:`METRICS`): readnoise, white and 1/f
in DN per CDS frame, the instability in DN per read, the reference/active ratio unitless;
:func:`in_convention` shows them all per CDS frame or all per read (:mod:`core.units`).  The
readnoise leads with the unbiased estimate; jwst_reffiles' (compatible) estimator, biased low by
a factor that depends on the samples per pixel, is its own metric beside it.
Instability comes with its statistical error (column ``error``, same convention); a metric with
an error is flagged only when its change exceeds both the threshold and 3 errors.  Unstable
reference pixels are a count (flagged in any exposure of the group).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from core.units import CDS, PER_READ, factor, unit

METRICS = {
    # name: (label, convention it is measured in; None: a ratio)
    "readnoise": ("readnoise median, unbiased", CDS),
    "readnoise_compatible": ("readnoise median, jwst_reffiles estimator", CDS),
    "white": ("white", CDS),
    "correlated": ("correlated 1/f", CDS),
    "uncorrelated": ("per-amp 1/f", CDS),
    "instability": ("ref instability", PER_READ),
    "ref_active_white_ratio": ("ref/active white", None),
    "unstable_ref_pixels": ("unstable ref pixels", None),
}
COUNTS = {"unstable_ref_pixels": "count, any exposure"}  # metrics that are counts (no convention, not a ratio)
CHANGE_SIGMAS = 3.0  # a metric with an error is flagged only beyond this many combined errors
COLUMNS = ["detector", "amp", "output", "x0", "x1", "metric", "value", "error", "start_mjd", "detected",
           "upper_limit"]


def metric_title(metric: str, convention: str) -> str:
    """'white [DN rms, CDS]', 'white [DN rms per read]', 'ref/active white [ratio]'."""
    label, measured = METRICS[metric]
    if metric in COUNTS:
        return f"{label} [{COUNTS[metric]}]"
    if measured is None:
        return f"{label} [ratio]"
    return f"{label} [{unit(convention, 'DN' if metric.startswith('readnoise') else 'DN rms')}]"


def in_convention(table: pd.DataFrame, convention: str) -> pd.DataFrame:
    """The table with every noise figure (value, baseline, upper limit) shown in ``convention``;
    deviations in % do not change."""
    out = table.copy()
    f = np.array([factor(METRICS[m][1], convention) for m in out["metric"]])
    for col in ("value", "baseline", "upper_limit", "error", "baseline_error"):
        if col in out:
            out[col] = pd.to_numeric(out[col], errors="coerce") * f
    return out


def overview_rows(key: str, readnoise=None, onef=None, refpix=None, start_mjd: float | None = None) -> pd.DataFrame:
    """Long table (detector, amp, output, x0, x1, metric, value, error, start_mjd, detected, upper_limit) for one detector
    group's results; ``error`` is the value's statistical error where the section gives one (NaN
    otherwise)."""
    rows = []

    def add(amp, output, x0, x1, metric, value, limit=None, error=None):
        v = None if value is None else float(value)
        e = None if error is None else float(error)
        rows.append({"detector": key, "amp": int(amp), "output": int(output), "x0": int(x0), "x1": int(x1),
                     "metric": metric, "value": v if v is not None and np.isfinite(v) else np.nan,
                     "error": e if e is not None and np.isfinite(e) else np.nan,
                     "start_mjd": start_mjd, "detected": limit is None,
                     "upper_limit": np.nan if limit is None else float(limit)})

    if readnoise is not None:
        for r in readnoise.headline.itertuples():
            add(r.amp, r.output, r.x0, r.x1, "readnoise", r.unbiased)
            add(r.amp, r.output, r.x0, r.x1, "readnoise_compatible", r.compatible)
    if onef is not None:
        s = onef.summary()
        det = onef.detection()
        for i, a in enumerate(s["amps"]):
            add(i, a["output"], a["x0"], a["x1"], "white", a["white"])
            add(i, a["output"], a["x0"], a["x1"], "uncorrelated", a["uncorrelated"], det["amps"][i]["upper_limit"])
            if len(s["amps"]) > 1:  # one output: no correlated split
                add(i, a["output"], a["x0"], a["x1"], "correlated", s["correlated"], det["correlated"]["upper_limit"])
    if refpix is not None:
        for i, a in enumerate(refpix.summary()["amps"]):
            add(i, a["output"], a["x0"], a["x1"], "instability", a["instability"], error=a.get("instability_err"))
            add(i, a["output"], a["x0"], a["x1"], "ref_active_white_ratio", a["ref_active_white_ratio"])
            add(i, a["output"], a["x0"], a["x1"], "unstable_ref_pixels", a.get("unstable_pixels_any_exposure"))
    return pd.DataFrame(rows, columns=COLUMNS)


def reference_baseline_rows(key: str, reference_map: np.ndarray, layout) -> pd.DataFrame:
    """Baseline rows (detector, amp, metric "readnoise_compatible", value) from a READNOISE reference
    map cut to the data's frame (:func:`core.readnoise.load_reference_map`): each amp's median over
    active pixels, in DN (CDS) as the maps.  Reference files are made by jwst_reffiles, so they are
    compared with the same (compatible) estimator."""
    from core.readnoise import amp_statistics

    return pd.DataFrame([{"detector": key, "amp": r.amp, "metric": "readnoise_compatible", "value": r.median}
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
