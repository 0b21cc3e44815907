"""Self-contained reports of an analysis: HTML (offline, interactive charts), PDF and a ZIP bundle.

* **HTML**: one file that needs no network.  Maps are PNG data URLs; charts are vega-lite specs
  drawn by ONE inline vega / vega-lite / vega-embed bundle (from vl-convert), one ``vegaEmbed``
  call per chart.
* **PDF**: the same content on A4 landscape pages (matplotlib ``PdfPages``); charts as static PNGs
  (vl-convert ``vegalite_to_png``).  Every section starts on a new page, and so does every
  detector within a section.
* **ZIP**: ``report.html``, ``report.pdf``, ``run.yaml``, ``summary.json`` and, per detector
  group, exactly what ``python -m core analyze`` writes (CRDS READNOISE FITS, every table as CSV).

``run.yaml`` holds the parameters and the file list (relative to the data root where possible) so
that ``python -m core report --config run.yaml --out DIR`` reproduces a run made in the app.
"""

from __future__ import annotations

import base64
import datetime as _dt
import hashlib
import html as _html
import io
import json
import math
import os
import platform
import re
import tempfile
import textwrap
import zipfile
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, fields
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from core import __version__
from core.errors import InputError, ParameterError
from core.io.inventory import DATA_ROOT_ENV
from core.pipeline.registry import SECTIONS
from core.pipeline.run import AnalysisOptions, GroupResult, run_analysis, write_group_products
from core.readnoise import CrdsMeta, ReadnoiseParams
from core.report.texts import CHART_HELP, HOW_COMPUTED, SECTION_TITLES, UNITS_NOTE
from core.runtime import Progress
from core.stats import json_safe

MAX_ROWS_HTML = 40  # long tables (noisy / unstable pixels) are cut; the CSVs in the bundle have all rows
CHART_PNG_SCALE = 2.0
PNG_CSS_DPI = 96.0  # vega's pixels are CSS pixels


