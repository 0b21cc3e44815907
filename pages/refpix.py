"""Reference pixels: how stable reference pixels are compared with active pixels."""

import pandas as pd
import streamlit as st

from core.errors import ParameterError
from core.pipeline.registry import REFPIX
from core.refpix import RefPixParams
from core.render.refpix import drift_scatter, levels_chart, pixel_noise_chart, trends_chart
from core.report.texts import CHART_HELP, HOW_COMPUTED
from pages import _ui as ui

st.title("Reference pixels")
st.caption("Reference vs active pixels per amplifier (science order, with detector output). Levels and drifts are "
           "frame means in **DN per read**; instability is the rms over CDS frames of (active change − reference "
           "change) / √2, **DN per read**.")

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
show = amps[["amp", "x0", "x1", "output", "ref_source", "ref_white_read", "active_white_read",
             "ref_active_white_ratio", "instability", "instability_floor", "instability_excess",
             "drift_correlation", "ref_offset", "unstable_pixels"]].rename(columns={
    "ref_white_read": "ref white (DN/read)", "active_white_read": "active white (DN/read)",
    "ref_active_white_ratio": "ref/active white", "instability": "instability (DN/read)",
    "instability_floor": "floor from pixel noise", "instability_excess": "excess over floor",
    "drift_correlation": "ref-active drift r", "ref_offset": "ref − active level (DN)"})
st.subheader("Per amplifier")
st.dataframe(show, hide_index=True, width="stretch")
worst = amps.loc[amps["instability_excess"].fillna(0).idxmax()]
st.caption(f"Largest excess instability: amp {int(worst['amp'])} (output {int(worst['output'])}), "
           f"{ui.fmt_dn(worst['instability_excess'])} per read above the pixel-noise floor. Correlated and "
           "per-output 1/f also raise it: reference rows sample 1/f only at the start and end of a frame.")

st.subheader("Reference vs active drifts")
ui.chart(levels_chart(result))
st.caption(CHART_HELP["levels"])
ui.chart(drift_scatter(result))
st.caption(CHART_HELP["scatter"])

st.subheader("Across exposures")
ui.chart(trends_chart(result))
st.caption(CHART_HELP["trends"])

st.subheader(f"Unstable reference pixels ({len(result.unstable)})")
ui.chart(pixel_noise_chart(result))
st.caption(CHART_HELP["pixels"])
st.dataframe(result.unstable, hide_index=True, width="stretch", height=200)

ui.how_computed(HOW_COMPUTED["refpix"])

st.subheader("Downloads")
tables = result.tables()
cols = st.columns(4)
for i, (name, table) in enumerate(tables.items()):
    cols[i % 4].download_button(f"{name} (CSV)", table.to_csv(index=False).encode(), f"{name}_{group.slug}.csv",
                                "text/csv", key=f"dl_{name}", on_click="ignore")
