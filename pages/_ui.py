"""Shared page helpers: the data root, the file selection, parameter widgets, cached runs.

No science here: every number comes from core/.  Results are cached per server process keyed by
the input files' identity (path, size, mtime) and the parameters, so a changed file is recomputed
and a page switch or rerun is instant.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from dataclasses import replace
from pathlib import Path

import streamlit as st

from core.errors import InputError, ParameterError
from core.io.inventory import DATA_ROOT_ENV, DetectorGroup, data_root, group_by_detector, inspect_file
from core.io.ramps import DEFAULT_GROUPDQ_MASK, GROUPDQ_FLAGS, groupdq_names, parse_groupdq_flags
from core.pipeline.cluster import ClusterJob, compute_on_cluster
from core.pipeline.registry import SectionSpec
from core.pipeline.store import ResultStore, file_ids
from core.readnoise import ReadnoiseParams
from core.runtime import ENV_SCHEDULER, ClusterError, check_scheduler

SELECTED = "selected_files"  # session key: list of resolved path strings under the data root
MERGE_FOLDERS = "merge_folders"  # session key: one group per detector across folders
SCHEDULER = "dask_scheduler"  # session key: the Dask scheduler address ("" = this machine), kept across pages
MAX_CACHED_RESULTS = 24


# -- data root and selection ------------------------------------------------------------------------
def root_or_stop() -> Path:
    try:
        return data_root()
    except InputError as e:
        st.error(f"{e}. Start the app with `make run`, or set {DATA_ROOT_ENV} before `streamlit run app.py`.")
        st.stop()


@st.cache_data(show_spinner=False, max_entries=5000)
def _inspect_cached(fid):  # a core.io.ramps.FileId: a changed file is a new key
    return inspect_file(Path(fid.path))


def inspect_all(paths):
    """Header inventory (cached per file identity; a changed file is re-read)."""
    return [_inspect_cached(fid) for fid in file_ids(paths)]


def selected_paths() -> list[Path]:
    root = root_or_stop()
    keep = []
    for p in st.session_state.get(SELECTED, []):
        rp = Path(p).resolve()
        if rp.is_relative_to(root):  # the selection is re-checked against the root on every use
            keep.append(rp)
    return keep


def merge_folders() -> bool:
    return bool(st.session_state.get(MERGE_FOLDERS, False))


def selected_groups() -> tuple[list[DetectorGroup], list]:
    """The selection grouped by detector; a selected file that cannot be used any more (deleted,
    changed, unreadable since it was chosen) is named in a warning and left out."""
    # Copies: grouping adds notes, and the cached FileInfo objects must stay as read.
    infos = [replace(i, notes=list(i.notes)) for i in inspect_all(selected_paths())]
    groups, rejected = group_by_detector(infos, merge_folders=merge_folders())
    for f in rejected:
        st.warning(f"{f.path.parent.name}/{f.name} is left out of the selection: {f.reason}")
    scheduler_sidebar()
    return groups, rejected


def scheduler_sidebar() -> str | None:
    """The sidebar's Dask scheduler field (every page that computes shows it); None = this machine."""
    value = st.sidebar.text_input(
        "Dask scheduler (optional)", st.session_state.get(SCHEDULER, os.environ.get(ENV_SCHEDULER, "")),
        key="scheduler_field",
        help="tcp://HOST:PORT of a running dask scheduler whose workers see the same files at the same paths: "
             "every section (readnoise, 1/f, reference pixels, Rest 2014, ...) then runs on its workers, the "
             "detector groups and files in parallel; the numbers are those of this machine. Empty = this machine.")
    st.session_state[SCHEDULER] = value
    return current_scheduler()


def current_scheduler() -> str | None:
    """The scheduler chosen in the sidebar (else $DARKS_DASK_SCHEDULER), or None for this machine."""
    value = (st.session_state.get(SCHEDULER, os.environ.get(ENV_SCHEDULER, "")) or "").strip()
    return None if value in ("", "local") else value