# ------------------------------------------------------------------------------------------------
# Provenance
# ------------------------------------------------------------------------------------------------
def sha256_file(path, chunk: int = 1 << 20) -> str:
    """SHA-256 hex digest of a file, streamed in ``chunk``-byte pieces (bounded memory)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while True:
            b = f.read(chunk)
            if not b:
                break
            h.update(b)
    return h.hexdigest()


def software_versions() -> dict[str, str]:
    """Versions of this app and of the packages whose numbers the report shows."""
    from importlib.metadata import PackageNotFoundError, version

    out = {"NIRCam darks app (core)": __version__}
    for pkg in ("jwst", "jwst_reffiles", "numpy", "astropy", "stdatamodels", "scipy", "altair",
                "vl-convert-python", "matplotlib"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            out[pkg] = "not installed"
    out["python"] = platform.python_version()
    return out


def _root(data_root) -> Path | None:
    value = data_root if data_root is not None else os.environ.get(DATA_ROOT_ENV)
    return Path(value).expanduser().resolve() if value else None


def _display_path(p: Path, root: Path | None) -> str:
    p = Path(p).absolute()
    if root is not None:
        try:
            return str(p.resolve().relative_to(root))
        except ValueError:
            pass
    return str(p)


def file_provenance(group_results: Sequence[GroupResult], data_root=None) -> pd.DataFrame:
    """One row per analysed input file: group, file, folder, size, start time, EXPSTART, SHA-256."""
    root = _root(data_root)
    rows = []
    for res in group_results:
        for f in res.group.files:
            rows.append({
                "group": res.group.key, "file": f.name,
                "folder": str(Path(_display_path(f.path, root)).parent),
                "size (bytes)": int(f.size), "start (UTC)": f.date_obs,
                "EXPSTART (MJD)": f.expstart, "SHA-256": sha256_file(f.path),
            })
    return pd.DataFrame(rows, columns=["group", "file", "folder", "size (bytes)", "start (UTC)",
                                       "EXPSTART (MJD)", "SHA-256"])


# ------------------------------------------------------------------------------------------------
# run.yaml
# ------------------------------------------------------------------------------------------------
def _section_params_effective(opts: AnalysisOptions) -> dict:
    """Parameters of every section that ``opts`` runs, defaults filled in (name -> params object)."""
    out = {}
    for s in SECTIONS:
        if s.name not in opts.sections:
            continue
        p = opts.section_params.get(s.name)
        out[s.name] = p if p is not None else s.default_params()
    return out


def run_config_yaml(files, opts: AnalysisOptions, data_root=None) -> str:
    """A ``run.yaml`` that reproduces this run: parameters (defaults filled in) and the file list.

    Files inside the data root (``data_root``, else ``$DARKS_DATA_ROOT``) are written relative to
    it, other files as absolute paths.
    """
    import yaml

    root = _root(data_root)
    doc = {
        "app": "NIRCam darks",
        "version": __version__,
        "data_root": str(root) if root else None,
        "files": [_display_path(Path(f), root) for f in files],
        "readnoise": asdict(opts.readnoise),
        "crds": asdict(opts.crds),
        "reference": _display_path(Path(opts.reference), root) if opts.reference else None,
        "sections": list(opts.sections),
        "section_params": {k: asdict(v) for k, v in _section_params_effective(opts).items()},
    }
    head = ("# NIRCam darks run configuration. Reproduce with:\n"
            "#   python -m core report --config run.yaml --out DIR\n"
            "# Relative file paths are relative to the data root ($DARKS_DATA_ROOT, else data_root below).\n")
    return head + yaml.safe_dump(doc, sort_keys=False, allow_unicode=True)


def _dataclass_from(cls, values, what: str):
    """``cls(**values)`` with unknown keys refused and ints accepted for float fields."""
    if values is None:
        values = {}
    if not isinstance(values, dict):
        raise ParameterError(f"{what} must be a mapping of parameter names to values")
    known = {f.name: f for f in fields(cls)}
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise ParameterError(f"unknown {what} parameter(s): {', '.join(unknown)} "
                             f"(known: {', '.join(known)})")
    defaults = cls()
    kw = {}
    for k, v in values.items():
        d = getattr(defaults, k)
        if isinstance(d, bool):
            if not isinstance(v, bool):
                raise ParameterError(f"{what} {k} must be true or false, not {v!r}")
        elif isinstance(d, float) and isinstance(v, int) and not isinstance(v, bool):
            v = float(v)
        elif isinstance(d, int) and isinstance(v, float) and v.is_integer():
            v = int(v)
        kw[k] = v
    obj = cls(**kw)
    return obj.validate() if hasattr(obj, "validate") else obj


def load_run_config(path, data_root=None) -> tuple[list[Path], AnalysisOptions]:
    """Read a ``run.yaml`` (see :func:`run_config_yaml`): (files, options).

    Relative file paths are resolved against ``data_root``, else ``$DARKS_DATA_ROOT``, else the
    ``data_root`` recorded in the file, else the folder of the run.yaml.
    """
    import yaml

    path = Path(path)
    try:
        doc = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise InputError("the run configuration does not exist", path.name) from None
    except (OSError, yaml.YAMLError) as e:
        raise InputError(f"not a readable run configuration ({type(e).__name__}: {e})", path.name) from None
    if not isinstance(doc, dict):
        raise InputError("the run configuration is not a YAML mapping", path.name)
    base = data_root or os.environ.get(DATA_ROOT_ENV) or doc.get("data_root") or path.parent
    base = Path(base).expanduser()
    files = doc.get("files") or []
    if not isinstance(files, list) or not all(isinstance(f, str) for f in files):
        raise InputError("'files' must be a list of paths", path.name)
    resolved = [Path(f) if os.path.isabs(f) else base / f for f in files]
    readnoise = _dataclass_from(ReadnoiseParams, doc.get("readnoise"), "readnoise")
    crds = _dataclass_from(CrdsMeta, doc.get("crds"), "crds")
    ref = doc.get("reference")
    reference = None if not ref else (Path(ref) if os.path.isabs(ref) else base / ref)
    names = {s.name: s for s in SECTIONS}
    sections = doc.get("sections", list(names))
    if not isinstance(sections, list) or any(s not in names for s in sections):
        raise ParameterError(f"'sections' must be a list of {', '.join(names)}; got {sections!r}")
    sp = doc.get("section_params") or {}
    if not isinstance(sp, dict) or any(k not in names for k in sp):
        raise ParameterError(f"'section_params' keys must be among {', '.join(names)}; got {list(sp)!r}")
    section_params = {}
    for name, values in sp.items():
        section_params[name] = _dataclass_from(names[name].params_class(), values, name)
    opts = AnalysisOptions(readnoise=readnoise, crds=crds, reference=reference, sections=tuple(sections),
                           section_params=section_params)
    return resolved, opts


# ------------------------------------------------------------------------------------------------
# Report content model
# ------------------------------------------------------------------------------------------------
@dataclass
class Block:
    """One piece of a section: ``kind`` in h3, p, note, warn, metrics, table, image, chart, how."""

    kind: str
    text: str = ""
    table: pd.DataFrame | None = None
    items: list = field(default_factory=list)  # metrics: [(label, value)]
    png: bytes = b""
    png_dpi: float = 110.0
    spec: dict | None = None
    chart_id: str = ""
    formats: dict = field(default_factory=dict)  # table column -> format spec


@dataclass
class Section:
    id: str
    title: str
    blocks: list[Block] = field(default_factory=list)


def _fmt(v, fmt: str | None = None) -> str:
    if v is None or v is pd.NA:
        return "n/a"
    if isinstance(v, (bool, np.bool_)):
        return "yes" if v else "no"
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    if isinstance(v, (float, np.floating)):
        v = float(v)
        if not math.isfinite(v):
            return "n/a"
        if fmt:
            return format(v, fmt)
        if v == 0:
            return "0"
        a = abs(v)
        if a >= 1e4 and a < 1e8:
            return f"{v:.1f}"
        return f"{v:.4g}"
    return str(v)


def _cells(block: Block) -> tuple[list[str], list[list[str]], set[int]]:
    df = block.table
    headers = [str(c) for c in df.columns]
    rows = [[_fmt(v, block.formats.get(c)) for c, v in zip(df.columns, r)] for r in df.itertuples(index=False)]
    numeric = {i for i, c in enumerate(df.columns) if pd.api.types.is_numeric_dtype(df[c])
               and not pd.api.types.is_bool_dtype(df[c])}
    return headers, rows, numeric


def _compact(obj, digits: int = 10):
    """Round floats to ``digits`` significant digits (smaller specs; 10 keeps MJD to 1 s); NaN/inf -> None."""
    if isinstance(obj, float):
        if not math.isfinite(obj):
            return None
        return float(f"{obj:.{digits}g}")
    if isinstance(obj, dict):
        return {k: _compact(v, digits) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_compact(v, digits) for v in obj]
    return obj


def _vl_version() -> str:
    import altair as alt

    return "_".join(alt.SCHEMA_VERSION.split(".")[:2])  # "v6.4.1" -> "v6_4"


@lru_cache(maxsize=1)
def vega_bundle() -> str:
    """The vega + vega-lite + vega-embed JavaScript bundle (one per HTML file; ~0.9 MB)."""
    import vl_convert

    return vl_convert.javascript_bundle(vl_version=_vl_version())


class _Builder:
    """Collects sections and numbers charts."""

    def __init__(self):
        self.sections: list[Section] = []
        self.charts: list[dict] = []

    def section(self, key: str, title: str | None = None) -> Section:
        s = Section(f"sec-{re.sub(r'[^a-z0-9]+', '-', key.lower()).strip('-')}", title or SECTION_TITLES.get(key, key))
        self.sections.append(s)
        return s

    def chart(self, sec: Section, chart, caption: str = "") -> None:
        if chart is None:
            return
        spec = _compact(chart.to_dict())
        cid = f"chart-{len(self.charts) + 1}"
        title = spec.get("title")
        title = title.get("text") if isinstance(title, dict) else title
        self.charts.append({"id": cid, "title": str(title or caption or cid), "spec": spec})
        sec.blocks.append(Block("chart", text=caption, spec=spec, chart_id=cid))


def _table(df: pd.DataFrame, caption: str = "", formats: dict | None = None, max_rows: int | None = None) -> Block:
    total = len(df)
    if max_rows is not None and total > max_rows:
        df = df.head(max_rows)
        caption = (caption + " " if caption else "") + f"(first {max_rows} of {total} rows; all in the CSV)"
    return Block("table", text=caption, table=df.reset_index(drop=True), formats=formats or {})


def _amp_cols(x0, x1) -> str:
    return f"{int(x0)}-{int(x1) - 1}"


# -- sections -------------------------------------------------------------------------------------
def _parameters_section(b: _Builder, opts: AnalysisOptions, computed: set[str]) -> None:
    s = b.section("parameters")
    s.blocks.append(Block("p", text=UNITS_NOTE))
    rn = opts.readnoise
    rows = [("engine", rn.engine, "reffiles = jwst_reffiles make_readnoise; native = one streaming pass"),
            ("mode", rn.mode, "native engine: compatible (= jwst_reffiles) or unbiased"),
            ("method", rn.method, "stack: one clipped std over all CDS frames; ramp: per file, then mean"),
            ("group differences", rn.group_diff_type, "independent: G1−G0, G3−G2…; consecutive: every pair"),
            ("clipping sigma", rn.clipping_sigma, "σ"),
            ("max clipping iterations", rn.max_clipping_iters, ""),
            ("slice width", rn.slice_width, "columns per jwst_reffiles slice"),
            ("single value", rn.single_value, "replace the map by one clipped value"),
            ("nproc", rn.nproc, "processes")]
    s.blocks.append(_table(pd.DataFrame(rows, columns=["readnoise parameter", "value", "meaning"]).astype(str),
                           "Readnoise parameters"))
    c = opts.crds
    s.blocks.append(_table(pd.DataFrame([("AUTHOR", c.author), ("PEDIGREE", c.pedigree), ("USEAFTER", c.useafter),
                                         ("DESCRIP", c.description), ("HISTORY", c.history or "")],
                                        columns=["CRDS header field", "value"]),
                           "Header fields of the READNOISE reference files in the bundle"))
    sec_rows = []
    eff = _section_params_effective(opts)
    for sdef in SECTIONS:
        if sdef.name not in opts.sections:
            state = "not requested"
        else:
            state = "computed" if sdef.name in computed else "requested (no result: see errors)"
        p = eff.get(sdef.name)
        sec_rows.append((SECTION_TITLES.get(sdef.name, sdef.name), state,
                         ", ".join(f"{k}={v}" for k, v in asdict(p).items()) if p is not None else ""))
    s.blocks.append(_table(pd.DataFrame(sec_rows, columns=["section", "state", "parameters"]),
                           "Sections besides readnoise"))
    s.blocks.append(Block("p", text="Reference readnoise file for comparison: "
                          + (str(opts.reference) if opts.reference else "none") + "."))


def _provenance_section(b: _Builder, files: pd.DataFrame, versions: dict, created: str,
                        rejected: list[dict]) -> None:
    s = b.section("provenance")
    s.blocks.append(Block("metrics", items=[("Report made", created + " UTC"),
                                            ("Input files analysed", str(len(files))),
                                            ("Files rejected", str(len(rejected)))]))
    s.blocks.append(_table(pd.DataFrame(list(versions.items()), columns=["software", "version"]), "Software"))
    s.blocks.append(_table(files, "Input files (size in bytes; SHA-256 of the whole file)",
                           formats={"EXPSTART (MJD)": ".6f"}))
    if rejected:
        s.blocks.append(_table(pd.DataFrame(rejected, columns=["file", "reason"]),
                               "Rejected files (not analysed)"))
    s.blocks.append(Block("how", text=HOW_COMPUTED["provenance"]))


def _overview_section(b: _Builder, results: Sequence[GroupResult]) -> None:
    from core.pipeline.overview import METRICS, overview_rows

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
        wide = long.pivot(index=["detector", "amp", "output", "x0", "x1"], columns="metric", values="value")
        wide = wide.reindex(columns=[m for m in METRICS if m in wide.columns]).reset_index()
        wide.insert(4, "columns", [_amp_cols(a, z) for a, z in zip(wide["x0"], wide["x1"])])
        wide = wide.drop(columns=["x0", "x1"]).rename(columns={
            m: f"{METRICS[m][0]} [{METRICS[m][1]}]" for m in METRICS})
        wide.columns.name = None
        s.blocks.append(_table(wide, "Detector × amplifier grid of headline numbers (n/a: not computed or not "
                                     "measurable)"))
    for res in results:
        for err in res.errors:
            s.blocks.append(Block("warn", text=f"{res.group.key}: {err}"))
    s.blocks.append(Block("how", text=HOW_COMPUTED["overview"]))


def _readnoise_section(b: _Builder, results: Sequence[GroupResult]) -> None:
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
            f"{h.get('NGROUPS')} groups × {h.get('NINTS')} integration(s). Engine: {rn.engine}; method {p.method}, "
            f"{p.group_diff_type} differences, {p.clipping_sigma}σ clipping, ≤{p.max_clipping_iters} iterations, "
            f"slice width {p.slice_width}{', single value' if p.single_value else ''}.")))
        s.blocks.append(Block("metrics", items=[
            ("Median CDS noise (active pixels)", f"{overall:.3f} DN"),
            ("Per-read noise (CDS/√2)", f"{overall / math.sqrt(2):.3f} DN"),
            ("NaN pixels", str(int((~np.isfinite(rn.cds_noise_map)).sum())))]))
        for note in rn.notes:
            s.blocks.append(Block("note", text=note))
        amps = rn.amp_table
        t = pd.DataFrame({
            "amp": amps["amp"], "columns": [_amp_cols(a, z) for a, z in zip(amps["x0"], amps["x1"])],
            "output": amps["output"], "pixels": amps["n_pixels"],
            "median (DN, CDS)": amps["median"], "median per read (DN)": amps["median"] / math.sqrt(2),
            "clipped mean (DN, CDS)": amps["clipped_mean"], "clipped std (DN, CDS)": amps["clipped_std"],
            "robust std (DN, CDS)": amps["robust_std"], "NaN pixels": amps["n_nan"]})
        s.blocks.append(_table(t, "Per amplifier, active pixels (science column order)"))
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
            s.blocks.append(_table(noisy.rename(columns={"noise_DN": "noise (DN, CDS)",
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
            s.blocks.append(_table(table, "Per amplifier: this vs reference (DN, CDS)"))


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


def _onef_section(b: _Builder, results: Sequence[GroupResult]) -> None:
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
            ("Correlated slope α (PSD ∝ f^-α)", _fmt(r.correlated_fit.get("slope"), ".2f")),
            ("Quadrature check, max deviation", f"{100 * r.check['max_deviation']:.1f} %")]))
        rows = []
        for a, q in zip(r.amps, r.check["quadrature_sum_over_total"]):
            rows.append({"amp": a["amp"], "columns": _amp_cols(a["x0"], a["x1"]), "output": a["output"],
                         "white (DN rms, CDS)": a["white"], "per-output 1/f (DN rms, CDS)": a["uncorrelated"],
                         "per-output slope α": a["uncorrelated_slope"], "correlated 1/f (DN rms, CDS)": r.correlated,
                         "quadrature sum (DN rms, CDS)": a["quadrature_sum"],
                         "total measured (DN rms, CDS)": a["total"], "quadrature / total": q})
        s.blocks.append(_table(pd.DataFrame(rows), "Noise components per amplifier (DN rms in one CDS frame)"))
        b.chart(s, components_chart(r), "Quadrature sum = √(white² + correlated² + per-output²) against the total "
                                        "measured from the pixels.")
        b.chart(s, spectra_chart(r), "Power spectra per output, one-sided DN²/Hz; dashed lines are the fits.")
        b.chart(s, cross_spectrum_chart(r), HOW_COMPUTED["onef_cross"])
        s.blocks.append(Block("image", text="Row banding: median of each read-order row of each CDS frame (DN).",
                              png=banding_png(r), png_dpi=100))
        band = r.banding
        s.blocks.append(Block("metrics", items=[
            ("Side reference columns, rms of row averages", _fmt(band.get("side_ref_row_avg_rms")) + " DN"),
            ("Expected from their white noise alone", _fmt(band.get("side_ref_row_avg_white_expected")) + " DN")]))
        s.blocks.append(Block("p", text="Banding: " + str(band.get("description", ""))))
        bt = r.tables()["onef_banding"]
        bt = pd.DataFrame({
            "amp": bt["amp"], "columns": [_amp_cols(a, z) for a, z in zip(bt["x0"], bt["x1"])],
            "output": bt["output"], "row-average rms (DN)": bt["row_avg_rms"],
            "expected from white noise (DN)": bt["row_avg_white_expected"],
            "after side-ref row correction (DN)": bt["row_avg_rms_after"],
            "1/f before (DN rms)": bt["onef_before"], "1/f after (DN rms)": bt["onef_after"],
            "1/f variance removed (fraction)": bt["onef_variance_removed"],
            "side-ref row-average rms (DN)": bt["side_ref_row_avg_rms"],
            "side-ref expected from white (DN)": bt["side_ref_row_avg_white_expected"]})
        s.blocks.append(_table(bt, "Row banding per amplifier (DN rms in a CDS frame)"))
        b.chart(s, side_correction_chart(r), "Spectra before and after the side-reference-column row correction.")
        td = r.time_domain
        s.blocks.append(Block("p", text=(
            f"pynrc-style time-domain split (for comparison with published numbers): {td['method']}. "
            f"Correlated {_fmt(td['correlated'])} DN; per output "
            + ", ".join(_fmt(v) for v in td["uncorrelated"]) + " DN (science amp order).")))
        s.blocks.append(Block("note", text="Known biases of the time-domain split: " + td["known_biases"]))


def _refpix_section(b: _Builder, results: Sequence[GroupResult]) -> None:
    from core.render.refpix import drift_scatter, levels_chart, pixel_noise_chart, trends_chart

    s = b.section("refpix")
    s.blocks.append(Block("how", text=HOW_COMPUTED["refpix"]))
    for _res, r in _each_result(s, results, "refpix"):
        amps = pd.DataFrame(r.amp_stats)
        show = pd.DataFrame({
            "amp": amps["amp"], "columns": [_amp_cols(a, z) for a, z in zip(amps["x0"], amps["x1"])],
            "output": amps["output"], "ref pixels": amps["ref_source"],
            "ref white (DN/read)": amps["ref_white_read"], "active white (DN/read)": amps["active_white_read"],
            "ref/active white": amps["ref_active_white_ratio"], "instability (DN/read)": amps["instability"],
            "floor (DN/read)": amps["instability_floor"], "excess over floor (DN/read)": amps["instability_excess"],
            "ref-active drift r": amps["drift_correlation"], "ref − active level (DN)": amps["ref_offset"],
            "unstable pixels": amps["unstable_pixels"]})
        s.blocks.append(_table(show, f"Per amplifier (flag threshold z = {r.params.flag_sigma:g})"))
        b.chart(s, levels_chart(r), CHART_HELP["levels"])
        b.chart(s, drift_scatter(r), CHART_HELP["scatter"])
        b.chart(s, trends_chart(r), CHART_HELP["trends"])
        b.chart(s, pixel_noise_chart(r), CHART_HELP["pixels"])
        un = r.unstable
        s.blocks.append(Block("p", text=f"{len(un)} unstable reference pixel(s)."))
        if len(un):
            cols = [c for c in ("y", "x", "amp", "output", "kind", "edge", "parity", "noise_cds", "group_median_cds",
                                "robust_z") if c in un.columns]
            s.blocks.append(_table(un[cols].rename(columns={"noise_cds": "noise (DN, CDS)",
                                                            "group_median_cds": "group median (DN, CDS)",
                                                            "robust_z": "robust z"}),
                                   "Unstable reference pixels (science coordinates)", max_rows=MAX_ROWS_HTML))


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


def _generic_section(b: _Builder, name: str, results: Sequence[GroupResult]) -> None:
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
        scalars = [(k, _fmt(v)) for k, v in summ.items() if not isinstance(v, (list, dict))]
        if scalars:
            s.blocks.append(Block("metrics", items=scalars))
        units = summ.get("units", "")
        if isinstance(summ.get("amps"), list) and summ["amps"]:
            s.blocks.append(_table(pd.DataFrame(summ["amps"]), f"Per amplifier ({units})" if units else "Per amplifier"))
        layout = res.readnoise.layout if res.readnoise is not None else None
        for attr, value in vars(r).items():
            if (attr.endswith("_map") and isinstance(value, np.ndarray) and layout is not None
                    and value.shape == (layout.ny, layout.nx)):
                label = attr.replace("_", " ")
                s.blocks.append(Block("image", text=f"{label} ({units}), science orientation.", png=map_png(
                    value, layout, f"{res.group.key}: {label}", units or label), png_dpi=110))
        for tname, t in (r.tables().items() if hasattr(r, "tables") else []):
            s.blocks.append(_table(t, tname, max_rows=20))


def _sections_of(results: Sequence[GroupResult], opts: AnalysisOptions) -> list[str]:
    names = [s.name for s in SECTIONS if s.name in opts.sections]
    return [n for n in names if any(n in r.sections or any(e.startswith(n) for e in r.errors) for r in results)]


# ------------------------------------------------------------------------------------------------
# Report
# ------------------------------------------------------------------------------------------------
@dataclass
class Report:
    """A built report: ``html`` now; ``pdf_bytes()`` and ``zip_bytes()`` on demand (cached)."""

    title: str
    html: str
    sections: list[Section]
    charts: list[dict]
    created: str
    group_results: list[GroupResult]
    opts: AnalysisOptions
    rejected: list[dict]
    provenance: dict
    run_yaml: str
    _pdf: bytes | None = field(default=None, repr=False)

    @property
    def section_titles(self) -> list[str]:
        return [s.title for s in self.sections]

    def pdf_bytes(self) -> bytes:
        if self._pdf is None:
            self._pdf = _render_pdf(self)
        return self._pdf

    def zip_bytes(self) -> bytes:
        """report.html, report.pdf, run.yaml, summary.json and per group the FITS and every table (CSV)."""
        buf = io.BytesIO()
        with tempfile.TemporaryDirectory() as tmp, zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
            tmp = Path(tmp)
            summary = {"detectors": {}, "rejected": list(self.rejected)}
            for res in self.group_results:
                summary["detectors"][res.group.key] = write_group_products(res, tmp)
            summary["provenance"] = self.provenance
            z.writestr("report.html", self.html)
            z.writestr("report.pdf", self.pdf_bytes())
            z.writestr("run.yaml", self.run_yaml)
            z.writestr("summary.json", json.dumps(json_safe(summary), indent=1, default=str))
            for p in sorted(tmp.rglob("*")):
                if p.is_file():
                    z.write(p, p.relative_to(tmp).as_posix())
        return buf.getvalue()


def build_report(group_results: list[GroupResult], opts: AnalysisOptions, rejected: list[dict] | None = None,
                 title: str = "NIRCam darks report", data_root=None, created: str | None = None) -> Report:
    """Build the report of analysed detector groups (:func:`core.pipeline.run.analyze_group` results).

    ``rejected``: ``[{"file", "reason"}]`` of files that were not analysed.  ``data_root``: paths
    are shown (and written to run.yaml) relative to it; default ``$DARKS_DATA_ROOT``.
    """
    results = list(group_results)
    rejected = [dict(r) for r in (rejected or [])]
    created = created or _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%dT%H:%M:%S")
    versions = software_versions()
    files = file_provenance(results, data_root)
    computed = {n for r in results for n in r.sections}

    b = _Builder()
    _parameters_section(b, opts, computed)
    _provenance_section(b, files, versions, created, rejected)
    _overview_section(b, results)
    if any(r.readnoise is not None or any(e.startswith("readnoise") for e in r.errors) for r in results):
        _readnoise_section(b, results)
    for name in _sections_of(results, opts):
        {"onef": _onef_section, "refpix": _refpix_section}.get(name, lambda bb, rr, n=name: _generic_section(bb, n, rr))(
            b, results)

    provenance = {"created_utc": created, "versions": versions,
                  "files": json.loads(files.to_json(orient="records")), "title": title}
    all_paths = [f.path for r in results for f in r.group.files]
    run_yaml = run_config_yaml(all_paths, opts, data_root)
    html = _render_html(title, created, b.sections, b.charts)
    return Report(title, html, b.sections, b.charts, created, results, opts, rejected, provenance, run_yaml)


def write_report(paths, out_dir, opts: AnalysisOptions, progress: Progress | None = None, store=None,
                 title: str = "NIRCam darks report", data_root=None) -> dict:
    """Analyse ``paths`` like ``python -m core analyze`` (same products and summary.json) and write
    ``report.html``, ``report.pdf``, ``bundle.zip`` and ``run.yaml`` into ``out_dir``; return the summary."""
    progress = progress or (lambda f, m: None)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    results: list[GroupResult] = []
    summary = run_analysis(paths, out, opts, lambda f, m: progress(0.8 * f, m), store=store, results=results)
    progress(0.8, "report: HTML")
    report = build_report(results, opts, summary["rejected"], title, data_root=data_root)
    (out / "report.html").write_text(report.html, encoding="utf-8")
    progress(0.85, "report: PDF")
    (out / "report.pdf").write_bytes(report.pdf_bytes())
    progress(0.95, "report: ZIP bundle")
    (out / "bundle.zip").write_bytes(report.zip_bytes())
    (out / "run.yaml").write_text(run_config_yaml(paths, opts, data_root), encoding="utf-8")
    progress(1.0, "report: done")
    return summary


# ------------------------------------------------------------------------------------------------
# HTML
# ------------------------------------------------------------------------------------------------
_CSS = """
body{font-family:-apple-system,"Segoe UI",Roboto,"DejaVu Sans",Arial,sans-serif;margin:24px auto;max-width:1280px;
padding:0 16px;color:#1d2330;line-height:1.45}
h1{margin-bottom:4px}h2{border-bottom:2px solid #4c78a8;padding-bottom:4px;margin-top:40px}
h3{margin-top:28px;color:#33415c}.sub{color:#5a6475;margin-top:0}
table{border-collapse:collapse;font-size:13px;margin:6px 0 14px}caption{text-align:left;font-weight:600;
padding:4px 0;color:#33415c}th,td{border:1px solid #d5dae3;padding:3px 7px;vertical-align:top}
th{background:#eef2f8;text-align:left}td{white-space:nowrap}td.wrap{white-space:normal;min-width:260px}td.num{text-align:right;font-variant-numeric:tabular-nums}
tr:nth-child(even) td{background:#fafbfd}.tablewrap{overflow-x:auto}
td.mono{font-family:"DejaVu Sans Mono",Menlo,Consolas,monospace;font-size:12px}
.metrics{display:flex;flex-wrap:wrap;gap:10px;margin:8px 0 12px}.metric{border:1px solid #d5dae3;border-radius:6px;
padding:6px 12px;background:#fbfcfe}.metric .l{display:block;font-size:12px;color:#5a6475}.metric .v{font-size:18px;
font-weight:600}
.how{background:#f3f6fa;border-left:4px solid #4c78a8;padding:8px 12px;margin:10px 0;font-size:14px}
.note{background:#eef6ff;border-left:4px solid #7aa6d8;padding:6px 10px}
.warn{background:#fff4e5;border-left:4px solid #e8a33d;padding:6px 10px}
figure{margin:12px 0 20px;overflow-x:auto}figcaption{font-size:13px;color:#4a5365;max-width:1000px}
figure img{max-width:100%;height:auto}nav ol{columns:2}
@media print{h2{page-break-before:always}figure,table{page-break-inside:avoid}}
"""

_EMBED_JS = """
(function(){
  var opts = {actions: false, renderer: "svg", mode: "vega-lite"};
  document.querySelectorAll("div.vchart").forEach(function(el){
    var spec = JSON.parse(document.getElementById(el.getAttribute("data-spec")).textContent);
    vegaEmbed(el, spec, opts).then(function(){ el.setAttribute("data-rendered", "ok"); })
      .catch(function(err){ el.setAttribute("data-rendered", "error");
        el.textContent = "This chart could not be drawn: " + err; console.error(err); });
  });
})();
"""


def _md(text: str) -> str:
    """Escape, then **bold** -> <b>, line breaks kept."""
    return re.sub(r"\*\*(.+?)\*\*", r"<b>\1</b>", _html.escape(text)).replace("\n", "<br>")


def _json_script(obj) -> str:
    return json.dumps(obj, separators=(",", ":"), allow_nan=False).replace("</", "<\\/")


def _html_table(block: Block) -> str:
    headers, rows, numeric = _cells(block)
    mono = {i for i, h in enumerate(headers) if h == "SHA-256"}
    wrap = {i for i in range(len(headers)) if any(len(r[i]) > 60 for r in rows)}
    out = ['<div class="tablewrap"><table>']
    if block.text:
        out.append(f"<caption>{_html.escape(block.text)}</caption>")
    out.append("<thead><tr>" + "".join(f"<th>{_html.escape(h)}</th>" for h in headers) + "</tr></thead><tbody>")
    for r in rows:
        cells = []
        for i, v in enumerate(r):
            cls = "num" if i in numeric else ("mono" if i in mono else ("wrap" if i in wrap else ""))
            cells.append(f'<td class="{cls}">{_html.escape(v)}</td>' if cls else f"<td>{_html.escape(v)}</td>")
        out.append("<tr>" + "".join(cells) + "</tr>")
    out.append("</tbody></table></div>")
    return "".join(out)


def _html_block(block: Block) -> str:
    k = block.kind
    if k == "h3":
        return f"<h3>{_html.escape(block.text)}</h3>"
    if k == "p":
        return f"<p>{_md(block.text)}</p>"
    if k in ("note", "warn"):
        return f'<p class="{k}">{_md(block.text)}</p>'
    if k == "how":
        return f'<div class="how"><b>How computed.</b> {_md(block.text)}</div>'
    if k == "metrics":
        return '<div class="metrics">' + "".join(
            f'<div class="metric"><span class="l">{_html.escape(str(lab))}</span>'
            f'<span class="v">{_html.escape(str(val))}</span></div>' for lab, val in block.items) + "</div>"
    if k == "table":
        return _html_table(block)
    if k == "image":
        data = base64.b64encode(block.png).decode("ascii")
        cap = f"<figcaption>{_md(block.text)}</figcaption>" if block.text else ""
        return f'<figure><img alt="{_html.escape(block.text)}" src="data:image/png;base64,{data}">{cap}</figure>'
    if k == "chart":
        cap = f"<figcaption>{_md(block.text)}</figcaption>" if block.text else ""
        return (f'<figure><div class="vchart" id="{block.chart_id}" data-spec="{block.chart_id}-spec"></div>'
                f'<script type="application/json" id="{block.chart_id}-spec">{_json_script(block.spec)}</script>'
                f"{cap}</figure>")
    raise ValueError(f"unknown block kind {k!r}")


def _render_html(title: str, created: str, sections: list[Section], charts: list[dict]) -> str:
    toc = "".join(f'<li><a href="#{s.id}">{_html.escape(s.title)}</a></li>' for s in sections)
    body = []
    for s in sections:
        body.append(f'<section id="{s.id}"><h2>{_html.escape(s.title)}</h2>')
        body.extend(_html_block(b) for b in s.blocks)
        body.append("</section>")
    bundle = vega_bundle().replace("</script", "<\\/script") if charts else ""
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<meta name=\"generator\" content=\"NIRCam darks app {__version__}\">"
        f"<title>{_html.escape(title)}</title><style>{_CSS}</style>"
        + (f"<script>{bundle}</script>" if charts else "")
        + f"</head><body><h1>{_html.escape(title)}</h1>"
        f'<p class="sub">Made {_html.escape(created)} UTC by the NIRCam darks app {__version__}. '
        f"{len(charts)} interactive chart(s); works offline.</p>"
        f"<nav><ol>{toc}</ol></nav>" + "".join(body)
        + (f"<script>{_EMBED_JS}</script>" if charts else "")
        + "</body></html>\n"
    )


# ------------------------------------------------------------------------------------------------
# PDF
# ------------------------------------------------------------------------------------------------
def chart_png(spec: dict, scale: float = CHART_PNG_SCALE) -> bytes:
    """A static PNG of a vega-lite spec (vl-convert, offline)."""
    import vl_convert

    return vl_convert.vegalite_to_png(spec, scale=scale, vl_version=_vl_version())


def _plain(text: str) -> str:
    return re.sub(r"\*\*(.+?)\*\*", r"\1", text)


class _PdfFlow:
    """A minimal top-to-bottom page layout on matplotlib figures (inches from the page top)."""

    W, H = 11.69, 8.27  # A4 landscape
    ML, MR, MT, MB = 0.55, 0.55, 0.5, 0.6
    CHAR = 0.53  # average glyph width of DejaVu Sans, in ems

    def __init__(self, pdf, title: str):
        self.pdf, self.title = pdf, title
        self.fig = None
        self.page = 0
        self.section = ""
        self.y = self.MT
        self.fresh = True

    @property
    def width(self) -> float:
        return self.W - self.ML - self.MR

    @property
    def room(self) -> float:
        return self.H - self.MB - self.y

    def new_page(self):
        from matplotlib.figure import Figure

        self.finish()
        self.fig = Figure(figsize=(self.W, self.H))
        self.page += 1
        self.y, self.fresh = self.MT, True

    def finish(self):
        if self.fig is None:
            return
        self.fig.text(self.ML / self.W, 0.3 / self.H, f"{self.title} — {self.section}", fontsize=7.5, color="0.45")
        self.fig.text(1 - self.MR / self.W, 0.3 / self.H, f"page {self.page}", fontsize=7.5, color="0.45",
                      ha="right")
        self.pdf.savefig(self.fig)
        self.fig = None

    def ensure(self, h: float):
        if self.fig is None or (h > self.room and not self.fresh):
            self.new_page()

    def _fy(self, y: float) -> float:
        return 1 - y / self.H

    def text(self, s: str, size: float = 9.0, weight: str = "normal", color="black", style="normal",
             indent: float = 0.0, gap: float = 0.08, box: bool = False, width: float | None = None):
        width = (width or self.width) - indent - (0.2 if box else 0)
        chars = max(20, int(width / (self.CHAR * size / 72)))
        lines = []
        for para in _plain(s).split("\n"):
            lines.extend(textwrap.wrap(para, chars) or [""])
        lh = 1.32 * size / 72
        while lines:
            self.ensure(min(len(lines), 3) * lh + (0.12 if box else 0))
            n = max(1, min(len(lines), int((self.room - (0.12 if box else 0)) / lh)))
            chunk, lines = lines[:n], lines[n:]
            pad = 0.06 if box else 0
            t = self.fig.text((self.ML + indent + pad + (0.04 if box else 0)) / self.W, self._fy(self.y + pad),
                              "\n".join(chunk), fontsize=size, fontweight=weight, color=color, style=style,
                              va="top", ha="left", linespacing=1.32)
            h = len(chunk) * lh + 2 * pad
            if box:
                from matplotlib.patches import Rectangle

                self.fig.add_artist(Rectangle(((self.ML + indent) / self.W, self._fy(self.y + h)),
                                              (width + 0.2) / self.W, h / self.H, transform=self.fig.transFigure,
                                              facecolor="#f0f4f9", edgecolor="#9fb6d3", lw=0.6, zorder=0))
                t.set_zorder(1)
            self.y += h + gap
            self.fresh = False
            if lines:
                self.new_page()

    def heading(self, s: str, level: int):
        size = {1: 20, 2: 16, 3: 12.5}[level]
        self.ensure(0.9)
        self.text(s, size=size, weight="bold", color="#1d2330" if level < 3 else "#33415c", gap=0.12)
        if level == 2:
            from matplotlib.lines import Line2D

            self.fig.add_artist(Line2D([self.ML / self.W, 1 - self.MR / self.W], [self._fy(self.y - 0.07)] * 2,
                                       transform=self.fig.transFigure, color="#4c78a8", lw=1.2))
            self.y += 0.05

    def table(self, headers: list[str], rows: list[list[str]], numeric: set[int], caption: str = ""):
        from matplotlib.lines import Line2D
        from matplotlib.patches import Rectangle

        rows = [[c if len(c) <= 72 else c[:34] + "…" + c[-34:] for c in r] for r in rows]

        shown = [h.replace("_", " ") for h in headers]  # lets long CSV-style names wrap

        def layout(size):
            head = []
            widths = []
            for i, h in enumerate(shown):
                cw = (0.62 if headers[i] == "SHA-256" else self.CHAR * 1.08) * size / 72
                longest = max([len(r[i]) for r in rows] + [4])
                lines = textwrap.wrap(h, max(longest, 10, max((len(w) for w in h.split()), default=1))) or [""]
                head.append(lines)
                widths.append(max(longest * cw, max(len(x) for x in lines) * self.CHAR * 1.1 * size / 72) + 0.14)
            return head, widths

        size = 7.5
        head, widths = layout(size)
        while sum(widths) > self.width and size > 6.0:
            size -= 0.5
            head, widths = layout(size)
        if sum(widths) > self.width and len(headers) > 2:  # still too wide: split the columns, key column kept
            cut, acc = 1, widths[0]
            while cut < len(headers) and acc + widths[cut] <= self.width:
                acc += widths[cut]
                cut += 1
            cut = max(cut, 2)
            self.table(headers[:cut], [r[:cut] for r in rows], {i for i in numeric if i < cut}, caption)
            rest = [0] + list(range(cut, len(headers)))
            self.table([headers[i] for i in rest], [[r[i] for i in rest] for r in rows],
                       {j for j, i in enumerate(rest) if i in numeric}, (caption + " (continued)").strip())
            return
        rh = 1.55 * size / 72
        hh = max(len(x) for x in head) * 1.25 * size / 72 + 0.08
        cap_h = 0.25 if caption else 0
        whole = cap_h + hh + len(rows) * rh + 0.1
        if self.fig is not None and not self.fresh and whole > self.room and whole <= self.H - self.MT - self.MB:
            self.new_page()  # a table that fits on one page is not split
        start = 0
        while True:
            self.ensure(cap_h + hh + min(len(rows), 3) * rh + 0.1)
            if caption:
                self.fig.text(self.ML / self.W, self._fy(self.y), _plain(caption), fontsize=8.5, fontweight="bold",
                              color="#33415c", va="top")
                self.y += cap_h
            n = max(1, min(len(rows) - start, int((self.room - hh - 0.05) / rh)))
            x = self.ML
            xs = []
            for w in widths:
                xs.append(x)
                x += w
            total_w = sum(widths)
            self.fig.add_artist(Rectangle((self.ML / self.W, self._fy(self.y + hh)), total_w / self.W, hh / self.H,
                                          transform=self.fig.transFigure, facecolor="#e6ecf5", lw=0))
            for i, lines in enumerate(head):
                xx = xs[i] + widths[i] - 0.07 if i in numeric else xs[i] + 0.07
                self.fig.text(xx / self.W, self._fy(self.y + 0.04), "\n".join(lines), fontsize=size, fontweight="bold",
                              va="top", ha="right" if i in numeric else "left", linespacing=1.15)
            self.y += hh
            for j, r in enumerate(rows[start:start + n]):
                if j % 2:
                    self.fig.add_artist(Rectangle((self.ML / self.W, self._fy(self.y + rh)), total_w / self.W,
                                                  rh / self.H, transform=self.fig.transFigure, facecolor="#f5f7fb",
                                                  lw=0))
                for i, v in enumerate(r):
                    xx = xs[i] + widths[i] - 0.07 if i in numeric else xs[i] + 0.07
                    self.fig.text(xx / self.W, self._fy(self.y + rh / 2), v, fontsize=size, va="center",
                                  ha="right" if i in numeric else "left",
                                  family="DejaVu Sans Mono" if headers[i] == "SHA-256" else None)
                self.y += rh
            self.fig.add_artist(Line2D([self.ML / self.W, (self.ML + total_w) / self.W], [self._fy(self.y)] * 2,
                                       transform=self.fig.transFigure, color="0.6", lw=0.6))
            self.y += 0.18
            self.fresh = False
            start += n
            if start >= len(rows):
                break
            caption = (_plain(caption) + " (continued)") if caption and "(continued)" not in caption else caption
            self.new_page()

    def image(self, png: bytes, dpi: float, caption: str = ""):
        from PIL import Image

        arr = np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))
        ph, pw = arr.shape[:2]
        cap_lines = len(textwrap.wrap(_plain(caption), int(self.width / (self.CHAR * 8 / 72)))) if caption else 0
        cap_h = cap_lines * 1.32 * 8 / 72 + (0.1 if caption else 0)
        w = min(self.width, pw / dpi)
        h = w * ph / pw
        full = self.H - self.MT - self.MB - cap_h - 0.1
        if h > full:
            h, w = full, full * pw / ph
        if self.fig is not None and not self.fresh and h + cap_h > self.room >= 0.65 * (h + cap_h):
            h = self.room - cap_h
            w = h * pw / ph
        self.ensure(h + cap_h)
        if h > self.room - cap_h:
            h = max(1.0, self.room - cap_h)
            w = h * pw / ph
        ax = self.fig.add_axes([self.ML / self.W, self._fy(self.y + h), w / self.W, h / self.H])
        ax.imshow(arr, interpolation="none", aspect="auto")
        ax.set_axis_off()
        self.y += h + 0.06
        self.fresh = False
        if caption:
            self.text(caption, size=8, color="0.3", gap=0.16)


def _render_pdf(report: Report) -> bytes:
    from matplotlib.backends.backend_pdf import PdfPages

    buf = io.BytesIO()
    meta = {"Title": report.title, "Creator": f"NIRCam darks app {__version__}"}
    chart_pngs: dict[str, bytes] = {}
    with PdfPages(buf, metadata=meta) as pdf:
        flow = _PdfFlow(pdf, report.title)
        for k, s in enumerate(report.sections):
            flow.new_page()
            flow.section = s.title
            if k == 0:
                flow.heading(report.title, 1)
                flow.text(f"Made {report.created} UTC by the NIRCam darks app {__version__}. Sections: "
                          + ", ".join(x.title for x in report.sections) + ".", size=9.5, color="0.3", gap=0.2)
            flow.heading(s.title, 2)
            seen_h3 = False
            for b in s.blocks:
                if b.kind == "h3":
                    if seen_h3 and not flow.fresh:
                        flow.new_page()
                    seen_h3 = True
                    flow.heading(f"{s.title} — {b.text}", 3)
                elif b.kind == "p":
                    flow.text(b.text)
                elif b.kind == "note":
                    flow.text("Note: " + b.text, color="#23507d")
                elif b.kind == "warn":
                    flow.text("Warning: " + b.text, color="#9a5b00")
                elif b.kind == "how":
                    flow.text("How computed. " + b.text, size=8.5, box=True, gap=0.16)
                elif b.kind == "metrics":
                    flow.text("     ".join(f"{lab}: {val}" for lab, val in b.items), size=9.5, weight="bold",
                              gap=0.12)
                elif b.kind == "table":
                    headers, rows, numeric = _cells(b)
                    flow.table(headers, rows, numeric, b.text)
                elif b.kind == "image":
                    flow.image(b.png, b.png_dpi, b.text)
                elif b.kind == "chart":
                    png = chart_pngs.get(b.chart_id) or chart_png(b.spec)
                    chart_pngs[b.chart_id] = png
                    flow.image(png, PNG_CSS_DPI * CHART_PNG_SCALE, b.text)
        flow.finish()
    return buf.getvalue()


__all__ = [
    "HOW_COMPUTED", "Report", "build_report", "chart_png", "file_provenance", "load_run_config", "run_config_yaml",
    "sha256_file", "software_versions", "write_report",
]
