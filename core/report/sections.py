"""The sections of a report, as :class:`~core.report.blocks.Block` s: parameters, provenance, the
overview grid, readnoise, 1/f noise, reference pixels, and a generic layout (its module's docstring
as "how computed", its summary, per-amp numbers, maps and table heads) for any other section of the
registry.  A section with a layout of its own gets a builder here and an entry in
:func:`add_sections`."""

from __future__ import annotations

import math
import re
import textwrap
from collections.abc import Sequence
from dataclasses import asdict

import numpy as np
import pandas as pd

from core.pipeline.registry import SECTIONS
from core.pipeline.run import AnalysisOptions, GroupResult
from core.report.blocks import Block, Builder, amp_columns, fmt_value, table_block
from core.report.config import section_params_effective
from core.report.texts import CHART_HELP, HOW_COMPUTED, SECTION_TITLES, UNITS_NOTE
from core.stats import json_safe

MAX_ROWS_HTML = 40  # long tables (noisy / unstable pixels) are cut; the CSVs in the bundle have all rows


READNOISE_COLUMNS = {  # readnoise parameter -> column title (meanings in the caption)
    "engine": "engine", "mode": "mode", "method": "method", "group_diff_type": "differences",
    "clipping_sigma": "clip σ", "max_clipping_iters": "max iterations", "slice_width": "slice width",
    "single_value": "single value", "nproc": "nproc"}


def _readnoise_parameter_rows(results: Sequence[GroupResult]) -> list[dict]:
    """One row per detector group: the parameters of *its* readnoise result, its readout and DQ use."""
    rows = []
    for res in results:
        rn = res.readnoise
        if rn is None:
            continue
        f0 = res.group.files[0]
        dq = getattr(rn, "dq", None)
        rows.append({"detector": res.group.key,
                     **{title: getattr(rn.params, k) for k, title in READNOISE_COLUMNS.items()},
                     "readout": f"{f0.readpatt} (NFRAMES {f0.nframes or 1}, GROUPGAP {f0.groupgap or 0})",
                     "processing": f0.processing,
                     "samples per pixel": rn.samples_per_pixel,
                     "DQ flags": "none in the files" if not dq else (
                         f"left out: GROUPDQ {dq.get('groupdq_flags', '?')}" if dq.get("used")
                         else "present, not used (jwst_reffiles)")})
    return rows


def _section_parameter_rows(results: Sequence[GroupResult], opts: AnalysisOptions) -> list[tuple]:
    """One row per (detector group, requested section): the parameters of its result (or of the
    request where it failed), and its state; sections not requested get no row."""
    eff = section_params_effective(opts)
    rows = []
    for res in results:
        for sdef in SECTIONS:
            if sdef.name not in opts.sections:
                continue
            result = res.sections.get(sdef.name)
            failed = any(e.startswith(sdef.name) for e in res.errors)
            if result is None and not failed:
                continue  # not computed for this group (the report shows what was computed)
            p = getattr(result, "params", None) or eff.get(sdef.name)
            rows.append((res.group.key, SECTION_TITLES.get(sdef.name, sdef.name),
                         "computed" if result is not None else "failed: see Errors",
                         ", ".join(f"{k}={v}" for k, v in asdict(p).items()) if p is not None else ""))
    return rows


