"""Orchestration shared by the CLI and the pages: validate, group by detector, run each section of
the registry (:mod:`core.pipeline.registry`) through the result store, write products.  Sections
are plain functions of (paths, params, progress) in their own subpackages.
"""

from __future__ import annotations

import json
import queue
import time
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass, field, replace
from pathlib import Path

from core.errors import InputError, ParameterError
from core.io.inventory import DetectorGroup, group_by_detector, inspect_file, inventory
from core.pipeline.registry import READNOISE, SECTIONS
from core.pipeline.store import file_ids
from core.readnoise import CrdsMeta, ReadnoiseParams, compare_maps, load_reference_map, make_readnoise_map
from core.runtime import CORES, Progress
from core.stats import json_safe


@dataclass
class AnalysisOptions:
    readnoise: ReadnoiseParams = field(default_factory=ReadnoiseParams)
    crds: CrdsMeta = field(default_factory=CrdsMeta)
    reference: Path | None = None
    sections: tuple[str, ...] = tuple(s.name for s in SECTIONS)
    section_params: dict = field(default_factory=dict)  # name -> params object
    merge_folders: bool = False  # one group per detector across folders (default: a group per folder)

    def with_groupdq_mask(self, mask: int) -> AnalysisOptions:
        """The same options with every section leaving out the samples flagged with GROUPDQ ``mask``
        (each section's Params carries it as ``groupdq_mask``, so it is part of the store key)."""
        params = {}
        for s in SECTIONS:
            p = self.section_params.get(s.name) or s.default_params()
            params[s.name] = replace(p, groupdq_mask=int(mask)) if hasattr(p, "groupdq_mask") else p
        return replace(self, readnoise=replace(self.readnoise, groupdq_mask=int(mask)), section_params=params)


@dataclass
class GroupResult:
    group: DetectorGroup
    readnoise: object | None = None
    comparison: tuple | None = None  # (ratio map, diff map, table, reference meta)
    sections: dict = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    timings: dict = field(default_factory=dict)
    cached: list[str] = field(default_factory=list)  # kinds loaded from the result store
    skipped: list[dict] = field(default_factory=list)  # [{file, reason}]: unreadable since the inventory


def _stored(store, kind, paths, params, compute, res: GroupResult):
    """``compute()`` through the result store (when there is one); records hits in ``res.cached``."""
    if store is None:
        return compute()
    ids = file_ids(paths)
    hit = store.get(kind, ids, params)
    if hit is not None:
        res.cached.append(kind)
        return hit
    result = compute()
    store.put(kind, ids, params, result, label=f"{kind} {res.group.key}")
    return result


def _message(where: str, e: BaseException) -> str:
    """One human line for a failed step: the file it concerns, and the problem; never a traceback."""
    if isinstance(e, (InputError, ParameterError)):
        file, text = getattr(e, "file", None), str(e)
        name = Path(file).name if file else None  # errors name files by path or by name
        return f"{where}: {name}: {text}" if name and name not in text else f"{where}: {text}"
    if isinstance(e, OSError):
        name = Path(e.filename).name if getattr(e, "filename", None) else "a file"
        return f"{where}: cannot read {name}: {e.strerror or e}"
    return f"{where}: unexpected error: {type(e).__name__}: {e}"


def _recheck(group: DetectorGroup, res: GroupResult) -> DetectorGroup:
    """Re-read the headers: a file deleted, truncated or made unreadable since the inventory is
    skipped (recorded in ``res.skipped``) and the others proceed."""
    present = []
    for f in group.files:
        again = inspect_file(f.path)
        if again.ok:
            present.append(f)
        else:
            res.skipped.append({"file": f.name, "reason": again.reason})
    return group if len(present) == len(group.files) else replace(group, files=present)


SECTION_WORKERS = CORES  # steps run at once: one per core (the kernels release the GIL)


