"""Noise budget: slope noise against the number of groups (measured and predicted), spectra, kTC."""

import pandas as pd
import streamlit as st

from core.noisebudget import NoiseBudgetParams
from core.onef import OneFParams
from core.pipeline.noisespectra import within_frame_per_read
from core.pipeline.registry import NOISEBUDGET, ONEF
from core.render.noisebudget import effective_chart, ktc_frame, ratio_chart, spectra_chart
from core.report.texts import CHART_HELP, HOW_COMPUTED
from pages import _ui as ui

st.title("Noise budget")
st.caption("Noise of a fitted slope against the number of groups n, in **DN/s**: measured from pairs of "
           "integrations and predicted from the measured noise components. Spectra are one-sided **DN²/Hz** of "
           "group values; kTC in **DN**.")

groups, _ = ui.selected_groups()
group = ui.group_picker(groups, key="noisebudget_group")
dq_mask = ui.groupdq_mask_sidebar()
if group is None:
    st.stop()
params = NoiseBudgetParams(groupdq_mask=dq_mask)
result = ui.result_or_button(NOISEBUDGET, group, params, "noise budget", "noisebudget_run")

for note in result.notes:
    st.info(note)
st.write(f"{len(result.files)} file(s), {result.n_integrations} integration(s), {result.n_pairs} pair(s); "
         f"{result.ngroups} groups, NFRAMES {result.nframes}, GROUPGAP {result.groupgap}, "
         f"TGROUP {result.tgroup:.4g} s.")

st.subheader("Slope noise against the number of groups")
ui.chart(effective_chart(result))
st.caption(CHART_HELP["noisebudget_effective"])
ui.chart(ratio_chart(result))
st.caption(CHART_HELP["noisebudget_ratio"])
tables = result.tables()
ui.table(tables["noisebudget_effective"], height=260)

st.subheader("Components and kTC per amplifier")
ui.table(tables["noisebudget_components"])
ui.table(ktc_frame(result))

st.subheader("Spectra along the ramp and within the frame")
onef = ui.peek_cached(ONEF, group.paths, OneFParams(groupdq_mask=dq_mask))
ui.chart(spectra_chart(result, within_frame_per_read(onef) if onef is not None else None))
st.caption(CHART_HELP["noisebudget_spectra"] + ("" if onef is not None else
           " Compute the 1/f page (default settings) to add its within-frame spectra up to 50 kHz."))

ui.how_computed(HOW_COMPUTED["noisebudget"])

st.subheader("Downloads")
cols = st.columns(4)
for i, (name, table) in enumerate(tables.items()):
    cols[i % 4].download_button(f"{name} (CSV)", pd.DataFrame(table).to_csv(index=False).encode(),
                                f"{name}_{group.slug}.csv", "text/csv", key=f"dl_{name}", on_click="ignore")