def _parameters_section(b: Builder, opts: AnalysisOptions, results: Sequence[GroupResult]) -> None:
    """The parameters of every result, per detector group: results made with different parameters
    are shown as such, never under one table of one run's parameters."""
    s = b.section("parameters")
    s.blocks.append(Block("p", text=UNITS_NOTE))
    rn_rows = _readnoise_parameter_rows(results)
    if rn_rows:
        s.blocks.append(table_block(pd.DataFrame(rn_rows).astype(str), "Readnoise parameters of each result"))
        s.blocks.append(Block("p", text=(
            "engine: reffiles = jwst_reffiles make_readnoise, native = one streaming pass; mode: compatible "
            "(= jwst_reffiles' clipped ddof=0 std, biased low) or unbiased; method: stack = one clipped std over "
            "all CDS frames, ramp = per file, then the mean; differences: independent G1−G0, G3−G2…, consecutive "
            "every pair; slice width and nproc: jwst_reffiles only.")))
        if len({tuple((k, v) for k, v in row.items() if k != "detector") for row in rn_rows}) > 1:
            s.blocks.append(Block("warn", text="The readnoise results of this report were made with different "
                                               "parameters: compare them with care."))
    c = opts.crds
    s.blocks.append(table_block(pd.DataFrame([("AUTHOR", c.author), ("PEDIGREE", c.pedigree), ("USEAFTER", c.useafter),
                                         ("DESCRIP", c.description), ("HISTORY", c.history or "")],
                                        columns=["CRDS header field", "value"]),
                           "Header fields of the READNOISE reference files in the bundle"))
    sec_rows = _section_parameter_rows(results, opts)
    if sec_rows:
        s.blocks.append(table_block(pd.DataFrame(sec_rows, columns=["detector", "section", "state", "parameters"]),
                                    "Sections besides readnoise: the parameters of each result"))
    s.blocks.append(Block("p", text="Reference readnoise file for comparison: "
                          + (str(opts.reference) if opts.reference else "none") + "."))


def _errors_section(b: Builder, results: Sequence[GroupResult], rejected: list[dict]) -> None:
    """Every error of the analysis in one place (the sections repeat their own)."""
    rows = [(res.group.key, e) for res in results for e in res.errors]
    rows += [(r.get("file", ""), f"not analysed: {r.get('reason', '')}") for r in rejected]
    if not rows:
        return
    s = b.section("errors")
    s.blocks.append(table_block(pd.DataFrame(rows, columns=["detector or file", "error"]), "Errors"))


def _provenance_section(b: Builder, files: pd.DataFrame, versions: dict, created: str,
                        rejected: list[dict]) -> None:
    s = b.section("provenance")
    s.blocks.append(Block("metrics", items=[("Report made", created + " UTC"),
                                            ("Input files analysed", str(len(files))),
                                            ("Files rejected", str(len(rejected)))]))
    s.blocks.append(table_block(pd.DataFrame(list(versions.items()), columns=["software", "version"]), "Software"))
    s.blocks.append(table_block(files, "Input files (size in bytes; SHA-256 of the whole file)",
                           formats={"EXPSTART (MJD)": ".6f"}))
    if rejected:
        s.blocks.append(table_block(pd.DataFrame(rejected, columns=["file", "reason"]),
                               "Rejected files (not analysed)"))
    s.blocks.append(Block("how", text=HOW_COMPUTED["provenance"]))


def _overview_section(b: Builder, results: Sequence[GroupResult]) -> None:
    from core.pipeline.overview import METRICS, metric_title, overview_rows
    from core.units import CDS

    s = b.section("overview")
    frames = []
    for res in results:
        starts = [f.expstart for f in res.group.files if f.expstart is not None]
        frames.append(overview_rows(res.group.key, res.readnoise, res.sections.get("onef"), res.sections.get("refpix"),
                                    float(np.mean(starts)) if starts else None))
    long = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    if long.empty:
        s.blocks.append(Block("warn", text="Nothing was computed."))
    else:
        long["shown"] = [v if not np.isfinite(u) else f"not detected (< {u:.2g} DN)"
                         for v, u in zip(long["value"], long["upper_limit"].astype(float))]
        wide = long.pivot_table(index=["detector", "amp", "output", "x0", "x1"], columns="metric", values="shown",
                                aggfunc="first", dropna=False)
        wide = wide.reindex(columns=[m for m in METRICS if m in wide.columns]).reset_index()
        wide.insert(4, "columns", [amp_columns(a, z) for a, z in zip(wide["x0"], wide["x1"])])
        wide = wide.drop(columns=["x0", "x1"]).rename(columns={m: metric_title(m, CDS) for m in METRICS})
        wide.columns.name = None
        s.blocks.append(table_block(wide, "Detector × amplifier grid of headline numbers (n/a: not computed or not "
                                     "measurable)"))
    for res in results:
        for err in res.errors:
            s.blocks.append(Block("warn", text=f"{res.group.key}: {err}"))
    s.blocks.append(Block("how", text=HOW_COMPUTED["overview"]))


