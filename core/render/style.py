"""The one chart style of the app and the report: room above the title (a chart drawn under a
heading or a table must not hide its title), titles left-aligned and clear of the plot, legend
labels long enough for "amp 0 x amp 1 (outputs 3, 2)"."""

from __future__ import annotations


def styled(chart):
    """``chart`` (an altair top-level chart) with the app's configuration."""
    import altair as alt

    return chart.configure(
        padding={"top": 18, "left": 8, "right": 8, "bottom": 8},
        title=alt.TitleConfig(anchor="start", offset=12, fontSize=14),
        legend=alt.LegendConfig(labelLimit=360, titleLimit=360),
        axis=alt.AxisConfig(titleLimit=600, labelLimit=300),
    )


__all__ = ["styled"]
