"""Charts for the 1/f section (altair specs and a PNG); no Streamlit here.

Every chart reads a :class:`core.onef.OneFResult`; amps are labelled in science orientation
(``amp i (output k), columns x0-x1``).  Spectra are log-binned one-sided PSDs in DN^2/Hz; on log
axes non-positive values (a noisy cross-spectrum can go negative) are left out, which the titles say.
"""

from __future__ import annotations

import io

import numpy as np
import pandas as pd

from core.units import CDS, factor, unit

FREQ_TITLE = "Frequency (Hz)"
PSD_TITLE = "Power spectral density (DN²/Hz, one-sided)"
RMS_TITLE = "Noise (DN rms in a CDS frame)"  # the spectra's convention (CDS frames)


def amp_label(a: dict) -> str:
    return f"amp {a['amp']} (output {a['output']}), columns {a['x0']}-{a['x1'] - 1}"


def _positive(df: pd.DataFrame, col: str = "psd") -> pd.DataFrame:
    return df[np.isfinite(df[col]) & (df[col] > 0)]


def spectra_frame(result) -> pd.DataFrame:
    """Long table behind :func:`spectra_chart`: freq, psd, series, kind (measured/model), amp label."""
    f = result.freq
    parts = []
    for i, a in enumerate(result.amps):
        lab = amp_label(a)
        series = [
            ("total (measured)", "measured", result.psd[i]),
            ("per-output 1/f (measured)", "measured", result.uncorrelated_psd[i]),
            ("correlated 1/f (measured)", "measured", result.correlated_psd),
            ("total (model)", "model", result.model_total[i]),
            ("white level", "model", np.full_like(f, result.white_psd[i])),
            ("correlated 1/f (fit)", "model", result.model_correlated),
            ("per-output 1/f (fit)", "model", result.model_uncorrelated[i]),
        ]
        for name, kind, y in series:
            parts.append(pd.DataFrame({"freq": f, "psd": y, "series": name, "kind": kind, "amp": lab,
                                       "amp_index": a["amp"]}))
    df = _positive(pd.concat(parts, ignore_index=True))
    # A fit of (near) zero amplitude would stretch the log axis down to 1e-35 and squash the data:
    # models are drawn only down to a thousandth of the smallest measured value.
    measured = df[df["kind"] == "measured"]["psd"]
    floor = 1e-3 * float(measured.min()) if len(measured) else 0.0
    return df[(df["kind"] == "measured") | (df["psd"] >= floor)]


def spectra_chart(result, columns: int = 2, width: int = 320, height: int = 220):
    """Log-log spectrum of each output (science amp order) with the fitted model and components."""
    import altair as alt

    df = spectra_frame(result)
    x = alt.X("freq:Q", scale=alt.Scale(type="log"), title=FREQ_TITLE)
    y = alt.Y("psd:Q", scale=alt.Scale(type="log"), title=PSD_TITLE)
    color = alt.Color("series:N", title="Component")
    tooltip = [alt.Tooltip("series:N", title="component"),
               alt.Tooltip("freq:Q", title="frequency (Hz)", format=".3g"),
               alt.Tooltip("psd:Q", title="PSD (DN²/Hz)", format=".3g")]
    measured = alt.Chart().transform_filter(alt.datum.kind == "measured").mark_line(
        strokeWidth=1.2, point=alt.OverlayMarkDef(size=8)).encode(x=x, y=y, color=color, tooltip=tooltip)
    model = alt.Chart().transform_filter(alt.datum.kind == "model").mark_line(
        strokeDash=[5, 3], strokeWidth=1.6).encode(x=x, y=y, color=color, tooltip=tooltip)
    return (
        alt.layer(measured, model, data=df)
        .properties(width=width, height=height)
        .facet(facet=alt.Facet("amp:N", title=None, sort=alt.SortField("amp_index")), columns=columns)
        .properties(title=f"{result.detector}: power spectra per output, DN²/Hz one-sided "
                          "(dashed = fits; non-positive values not shown)")
    )


