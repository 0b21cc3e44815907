"""Altair charts of a :class:`core.refpix.RefPixResult` (no Streamlit here).

Every builder returns an ``alt.Chart`` (or a compound chart) ready for ``st.altair_chart`` or
``chart.to_html()``.  Units: a *level* or *drift* is the mean of the pixels in one frame (one read,
DN); a *change* is the difference of two consecutive frames (one CDS frame, DN); instability
(against the adjacent active pixels) and the whole-frame residual are in DN per read.  Charts hold
at most ``MAX_ROWS`` rows: longer series are thinned
to every k-th frame and the title says so.
"""

from __future__ import annotations

import altair as alt
import numpy as np
import pandas as pd

MAX_ROWS = 4500

KIND_LABELS = {
    "ref": "reference (all ref rows)",
    "active": "active (clipped mean)",
    "bottom_even": "bottom rows, even cols",
    "bottom_odd": "bottom rows, odd cols",
    "top_even": "top rows, even cols",
    "top_odd": "top rows, odd cols",
    "left": "left side columns",
    "right": "right side columns",
}


def _amp_label(amp, output) -> str:
    return f"amp {int(amp)} (output {int(output)})"


def _empty(message: str) -> alt.Chart:
    """A small chart that says why there is nothing to draw."""
    return (alt.Chart(pd.DataFrame({"text": [message]})).mark_text(align="left", fontSize=13)
            .encode(text="text:N").properties(width=400, height=40))


def _frame_index(levels: pd.DataFrame) -> pd.DataFrame:
    """Add a running frame number over files (by start time), integrations and groups."""
    keys = levels[["file", "expstart", "integration", "group"]].drop_duplicates()
    keys = keys.sort_values(["expstart", "file", "integration", "group"], na_position="last")
    keys["frame"] = np.arange(len(keys))
    return levels.merge(keys, on=["file", "expstart", "integration", "group"], how="left")


