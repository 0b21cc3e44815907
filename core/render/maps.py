"""Figures from results, without Streamlit: PNG maps (matplotlib) and altair charts.

Maps are block-binned to at most 512 x 512 (block mean of finite pixels) before drawing: a
2048 x 2048 map drawn cell by cell would be slow and the eye cannot see it anyway.
"""

from __future__ import annotations

import io

import altair as alt
import numpy as np
import pandas as pd

from core.io.geometry import Layout

MAX_MAP_PIXELS = 512


def block_bin(img: np.ndarray, max_size: int = MAX_MAP_PIXELS) -> tuple[np.ndarray, int]:
    """Block-mean ``img`` by an integer factor so neither side exceeds ``max_size``; NaN ignored."""
    f = int(np.ceil(max(img.shape) / max_size))
    if f <= 1:
        return img.astype(np.float32), 1
    ny, nx = (img.shape[0] // f) * f, (img.shape[1] // f) * f
    blocks = img[:ny, :nx].reshape(ny // f, f, nx // f, f).astype(np.float64)
    with np.errstate(invalid="ignore"):
        good = np.isfinite(blocks)
        s = np.where(good, blocks, 0).sum(axis=(1, 3))
        n = good.sum(axis=(1, 3))
        out = np.where(n > 0, s / np.maximum(n, 1), np.nan)
    return out.astype(np.float32), f


def map_png(
    img: np.ndarray,
    layout: Layout,
    title: str,
    colorbar_label: str,
    log: bool = True,
    diverging: bool = False,
    vmin: float | None = None,
    vmax: float | None = None,
    subtitle: str | None = None,
) -> bytes:
    """A labelled PNG of a map in science orientation (origin lower left), amp boundaries marked.

    ``log``: logarithmic colour stretch; ``diverging``: a symmetric diverging map centred on
    ``vmin``/``vmax``'s midpoint (for ratios and differences).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.colors import LogNorm, Normalize, TwoSlopeNorm

    binned, f = block_bin(img)
    finite = binned[np.isfinite(binned)]
    if finite.size == 0:
        finite = np.array([0.0, 1.0])
    lo = vmin if vmin is not None else float(np.percentile(finite, 0.5))
    hi = vmax if vmax is not None else float(np.percentile(finite, 99.5))
    if hi <= lo:
        hi = lo + 1e-6 + abs(lo) * 1e-3
    if diverging:
        centre = 1.0 if (lo < 1.0 < hi and "ratio" in colorbar_label.lower()) else 0.0
        if not lo < centre < hi:
            centre = 0.5 * (lo + hi)
        norm, cmap = TwoSlopeNorm(centre, lo, hi), "RdBu_r"
    elif log and lo > 0:
        norm, cmap = LogNorm(lo, hi), "viridis"
    else:
        norm, cmap = Normalize(lo, hi), "viridis"

    fig, ax = plt.subplots(figsize=(6.4, 5.6), dpi=110)
    extent = (-0.5, img.shape[1] - 0.5, -0.5, img.shape[0] - 0.5)
    cmap = plt.get_cmap(cmap).with_extremes(bad="0.6")  # NaN pixels grey, never a colour
    im = ax.imshow(np.ma.masked_invalid(binned), origin="lower", cmap=cmap, norm=norm, extent=extent,
                   interpolation="nearest", aspect="equal")
    for a in layout.amps()[1:]:
        ax.axvline(a.x0 - 0.5, color="white", lw=0.8, ls="--", alpha=0.8)
    for a in layout.amps():
        ax.text((a.x0 + a.x1) / 2, img.shape[0] * 1.01, f"amp {a.index} / out {a.output}",
                ha="center", va="bottom", fontsize=7)
    ax.set_xlabel("science column x (DMS orientation)")
    ax.set_ylabel("science row y")
    ax.set_title(title + (f"\n{subtitle}" if subtitle else ""), fontsize=10, pad=16)
    cb = fig.colorbar(im, ax=ax, fraction=0.046, pad=0.03)
    cb.set_label(colorbar_label)
    from matplotlib.ticker import ScalarFormatter

    for axis in (cb.ax.yaxis,):
        axis.set_major_formatter(ScalarFormatter())
        axis.set_minor_formatter(ScalarFormatter() if log and not diverging else axis.get_minor_formatter())
    if f > 1:
        fig.text(0.01, 0.01, f"shown as {f}x{f} block means", fontsize=7, color="0.35")
    buf = io.BytesIO()
    fig.savefig(buf, format="png", bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


def histogram_chart(hist: pd.DataFrame, x_title: str, title: str = "") -> alt.Chart:
    """Per-amp step histograms (one panel per amp), one colour per map when several are overlaid;
    the y axis symlog with every decade labelled (1, 10, 100, 1k, ...); the last bin holds every
    pixel above its start (the x title says from where)."""
    hist = hist.assign(bin_mid=0.5 * (hist["bin_start"] + hist["bin_end"]))
    color = alt.Color("map:N", title=None) if hist["map"].nunique() > 1 else alt.value("#4c78a8")
    top = float(hist["count"].max()) if len(hist) else 1.0
    ticks = [0] + [10**k for k in range(0, int(np.log10(max(top, 1.0))) + 1)]  # every decade labelled
    subtitle = (f"last bin: every pixel above {float(hist['bin_start'].max()):.3g}"
                if len(hist) and "overflow" in hist else "")
    # Vega formats the ticks of a symlog axis with one SI prefix for all ("0k"): label each itself
    label = "datum.value >= 1e6 ? format(datum.value / 1e6, '~g') + 'M' : datum.value >= 1e3 ? " \
            "format(datum.value / 1e3, '~g') + 'k' : format(datum.value, '~g')"
    base = alt.Chart(hist).mark_line(interpolate="step-after").encode(
        x=alt.X("bin_mid:Q", title=x_title, scale=alt.Scale(zero=False, nice=False)),
        y=alt.Y("count:Q", title="pixels per bin (symlog)", scale=alt.Scale(type="symlog"),
                axis=alt.Axis(values=ticks, labelExpr=label)),
        color=color,
        tooltip=["map", "amp", alt.Tooltip("bin_start:Q", format=".2f"), alt.Tooltip("bin_end:Q", format=".2f"), "count"],
    ).properties(width=200, height=150)
    return base.facet(facet=alt.Facet("amp:N", title=None), columns=2).properties(
        title=alt.TitleParams(title, subtitle=subtitle) if subtitle else title)


def amp_bar_chart(table: pd.DataFrame, value_cols: list[str], y_title: str, title: str = "") -> alt.Chart:
    """Grouped bars of several per-amp quantities (columns ``value_cols``) by amp."""
    long = table.assign(amp_label=[f"amp {a} / out {o}" for a, o in zip(table["amp"], table["output"])]).melt(
        id_vars=["amp_label"], value_vars=value_cols, var_name="quantity", value_name="value")
    return alt.Chart(long).mark_bar().encode(
        x=alt.X("amp_label:N", title="amplifier (science order) / detector output"),
        xOffset="quantity:N",
        y=alt.Y("value:Q", title=y_title),
        color=alt.Color("quantity:N", title=None),
        tooltip=["amp_label", "quantity", alt.Tooltip("value:Q", format=".3f")],
    ).properties(title=title, height=260)