def cross_spectrum_chart(result, width: int = 560, height: int = 320):
    """Real part of the cross-spectrum of every output pair, their mean and its power-law fit."""
    import altair as alt

    f = result.freq
    parts = []
    for p, (i, j) in enumerate(result.cross_pairs):
        ai, aj = result.amps[i], result.amps[j]
        parts.append(pd.DataFrame({
            "freq": f, "psd": result.cross[p], "kind": "pair",
            "series": f"amp {i} x amp {j} (outputs {ai['output']}x{aj['output']})"}))
    parts.append(pd.DataFrame({"freq": f, "psd": result.correlated_psd, "kind": "mean",
                               "series": "mean of the 6 pairs"}))
    parts.append(pd.DataFrame({"freq": f, "psd": result.model_correlated, "kind": "fit",
                               "series": "power-law fit"}))
    df = _positive(pd.concat(parts, ignore_index=True))
    x = alt.X("freq:Q", scale=alt.Scale(type="log"), title=FREQ_TITLE)
    y = alt.Y("psd:Q", scale=alt.Scale(type="log"), title="Re cross-spectrum (DN²/Hz, one-sided)")
    tooltip = [alt.Tooltip("series:N"), alt.Tooltip("freq:Q", title="frequency (Hz)", format=".3g"),
               alt.Tooltip("psd:Q", title="Re cross (DN²/Hz)", format=".3g")]
    base = alt.Chart(df).encode(x=x, y=y, color=alt.Color("series:N", title="Output pair"),
                                tooltip=tooltip)
    pairs = base.transform_filter(alt.datum.kind == "pair").mark_line(strokeWidth=0.8, opacity=0.6)
    mean = base.transform_filter(alt.datum.kind == "mean").mark_line(strokeWidth=2.2)
    fit = base.transform_filter(alt.datum.kind == "fit").mark_line(strokeDash=[6, 3], strokeWidth=2)
    slope = result.correlated_fit.get("slope_fitted", float("nan"))
    return alt.layer(pairs, mean, fit).properties(
        width=width, height=height,
        title=(f"{result.detector}: correlated 1/f from output cross-spectra "
               f"(fit slope {slope:.2f}; non-positive values not shown)"),
    )


def components_frame(result, convention: str = CDS) -> pd.DataFrame:
    """One row per amp and component, in DN rms in ``convention``; ``detected`` False (and the bar at
    its upper limit, hatched in the chart) where a 1/f component is not detected."""
    f = factor(CDS, convention)
    det = result.detection()
    rows = []
    one_output = len(result.amps) == 1
    for a, d in zip(result.amps, det["amps"]):
        lab = f"amp {a['amp']} (out {a['output']})"
        comps = [("white", a["white"], None), ("per-output 1/f", a["uncorrelated"], d["upper_limit"])]
        if not one_output:
            comps.append(("correlated 1/f", result.correlated, det["correlated"]["upper_limit"]))
        comps += [("quadrature sum", a["quadrature_sum"], None), ("total measured", a["total"], None)]
        for comp, val, limit in comps:
            rows.append({"amp": lab, "amp_index": a["amp"], "component": comp,
                         "dn_rms": f * float(val if limit is None else limit), "detected": limit is None})
    return pd.DataFrame(rows)