def _readnoise_section(b: Builder, results: Sequence[GroupResult]) -> None:
    from core.readnoise import histograms, noisy_pixels
    from core.render import histogram_chart, map_png

    s = b.section("readnoise")
    s.blocks.append(Block("how", text=HOW_COMPUTED["readnoise"]))
    for res in results:
        rn = res.readnoise
        errs = [e for e in res.errors if e.startswith("readnoise")]
        if rn is None and not errs:
            continue
        s.blocks.append(Block("h3", text=res.group.key))
        for e in errs:
            s.blocks.append(Block("warn", text=e))
        if rn is None:
            continue
        p, h, lay = rn.params, rn.header, rn.layout
        active = ~lay.reference_mask()
        overall = float(np.nanmedian(rn.cds_noise_map[active]))
        s.blocks.append(Block("p", text=(
            f"{len(rn.files)} files ({', '.join(rn.files)}); {h.get('SUBARRAY')}, {h.get('READPATT')}, "
            f"{h.get('NGROUPS')} groups × {h.get('NINTS')} integration(s), {h.get('NFRAMES') or 1} frame(s) per group. "
            f"Engine: {rn.engine}; mode {p.mode}; method {p.method}, "
            f"{p.group_diff_type} differences, {p.clipping_sigma}σ clipping, ≤{p.max_clipping_iters} iterations, "
            f"slice width {p.slice_width}{', single value' if p.single_value else ''}.")))
        s.blocks.append(Block("metrics", items=[
            ("Median CDS noise (active pixels)", f"{overall:.3f} DN"),
            ("Per-read noise (CDS/√2)", f"{overall / math.sqrt(2):.3f} DN"),
            ("NaN pixels", str(int((~np.isfinite(rn.cds_noise_map)).sum())))]))
        for warning in getattr(rn, "warnings", []):
            s.blocks.append(Block("warn", text=warning))
        for note in rn.notes:
            s.blocks.append(Block("note", text=note))
        amps = rn.amp_table
        t = pd.DataFrame({
            "amp": amps["amp"], "columns": [amp_columns(a, z) for a, z in zip(amps["x0"], amps["x1"])],
            "output": amps["output"], "pixels": amps["n_pixels"],
            "median (DN, CDS)": amps["median"], "median per read (DN)": amps["median"] / math.sqrt(2),
            "clipped mean (DN, CDS)": amps["clipped_mean"], "clipped std (DN, CDS)": amps["clipped_std"],
            "robust std (DN, CDS)": amps["robust_std"], "NaN pixels": amps["n_nan"]})
        s.blocks.append(table_block(t, "Per amplifier, active pixels (science column order)"))
        png = map_png(rn.cds_noise_map, lay, f"{rn.detector} readnoise ({rn.engine})", "CDS noise [DN]",
                      subtitle=f"{len(rn.files)} files, {p.method}/{p.group_diff_type}; log stretch")
        s.blocks.append(Block("image", text="CDS noise map (DN), science orientation; amplifier boundaries dashed; "
                                            "NaN pixels grey.", png=png, png_dpi=110))
        b.chart(s, histogram_chart(histograms({"data": rn.cds_noise_map}, lay), "CDS noise [DN]",
                                   title=f"{rn.detector}: histogram per amplifier (active pixels, log count)"),
                "Histogram of the CDS noise of active pixels per amplifier (symlog count).")
        noisy = noisy_pixels(rn.cds_noise_map, lay, 5.0)
        s.blocks.append(Block("p", text=f"{len(noisy)} active pixel(s) more than 5 σ (robust) above their "
                                        "amplifier's median."))
        if len(noisy):
            s.blocks.append(table_block(noisy.rename(columns={"noise_DN": "noise (DN, CDS)",
                                                         "amp_median_DN": "amp median (DN, CDS)",
                                                         "sigmas_above": "σ above"}),
                                   "Noisiest pixels", max_rows=20))
        if res.comparison is not None:
            ratio, diff, table, meta = res.comparison
            s.blocks.append(Block("p", text=(
                f"Comparison with the reference file {meta.get('file')} ({meta.get('detector')}, pedigree "
                f"{meta.get('pedigree')}, useafter {meta.get('useafter')}): ratio = this / reference; "
                "difference = this − reference (DN, CDS).")))
            s.blocks.append(Block("image", text="Ratio map, this / reference.", png=map_png(
                ratio, lay, "Readnoise ratio", "ratio this / reference", log=False, diverging=True), png_dpi=110))
            s.blocks.append(Block("image", text="Difference map, this − reference (DN, CDS).", png=map_png(
                diff, lay, "Readnoise difference", "difference [DN, CDS]", log=False, diverging=True), png_dpi=110))
            s.blocks.append(table_block(table, "Per amplifier: this vs reference (DN, CDS)"))


