"""Readnoise: jwst_reffiles make_readnoise on the selected files of one detector."""

from dataclasses import replace

import numpy as np
import streamlit as st

from core.errors import InputError, ParameterError
from core.io.inventory import find_files, group_by_detector, list_subfolders
from core.pipeline.compare import temporal_vs_spatial
from core.pipeline.registry import READNOISE, REST2014
from core.readnoise import (
    CrdsMeta,
    amp_statistics,
    compare_maps,
    histograms,
    load_reference_map,
    noisy_pixels,
    with_crds_meta,
)
from core.render import histogram_chart, map_png
from core.report.texts import HOW_COMPUTED
from core.rest2014 import Rest2014Params
from core.units import CDS, PER_READ, factor
from core.units import unit as noise_unit
from pages import _ui as ui

st.title("Readnoise")
groups, _ = ui.selected_groups()
group = ui.group_picker(groups)
convention = ui.noise_convention_sidebar()
conv = factor(CDS, convention)  # the maps are CDS noise; shown in the chosen convention
st.caption("Per-pixel temporal noise of group differences (CDS): jwst_reffiles' estimator, computed by the native "
           "engine (the same samples clipped, one pass over the data) or by jwst_reffiles `make_readnoise` itself "
           f"(sidebar). Shown **{noise_unit(convention)}**"
           + (" (CDS / √2, the noise of one group)" if convention == PER_READ else " (the noise of a group difference)")
           + "; the CRDS file is always CDS, as jwst_reffiles writes it.")
params = ui.readnoise_params_sidebar()
if group is None:
    st.stop()
try:
    params.validate()
except ParameterError as e:
    st.error(str(e))
    st.stop()


result = ui.result_or_button(READNOISE, group, params, "readnoise", "rn_run")

layout = result.layout
gain, unit = ui.units_sidebar(layout)
# What is shown: DN, or electrons with the user's gain (the CRDS file below stays in DN, CDS).
in_unit = result.cds_noise_map if unit == "DN" else (result.cds_noise_map * gain).astype(np.float32)  # CDS
shown = in_unit if conv == 1.0 else (in_unit * conv).astype(np.float32)
amps = amp_statistics(shown, layout) if (unit != "DN" or conv != 1.0) else result.amp_table
active = ~layout.reference_mask()
head = result.overall if shown is result.cds_noise_map else result.overall_of(shown)
unbiased, compatible = head["unbiased"], head["compatible"]
vunit = noise_unit(convention, unit)
m1, m2, m3, m4 = st.columns(4)
m1.metric(f"Readnoise, unbiased [{vunit}]", ui.fmt_value(unbiased, ""),
          help="Median over the active pixels, with the clipped std's low bias divided out "
               "(the figure to plan with).")
m2.metric(f"jwst_reffiles estimator [{vunit}]", ui.fmt_value(compatible, ""),
          help=f"The compatible (clipped ddof=0 std) estimator: x{result.bias_factor:.3f} of the unbiased one at "
               f"{result.samples_per_pixel} samples per pixel (Monte Carlo with the same clipping).")
m3.metric("Samples per pixel", result.samples_per_pixel or "n/a",
          help="CDS differences per pixel: all files' (stack) or one file's (ramp, the fewest)")
m4.metric("Bias factor (compatible ÷ unbiased)", f"{result.bias_factor:.3f}" if np.isfinite(result.bias_factor)
          else "n/a")
n1, n2, n3, _ = st.columns(4)
n1.metric("Map estimator", params.mode, help="The map below: compatible = jwst_reffiles' clipped ddof=0 std (biased "
          "low); unbiased = that std divided by its expected bias for the samples per pixel")
n2.metric("Files", len(result.files))
n3.metric("NaN pixels", int((~np.isfinite(result.cds_noise_map)).sum()))
for warning in result.warnings:
    st.error(warning)
for note in result.notes:
    st.warning(note)
st.caption(f"Engine: **{result.engine}**; method **{params.method}**, **{params.group_diff_type}** differences, "
           f"{params.clipping_sigma}σ clipping, ≤{params.max_clipping_iters} iterations, slice width "
           f"{params.slice_width}{', single value' if params.single_value else ''}. The clipped ddof=0 std is "
           "biased low (≈0.92 of the true noise with 10 samples per pixel, 0.97 with 50)"
           + ("; the unbiased mode divides that bias out." if params.mode == "unbiased" else "."))

st.markdown(f"**Per amplifier** (the map's {params.mode} estimator; active pixels, science orientation; {vunit}"
            + (", converted with the chosen gain)" if unit != "DN" else ")"))
show = amps.rename(columns={"x0": "x0 (col)", "x1": "x1 (col, excl.)", "clipped_mean": "clipped mean",
                            "median": "median", "clipped_std": "clipped std",
                            "robust_std": "robust std (MAD)", "n_pixels": "pixels", "n_nan": "NaN"})