def group_picker(groups: list[DetectorGroup], key: str = "group") -> DetectorGroup | None:
    """Detector-group selector shared by the section pages (the choice persists across pages)."""
    if not groups:
        st.info("No files selected yet: choose dark exposures on the **Data** page.")
        st.page_link("pages/data.py", label="Go to Data", icon=":material/folder_open:")
        return None
    labels = [f"{g.label}  ({len(g.files)} file{'s' * (len(g.files) != 1)}, {g.files[0].ngroups} groups)"
              for g in groups]
    keys = [g.key for g in groups]
    current = st.session_state.get("active_group")
    index = keys.index(current) if current in keys else 0
    choice = st.selectbox("Detector", labels, index=index, key=f"{key}_picker",
                          help="Files of one detector and one frame geometry are analysed together.")
    g = groups[labels.index(choice)]
    st.session_state["active_group"] = g.key
    return g


# -- parameters -----------------------------------------------------------------------------------
def groupdq_mask_sidebar() -> int:
    """The GROUPDQ flags every section leaves out (one setting for all pages; part of each result's
    parameters, hence of its store key)."""
    names = st.sidebar.multiselect(
        "GROUPDQ flags left out", list(GROUPDQ_FLAGS), default=groupdq_names(DEFAULT_GROUPDQ_MASK).split("|"),
        key="dq_flags",
        help="Pipeline-processed ramps (RampModel: *_linearitystep.fits, *_ramp.fits, ...) carry GROUPDQ flags per "
             "sample: samples with any of these flags are left out of every section. Pixels flagged DO_NOT_USE in "
             "PIXELDQ are always left out (reference pixels excepted). Raw *_uncal.fits have no DQ: no effect.")
    return parse_groupdq_flags(names)


def readnoise_params_sidebar() -> ReadnoiseParams:
    sb = st.sidebar
    sb.subheader("Readnoise parameters")
    engine_label = sb.radio(
        "Engine", list(ENGINE_CHOICES), key="rn_engine",
        help="Native: reads each file once, both cores, ~20x faster; 'compatible' gives jwst_reffiles' numbers "
             "(same samples clipped), 'unbiased' divides out their low bias (≈0.92 at 10 samples). "
             "jwst_reffiles: make_readnoise itself (the reference).")
    engine, mode = ENGINE_CHOICES[engine_label]
    method = sb.radio("Method", ["stack", "ramp"], key="rn_method", horizontal=True,
                      help="stack: std through all CDS frames of all files per pixel; "
                           "ramp: a map per file, then the clipped mean of the maps.")
    diff = sb.radio("Group differences", ["independent", "consecutive"], key="rn_diff", horizontal=True,
                    help="independent: G1-G0, G3-G2, ... (each group once); consecutive: every adjacent pair.")
    sigma = sb.number_input("Clipping sigma", min_value=0.5, max_value=20.0, value=3.0, step=0.5, key="rn_sigma")
    iters = sb.number_input("Max clipping iterations", min_value=1, max_value=20, value=3, step=1, key="rn_iters")
    width = sb.number_input("Slice width (columns)", min_value=1, max_value=2048, value=50, step=10, key="rn_slice",
                            help="jwst_reffiles engine, stack only: columns per slice (it re-reads every file per slice). "
                                 "The native engine reads row stripes and ignores it; the numbers do not depend on it.")
    single = sb.checkbox("Single value (whole map = clipped mean)", key="rn_single")
    nproc = sb.number_input("Processes (nproc)", min_value=1, max_value=8, value=1, step=1, key="rn_nproc",
                            help="jwst_reffiles engine only: worker processes. The native engine always uses both cores.")
    # Where it runs is the sidebar's Dask scheduler field (scheduler_sidebar), for every section alike.
    return ReadnoiseParams(method, diff, float(sigma), int(iters), int(width), bool(single), int(nproc), engine, mode,
                           "local" if engine == "native" else None, groupdq_mask_sidebar())


