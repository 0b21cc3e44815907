"""Readnoise maps with jwst_reffiles ``make_readnoise`` (the reference engine) and their statistics.

Units: every map here is the **CDS noise in DN** -- the standard deviation of a difference of two
groups, as jwst_reffiles writes it (no division by sqrt(2)).  The per-read noise is CDS / sqrt(2).

Both engines are dispatched here, in one place: ``native`` (:mod:`core.readnoise.native`, locally
or on a Dask cluster through :mod:`core.readnoise.dask_engine`) and ``reffiles``
(:mod:`core.readnoise.reffiles`, jwst_reffiles 1.0.1 called as is).  The guards for jwst_reffiles'
known failures:

* odd NGROUPS with ``independent`` differences raises a broadcast error -> we give it copies of the
  files without their last group, and say so;
* too few group differences (NGROUPS=2 with ``ramp`` gives an all-zero map) -> such files are left
  out with a note, or the run is refused with a message before it runs when no file remains;
* NaN and saturated (65535 DN) samples, which it uses as they are -> counted in one stripe pass and
  reported in the notes;
* pixels NaN in every sample come out 0.0 -> we set them back to NaN;
* files of different shapes raise -> the caller groups files by geometry first
  (:func:`core.io.inventory.group_by_detector`);
* an exception inside its ``Pool`` leaves the pool open -> we hand it a pool that we always close.

The estimator is biased low (about 0.92 of the true CDS noise with 10 samples per pixel, 0.97 with
50): see :func:`expected_clipped_std_factor`.
"""

from __future__ import annotations

import io
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from core.errors import InputError
from core.io.inventory import check_ramps
from core.io.ramps import Ramp, dq_note, dq_use, groupdq_names, n_cds, stripe_rows_for, stripes
from core.readnoise.params import CrdsMeta, ReadnoiseParams, ReadnoiseResult
from core.readnoise.reffiles import (
    ENGINE_REFFILES,
    census_notes,
    quiet_reffiles,
    run_reffiles,
    sample_census,
    trimmed_copy,
)
from core.runtime import Progress


def _check_counts(shapes: dict[str, tuple], params: ReadnoiseParams) -> None:
    """Refuse runs that jwst_reffiles would turn into zeros or NaN."""
    per_file = {name: s[0] * n_cds(s[1], params.group_diff_type) for name, s in shapes.items()}
    if params.method == "ramp":
        few = {n: c for n, c in per_file.items() if c < 2}
        if few:
            name, c = next(iter(few.items()))
            raise InputError(
                f"the 'ramp' method needs at least 2 group differences per file, but {name} gives {c} "
                f"({shapes[name][1]} groups, {params.group_diff_type}); jwst_reffiles would return an "
                "all-zero map. Use 'stack' or 'consecutive'.", name)
    elif sum(per_file.values()) < 2:
        raise InputError(
            f"the 'stack' method needs at least 2 group differences in all; these files give "
            f"{sum(per_file.values())}. Add files or use 'consecutive'.")


def all_nan_pixels(paths: Sequence[Path]) -> np.ndarray | None:
    """Mask of pixels that are NaN in every sample of every file (float SCI only), else None."""
    from astropy.io import fits

    mask = None
    for p in paths:
        if fits.getheader(p, "SCI").get("BITPIX", 16) > 0:
            return None  # integer data cannot hold NaN
        with Ramp(p) as r:
            m = np.zeros(r.shape[2:], bool)
            for y0, y1 in stripes(r.shape[2], stripe_rows_for(r.shape)):
                data = r.read_raw(y0, y1).astype(np.float32, copy=False)
                m[y0:y1] = np.all(np.isnan(data), axis=(0, 1))
        mask = m if mask is None else mask & m
    return mask if mask is not None and mask.any() else None