def analyze_group(group: DetectorGroup, opts: AnalysisOptions, progress: Progress | None = None,
                  store=None, workers: int = SECTION_WORKERS) -> GroupResult:
    """Run readnoise and every available section on one detector group; errors become messages.

    The steps are independent readers of the same files, so ``workers`` of them run at once
    (threads: the compiled kernels, FFTs and file reads release the GIL; each step's memory is
    bounded by its own stripe budget).  ``progress`` is only ever called from the calling thread:
    the steps post their progress to a queue that this thread drains (Streamlit widgets may only be
    updated from the script thread).  ``timings`` holds each step's own wall time and
    ``total_s``, the group's wall time.

    With a :class:`core.pipeline.store.ResultStore`, results already stored for the same files and
    parameters are loaded instead of recomputed.  Files that cannot be read any more are skipped
    (``skipped``) and the others proceed.
    """
    progress = progress or (lambda f, m: None)
    res = GroupResult(group)
    group = res.group = _recheck(group, res)
    if not group.files:
        res.errors.append("no file of this group can be read any more")
        return res
    t_group = time.perf_counter()
    events: queue.SimpleQueue = queue.SimpleQueue()

    def readnoise_step(report):
        errors = []
        try:
            res.readnoise = _stored(store, READNOISE.store_key, group.paths, opts.readnoise,
                                    lambda: make_readnoise_map(group.paths, opts.readnoise, opts.crds,
                                                               progress=report), res)
        except Exception as e:  # one human line per failed step; the other steps and groups proceed
            errors.append(_message(READNOISE.name, e))
        if opts.reference and res.readnoise is not None:
            try:
                ref_map, ref_meta = load_reference_map(opts.reference, res.readnoise.layout)
                ratio, diff, table = compare_maps(res.readnoise.cds_noise_map, ref_map, res.readnoise.layout,
                                                  labels=("data", "reference"))
                res.comparison = (ratio, diff, table, ref_meta)
            except Exception as e:
                errors.append(_message("reference comparison", e))
        return errors

    def section_step(section, func, params):
        def run(report):
            try:
                res.sections[section.name] = _stored(store, section.store_key, group.paths, params,
                                                     lambda: func(group.paths, params, progress=report), res)
            except Exception as e:
                return [_message(section.name, e)]
            return []
        return run

    steps = [(READNOISE.name, readnoise_step)]  # (timing name, step) in report order
    for section in SECTIONS:
        if section.name not in opts.sections:
            continue
        func, params_cls = section.load()
        params = opts.section_params.get(section.name) or params_cls()
        steps.append((section.name, section_step(section, func, params)))
    n = len(steps)
    fractions = [0.0] * n

    def timed(i, step):
        t0 = time.perf_counter()
        errors = step(lambda f, m: events.put((i, f, m)))
        return errors, round(time.perf_counter() - t0, 3)

    # Longest steps first (1/f, then reference pixels) so the two workers finish together.
    order = sorted(range(n), key=lambda i: _EXPECTED_ORDER.index(steps[i][0])
                   if steps[i][0] in _EXPECTED_ORDER else len(_EXPECTED_ORDER))
    outcomes: dict[int, tuple] = {}

    def drain():
        while True:
            try:
                i, f, m = events.get_nowait()
            except queue.Empty:
                return
            fractions[i] = max(fractions[i], min(1.0, f))
            progress(sum(fractions) / n, f"{group.key}: {m}")

    with ThreadPoolExecutor(max(1, int(workers)), thread_name_prefix="analysis") as pool:
        futures = {pool.submit(timed, i, steps[i][1]): i for i in order}
        pending = set(futures)
        while pending:
            done, pending = wait(pending, timeout=0.2, return_when=FIRST_COMPLETED)
            drain()
            for fut in done:
                outcomes[futures[fut]] = fut.result()
    drain()
    for i, (name, _) in enumerate(steps):
        errors, seconds = outcomes[i]
        res.errors.extend(errors)
        res.timings[f"{name}_s"] = seconds
    res.timings["total_s"] = round(time.perf_counter() - t_group, 3)
    # Completion order varies from run to run; products and messages follow the step order.
    names = [name for name, _ in steps]
    res.sections = {k: res.sections[k] for k in names if k in res.sections}
    res.cached.sort(key=lambda k: names.index(k) if k in names else n)
    progress(1.0, f"{group.key}: done")
    return res


_EXPECTED_ORDER = ("onef", "refpix", "readnoise_rest2014", "readnoise")  # registry names, longest first


def write_group_products(res: GroupResult, out: Path) -> dict:
    """Write the FITS and CSV products of one group under ``out/<key>/``; return its summary block."""
    key = res.group.slug  # the folder and file names (the summary block is keyed by res.group.key)
    d = Path(out) / key
    d.mkdir(parents=True, exist_ok=True)
    f0 = res.group.files[0]
    block: dict = {"files": [f.name for f in res.group.files],
                   "paths": [str(f.path) for f in res.group.files],
                   "readpatt": f0.readpatt, "nframes": f0.nframes, "groupgap": f0.groupgap,
                   "tframe": f0.tframe, "tgroup": f0.tgroup, "processing": f0.processing}
    notes = [{"file": f.name, "note": n} for f in res.group.files for n in f.notes]
    if notes:
        block["notes"] = notes
    if res.readnoise is not None:
        (d / f"readnoise_{key}.fits").write_bytes(res.readnoise.model_bytes)
        for name, table in res.readnoise.tables().items():
            table.to_csv(d / f"{name}_{key}.csv", index=False)
        block["readnoise"] = res.readnoise.summary()
    if res.comparison is not None:
        _, _, table, ref_meta = res.comparison
        table.to_csv(d / f"readnoise_vs_reference_{key}.csv", index=False)
        block.setdefault("readnoise", {})["reference"] = {
            "file": ref_meta["file"],
            "amps": json.loads(table.to_json(orient="records")),
        }
    for name, result in res.sections.items():
        block[name] = result.summary()
        for tname, table in result.tables().items():
            table.to_csv(d / f"{tname}_{key}.csv", index=False)
    if res.errors:
        block["errors"] = list(res.errors)
    block["timings"] = dict(res.timings)
    if res.cached:
        block["from_store"] = list(res.cached)
    return block


def run_analysis(paths, out: Path, opts: AnalysisOptions, progress: Progress | None = None, store=None,
                 results: list | None = None) -> dict:
    """Validate ``paths``, analyse each detector group, write products and ``summary.json``.

    ``results``: a list that receives each group's :class:`GroupResult` (the report builds on them).
    """
    progress = progress or (lambda f, m: None)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    infos = inventory(paths)
    groups, rejected = group_by_detector(infos, merge_folders=opts.merge_folders)
    summary = {"detectors": {}, "rejected": [{"file": f.name, "reason": f.reason} for f in rejected]}
    for i, g in enumerate(groups):
        def sub(f, m, i=i):
            progress((i + f) / max(len(groups), 1), m)
        res = analyze_group(g, opts, sub, store=store)
        summary["rejected"].extend(res.skipped)
        summary["detectors"][g.key] = write_group_products(res, out)
        if results is not None:
            results.append(res)
    (out / "summary.json").write_text(json.dumps(json_safe(summary), indent=1, default=str))
    return summary