ENGINE_CHOICES = {  # the first is the default
    "native, compatible": ("native", "compatible"),
    "native, unbiased": ("native", "unbiased"),
    "jwst_reffiles": ("reffiles", "compatible"),
}


# -- cached computations with progress --------------------------------------------------------------
@st.cache_resource(show_spinner=False)
def warm_engine() -> bool:
    """The analysis engine's one-time costs, paid once per server process: the lazily imported
    libraries, asdf's extension discovery, the compiled kernels (``core.pipeline.warm.preload``, ~2 s).

    app.py calls this after the first page is drawn, in the script thread (not a background thread:
    two threads importing the same packages at once can trip Python's import-deadlock detection).
    Measured on the demo data: the first 1/f computation in a new server took 5.1 s instead of
    3.0 s for the same files computed again; after this, 3.7 s."""
    from core.pipeline.warm import preload

    try:
        preload()
    except Exception:  # only a head start: a real problem is reported by the computation that meets it
        return False
    return True


@st.cache_resource
def _results_store():
    return OrderedDict(), threading.Lock()


def cached_run(spec: SectionSpec, paths, params, label: str):
    """Return the section's result for ``paths`` and ``params`` from the cache, the on-disk store, or
    computed with a progress bar (``spec``'s analyze function).

    The key is (store key, file identities, params): the same as the CLI's, so a result stored by
    ``python -m core analyze`` is found here.  Errors are shown as messages, never tracebacks, and
    are not cached.  Returns None on error.
    """
    kind = spec.store_key
    compute = spec.analyze_function()
    store, lock = _results_store()
    ids = file_ids(paths)
    key = (kind, ids, params)
    with lock:
        if key in store:
            store.move_to_end(key)
            return store[key]
    disk = ResultStore()
    result = disk.get(kind, ids, params)
    if result is not None:
        _remember(key, result)
        return result
    with st.status(label, expanded=True) as status:
        bar = st.progress(0.0, text="starting")

        def progress(f, msg):
            bar.progress(min(max(float(f), 0.0), 1.0), text=msg)

        try:
            result = _compute(spec, compute, paths, params, progress, label)
        except (InputError, ParameterError, ClusterError) as e:
            status.update(label=f"{label}: failed", state="error", expanded=True)
            st.error(str(e))
            return None
        except Exception as e:  # never a raw traceback in the UI
            status.update(label=f"{label}: failed", state="error", expanded=True)
            st.error(f"Unexpected error: {type(e).__name__}: {e}")
            return None
        status.update(label=f"{label}: done", state="complete", expanded=False)
    try:
        disk.put(kind, ids, params, result, label=label)
    except OSError as e:
        st.warning(f"The result could not be stored on disk ({e}); it stays in memory for this session.")
    _remember(key, result)
    return result


def _compute(spec: SectionSpec, compute, paths, params, progress, label: str):
    """The section's result, on this machine or on the sidebar's Dask cluster (same numbers)."""
    scheduler = current_scheduler()
    if scheduler is None:
        return compute(list(paths), params, progress=progress)
    check_scheduler(scheduler)
    out = compute_on_cluster(scheduler, [ClusterJob(label, spec.name, tuple(str(p) for p in paths), params)],
                             progress)
    (outcome,) = out.values()
    if outcome.error:
        raise InputError(outcome.error)
    return outcome.result


def _remember(key, result):
    store, lock = _results_store()
    with lock:
        store[key] = result
        store.move_to_end(key)
        while len(store) > MAX_CACHED_RESULTS:
            store.popitem(last=False)


