"""Charts of the all-detector overview table (:mod:`core.pipeline.overview`): the detector x
amplifier grid and the trend of one metric across epochs."""

from __future__ import annotations

import altair as alt
import numpy as np
import pandas as pd

from core.pipeline.overview import METRICS, metric_title
from core.units import CDS


def cell_text(value: float, upper_limit: float | None = None) -> str:
    """A grid cell: the value, 'n/d <x' for an undetected component, 'n/a' where not measured."""
    if upper_limit is not None and np.isfinite(upper_limit):
        return f"n/d <{upper_limit:.2g}"
    return "n/a" if value is None or not np.isfinite(value) else f"{value:.3g}"


def grid_chart(table: pd.DataFrame, threshold_pct: float, color_range_pct: float | None = None,
               convention: str = CDS) -> alt.Chart:
    """Detector x amplifier grid per metric, every noise figure in ``convention`` (the table as
    :func:`core.pipeline.overview.in_convention` gives it): colour = deviation from baseline (%),
    over +-``color_range_pct`` (default: twice the threshold, at least 5%); text = value ('n/d <x'
    where a component is not detected), white on the darkest cells so it stays readable."""
    t = table.copy()
    t["metric_label"] = [metric_title(m, convention) for m in t["metric"]]
    t["amp_label"] = [f"amp {a}" for a in t["amp"]]  # outputs differ by detector: in the tooltip
    t["output_label"] = [f"output {o}" for o in t["output"]]
    limits = t["upper_limit"] if "upper_limit" in t else [None] * len(t)
    t["text"] = [cell_text(v, u) + (" ⚑" if f else "") for v, u, f in zip(t["value"], limits, t["flagged"])]
    lim = float(color_range_pct) if color_range_pct else max(2 * threshold_pct, 5.0)
    t["dark"] = np.abs(t["deviation_pct"].fillna(0.0)) > 0.6 * lim
    base = alt.Chart(t).encode(
        x=alt.X("amp_label:N", title="amplifier (science column order)", sort=None),
        y=alt.Y("detector:N", title=None, axis=alt.Axis(labelLimit=400)),
    )
    rect = base.mark_rect(stroke="white").encode(
        color=alt.Color("deviation_pct:Q", title="deviation from baseline (%)",
                        scale=alt.Scale(scheme="redblue", reverse=True, domain=[-lim, lim], clamp=True)),
        tooltip=["detector", "amp_label", "output_label", "metric_label", alt.Tooltip("value:Q", format=".4g")]
        + ([alt.Tooltip("error:Q", format=".3g", title="± error")] if "error" in t else [])
        + [alt.Tooltip("baseline:Q", format=".4g"), alt.Tooltip("deviation_pct:Q", format=".1f")]
        + ([alt.Tooltip("change_sigma:Q", format=".1f", title="change / error")] if "change_sigma" in t else [])
        + ["flagged"],
    )
    text = base.mark_text(fontSize=11).encode(
        text="text:N", color=alt.condition(alt.datum.dark, alt.value("white"), alt.value("black")))
    return (rect + text).properties(width=300, height=alt.Step(28)).facet(
        facet=alt.Facet("metric_label:N", title=None, sort=[metric_title(m, convention) for m in METRICS]),
        columns=2,
    ).resolve_scale(color="shared")


def trend_chart(table: pd.DataFrame, metric: str, convention: str = CDS) -> alt.Chart:
    """One metric against exposure start (MJD) for every detector/amp, across the epochs given
    (values in ``convention``, as :func:`core.pipeline.overview.in_convention` gives them)."""
    t = table[(table["metric"] == metric) & table["value"].notna() & table["start_mjd"].notna()].copy()
    t["series"] = [f"{d} amp {a}/out {o}" for d, a, o in zip(t["detector"], t["amp"], t["output"])]
    label, title = METRICS[metric][0], metric_title(metric, convention)
    t["start"] = pd.to_datetime((t["start_mjd"] - 40587.0) * 86400.0, unit="s")  # MJD 40587 = 1970-01-01 UTC
    return alt.Chart(t).mark_line(point=True).encode(
        x=alt.X("start:T", title="exposure start (UTC, mean of the group)", axis=alt.Axis(format="%Y-%m-%d")),
        y=alt.Y("value:Q", title=title, scale=alt.Scale(zero=False)),
        color=alt.Color("series:N", title=None),
        tooltip=["series", alt.Tooltip("start:T", title="start (UTC)", format="%Y-%m-%d %H:%M"),
                 alt.Tooltip("start_mjd:Q", title="MJD", format=".3f"), alt.Tooltip("value:Q", format=".4g")],
    ).properties(height=260, title=f"{label} per epoch")