def _each_result(s, results: Sequence[GroupResult], name: str):
    """Per group: its heading, the section's errors and notes; yields (group result, section result)."""
    for res in results:
        r = res.sections.get(name)
        errs = [e for e in res.errors if e.startswith(name)]
        if r is None and not errs:
            continue
        s.blocks.append(Block("h3", text=res.group.key))
        for e in errs:
            s.blocks.append(Block("warn", text=e))
        if r is None:
            continue
        for note in getattr(r, "notes", []):
            s.blocks.append(Block("note", text=note))
        yield res, r


def _onef_section(b: Builder, results: Sequence[GroupResult]) -> None:
    from core.render.onef import banding_png, components_chart, cross_spectrum_chart, side_correction_chart, spectra_chart

    s = b.section("onef")
    s.blocks.append(Block("how", text=HOW_COMPUTED["onef"]))
    for _res, r in _each_result(s, results, "onef"):
        s.blocks.append(Block("p", text=(
            f"{len(r.files)} files, {r.n_integrations} integration(s), {r.n_cds_frames} CDS frames "
            f"({r.params.diff_type} differences{', reference-row correction first' if r.params.refpix_correct else ''}). "
            f"Frame time {r.frame_time:.3f} s, row frequency {r.row_frequency:.0f} Hz, spectra from "
            f"{r.freq_resolution:.3g} Hz to the {r.nyquist / 1e3:.0f} kHz Nyquist frequency.")))
        s.blocks.append(Block("metrics", items=[
            ("Correlated 1/f (all outputs)", f"{r.correlated:.3f} DN rms, CDS"),
            ("Correlated slope α (PSD ∝ f^-α)", fmt_value(r.correlated_fit.get("slope"), ".2f")),
            ("Quadrature check, max deviation", f"{100 * r.check['max_deviation']:.1f} %")]))
        rows = []
        for a, q in zip(r.amps, r.check["quadrature_sum_over_total"]):
            rows.append({"amp": a["amp"], "columns": amp_columns(a["x0"], a["x1"]), "output": a["output"],
                         "white (DN rms, CDS)": a["white"], "per-output 1/f (DN rms, CDS)": a["uncorrelated"],
                         "per-output slope α": a["uncorrelated_slope"], "correlated 1/f (DN rms, CDS)": r.correlated,
                         "quadrature sum (DN rms, CDS)": a["quadrature_sum"],
                         "total measured (DN rms, CDS)": a["total"], "quadrature / total": q})
        s.blocks.append(table_block(pd.DataFrame(rows), "Noise components per amplifier (DN rms in one CDS frame)"))
        b.chart(s, components_chart(r), "Quadrature sum = √(white² + correlated² + per-output²) against the total "
                                        "measured from the pixels.")
        b.chart(s, spectra_chart(r), "Power spectra per output, one-sided DN²/Hz; dashed lines are the fits.")
        b.chart(s, cross_spectrum_chart(r), HOW_COMPUTED["onef_cross"])
        s.blocks.append(Block("image", text="Row banding: median of each read-order row of each CDS frame (DN).",
                              png=banding_png(r), png_dpi=100))
        band = r.banding
        s.blocks.append(Block("metrics", items=[
            ("Side reference columns, rms of row averages", fmt_value(band.get("side_ref_row_avg_rms")) + " DN"),
            ("Expected from their white noise alone", fmt_value(band.get("side_ref_row_avg_white_expected")) + " DN")]))
        s.blocks.append(Block("p", text="Banding: " + str(band.get("description", ""))))
        bt = r.tables()["onef_banding"]
        bt = pd.DataFrame({
            "amp": bt["amp"], "columns": [amp_columns(a, z) for a, z in zip(bt["x0"], bt["x1"])],
            "output": bt["output"], "row-average rms (DN)": bt["row_avg_rms"],
            "expected from white noise (DN)": bt["row_avg_white_expected"],
            "after side-ref row correction (DN)": bt["row_avg_rms_after"],
            "1/f before (DN rms)": bt["onef_before"], "1/f after (DN rms)": bt["onef_after"],
            "1/f variance removed (fraction)": bt["onef_variance_removed"],
            "side-ref row-average rms (DN)": bt["side_ref_row_avg_rms"],
            "side-ref expected from white (DN)": bt["side_ref_row_avg_white_expected"]})
        s.blocks.append(table_block(bt, "Row banding per amplifier (DN rms in a CDS frame)"))
        b.chart(s, side_correction_chart(r), "Spectra before and after the side-reference-column row correction.")
        td = r.time_domain
        s.blocks.append(Block("p", text=(
            f"pynrc-style time-domain split (for comparison with published numbers): {td['method']}. "
            f"Correlated {fmt_value(td['correlated'])} DN; per output "
            + ", ".join(fmt_value(v) for v in td["uncorrelated"]) + " DN (science amp order).")))
        s.blocks.append(Block("note", text="Known biases of the time-domain split: " + td["known_biases"]))


