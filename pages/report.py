"""Report: one click to a self-contained HTML report, its PDF, and a ZIP bundle of every product."""

import hashlib

import streamlit as st

from core.pipeline.registry import READNOISE, SECTIONS
from core.pipeline.run import AnalysisOptions, GroupResult
from core.report import build_report
from pages import _ui as ui

st.title("Report")
st.caption("Everything computed for the selected files in this session (or found in the result store), in one "
           "report: parameters, provenance (software versions, each input's size, start time and SHA-256), the "
           "overview grid and every section with its 'how computed' note. The HTML works offline.")

groups, rejected = ui.selected_groups()
if not groups:
    ui.group_picker(groups)
    st.stop()

results, rows, section_params, rn_params = [], [], {}, None
for g in groups:
    found = ui.latest_results(g.paths)  # store key -> result
    res = GroupResult(g, readnoise=found.get(READNOISE.store_key),
                      sections={s.name: found[s.store_key] for s in SECTIONS if s.store_key in found})
    if res.readnoise is None and not res.sections:
        continue
    if res.readnoise is not None:
        rn_params = rn_params or res.readnoise.params
    for name, r in res.sections.items():
        if getattr(r, "params", None) is not None:
            section_params.setdefault(name, r.params)
    results.append(res)
    rows.append({"detector": g.key, "files": len(g.files), "readnoise": "yes" if res.readnoise is not None else "—",
                 **{s.title: "yes" if s.name in res.sections else "—" for s in SECTIONS}})

if not results:
    st.info("Nothing computed yet for this selection: run the Readnoise, 1/f noise or Reference pixels page "
            "(or Overview → Compute all) first.")
    st.stop()
st.dataframe(rows, hide_index=True, width="stretch")
missing = [g.key for g in groups if g.key not in {r.group.key for r in results}]
if missing:
    st.warning(f"Nothing computed yet for {', '.join(missing)}: not in the report.")

title = st.text_input("Title", "NIRCam darks report", key="report_title")
opts = AnalysisOptions(readnoise=rn_params, section_params=section_params) if rn_params else \
    AnalysisOptions(section_params=section_params)
fingerprint = hashlib.sha256(repr((title, [(r.group.key, id(r.readnoise), sorted(
    (k, id(v)) for k, v in r.sections.items())) for r in results])).encode()).hexdigest()

report = st.session_state.get("report")
if report is None or st.session_state.get("report_key") != fingerprint:
    box = st.empty()  # the progress box goes once the report is there
    with box.status("Building the HTML report", expanded=False) as status:
        try:
            report = build_report(results, opts, [{"file": f.name, "reason": f.reason} for f in rejected],
                                  title=title, data_root=ui.root_or_stop())
        except Exception as e:  # never a raw traceback: say what failed
            status.update(label="Building the HTML report: failed", state="error", expanded=True)
            st.error(f"The report could not be built: {type(e).__name__}: {e}")
            st.stop()
    box.empty()
    st.session_state["report"], st.session_state["report_key"] = report, fingerprint
    st.session_state.pop("report_pdf", None)
    st.session_state.pop("report_zip", None)

st.write("Sections: " + ", ".join(report.section_titles))
c1, c2, c3, c4 = st.columns(4)
c1.download_button("Report (HTML)", report.html.encode(), "nircam_darks_report.html", "text/html",
                   type="primary", key="dl_report_html", on_click="ignore")
# PDF and ZIP take seconds: made on demand, then offered for download.
ON_DEMAND = [
    (c2, "report_pdf", "Make PDF", "Rendering the PDF (static charts)", report.pdf_bytes,
     "Report (PDF)", "nircam_darks_report.pdf", "application/pdf"),
    (c3, "report_zip", "Make ZIP bundle", "Bundling HTML, PDF, FITS, CSV and summary.json", report.zip_bytes,
     "Bundle (ZIP)", "nircam_darks_bundle.zip", "application/zip"),
]
for col, state, make_label, status, build, label, name, mime in ON_DEMAND:
    if state in st.session_state:
        col.download_button(label, st.session_state[state], name, mime, key=f"dl_{state}", on_click="ignore")
    elif col.button(make_label, key=f"make_{state.split('_')[1]}"):
        with st.status(status):
            st.session_state[state] = build()
        st.rerun()
for i, (name, text) in enumerate(report.run_yamls.items()):
    c4.download_button(name, text.encode(), name, "text/yaml", key=f"dl_run_yaml_{i}", on_click="ignore",
                       help=f"python -m core report --config {name} --out DIR reproduces "
                            + ("this run" if len(report.run_yamls) == 1 else "the results of one parameter set"))
if len(report.run_yamls) > 1:
    st.caption(f"The results were computed with {len(report.run_yamls)} parameter sets (see the report's "
               "Parameters section): one run.yaml each.")
with st.expander("Preview"):
    st.iframe(report.html, height=900)
