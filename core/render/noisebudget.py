"""Altair charts of a :class:`core.noisebudget.NoiseBudgetResult` (no Streamlit, no numbers computed
here).  Slope noise is in DN/s against the number of groups n; spectra are one-sided DN^2/Hz of
group values (per read), along the ramp and within the frame on one frequency axis."""

from __future__ import annotations

import numpy as np
import pandas as pd

FREQ_TITLE = "Frequency (Hz)"
PSD_TITLE = "PSD (DN²/Hz, one-sided, per read)"
SERIES_ORDER = ["measured", "predicted", "white only (√D)"]
ONEF_SERIES = "within frame, pixel clock (1/f section, CDS / 2)"
SPECTRUM_ORDER = ["pixel along ramp", "frame mean along ramp", "row means within frame", ONEF_SERIES,
                  "1/f fit (common mode)"]


def amp_label(a: dict) -> str:
    return f"amp {int(a['amp'])} (output {int(a['output'])})"


def effective_frame(result) -> pd.DataFrame:
    rows = []
    for a in result.amps:
        for kind, key in (("measured", "measured"), ("predicted", "predicted"), ("white only (√D)", "white_only")):
            for n, v in zip(a["n"], a[key]):
                rows.append({"amp": amp_label(a), "amp_index": a["amp"], "n": int(n), "series": kind,
                             "dn_s": float(v), "t_ramp_s": (int(n) - 1) * result.tgroup})
    df = pd.DataFrame(rows)
    return df[np.isfinite(df["dn_s"]) & (df["dn_s"] > 0)] if len(df) else df


def effective_chart(result, width: int = 300, height: int = 220, columns: int = 2):
    """Slope noise against n per amp, log-log: measured (pairs of integrations), predicted from the
    measured covariance, and the white-only curve of the same per-pixel noise."""
    import altair as alt

    df = effective_frame(result)
    title = f"{result.detector}: slope noise vs number of groups (DN/s; TGROUP {result.tgroup:.3f} s)"
    if not result.measured_available:
        title += " — one integration: no measured curve"
    chart = alt.Chart(df).mark_line(point=True).encode(
        x=alt.X("n:Q", scale=alt.Scale(type="log"), title="Number of groups n"),
        y=alt.Y("dn_s:Q", scale=alt.Scale(type="log"), title="Slope noise (DN/s)"),
        color=alt.Color("series:N", sort=SERIES_ORDER, title="Curve"),
        strokeDash=alt.StrokeDash("series:N", sort=SERIES_ORDER, legend=None),
        tooltip=[alt.Tooltip("amp:N"), alt.Tooltip("series:N"), alt.Tooltip("n:Q", title="groups"),
                 alt.Tooltip("t_ramp_s:Q", title="ramp time (s)", format=".1f"),
                 alt.Tooltip("dn_s:Q", title="slope noise (DN/s)", format=".4g")],
    ).properties(width=width, height=height)
    return chart.facet(facet=alt.Facet("amp:N", title=None, sort=alt.SortField("amp_index")),
                       columns=columns).properties(title=title)


def ratio_chart(result, width: int = 300, height: int = 170, columns: int = 2):
    """Ratios against n per amp: measured / predicted (1 when the components explain the slope noise),
    and measured and predicted over the white-only curve (the excess the correlations add)."""
    import altair as alt

    rows = []
    for a in result.amps:
        for n, m, p, w in zip(a["n"], a["measured"], a["predicted"], a["white_only"]):
            for series, q in (("measured / predicted", m / p), ("measured / white only", m / w),
                              ("predicted / white only", p / w)):
                if np.isfinite(q):
                    rows.append({"amp": amp_label(a), "amp_index": a["amp"], "n": int(n), "series": series,
                                 "ratio": float(q)})
    df = pd.DataFrame(rows, columns=["amp", "amp_index", "n", "series", "ratio"])
    line = alt.Chart().mark_line(point=True).encode(
        x=alt.X("n:Q", scale=alt.Scale(type="log"), title="Number of groups n"),
        y=alt.Y("ratio:Q", title="Ratio", scale=alt.Scale(zero=False)),
        color=alt.Color("series:N", title="Ratio"),
        tooltip=[alt.Tooltip("amp:N"), alt.Tooltip("series:N"), alt.Tooltip("n:Q"),
                 alt.Tooltip("ratio:Q", format=".3f")])
    one = alt.Chart().mark_rule(strokeDash=[4, 3], color="gray").encode(y=alt.datum(1.0))
    title = f"{result.detector}: measured / predicted and the excess over white noise"
    if not result.measured_available:
        title += " (one integration: predicted only)"
    return alt.layer(line, one, data=df).properties(width=width, height=height).facet(
        facet=alt.Facet("amp:N", title=None, sort=alt.SortField("amp_index")), columns=columns).properties(title=title)