def _refpix_section(b: Builder, results: Sequence[GroupResult]) -> None:
    import altair as alt

    from core.render.refpix import drift_scatter, levels_chart, pixel_noise_chart, trends_chart, unstable_history_chart

    s = b.section("refpix")
    s.blocks.append(Block("how", text=HOW_COMPUTED["refpix"]))
    for _res, r in _each_result(s, results, "refpix"):
        amps = pd.DataFrame(r.amp_stats)
        show = pd.DataFrame({
            "amp": amps["amp"], "columns": [amp_columns(a, z) for a, z in zip(amps["x0"], amps["x1"])],
            "output": amps["output"], "ref pixels": amps["ref_source"],
            "ref white (DN/read)": amps["ref_white_read"], "active white (DN/read)": amps["active_white_read"],
            "ref/active white": amps["ref_active_white_ratio"], "instability (DN/read)": amps["instability"],
            "± error (DN/read)": amps["instability_err"], "from": amps["instability_source"],
            "white floor (DN/read)": amps["instability_floor"], "1/f between neighbours (DN/read)": amps["instability_1f"],
            "side cols (DN/read)": amps["instability_columns"], "side cols ±": amps["instability_columns_err"],
            "whole-frame residual (DN/read)": amps["frame_residual"], "its 1/f share": amps["frame_residual_1f_share"],
            "ref-active drift r": amps["drift_correlation"], "ref − active level (DN)": amps["ref_offset"],
            "unstable pixels (pooled)": amps["unstable_pixels"],
            "unstable in any exposure": amps["unstable_pixels_any_exposure"],
            "in every exposure": amps["unstable_pixels_persistent"]})
        s.blocks.append(table_block(show, f"Per amplifier (flag threshold z = {r.params.flag_sigma:g})"))
        s.blocks.append(Block("p", text=CHART_HELP["instability"]))
        b.chart(s, levels_chart(r), CHART_HELP["levels"])
        b.chart(s, drift_scatter(r), CHART_HELP["scatter"])
        b.chart(s, trends_chart(r), CHART_HELP["trends"])
        # One figure: the pooled z-score distribution, then the flagged pixels exposure by exposure.
        b.chart(s, alt.vconcat(pixel_noise_chart(r), unstable_history_chart(r)),
                CHART_HELP["pixels"] + " Below: " + CHART_HELP["history"])
        un = r.unstable
        s.blocks.append(Block("p", text=f"{len(un)} unstable reference pixel(s)."))
        if len(un):
            cols = [c for c in ("y", "x", "amp", "output", "kind", "edge", "parity", "noise_cds", "group_median_cds",
                                "robust_z") if c in un.columns]
            s.blocks.append(table_block(un[cols].rename(columns={"noise_cds": "noise (DN, CDS)",
                                                            "group_median_cds": "group median (DN, CDS)",
                                                            "robust_z": "robust z"}),
                                   "Unstable reference pixels (science coordinates)", max_rows=MAX_ROWS_HTML))
        hist = r.history
        s.blocks.append(Block("p", text=f"{len(hist)} reference pixel(s) flagged in at least one of "
                                        f"{len(r.files)} exposure(s), {int(hist['persistent'].sum()) if len(hist) else 0} "
                                        "of them in every exposure."))
        if len(hist):
            cols = ["y", "x", "amp", "output", "kind", "edge", "n_flagged", "n_exposures", "persistent",
                    "flagged_expstart", "z_median_flagged", "z_median_unflagged", "noise_cds_median_flagged",
                    "noise_cds_median_unflagged"]
            s.blocks.append(table_block(hist[cols].rename(columns={
                "flagged_expstart": "flagged in (EXPSTART, MJD)", "noise_cds_median_flagged": "noise flagged (DN, CDS)",
                "noise_cds_median_unflagged": "noise not flagged (DN, CDS)"}),
                "Unstable reference pixels over time (science coordinates)", max_rows=MAX_ROWS_HTML))