ui.table(show)
st.caption("amp = science column quadrant; output = detector readout channel 0-3. Per-amp statistics of the map: "
           f"clipped mean/std 3σ-clipped over its pixels (the readnoise itself used {params.clipping_sigma:g}σ), "
           "robust std = 1.4826 × MAD.")

left, right = st.columns([1, 1.25])
png = map_png(shown, layout, f"{result.detector} readnoise ({result.engine})", f"readnoise [{vunit}]",
              subtitle=f"{len(result.files)} files, {params.method}/{params.group_diff_type}; log stretch")
left.image(png, output_format="PNG", width="stretch")
with right:
    st.markdown(f"**Histograms per amplifier** (log count; {vunit})")
    ui.chart(histogram_chart(histograms({"data": shown}, layout), f"readnoise [{vunit}]"))

st.subheader("Noisy pixels")
nsig = st.number_input("Threshold (robust σ above the amp median)", 1.0, 100.0, 5.0, 0.5, key="rn_noisy_sigma")
noisy = noisy_pixels(result.cds_noise_map, layout, nsig)
st.write(f"{len(noisy)} active pixels more than {nsig:g} σ (robust) above their amplifier's median"
         f"{'; the 500 noisiest are listed, the CSV has all' if len(noisy) > 500 else ''}.")
ui.table(noisy.head(500), height=220)
st.download_button("Noisy pixels (CSV)", noisy.to_csv(index=False).encode(), f"noisy_pixels_{group.slug}.csv",
                   "text/csv", key="rn_dl_noisy", on_click="ignore")

st.subheader("Comparison")
mode = st.radio("Compare with", ["nothing", "a reference readnoise file", "another file set (same detector)"],
                horizontal=True, key="rn_cmp_mode")
root = ui.root_or_stop()
baseline, base_label = None, None
if mode == "a reference readnoise file":
    c1, c2 = st.columns(2)
    folder = c1.selectbox("Folder", list_subfolders(root), format_func=lambda f: f or "(data root)", key="rn_ref_folder")
    try:
        candidates = [p for p in find_files(root, folder, "*.fits") if not p.name.endswith("_uncal.fits")]
    except InputError as e:
        st.error(str(e))
        candidates = []
    if not candidates:
        c2.info("No FITS file other than ramps in this folder.")
    else:
        ref = c2.selectbox("Reference file", candidates, format_func=lambda p: p.name, key="rn_ref_file")
        try:
            baseline, ref_meta = load_reference_map(ref, layout)
            base_label = f"reference {ref.name}"
            st.caption(f"Reference: {ref_meta['file']} ({ref_meta['detector']}, pedigree {ref_meta['pedigree']}, "
                       f"useafter {ref_meta['useafter']}).")
        except InputError as e:
            st.error(f"{e.file}: {e}")
elif mode == "another file set (same detector)":
    folder = st.selectbox("Folder of the other set", list_subfolders(root), format_func=lambda f: f or "(data root)",
                          key="rn_cmp_folder")
    try:
        infos = [replace(i, notes=list(i.notes)) for i in ui.inspect_all(find_files(root, folder, "*_uncal.fits"))]
    except InputError as e:
        st.error(str(e))
        infos = []
    others = [g for g in group_by_detector(infos)[0] if g.base_key == group.base_key and set(g.paths) != set(group.paths)]
    if not others:
        st.info(f"No other {group.key} files of the same geometry in that folder.")
    else:
        other = others[0]
        res2 = ui.peek_cached(READNOISE, other.paths, params)
        if res2 is None and st.button(f"Compute readnoise of the {len(other.files)} files in {folder or 'root'}",
                                      key="rn_cmp_run"):
            res2 = ui.cached_run(READNOISE, other.paths, params, f"Readnoise of {folder}/{group.key}")
        if res2 is not None:
            baseline, base_label = res2.cds_noise_map, f"{folder or 'root'} set"

if baseline is not None:
    ratio, diff, table = compare_maps(result.cds_noise_map, baseline, layout, labels=("this", "baseline"))
    st.caption(f"Baseline: {base_label}. Ratio = this / baseline; difference = this − baseline (DN, CDS).")
    c1, c2 = st.columns(2)
    c1.image(map_png(ratio, layout, "Readnoise ratio", "ratio this / baseline", log=False, diverging=True),
             output_format="PNG", width="stretch")
    c2.image(map_png(diff, layout, "Readnoise difference", "difference [DN, CDS]", log=False, diverging=True),
             output_format="PNG", width="stretch")
    ui.table(table)
    ui.chart(histogram_chart(histograms({"this": result.cds_noise_map, "baseline": baseline}, layout),
                             "CDS noise [DN]"))
    st.download_button("Comparison table (CSV)", table.to_csv(index=False).encode(),
                       f"readnoise_comparison_{group.slug}.csv", "text/csv", key="rn_dl_cmp", on_click="ignore")

