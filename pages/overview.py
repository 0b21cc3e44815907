"""Overview: every detector of the selection on one screen, against a baseline."""

import time
from dataclasses import replace

import numpy as np
import pandas as pd
import streamlit as st

from core.errors import InputError
from core.io.inventory import find_files, group_by_detector, list_subfolders
from core.onef import OneFParams
from core.pipeline.batch import Job
from core.pipeline.overview import (
    METRICS,
    compare_with_baseline,
    in_convention,
    metric_title,
    overview_rows,
    reference_baseline_rows,
)
from core.pipeline.registry import ONEF, READNOISE, REFPIX
from core.readnoise import load_reference_map
from core.refpix import RefPixParams
from core.render.overview import grid_chart, trend_chart
from core.report.texts import HOW_COMPUTED
from core.units import PER_READ, unit
from pages import _ui as ui

st.title("Overview")
groups, _ = ui.selected_groups()
convention = ui.noise_convention_sidebar()
st.caption("All detectors of the selection, per amplifier, coloured by the deviation from a baseline. Every noise "
           f"figure in **{unit(convention)}** ({'CDS / √2' if convention == PER_READ else 'a difference of two groups'}"
           "; sidebar: *Noise figures*). n/d <x: the component is not detected, below x. Ref instability: against the "
           "adjacent active pixels, ± its error (a change is flagged beyond the threshold and 3 errors); unstable ref "
           "pixels: reference pixels flagged in any exposure.")
params = ui.readnoise_params_sidebar()
st.sidebar.subheader("Overview")
with_onef = st.sidebar.checkbox("Include 1/f split", value=True, key="ov_onef")
with_refpix = st.sidebar.checkbox("Include reference pixels", value=True, key="ov_refpix")
threshold = st.sidebar.number_input("Flag deviations beyond (%)", 1.0, 500.0, 10.0, 1.0, key="ov_threshold")
color_range = st.sidebar.number_input("Colour range ± (%)", 1.0, 1000.0, max(2 * threshold, 5.0), 1.0, key="ov_crange",
                                      help="Deviations beyond this saturate the colour scale.")
if not groups:
    ui.group_picker(groups)
    st.stop()

root = ui.root_or_stop()
_peeked: dict = {}


def peek(spec, paths, kparams):
    """ui.peek_cached once per (section, files, parameters) in this run of the page."""
    key = (spec.name, tuple(paths), kparams)
    if key not in _peeked:
        _peeked[key] = ui.peek_cached(spec, paths, kparams)
    return _peeked[key]

KINDS = {  # registry name -> (section, the parameters the overview uses)
    READNOISE.name: (READNOISE, params),
    ONEF.name: (ONEF, OneFParams(groupdq_mask=params.groupdq_mask)),
    REFPIX.name: (REFPIX, RefPixParams(groupdq_mask=params.groupdq_mask)),
}
kinds = [READNOISE.name] + ([ONEF.name] if with_onef else []) + ([REFPIX.name] if with_refpix else [])


def group_rows(g, compute: bool, label: str | None = None):
    got = {}
    for kind in kinds:
        spec, kparams = KINDS[kind]
        res = peek(spec, g.paths, kparams)
        if res is None and compute:
            res = ui.cached_run(spec, g.paths, kparams, f"{kind} of {g.key}")
        got[kind] = res
    start = float(np.mean([f.expstart for f in g.files if f.expstart is not None] or [np.nan]))
    return overview_rows(label or g.key, got.get(READNOISE.name), got.get(ONEF.name), got.get(REFPIX.name), start), got


missing = [(g, k) for g in groups for k in kinds if peek(KINDS[k][0], g.paths, KINDS[k][1]) is None]
running = bool(st.session_state.get("ov_running")) and bool(missing)
if missing:
    n_groups = len({g.key for g, _ in missing})
    st.write(f"{len(missing)} computation(s) to run for {n_groups} detector group(s), two groups at a time: "
             + ", ".join(f"{k} of {g.key}" for g, k in missing[:8]) + ("…" if len(missing) > 8 else ""))
    st.button("Compute all", type="primary", key="ov_run", disabled=running,
              on_click=lambda: st.session_state.update(ov_running=True))
if running:
    jobs = [Job(KINDS[k][0], tuple(g.paths), KINDS[k][1], g.key) for g, k in missing]
    t0 = time.perf_counter()
    failed = ui.run_jobs(jobs)
    st.session_state["ov_running"] = False
    st.session_state["ov_last_run"] = (f"{len(jobs) - len(failed)} of {len(jobs)} computations done in "
                                       f"{time.perf_counter() - t0:.0f} s (detector groups two at a time).")
    if not failed:
        st.rerun()  # redraw without the button and the finished progress bar
    st.error(f"{len(failed)} of {len(missing)} computation(s) failed:\n\n" + "\n\n".join(failed))