def _noisebudget_section(b: Builder, results: Sequence[GroupResult]) -> None:
    from core.pipeline.noisespectra import within_frame_per_read
    from core.render.noisebudget import effective_chart, ktc_frame, ratio_chart, spectra_chart

    s = b.section("noisebudget")
    s.blocks.append(Block("how", text=HOW_COMPUTED["noisebudget"]))
    for res, r in _each_result(s, results, "noisebudget"):
        s.blocks.append(Block("p", text=(
            f"{len(r.files)} file(s), {r.n_integrations} integration(s), {r.n_pairs} pair(s); {r.ngroups} groups, "
            f"NFRAMES {r.nframes}, GROUPGAP {r.groupgap}, TGROUP {r.tgroup:.4g} s. Slope noise in DN/s.")))
        eff = r.effective_table()
        s.blocks.append(table_block(eff.drop(columns=["units"]), "Slope noise per amplifier and n (DN/s)",
                                    max_rows=100))
        b.chart(s, effective_chart(r), CHART_HELP["noisebudget_effective"])
        b.chart(s, ratio_chart(r), CHART_HELP["noisebudget_ratio"])
        comp = r.components_table().drop(columns=["units"])
        s.blocks.append(table_block(comp, "Noise components, kTC and excess-variance parameters per amplifier "
                                          "(DN per group value; kTC DN; p0 DN, p1 DN²; 1/f amplitude DN²/Hz at 1 Hz)"))
        s.blocks.append(table_block(ktc_frame(r), "kTC per amplifier (DN)"))
        onef = res.sections.get("onef")
        b.chart(s, spectra_chart(r, within_frame_per_read(onef) if onef is not None else None),
                CHART_HELP["noisebudget_spectra"])