def components_chart(result, width: int = 520, height: int = 300, convention: str = CDS):
    """Grouped bars per amp: white, per-output 1/f, correlated 1/f, their quadrature sum, total, in
    DN rms in ``convention``; an undetected component is a faint bar at its upper limit."""
    import altair as alt

    df = components_frame(result, convention)
    order = ["white", "per-output 1/f", "correlated 1/f", "quadrature sum", "total measured"]
    title = f"Noise [{unit(convention, 'DN rms')}]"
    return alt.Chart(df).mark_bar().encode(
        x=alt.X("amp:N", title="Amplifier (science column order)", sort=alt.SortField("amp_index")),
        xOffset=alt.XOffset("component:N", sort=order),
        y=alt.Y("dn_rms:Q", title=title),
        color=alt.Color("component:N", sort=order, title="Component"),
        opacity=alt.condition(alt.datum.detected, alt.value(1.0), alt.value(0.3)),
        tooltip=[alt.Tooltip("amp:N"), alt.Tooltip("component:N"),
                 alt.Tooltip("dn_rms:Q", title=title, format=".3f"),
                 alt.Tooltip("detected:N", title="detected (else: upper limit)")],
    ).properties(width=width, height=height, title=alt.TitleParams(
        f"{result.detector}: noise components per amp [{unit(convention, 'DN rms')}]",
        subtitle="faint bar: not detected, drawn at its upper limit", anchor="start", offset=8))


def side_correction_chart(result, columns: int = 2, width: int = 320, height: int = 200):
    """Spectra before / after the side-reference-column row correction, per amp (None if n/a)."""
    import altair as alt

    if result.psd_after is None:
        return None
    parts = []
    for i, a in enumerate(result.amps):
        lab = amp_label(a)
        parts.append(pd.DataFrame({"freq": result.freq, "psd": result.psd[i], "series": "before",
                                   "amp": lab, "amp_index": a["amp"]}))
        parts.append(pd.DataFrame({"freq": result.freq, "psd": result.psd_after[i],
                                   "series": "after side-ref row correction", "amp": lab,
                                   "amp_index": a["amp"]}))
    df = _positive(pd.concat(parts, ignore_index=True))
    return (
        alt.Chart(df).mark_line(strokeWidth=1.2).encode(
            x=alt.X("freq:Q", scale=alt.Scale(type="log"), title=FREQ_TITLE),
            y=alt.Y("psd:Q", scale=alt.Scale(type="log"), title=PSD_TITLE),
            color=alt.Color("series:N", title="Spectrum"),
            tooltip=[alt.Tooltip("series:N"), alt.Tooltip("freq:Q", title="frequency (Hz)", format=".3g"),
                     alt.Tooltip("psd:Q", title="PSD (DN²/Hz)", format=".3g")],
        ).properties(width=width, height=height)
        .facet(facet=alt.Facet("amp:N", title=None, sort=alt.SortField("amp_index")), columns=columns)
        .properties(title=f"{result.detector}: effect of the side-reference row correction")
    )


def banding_png(result, width_in: float = 8.0, height_in: float = 4.5, dpi: int = 100) -> bytes:
    """PNG of the banding image: median of each read-order row of each CDS frame (DN) vs time."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    img = np.asarray(result.banding_image, dtype=np.float64)
    fig = Figure(figsize=(width_in, height_in), dpi=dpi)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    ny = img.shape[0]
    if img.size == 0 or not np.isfinite(img).any():
        ax.text(0.5, 0.5, "no banding image (no CDS frames)", ha="center", va="center",
                transform=ax.transAxes)
        ax.set_xlabel("CDS frame (time order)")
        ax.set_ylabel("Row in read order")
    else:
        lim = float(np.nanpercentile(np.abs(img), 99.5)) or 1.0
        t_row_ms = result.row_time * 1e3
        im = ax.imshow(img, origin="lower", aspect="auto", cmap="RdBu_r", vmin=-lim, vmax=lim,
                       interpolation="nearest",
                       extent=(-0.5, img.shape[1] - 0.5, 0, ny * t_row_ms))
        ax.set_xlabel("CDS frame (time order; files, integrations, frames)")
        ax.set_ylabel(f"Time within frame (ms; row in read order x {t_row_ms:.3f} ms)")
        cb = fig.colorbar(im, ax=ax)
        cb.set_label("Row median (DN, CDS)")
    ax.set_title(f"{result.detector}: row banding (row medians of active pixels, all outputs)")
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


__all__ = [
    "amp_label", "banding_png", "components_chart", "components_frame", "cross_spectrum_chart",
    "side_correction_chart", "spectra_chart", "spectra_frame",
]
