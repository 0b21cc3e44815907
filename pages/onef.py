"""1/f noise: power spectra in readout-time order, split into white, correlated and per-output 1/f."""

import numpy as np
import pandas as pd
import streamlit as st

from core.onef import OneFParams
from core.pipeline.registry import ONEF
from core.render.onef import (
    banding_png,
    components_chart,
    cross_spectrum_chart,
    side_correction_chart,
    spectra_chart,
)
from core.report.texts import HOW_COMPUTED
from core.units import CDS, PER_READ, factor, unit
from pages import _ui as ui

st.title("1/f noise")
groups, _ = ui.selected_groups()
convention = ui.noise_convention_sidebar()
conv = factor(CDS, convention)  # the split is measured in CDS frames
vunit = unit(convention, "DN rms")
st.caption("Each output's pixels laid out on the 10 µs pixel clock in the order they were read (DMS flips undone, "
           "outputs read right to left mirrored, row overheads and the extra row per frame kept as gaps). "
           f"Numbers are **{vunit}**" + (" (CDS / √2)" if convention == PER_READ else " (rms in one CDS frame)")
           + "; spectra are one-sided **DN²/Hz of CDS frames** (per read: half the power).")

group = ui.group_picker(groups, key="onef_group")
st.sidebar.subheader("1/f parameters")
diff = st.sidebar.radio("Group differences", ["consecutive", "independent"], key="onef_diff", horizontal=True)
refcorr = st.sidebar.checkbox("Reference-row correction first", key="onef_refcorr",
                              help="Subtract each output's top/bottom reference-row mean per CDS frame.")
dq_mask = ui.groupdq_mask_sidebar()
if group is None:
    st.stop()
params = OneFParams(diff_type=diff, refpix_correct=refcorr, groupdq_mask=dq_mask)

result = ui.result_or_button(ONEF, group, params, "1/f spectra", "onef_run")

for note in result.notes:
    st.info(note)
summary = result.summary()
detection = result.detection()
one_output = len(result.amps) == 1
corr_limit = detection["correlated"]["upper_limit"]
c = st.columns(4)
c[0].metric(f"Correlated 1/f [{vunit}]", "needs 4 outputs" if one_output else
            ui.fmt_value(summary["correlated"] * conv, "", upper_limit=None if corr_limit is None else corr_limit * conv),
            help="Integral of the mean cross-spectrum of the output pairs. 'not detected': below 5% of the white "
                 "noise, or too weak for its slope to be fitted.")
slope = summary["correlated_slope"]
c[1].metric("Correlated slope α (PSD ∝ f^-α)", f"{slope:.2f}" if slope is not None and np.isfinite(slope) else "n/a",
            help="n/a: not fitted (one output), or the component is too weak to pin its slope down")
c[2].metric("CDS frames", result.n_cds_frames)
c[3].metric("Quadrature check, max deviation", f"{100 * result.check['max_deviation']:.1f} %")

st.subheader("Components per amplifier")
comp = pd.DataFrame(summary["amps"])
for col in ("white", "uncorrelated", "total"):
    comp[col] = comp[col] * conv
comp["uncorrelated"] = [ui.fmt_value(v, "", 3, None if d["upper_limit"] is None else d["upper_limit"] * conv)
                        for v, d in zip(comp["uncorrelated"], detection["amps"])]
comp["uncorrelated_slope"] = [f"{s:.2f}" if s is not None and np.isfinite(s) else "n/a (not detected)"
                              for s in comp["uncorrelated_slope"]]
comp = comp.drop(columns=["dq"], errors="ignore").rename(columns={
    "white": f"white [{vunit}]", "uncorrelated": f"per-output 1/f [{vunit}]",
    "uncorrelated_slope": "per-output slope α", "total": f"total measured [{vunit}]"})
comp.insert(0, "amp", range(len(comp)))
comp["quadrature sum / total"] = result.check["quadrature_sum_over_total"]
ui.table(comp)
ui.chart(components_chart(result, convention=convention))
st.caption("Quadrature sum = √(white² + correlated² + per-output²); it must match the total CDS noise measured "
           "from the pixels within a few percent.")

st.subheader("Power spectra per output")
ui.chart(spectra_chart(result))
ui.how_computed(HOW_COMPUTED["onef"]
                + f" Frame time {result.frame_time:.3f} s, row frequency {result.row_frequency:.0f} Hz.")

st.subheader("Cross-spectra between outputs")
if one_output:
    st.info("This window is read by one output: there is no other output to cross-correlate with.")
else:
    ui.chart(cross_spectrum_chart(result))
    ui.how_computed(HOW_COMPUTED["onef_cross"])

st.subheader("Row banding")
left, right = st.columns([1.3, 1])
left.image(banding_png(result), output_format="PNG", width="stretch")
band = result.banding


def scaled(v):
    return None if v is None else v * conv


right.markdown(
    "- Side reference columns, rms of row averages: "
    f"**{ui.fmt_value(scaled(band.get('side_ref_row_avg_rms')), vunit)}**\n"
    f"- Expected from their white noise alone: "
    f"**{ui.fmt_value(scaled(band.get('side_ref_row_avg_white_expected')), vunit)}**\n"
    f"- {band['description']}")
if result.psd_after is not None:
    ui.chart(side_correction_chart(result))

with st.expander("pynrc-style time-domain split (for comparison with published numbers)"):
    td = result.time_domain
    st.write(td["method"])
    st.write(f"Correlated: {ui.fmt_value(scaled(td['correlated']), vunit)}; per output: "
             + ", ".join(ui.fmt_value(scaled(v), vunit) for v in td["uncorrelated"]))
    st.warning("Known biases: " + td["known_biases"])

st.subheader("Downloads")
tables = result.tables()
cols = st.columns(len(tables))
for col, (name, table) in zip(cols, tables.items()):
    col.download_button(f"{name} (CSV)", table.to_csv(index=False).encode(), f"{name}_{group.slug}.csv", "text/csv",
                        key=f"dl_{name}", on_click="ignore")