def _reflow(doc: str) -> str:
    """A docstring as plain paragraphs (hard line breaks joined, list items kept on their own line)."""
    paras = []
    for block in re.split(r"\n\s*\n", textwrap.dedent(doc or "").strip()):
        lines = [ln.strip() for ln in block.splitlines() if ln.strip()]
        if lines and set(lines[-1]) <= set("-=~"):  # an underlined title
            lines = lines[:-1]
        out = []
        for ln in lines:
            if out and not re.match(r"^(\d+\.|[*-])\s", ln):
                out[-1] += " " + ln
            else:
                out.append(ln)
        paras.extend(out)
    return "\n".join(re.sub(r":\w+:`([^`]+)`", r"\1", p.replace("``", "")) for p in paras)


def _generic_section(b: Builder, name: str, results: Sequence[GroupResult]) -> None:
    """A section this report has no special layout for: how it is computed (its module's docstring),
    its summary, per-amp numbers, its maps and the heads of its tables."""
    from core.render import map_png

    s = b.section(name)
    sdef = next((x for x in SECTIONS if x.name == name), None)
    how = HOW_COMPUTED.get(name)
    if how is None and sdef is not None:  # the docstring of the module that holds its analyze function
        import sys

        how = _reflow(sys.modules[sdef.analyze_function().__module__].__doc__ or "")
    if how:
        s.blocks.append(Block("how", text=how))
    for res, r in _each_result(s, results, name):
        summ = json_safe(r.summary()) if hasattr(r, "summary") else {}
        scalars = [(k, fmt_value(v)) for k, v in summ.items() if not isinstance(v, (list, dict))]
        if scalars:
            s.blocks.append(Block("metrics", items=scalars))
        units = summ.get("units", "")
        if isinstance(summ.get("amps"), list) and summ["amps"]:
            s.blocks.append(table_block(pd.DataFrame(summ["amps"]),
                                        f"Per amplifier ({units})" if units else "Per amplifier"))
        layout = res.readnoise.layout if res.readnoise is not None else None
        for attr, value in vars(r).items():
            if (attr.endswith("_map") and isinstance(value, np.ndarray) and layout is not None
                    and value.shape == (layout.ny, layout.nx)):
                label = attr.replace("_", " ")
                s.blocks.append(Block("image", text=f"{label} ({units}), science orientation.", png=map_png(
                    value, layout, f"{res.group.key}: {label}", units or label), png_dpi=110))
        for tname, t in (r.tables().items() if hasattr(r, "tables") else []):
            s.blocks.append(table_block(t, tname, max_rows=20))


def _sections_of(results: Sequence[GroupResult], opts: AnalysisOptions) -> list[str]:
    names = [s.name for s in SECTIONS if s.name in opts.sections]
    return [n for n in names if any(n in r.sections or any(e.startswith(n) for e in r.errors) for r in results)]


def add_sections(b: Builder, results: Sequence[GroupResult], opts: AnalysisOptions, files: pd.DataFrame,
                 versions: dict, created: str, rejected: list[dict]) -> None:
    """Every section of the report, in order: parameters, provenance, overview, readnoise (if it was
    computed or failed), then each requested section that has a result or an error."""
    _parameters_section(b, opts, results)
    _errors_section(b, results, rejected)
    _provenance_section(b, files, versions, created, rejected)
    _overview_section(b, results)
    if any(r.readnoise is not None or any(e.startswith("readnoise") for e in r.errors) for r in results):
        _readnoise_section(b, results)
    for name in _sections_of(results, opts):
        layouts = {"onef": _onef_section, "refpix": _refpix_section, "noisebudget": _noisebudget_section}
        layouts.get(name, lambda bb, rr, n=name: _generic_section(bb, n, rr))(b, results)