def spectra_frame(result, within: dict | None = None) -> pd.DataFrame:
    """Long table of the spectra drawn; ``within``: output -> (freq, PSD per read) of the 1/f
    section's within-frame spectra (:func:`core.pipeline.noisespectra.within_frame_per_read`)."""
    parts = []
    for a in result.amps:
        sp, lab = a["spectra"], amp_label(a)
        for series, fk, pk in (("pixel along ramp", "freq_ramp", "psd_pixel"),
                               ("frame mean along ramp", "freq_ramp", "psd_frame"),
                               ("row means within frame", "freq_rows", "psd_rows")):
            f = np.asarray(sp[fk], np.float64)
            if f.size:
                parts.append(pd.DataFrame({"freq": f, "psd": np.asarray(sp[pk], np.float64), "series": series,
                                           "amp": lab, "amp_index": a["amp"]}))
        if within and int(a["output"]) in within:
            f, p = within[int(a["output"])]
            parts.append(pd.DataFrame({"freq": f, "psd": p, "series": ONEF_SERIES, "amp": lab, "amp_index": a["amp"]}))
        fit = sp["fit"]
        if fit.get("alpha") is not None:
            f = np.geomspace(fit["fmin"], fit["fmax"], 40)
            parts.append(pd.DataFrame({"freq": f, "psd": fit["amplitude_1hz"] * f ** -fit["alpha"],
                                       "series": "1/f fit (common mode)", "amp": lab, "amp_index": a["amp"]}))
    df = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=["freq", "psd", "series", "amp"])
    return df[np.isfinite(df["psd"]) & (df["psd"] > 0) & (df["freq"] > 0)]


def spectra_chart(result, within: dict | None = None, width: int = 320, height: int = 220, columns: int = 2):
    """Along-ramp (per-pixel and frame-mean) and within-frame (row-mean) spectra of each output on one
    log frequency axis, with the power law fitted to the common mode over both ranges (dashed), and
    the 1/f section's within-frame spectra up to the pixel-clock Nyquist frequency when ``within``
    is given."""
    import altair as alt

    df = spectra_frame(result, within)
    chart = alt.Chart(df).mark_line(strokeWidth=1.4).encode(
        x=alt.X("freq:Q", scale=alt.Scale(type="log"), title=FREQ_TITLE),
        y=alt.Y("psd:Q", scale=alt.Scale(type="log"), title=PSD_TITLE),
        color=alt.Color("series:N", sort=SPECTRUM_ORDER, title="Spectrum"),
        strokeDash=alt.condition(alt.datum.series == "1/f fit (common mode)", alt.value([6, 3]), alt.value([1, 0])),
        tooltip=[alt.Tooltip("series:N"), alt.Tooltip("freq:Q", title="frequency (Hz)", format=".3g"),
                 alt.Tooltip("psd:Q", title="PSD (DN²/Hz)", format=".3g")],
    ).properties(width=width, height=height)
    return chart.facet(facet=alt.Facet("amp:N", title=None, sort=alt.SortField("amp_index")),
                       columns=columns).properties(
        title=f"{result.detector}: spectra along the ramp (< 1/(2 TGROUP)) and within the frame, per read")


def ktc_frame(result) -> pd.DataFrame:
    return pd.DataFrame([{"amp": a["amp"], "output": a["output"], "kTC active (DN)": a["ktc_active"],
                          "kTC reference (DN)": a["ktc_reference"]} for a in result.amps])


__all__ = ["amp_label", "effective_chart", "effective_frame", "ktc_frame", "ratio_chart", "spectra_chart",
           "spectra_frame"]
