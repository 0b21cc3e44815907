"""Reference pixels: how stable reference pixels are compared with active pixels."""

import pandas as pd
import streamlit as st

from core.errors import ParameterError
from core.pipeline.registry import REFPIX
from core.refpix import RefPixParams
from core.render.refpix import drift_scatter, levels_chart, pixel_noise_chart, trends_chart, unstable_history_chart
from core.report.texts import CHART_HELP, HOW_COMPUTED
from pages import _ui as ui

st.title("Reference pixels")
st.caption("Reference vs active pixels per amplifier (science order, with detector output). Levels and drifts are "
           "frame means in **DN per read**. **Instability** (DN per read) compares each frame's reference pixels with "
           "the active pixels read next to them, minus the same comparison between active neighbours: 0 when the "
           "reference pixels are as stable as the active ones, whatever the 1/f. The **whole-frame residual** is the "
           "former figure: what a whole-frame reference-row correction leaves, 1/f included.")

groups, _ = ui.selected_groups()
group = ui.group_picker(groups, key="refpix_group")
st.sidebar.subheader("Reference-pixel parameters")
flag = st.sidebar.number_input("Flag unstable pixels above (robust z)", 2.0, 50.0, 5.0, 0.5, key="refpix_flag")
dq_mask = ui.groupdq_mask_sidebar()
if group is None:
    st.stop()
params = RefPixParams(flag_sigma=float(flag), groupdq_mask=dq_mask)
try:
    params.validate()
except ParameterError as e:
    st.error(str(e))
    st.stop()

result = ui.result_or_button(REFPIX, group, params, "reference-pixel stability", "refpix_run")

for note in result.notes:
    st.info(note)
amps = pd.DataFrame(result.amp_stats)
show = amps[["amp", "output", "instability", "instability_err", "instability_source", "instability_floor",
             "instability_1f", "instability_rows", "instability_rows_err", "instability_columns",
             "instability_columns_err", "frame_residual", "frame_residual_floor", "frame_residual_1f_share",
             "ref_white_read", "active_white_read", "ref_active_white_ratio", "drift_correlation", "ref_offset",
             "unstable_pixels", "unstable_pixels_any_exposure", "unstable_pixels_persistent"]].rename(columns={
    "instability": "instability (DN/read)", "instability_err": "± error", "instability_source": "from",
    "instability_floor": "white floor (DN/read)", "instability_1f": "1/f between neighbours (DN/read)",
    "instability_rows": "rows (DN/read)", "instability_rows_err": "rows ±", "instability_columns": "side cols (DN/read)",
    "instability_columns_err": "side cols ±", "frame_residual": "whole-frame residual (DN/read)",
    "frame_residual_floor": "its white floor", "frame_residual_1f_share": "its 1/f share",
    "ref_white_read": "ref white (DN/read)", "active_white_read": "active white (DN/read)",
    "ref_active_white_ratio": "ref/active white", "drift_correlation": "ref-active drift r",
    "ref_offset": "ref − active level (DN)", "unstable_pixels": "unstable (pooled)",
    "unstable_pixels_any_exposure": "unstable in any exposure", "unstable_pixels_persistent": "in every exposure"})
st.subheader("Per amplifier")
ui.table(show)
st.caption(CHART_HELP["instability"])

st.subheader("Reference vs active drifts")
ui.chart(levels_chart(result))
st.caption(CHART_HELP["levels"])
ui.chart(drift_scatter(result))
st.caption(CHART_HELP["scatter"])

st.subheader("Across exposures")
ui.chart(trends_chart(result))
st.caption(CHART_HELP["trends"])

st.subheader(f"Unstable reference pixels ({len(result.unstable)} pooled over exposures, "
             f"{len(result.history)} in any exposure)")
ui.chart(pixel_noise_chart(result))
st.caption(CHART_HELP["pixels"])
ui.table(result.unstable, height=200)
st.markdown("**Over time**: every reference pixel flagged in any exposure, in how many of them and which.")
ui.chart(unstable_history_chart(result))
st.caption(CHART_HELP["history"])
ui.table(result.history, height=240)

ui.how_computed(HOW_COMPUTED["refpix"])

st.subheader("Downloads")
tables = result.tables()
cols = st.columns(4)
for i, (name, table) in enumerate(tables.items()):
    cols[i % 4].download_button(f"{name} (CSV)", table.to_csv(index=False).encode(), f"{name}_{group.slug}.csv",
                                "text/csv", key=f"dl_{name}", on_click="ignore")