def latest_results(paths) -> dict:
    """The latest result of each kind for exactly these files, whatever its parameters (the report
    shows what was computed): the most recently used in this server process, else the newest in the
    on-disk result store -- so results survive a restart, and the CLI's (same store) are found."""
    store, lock = _results_store()
    ids = file_ids(paths)
    found = {}
    with lock:
        for (kind, kids, _), result in reversed(store.items()):
            if kids == ids and kind not in found:
                found[kind] = result
    disk = ResultStore()
    for entry in disk.for_files(ids):  # newest first
        if entry["kind"] not in found:
            result = disk.load(entry["key"])
            if result is not None:
                found[entry["kind"]] = result
                if getattr(result, "params", None) is not None:  # the same object next time (stable ids)
                    _remember((entry["kind"], ids, result.params), result)
    return found


def peek_cached(spec: SectionSpec, paths, params):
    """A result already computed (in memory, or in the on-disk store), without computing."""
    kind = spec.store_key
    store, lock = _results_store()
    ids = file_ids(paths)
    with lock:
        hit = store.get((kind, ids, params))
    if hit is None:
        hit = ResultStore().get(kind, ids, params)
        if hit is not None:
            _remember((kind, ids, params), hit)
    return hit


def result_or_button(spec: SectionSpec, group, params, what: str, key: str):
    """The stored result for this group and these parameters, or a *Compute* button that makes it
    (with progress).  Stops the page while there is no result."""
    result = peek_cached(spec, group.paths, params)
    if result is None:
        f0 = group.files[0]
        st.write(f"{len(group.files)} files of **{group.key}**, {f0.ngroups} groups x {f0.nints} integration(s).")
        if st.button(f"Compute {what}", type="primary", key=key):
            result = cached_run(spec, group.paths, params, f"{what[0].upper()}{what[1:]} of {group.key}")
            if result is not None:
                st.rerun()  # redraw without the button and the finished progress box
        if result is None:
            st.stop()
    return result


def run_jobs(jobs) -> list[str]:
    """Run section jobs (:class:`core.pipeline.batch.Job`) detector groups two at a time, with one
    progress bar counting them ("k of n") and naming the running steps; results go to the on-disk
    store and this process's cache like :func:`cached_run`'s.  Returns the failed jobs' lines.
    With a Dask scheduler in the sidebar, all of them at once on its workers instead."""
    from core.pipeline.batch import run_batch

    bar = st.progress(0.0, text=f"0 of {len(jobs)} done")
    disk, failed = ResultStore(), []
    if current_scheduler() is not None:
        return _run_jobs_on_cluster(jobs, bar)

    def progress(p):
        bar.progress(p.done / max(1, p.total), text=p.text())

    def on_done(job, result, error):
        if error is not None:
            failed.append(f"{job.label}: {error}")
            return
        ids = file_ids(job.paths)
        try:
            disk.put(job.spec.store_key, ids, job.params, result, label=job.label)
        except OSError as e:
            st.warning(f"{job.label}: not stored on disk ({e}); it stays in memory for this session.")
        _remember((job.spec.store_key, ids, job.params), result)

    run_batch(jobs, progress=progress, on_done=on_done)
    return failed


def _run_jobs_on_cluster(jobs, bar) -> list[str]:
    """:func:`run_jobs` on the sidebar's Dask cluster: every job at once (groups and files in
    parallel over the workers), the bar showing the tasks done per section."""
    cjobs = [ClusterJob(job.group, job.spec.name, tuple(str(p) for p in job.paths), job.params) for job in jobs]
    try:
        out = compute_on_cluster(current_scheduler(), cjobs,
                                 lambda f, m: bar.progress(min(max(float(f), 0.0), 1.0), text=m))
    except (ClusterError, ParameterError) as e:
        return [f"{job.label}: {e}" for job in jobs]
    disk, failed = ResultStore(), []
    for job, cjob in zip(jobs, cjobs):
        outcome = out[(cjob.group, cjob.section)]
        if outcome.error:
            failed.append(f"{job.label}: {outcome.error}")
            continue
        ids = file_ids(job.paths)
        try:
            disk.put(job.spec.store_key, ids, job.params, outcome.result, label=job.label)
        except OSError as e:
            st.warning(f"{job.label}: not stored on disk ({e}); it stays in memory for this session.")
        _remember((job.spec.store_key, ids, job.params), outcome.result)
    return failed