if not missing and st.session_state.get("ov_last_run"):
    st.success(st.session_state.pop("ov_last_run"))
current = pd.concat([group_rows(g, False)[0] for g in groups], ignore_index=True)
if current.empty:
    st.stop()

st.subheader("Baseline")
mode = st.radio("Compare with", ["nothing", "an earlier epoch (folder)", "reference readnoise files (folder)"],
                horizontal=True, key="ov_base_mode")
baseline = None
if mode != "nothing":
    folder = st.selectbox("Folder", list_subfolders(root), format_func=lambda f: f or "(data root)", key="ov_base_folder")
    try:
        if mode.startswith("an earlier"):
            infos = [replace(i, notes=list(i.notes)) for i in ui.inspect_all(find_files(root, folder, "*_uncal.fits"))]
            current_paths = {g.base_key: set(g.paths) for g in groups}
            base_groups = [b for b in group_by_detector(infos)[0]
                           if b.base_key in current_paths and set(b.paths) != current_paths[b.base_key]]
            if not base_groups:
                st.info("No group of the same detectors and geometry in that folder.")
            need = any(peek(KINDS[k][0], b.paths, KINDS[k][1]) is None for b in base_groups for k in kinds)
            run = st.button("Compute the baseline", key="ov_base_run") if need else False
            key_of = {g.base_key: g.key for g in groups}  # the baseline's row is compared with this group's
            base_frames = [group_rows(b, run, key_of[b.base_key])[0] for b in base_groups]
            if run:
                st.rerun()
            if base_frames:
                baseline = pd.concat(base_frames, ignore_index=True)
        else:
            refs = [p for p in find_files(root, folder, "*.fits") if not p.name.endswith("_uncal.fits")]
            rows = []
            for g in groups:
                rn = peek(READNOISE, g.paths, params)
                if rn is None:
                    continue
                for ref in refs:
                    try:
                        ref_map, _ = load_reference_map(ref, rn.layout)
                    except InputError:
                        continue
                    rows.append(reference_baseline_rows(g.key, ref_map, rn.layout))
                    st.caption(f"{g.key}: reference {ref.name}")
                    break
                else:
                    st.warning(f"No reference readnoise file for {g.key} in that folder.")
            baseline = pd.concat(rows, ignore_index=True) if rows else None
    except InputError as e:
        st.error(str(e))

table = in_convention(compare_with_baseline(current, baseline, threshold), convention)
st.subheader("Detector x amplifier grid")
rn_results = {g.key: r for g in groups if (r := peek(READNOISE, g.paths, params)) is not None}
by_samples: dict = {}  # (samples per pixel, bias factor) -> detector groups
for k, r in rn_results.items():
    by_samples.setdefault((r.samples_per_pixel, r.bias_factor), []).append(k)
st.caption("Readnoise leads with the **unbiased** estimate (clipped std divided by its expected bias); beside it "
           "jwst_reffiles' (compatible) estimator, biased low by "
           + "; ".join(f"x{b:.3f} at {n} samples per pixel" + (f" ({', '.join(ks)})" if len(by_samples) > 1 else "")
                       for (n, b), ks in by_samples.items())
           + f" ({params.engine} engine, {params.method}, {params.group_diff_type} differences). Reference readnoise "
           "files are compared with the compatible estimator, which made them.")
ui.chart(grid_chart(table, threshold, color_range, convention))
flagged = table[table["flagged"]]
if baseline is None:
    st.caption("No baseline chosen: cells are not coloured.")
elif flagged.empty:
    st.success(f"No amplifier deviates by more than {threshold:g} % from the baseline.")
else:
    st.error(f"{len(flagged)} value(s) deviate by more than {threshold:g} % (and, where they have an error, by more "
             "than 3 errors):")
    ui.table(flagged[["detector", "amp", "output", "metric", "value", "error", "baseline", "baseline_error",
                      "deviation_pct", "change_sigma"]]
             .assign(metric=lambda t: [metric_title(m, convention) for m in t["metric"]]))

if baseline is not None and "start_mjd" in baseline:
    both = in_convention(pd.concat([baseline, current], ignore_index=True), convention)
    metric = st.selectbox("Trend of", [m for m in METRICS if m in set(both["metric"])],
                          format_func=lambda m: metric_title(m, convention), key="ov_trend_metric")
    ui.chart(trend_chart(both, metric, convention))

st.subheader("Open a detector")
c1, c2 = st.columns([2, 1])
key = c1.selectbox("Detector", [g.key for g in groups], key="ov_open")
if c2.button("Open its readnoise page", key="ov_open_btn"):
    st.session_state["active_group"] = key
    st.switch_page("pages/readnoise.py")
st.download_button("Overview table (CSV)", table.to_csv(index=False).encode(), "overview.csv", "text/csv",
                   key="ov_dl", on_click="ignore")
ui.how_computed(HOW_COMPUTED["overview"])