def make_readnoise_map(
    paths: Sequence[str | Path],
    params: ReadnoiseParams = ReadnoiseParams(),
    meta: CrdsMeta | None = None,
    progress: Progress | None = None,
    workdir: str | Path | None = None,
) -> ReadnoiseResult:
    """Run jwst_reffiles ``make_readnoise`` on files of one detector and geometry.

    Returns the map (CDS noise, DN), the FITS it wrote (``model_bytes``, with our HISTORY added)
    and notes about every guard that acted.  Raises :class:`InputError` / :class:`ParameterError`
    with a specific message when it cannot run.
    """
    params = params.validate()
    meta = (meta or CrdsMeta()).validate()
    progress = progress or (lambda f, m: None)
    paths = [Path(p) for p in paths]
    if not paths:
        raise InputError("no files to analyse")
    ramps = check_ramps(paths)  # one detector, one frame, one readout pattern; a bad file is named
    shapes = {r.path.name: r.shape for r in ramps}
    h0 = ramps[0].header
    layout = ramps[0].layout

    notes = []
    with tempfile.TemporaryDirectory(dir=workdir) as tmp:
        tmp = Path(tmp)
        run_paths = list(paths)
        odd = [n for n, s in shapes.items() if s[1] % 2 == 1]
        if params.group_diff_type == "independent" and odd:
            for i, p in enumerate(run_paths):
                ng = shapes[p.name][1]
                if ng % 2 == 1 and params.engine == "native":  # it pairs G1-G0 ... and skips the last
                    shapes[p.name] = shapes[p.name][:1] + (ng - 1,) + shapes[p.name][2:]
                elif ng % 2 == 1:
                    progress(0.0, f"dropping the last group of {p.name} (odd NGROUPS)")
                    run_paths[i] = trimmed_copy(p, tmp / p.name, ng - 1)
                    shapes[p.name] = shapes[p.name][:1] + (ng - 1,) + shapes[p.name][2:]
            notes.append(
                f"{len(odd)} file(s) have an odd number of groups ({', '.join(odd)}); with independent "
                "differences the last group of each was dropped (jwst_reffiles cannot pair it).")
        if params.method == "ramp":
            # A file with one group difference has no spread: jwst_reffiles would give it a 0 map and
            # average that in.  Leave such files out while others remain (else _check_counts refuses).
            few = {n: s[0] * n_cds(s[1], params.group_diff_type) for n, s in shapes.items()}
            few = {n: c for n, c in few.items() if c < 2}
            if few and len(few) < len(shapes):
                notes.append(
                    f"left out {len(few)} file(s) with fewer than 2 group differences "
                    f"({', '.join(f'{n}: {c}' for n, c in few.items())}): the 'ramp' method needs at least 2 "
                    "per file (a single difference has no spread).")
                keep = [i for i, p in enumerate(paths) if p.name not in few]
                paths = [paths[i] for i in keep]
                run_paths = [run_paths[i] for i in keep]
                shapes = {n: s for n, s in shapes.items() if n not in few}
        _check_counts(shapes, params)
        if params.engine == "native":
            nan_mask = all_nan_pixels(paths)  # the native engine counts and masks bad samples itself
        else:
            census = sample_census(run_paths)
            nan_mask = census["all_nan"]
            notes.extend(census_notes(census))

        outfile = tmp / f"readnoise_{layout.detector}.fits"
        if params.engine == "native":
            engine, dq = _run_native(paths, params, meta, h0, outfile, progress, notes, layout)
        else:
            engine = ENGINE_REFFILES
            dq = _reffiles_dq_note(paths, notes)
            run_reffiles(run_paths, params, meta, h0, outfile, progress)
        progress(0.97, "writing the reference file")
        model_bytes, cds_map = _finish_model(outfile, paths, params, meta, nan_mask, notes)
    progress(1.0, "done")
    header = {k: h0.get(k) for k in ("SUBARRAY", "READPATT", "NOUTPUTS", "SUBSTRT1", "SUBSTRT2", "SUBSIZE1",
                                     "SUBSIZE2", "FASTAXIS", "SLOWAXIS", "NGROUPS", "NINTS", "NFRAMES", "GROUPGAP",
                                     "TFRAME", "TGROUP")}
    if int(h0.get("NFRAMES") or 1) > 1:
        nf = int(h0["NFRAMES"])
        notes.append(f"{h0.get('READPATT')}: each group averages {nf} frames, so this is the noise of a difference of "
                     f"{nf}-frame groups; its white part is sqrt(2/{nf}) x the per-frame white noise per read (x "
                     f"sqrt({nf}) gives the per-frame CDS equivalent). 1/f noise slower than a group does not average "
                     "down that way.")
    per_file = [s[0] * n_cds(s[1], params.group_diff_type) for s in shapes.values()]
    samples = sum(per_file) if params.method == "stack" else min(per_file)
    return ReadnoiseResult(layout.detector, layout, cds_map, [p.name for p in paths], params,
                           header, notes, engine=engine, model_bytes=model_bytes, dq=dq, samples_per_pixel=samples)


def _files_with_dq(paths) -> list[str]:
    out = []
    for p in paths:
        with Ramp(p, direct=False) as r:
            if r.has_dq:
                out.append(Path(p).name)
    return out


def _reffiles_dq_note(paths, notes: list[str]) -> dict | None:
    """jwst_reffiles reads no DQ: where the files carry flags, the result says they were not used."""
    flagged = _files_with_dq(paths)
    if not flagged:
        return None
    notes.append(f"{len(flagged)} file(s) carry GROUPDQ/PIXELDQ flags, which jwst_reffiles does not read: "
                 "saturated, jump-flagged and DO_NOT_USE samples were used as they are. The native engine "
                 "leaves them out.")
    return {"used": False, "files_with_dq": flagged}


def _native_dq(info: dict, layout, groupdq_mask: int, notes: list[str]) -> dict | None:
    """Per-amp counts of the samples the DQ flags left out (native engine, local runs)."""
    dq = dq_use(info.get("dq_masked_columns"), layout, groupdq_mask, bool(info.get("has_dq")))
    if dq is not None:
        notes.append(dq_note(dq))
    return dq


