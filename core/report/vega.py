"""Vega-lite through vl-convert, offline: the one vega / vega-lite / vega-embed JavaScript bundle an
HTML report inlines, and static PNGs of chart specs for the PDF."""

from __future__ import annotations

from functools import lru_cache

CHART_PNG_SCALE = 2.0
PNG_CSS_DPI = 96.0  # vega's pixels are CSS pixels


def _vl_version() -> str:
    import altair as alt

    return "_".join(alt.SCHEMA_VERSION.split(".")[:2])  # "v6.4.1" -> "v6_4"


@lru_cache(maxsize=1)
def vega_bundle() -> str:
    """The vega + vega-lite + vega-embed JavaScript bundle (one per HTML file; ~0.9 MB)."""
    import vl_convert

    return vl_convert.javascript_bundle(vl_version=_vl_version())


def chart_png(spec: dict, scale: float = CHART_PNG_SCALE) -> bytes:
    """A static PNG of a vega-lite spec (vl-convert, offline)."""
    import vl_convert

    return vl_convert.vegalite_to_png(spec, scale=scale, vl_version=_vl_version())
