"""All-detector overview: one row per detector and amplifier, each headline number beside its
baseline (an earlier epoch, or a reference readnoise file), with the deviation and a flag.

Units: readnoise in DN (CDS); white and 1/f in DN rms in a CDS frame; instability in DN per read;
the reference/active ratio is unitless.
"""

from __future__ import annotations

import altair as alt
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


def grid_chart(table: pd.DataFrame, threshold_pct: float) -> alt.Chart:
    """Detector x amplifier grid per metric: colour = deviation from baseline (%), text = value."""
    t = table.copy()
    t["metric_label"] = [f"{METRICS[m][0]} [{METRICS[m][1]}]" for m in t["metric"]]
    t["amp_label"] = [f"amp {a}" for a in t["amp"]]  # outputs differ by detector: in the tooltip
    t["output_label"] = [f"output {o}" for o in t["output"]]
    t["text"] = [("n/a" if not np.isfinite(v) else f"{v:.3g}") + (" ⚑" if f else "")
                 for v, f in zip(t["value"], t["flagged"])]
    lim = max(2 * threshold_pct, 5.0)
    base = alt.Chart(t).encode(
        x=alt.X("amp_label:N", title="amplifier (science column order)", sort=None),
        y=alt.Y("detector:N", title=None),
    )
    rect = base.mark_rect(stroke="white").encode(
        color=alt.Color("deviation_pct:Q", title="deviation from baseline (%)",
                        scale=alt.Scale(scheme="redblue", reverse=True, domain=[-lim, lim], clamp=True)),
        tooltip=["detector", "amp_label", "output_label", "metric_label", alt.Tooltip("value:Q", format=".4g"),
                 alt.Tooltip("baseline:Q", format=".4g"), alt.Tooltip("deviation_pct:Q", format=".1f"),
                 "flagged"],
    )
    text = base.mark_text(fontSize=11).encode(text="text:N")
    return (rect + text).properties(width=300, height=alt.Step(28)).facet(
        facet=alt.Facet("metric_label:N", title=None, sort=[f"{v[0]} [{v[1]}]" for v in METRICS.values()]),
        columns=2,
    ).resolve_scale(color="shared")


def trend_chart(table: pd.DataFrame, metric: str) -> alt.Chart:
    """One metric against exposure start (MJD) for every detector/amp, across the epochs given."""
    t = table[(table["metric"] == metric) & table["value"].notna() & table["start_mjd"].notna()].copy()
    t["series"] = [f"{d} amp {a}/out {o}" for d, a, o in zip(t["detector"], t["amp"], t["output"])]
    label, unit = METRICS[metric]
    return alt.Chart(t).mark_line(point=True).encode(
        x=alt.X("start_mjd:Q", title="exposure start (MJD, mean of the group)", scale=alt.Scale(zero=False)),
        y=alt.Y("value:Q", title=f"{label} [{unit}]", scale=alt.Scale(zero=False)),
        color=alt.Color("series:N", title=None),
        tooltip=["series", alt.Tooltip("start_mjd:Q", format=".2f"), alt.Tooltip("value:Q", format=".4g")],
    ).properties(height=260, title=f"{label} per epoch")