st.subheader("Spatial readnoise (Rest 2014 boxes) beside the temporal map")
c1, c2 = st.columns(2)
box = c1.number_input("Box size (pixels)", 8, 2048, 128, 8, key="rest_box")
rest_refcorr = c2.checkbox("Reference-row correction first", key="rest_refcorr")
rest_params = Rest2014Params(box=int(box), refpix_correct=rest_refcorr, groupdq_mask=params.groupdq_mask)
rest = ui.peek_cached(REST2014, group.paths, rest_params)
if rest is None and st.button("Compute box readnoise", key="rest_run"):
    rest = ui.cached_run(REST2014, group.paths, rest_params, f"Box readnoise of {group.key}")
if rest is not None:
    for note in rest.notes:
        st.info(note)
    per_read = (in_unit / np.sqrt(2)).astype(np.float32)  # the box method measures per read: so is this view
    box_map = rest.box_map if unit == "DN" else (rest.box_map * gain).astype(np.float32)
    both = temporal_vs_spatial(per_read, rest, layout, gain, unit)
    l2, r2 = st.columns(2)
    vmin, vmax = np.nanpercentile(np.concatenate([per_read[active], box_map[active]]), [0.5, 99.5])
    l2.image(map_png(per_read, layout, "Temporal (per pixel)", f"noise per read [{unit}]", vmin=vmin, vmax=vmax),
             output_format="PNG", width="stretch")
    r2.image(map_png(box_map, layout, f"Spatial ({rest.box}x{rest.box} boxes, Rest 2014)", f"noise per read [{unit}]",
                     vmin=vmin, vmax=vmax), output_format="PNG", width="stretch")
    ui.table(both)
    st.caption("Why they differ: the spatial box noise is the scatter of pixels within one group difference, so it "
               "includes the row-correlated 1/f inside each box (but not what is common to the whole box); the "
               "temporal per-pixel noise includes all of a pixel's 1/f, weighed over time rather than space, and its "
               "clipped ddof=0 estimator is biased low. Both are shown per read (CDS/√2).")
    ui.how_computed(
        "Consecutive group differences of each integration, tiled into boxes that never straddle an amplifier; "
        "reference pixels skipped. Per box: iterative 3σ clip (median centre first, mean after, ≤10 passes), std with "
        "N−1 divided by c4(N); a box counts only if the clip converged, more than 32 pixels were used and fewer than "
        "10% clipped. Per box, the 3σ-clipped mean over differences, /√2 = per-read noise; per amp, the median of "
        "the boxes with its error.")
    st.download_button("Box readnoise tables (CSV)", rest.tables()["rest2014_boxes"].to_csv(index=False).encode(),
                       f"rest2014_boxes_{group.slug}.csv", "text/csv", key="rest_dl", on_click="ignore")

st.subheader("Downloads")
with st.expander("CRDS header of the reference file", expanded=False):
    c1, c2 = st.columns(2)
    author = c1.text_input("AUTHOR", "NIRCam darks app", key="crds_author")
    pedigree = c2.selectbox("PEDIGREE", ["GROUND", "INFLIGHT", "DUMMY"], key="crds_pedigree")
    useafter = c1.text_input("USEAFTER", "2022-01-01T00:00:00", key="crds_useafter")
    descrip = c2.text_input("DESCRIP (≤ 65 characters)", "CDS noise from dark ramps", max_chars=65, key="crds_descrip")
    history = st.text_area("Extra HISTORY", "", key="crds_history")
try:
    fits_bytes = with_crds_meta(result.model_bytes, CrdsMeta(author, pedigree, useafter, descrip, history))
except ParameterError as e:
    st.error(str(e))
    fits_bytes = None
d1, d2, d3 = st.columns(3)
if fits_bytes and result.warnings and not d1.checkbox("Offer this map as a reference file anyway", key="rn_fits_ok",
                                                       help=result.warnings[0]):
    fits_bytes = None  # an unusable map is not a reference file until the user says so
if fits_bytes:
    d1.download_button("Readnoise reference file (FITS)", fits_bytes, f"readnoise_{group.slug}.fits",
                       "application/fits", key="rn_dl_fits", type="primary", on_click="ignore")
d2.download_button("Per-amp table (CSV)", amps.to_csv(index=False).encode(), f"readnoise_amps_{group.slug}.csv",
                   "text/csv", key="rn_dl_csv", on_click="ignore")
d3.download_button("Map (PNG)", png, f"readnoise_{group.slug}.png", "image/png", key="rn_dl_png", on_click="ignore")

ui.how_computed(HOW_COMPUTED["readnoise"])