def _run_native(paths, params: ReadnoiseParams, meta: CrdsMeta, h0, outfile: Path, progress, notes,
                layout) -> tuple[str, dict | None]:
    """The native engine's map, written with jwst_reffiles' own CRDS writer (same file format);
    returns (engine label, DQ summary or None)."""
    from jwst_reffiles.readnoise import readnoise as rf

    from core.readnoise.dask_engine import distributed_readnoise_map

    # local threads (core.readnoise.native) unless a scheduler is given or $DARKS_DASK_SCHEDULER is set
    cds_map, info = distributed_readnoise_map(
        paths, params.method, params.group_diff_type, params.clipping_sigma, params.max_clipping_iters,
        mode=params.mode, scheduler=params.scheduler, groupdq_mask=params.groupdq_mask,
        progress=lambda f, m: progress(0.05 + 0.9 * f, m),
        group=str(h0.get("DETECTOR", "")))
    if info["scheduler"] != "local":
        notes.append(f"computed on the Dask cluster {info['scheduler']} ({info['n_tasks']} task(s), "
                     f"{info['stripe_rows']} rows each).")
    if info["n_masked_samples"]:
        notes.append(f"{info['n_masked_samples']} saturated or non-finite samples were masked.")
    dq = _native_dq(info, layout, params.groupdq_mask, notes)
    if info["scheduler"] != "local" and _files_with_dq(paths):
        dq = {"used": True, "groupdq_mask": params.groupdq_mask, "groupdq_flags": groupdq_names(params.groupdq_mask),
              "masked_samples_per_amp": None}
        notes.append("DQ-flagged samples were left out on the cluster workers (not counted there).")
    if params.single_value:
        with quiet_reffiles():
            cds_map = rf.use_single_value(cds_map, h0["INSTRUME"], h0["DETECTOR"], h0["SUBARRAY"],
                                          params.clipping_sigma, params.max_clipping_iters)
    with quiet_reffiles():
        rf.save_readnoise(
            cds_map.astype(np.float32), instrument=h0["INSTRUME"], detector=h0["DETECTOR"],
            subarray=h0["SUBARRAY"], readpatt=str(h0.get("READPATT", "ANY")), outfile=str(outfile),
            author=meta.author, description=meta.description, pedigree=meta.pedigree, useafter=meta.useafter,
            fastaxis=h0["FASTAXIS"], slowaxis=h0["SLOWAXIS"], substrt1=h0["SUBSTRT1"], substrt2=h0["SUBSTRT2"],
            filenames=[str(p) for p in paths])
    return f"native streaming engine, {params.mode} mode", dq


def _finish_model(outfile: Path, paths, params: ReadnoiseParams, meta: CrdsMeta, nan_mask, notes):
    """Add our HISTORY (inputs, parameters, guards) to make_readnoise's file; fix all-NaN pixels."""
    from stdatamodels.jwst import datamodels

    with datamodels.ReadnoiseModel(str(outfile)) as m:
        if nan_mask is not None:
            m.data[nan_mask] = np.nan
            notes.append(f"{int(nan_mask.sum())} pixel(s) are NaN in every sample: set to NaN "
                         "(jwst_reffiles writes 0.0 there).")
        m.meta.subarray.name = m.meta.subarray.name or "FULL"
        lines = [
            f"Made by the NIRCam darks app, engine: {params.engine} ({params.mode}).",
            "Parameters: " + ", ".join(f"{k}={v}" for k, v in params.as_dict().items()),
            "Units: CDS noise in DN (per-read noise = CDS / sqrt(2)).",
            "Inputs: " + ", ".join(Path(p).name for p in paths),
        ] + [f"Note: {n}" for n in notes]
        if meta.history:
            lines.append(meta.history)
        for line in lines:
            m.add_history_entry(line)
        buf = io.BytesIO()
        tmp_out = outfile.with_name(outfile.stem + "_final.fits")
        m.save(str(tmp_out), overwrite=True)
        cds_map = np.array(m.data, dtype=np.float32)
    buf.write(tmp_out.read_bytes())
    return buf.getvalue(), cds_map


def with_crds_meta(model_bytes: bytes, meta: CrdsMeta) -> bytes:
    """The reference file with user-edited CRDS fields (AUTHOR, PEDIGREE, USEAFTER, DESCRIP, HISTORY).

    The pixels are not touched.
    """
    from stdatamodels.jwst import datamodels

    meta = meta.validate()
    with tempfile.TemporaryDirectory() as tmp:
        src, dst = Path(tmp, "in.fits"), Path(tmp, "out.fits")
        src.write_bytes(model_bytes)
        with datamodels.ReadnoiseModel(str(src)) as m:
            m.meta.author = meta.author
            m.meta.pedigree = meta.pedigree
            m.meta.useafter = meta.useafter
            m.meta.description = meta.description
            if meta.history:
                m.add_history_entry(meta.history)
            m.save(str(dst), overwrite=True)
        return dst.read_bytes()