def _thin(df: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """Keep every k-th frame so that the chart stays under MAX_ROWS rows."""
    k = max(1, int(np.ceil(len(df) / MAX_ROWS)))
    if k == 1:
        return df, 1
    return df[df["frame"] % k == 0], k


def levels_chart(result, value: str = "drift", kinds=("ref", "active"), width: int = 620,
                 height: int = 130) -> alt.Chart:
    """Time series of reference vs active levels per amp, one panel per amp.

    ``value="drift"``: frame means after removing each pixel's own straight-line ramp (DN per
    read); ``value="level"``: raw frame means (DN), where bias offsets dominate.
    """
    if value not in ("drift", "level"):
        raise ValueError("value must be 'drift' or 'level'")
    lv = result.levels
    if lv is None or lv.empty:
        return _empty("No levels: no readable frames.")
    df = lv[lv["kind"].isin(list(kinds))].dropna(subset=[value])
    if df.empty:
        return _empty("No reference pixels in these frames: nothing to compare.")
    df = _frame_index(df)
    df, k = _thin(df)
    df = df.assign(series=df["kind"].map(KIND_LABELS).fillna(df["kind"]),
                   panel=[_amp_label(a, o) for a, o in zip(df["amp"], df["output"])])
    ytitle = ("Drift after per-pixel ramp removal (DN, per read)" if value == "drift"
              else "Mean level (DN, per read)")
    title = "Reference vs active pixel " + ("drifts" if value == "drift" else "levels") + " per frame"
    if k > 1:
        title += f" (every {k}th frame shown)"
    base = alt.Chart(df).mark_line(point=alt.OverlayMarkDef(size=18)).encode(
        x=alt.X("frame:Q", title="Frame number (files by start time, integrations, groups)"),
        y=alt.Y(f"{value}:Q", title=ytitle, scale=alt.Scale(zero=False)),
        color=alt.Color("series:N", title="Pixels"),
        detail=["file:N", "integration:N"],  # no line across files or integrations
        tooltip=["file:N", "integration:Q", "group:Q", "series:N", alt.Tooltip(f"{value}:Q", format=".3f"),
                 "n_pixels:Q"],
    ).properties(width=width, height=height)
    return base.facet(row=alt.Row("panel:N", title=None, sort=sorted(df["panel"].unique(),
                                                                      key=lambda s: int(s.split()[1])))
                      ).properties(title=title).resolve_scale(y="independent")


def drift_scatter(result, width: int = 220, height: int = 220) -> alt.Chart:
    """Scatter of reference vs active drift per frame, one panel per amp; r in each panel title."""
    lv = result.levels
    if lv is None or lv.empty:
        return _empty("No levels: no readable frames.")
    sub = lv[lv["kind"].isin(["ref", "active"])]
    wide = sub.pivot_table(index=["file", "expstart", "integration", "group", "amp", "output"],
                           columns="kind", values="drift").reset_index()
    if "ref" not in wide or "active" not in wide:
        return _empty("No reference pixels in these frames: no reference/active drift pairs.")
    wide = wide.dropna(subset=["ref", "active"])
    if wide.empty:
        return _empty("No reference/active drift pairs.")
    corr = {s["amp"]: s.get("drift_correlation") for s in result.amp_stats}

    def label(a, o):
        r = corr.get(a)
        return _amp_label(a, o) + (f", r = {r:.2f}" if r is not None else ", r = n/a")

    wide["panel"] = [label(a, o) for a, o in zip(wide["amp"], wide["output"])]
    wide["frame"] = np.arange(len(wide))
    wide, k = _thin(wide)
    title = "Reference vs active drift per frame (r: Pearson correlation over all frames)"
    if k > 1:
        title += f" (every {k}th frame shown)"
    pts = alt.Chart(wide).mark_circle(size=30, opacity=0.7).encode(
        x=alt.X("ref:Q", title="Reference drift (DN, per read)", scale=alt.Scale(zero=False)),
        y=alt.Y("active:Q", title="Active drift (DN, per read)", scale=alt.Scale(zero=False)),
        color=alt.Color("file:N", legend=alt.Legend(title="File") if wide["file"].nunique() <= 12 else None),
        tooltip=["file:N", "integration:Q", "group:Q", alt.Tooltip("ref:Q", format=".3f"),
                 alt.Tooltip("active:Q", format=".3f")],
    ).properties(width=width, height=height)
    order = sorted(wide["panel"].unique(), key=lambda s: int(s.split()[1]))
    # Two panels a row: four at 220 px plus the legend overflow a half-width page.
    return pts.facet(facet=alt.Facet("panel:N", title=None, sort=order), columns=2).properties(
        title=title).resolve_scale(x="independent", y="independent")


def trends_chart(result, width: int = 560, height: int = 170) -> alt.Chart:
    """Per-exposure reference offset and instability vs exposure start (EXPSTART, MJD)."""
    tr = result.trends
    if tr is None or tr.empty or tr["expstart"].isna().all():
        return _empty("No exposure start times (EXPSTART) to plot against.")
    df = tr.dropna(subset=["expstart"]).copy()
    df["amp_label"] = [_amp_label(a, o) for a, o in zip(df["amp"], df["output"])]
    x = alt.X("expstart:Q", title="Exposure start (EXPSTART, MJD)", scale=alt.Scale(zero=False),
              axis=alt.Axis(format=".2f", labelOverlap=True, tickCount=6))
    color = alt.Color("amp_label:N", title="Amplifier")
    tip = ["file:N", "amp_label:N", alt.Tooltip("expstart:Q", format=".4f")]
    off = df.dropna(subset=["ref_offset"])
    charts = []
    if not off.empty:
        charts.append(alt.Chart(off).mark_line(point=True).encode(
            x=x, y=alt.Y("ref_offset:Q", title="Reference − active level (DN)", scale=alt.Scale(zero=False)),
            color=color, tooltip=tip + [alt.Tooltip("ref_offset:Q", format=".2f"),
                                        alt.Tooltip("ref_level:Q", format=".1f"),
                                        alt.Tooltip("active_level:Q", format=".1f")],
        ).properties(width=width, height=height, title="Reference offset per exposure"))
    ins = df.dropna(subset=["instability"])
    if not ins.empty:
        ins = ins.assign(lo=ins["instability"] - ins["instability_err"].fillna(0),
                         hi=ins["instability"] + ins["instability_err"].fillna(0))
        line = alt.Chart(ins).mark_line(point=True).encode(
            x=x, y=alt.Y("instability:Q", title="Instability vs adjacent active (DN per read)"),
            color=color, tooltip=tip + [alt.Tooltip("instability:Q", format=".3f"),
                                        alt.Tooltip("instability_err:Q", format=".3f"),
                                        alt.Tooltip("instability_floor:Q", format=".3f"),
                                        alt.Tooltip("frame_residual:Q", format=".3f"),
                                        alt.Tooltip("frame_residual_1f_share:Q", format=".2f")],
        )
        bars = alt.Chart(ins).mark_rule(opacity=0.6).encode(x=x, y="lo:Q", y2="hi:Q", color=color)
        zero = alt.Chart(pd.DataFrame({"v": [0.0]})).mark_rule(color="gray", strokeDash=[2, 2]).encode(y="v:Q")
        charts.append((line + bars + zero).properties(
            width=width, height=height,
            title="Reference instability per exposure (bars: ±1 error; 0 = as stable as the active pixels)"))
    res = df.dropna(subset=["frame_residual"]) if "frame_residual" in df else df.iloc[0:0]
    if not res.empty:
        line = alt.Chart(res).mark_line(point=True).encode(
            x=x, y=alt.Y("frame_residual:Q", title="Whole-frame residual (DN per read)"),
            color=color, tooltip=tip + [alt.Tooltip("frame_residual:Q", format=".3f"),
                                        alt.Tooltip("frame_residual_floor:Q", format=".3f"),
                                        alt.Tooltip("frame_residual_1f_share:Q", format=".2f")])
        floor = alt.Chart(res.dropna(subset=["frame_residual_floor"])).mark_line(
            strokeDash=[4, 3], opacity=0.6).encode(x=x, y="frame_residual_floor:Q", color=color, detail="amp_label:N")
        charts.append((line + floor).properties(
            width=width, height=height,
            title="Residual a whole-frame reference-row correction leaves, 1/f included (dashed: white floor)"))
    if not charts:
        return _empty("No reference pixels: no offsets or instability to plot.")
    return alt.vconcat(*charts).resolve_scale(color="shared")


def pixel_noise_chart(result, width: int = 560, height: int = 180) -> alt.Chart:
    """Histogram of the reference pixels' robust z-scores by kind, with the flag threshold."""
    pix = result.pixels
    if pix is None or pix.empty or pix["robust_z"].isna().all():
        return _empty("No reference pixel noise to show.")
    df = pix.dropna(subset=["robust_z"])
    edges = np.arange(-10.0, 40.5, 0.5)
    rows = []
    for (kind, parity), g in df.groupby(["kind", "parity"]):
        counts, _ = np.histogram(g["robust_z"].clip(-10, 39.99), bins=edges)
        rows += [{"group": f"{kind}, {parity}", "z0": lo, "z1": lo + 0.5, "count": int(c)}
                 for lo, c in zip(edges[:-1], counts) if c]
    hist = pd.DataFrame(rows)
    bars = alt.Chart(hist).mark_bar(opacity=0.8).encode(
        x=alt.X("z0:Q", title="Robust z-score of reference pixel CDS noise (clipped to -10..40)"),
        x2="z1:Q",
        y=alt.Y("count:Q", title="Pixels", scale=alt.Scale(type="symlog"), stack=None),
        color=alt.Color("group:N", title="Kind"),
        tooltip=["group:N", "z0:Q", "count:Q"],
    )
    rule = alt.Chart(pd.DataFrame({"z": [float(result.params.flag_sigma)]})).mark_rule(
        color="red", strokeDash=[4, 3]).encode(x="z:Q")
    n = int(pix["unstable"].sum())
    return (bars + rule).properties(width=width, height=height,
                                    title=f"Reference pixel noise: {n} flagged above z = {result.params.flag_sigma:g}")


MAX_HISTORY_PIXELS = 60


def unstable_history_chart(result, width: int = 560) -> alt.Chart:
    """Reference pixels flagged in any exposure (rows, most often flagged first, at most
    ``MAX_HISTORY_PIXELS``) x exposures by start time (columns): colour = robust z-score of the
    pixel's CDS noise in that exposure, ⚑ = flagged there."""
    fl, hist = getattr(result, "exposure_flags", None), getattr(result, "history", None)
    if fl is None or hist is None or hist.empty:
        return _empty("No reference pixel flagged in any exposure.")
    top = hist.head(MAX_HISTORY_PIXELS)
    keys = {(int(r.y), int(r.x)): f"amp {int(r.amp)} ({int(r.y)}, {int(r.x)}) {r.kind} {r.edge}: "
            f"{int(r.n_flagged)}/{int(r.n_exposures)}" for r in top.itertuples()}
    df = fl[[(int(y), int(x)) in keys for y, x in zip(fl["y"], fl["x"])]].copy()
    df["pixel"] = [keys[(int(y), int(x))] for y, x in zip(df["y"], df["x"])]
    order = df[["file", "expstart"]].drop_duplicates().sort_values(["expstart", "file"], na_position="last")
    df["mark"] = np.where(df["unstable"], "⚑", "")
    df["z"] = df["robust_z"].clip(-5, 30)
    title = "Reference pixels flagged in any exposure: robust z per exposure (⚑ flagged)"
    if len(hist) > len(top):
        title += f" (the {len(top)} most often flagged of {len(hist)})"
    base = alt.Chart(df).encode(
        x=alt.X("file:N", title="Exposure (by EXPSTART)", sort=list(order["file"]), axis=alt.Axis(labelAngle=-40)),
        y=alt.Y("pixel:N", title="Pixel: amp (y, x) kind edge: flagged/measured", sort=list(keys.values())),
    )
    rect = base.mark_rect().encode(
        color=alt.Color("z:Q", title="robust z (clipped -5..30)", scale=alt.Scale(scheme="orangered")),
        tooltip=["file:N", alt.Tooltip("expstart:Q", format=".4f"), "pixel:N",
                 alt.Tooltip("robust_z:Q", format=".1f"), alt.Tooltip("noise_cds:Q", format=".2f", title="noise (DN, CDS)"),
                 "unstable:N"])
    text = base.mark_text(fontSize=11).encode(text="mark:N")
    return (rect + text).properties(width=width, height=alt.Step(16), title=title)


__all__ = ["drift_scatter", "levels_chart", "pixel_noise_chart", "trends_chart", "unstable_history_chart"]