NOISE_CONVENTION = "noise_convention"  # session key: CDS or per read, for every page


def noise_convention_sidebar() -> str:
    """CDS or per read (CDS/√2) for every noise figure of the page (one convention per view)."""
    from core.units import CONVENTIONS

    return st.sidebar.radio(
        "Noise figures", list(CONVENTIONS), key=NOISE_CONVENTION, horizontal=True,
        help="CDS: the noise of a difference of two groups (jwst_reffiles' readnoise maps, the 1/f split). "
             "Per read: CDS / √2, the noise of one group (white noise). Every figure and title of the page follows.")


def table(df, **kwargs) -> None:
    """A table whose missing values read 'n/a' (never None or nan); other values as they are."""
    import math

    import pandas as pd

    shown = pd.DataFrame(df).copy()
    for c in shown.columns:
        col = shown[c]
        if col.dtype.kind in "fO" and col.isna().any():
            shown[c] = ["n/a" if v is None or (isinstance(v, float) and not math.isfinite(v))
                        else (f"{v:.4g}" if isinstance(v, float) else v) for v in col]
    st.dataframe(shown, hide_index=True, width="stretch", **kwargs)


def chart(c) -> None:
    """An altair chart in the app's one style (:func:`core.render.style.styled`), page-wide."""
    from core.render.style import styled

    st.altair_chart(styled(c), width="stretch")


def how_computed(text: str):
    with st.expander("How this is computed"):
        st.markdown(text)


def fmt_value(value, unit: str, digits: int = 2, upper_limit: float | None = None) -> str:
    """A noise figure for text: '3.21 DN per read'; 'not detected (< 0.5 DN per read)' for an
    undetected component; 'n/a' when it could not be measured (never nan, None or a fake number)."""
    import math

    u = f" {unit}" if unit else ""
    if upper_limit is not None and math.isfinite(upper_limit):
        return f"not detected (< {upper_limit:.{digits}g}{u})"
    if value is None or not math.isfinite(float(value)):
        return "n/a"
    return f"{float(value):.{digits}f}{u}"


def units_sidebar(layout):
    """DN or electrons for the readnoise tables and maps.

    Returns (gain, unit) where gain is 1.0, one value, or a per-pixel map from a GAIN reference file
    (e-/DN) and unit is "DN" or "e-".  Reference files written for CRDS stay in DN.
    """
    from core.errors import InputError
    from core.io.inventory import find_files, list_subfolders
    from core.readnoise import load_gain_map

    sb = st.sidebar
    sb.subheader("Units")
    unit = sb.radio("Show readnoise in", ["DN", "electrons"], key="units", horizontal=True)
    if unit == "DN":
        return 1.0, "DN"
    source = sb.radio("Gain from", ["one value", "a GAIN reference file"], key="gain_source")
    if source == "one value":
        gain = sb.number_input("Gain (e-/DN)", min_value=0.01, max_value=100.0, value=2.05, step=0.05, key="gain_value")
        return float(gain), "e-"
    root = root_or_stop()
    folder = sb.selectbox("Folder", list_subfolders(root), format_func=lambda f: f or "(data root)", key="gain_folder")
    try:
        files = [p for p in find_files(root, folder, "*.fits") if not p.name.endswith("_uncal.fits")]
    except InputError as e:
        sb.error(str(e))
        return 1.0, "DN"
    if not files:
        sb.warning("No FITS file in that folder: showing DN.")
        return 1.0, "DN"
    path = sb.selectbox("GAIN file", files, format_func=lambda p: p.name, key="gain_file")
    try:
        gain_map, _ = load_gain_map(path, layout)
    except InputError as e:
        sb.error(f"{e.file}: {e} Showing DN.")
        return 1.0, "DN"
    return gain_map, "e-"
