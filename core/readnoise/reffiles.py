"""The jwst_reffiles engine: ``make_readnoise`` itself, behind guards for its known failures.

* odd NGROUPS with ``independent`` differences raises a broadcast error -> it is given copies of
  the files without their last group (:func:`trimmed_copy`);
* NaN and saturated (65535 DN) samples, which it uses as they are -> counted in one stripe pass and
  reported in the notes (:func:`sample_census`);
* an exception inside its ``Pool`` leaves the pool open -> it is handed a pool that is always closed.

jwst_reffiles prints to stdout and patches module state (its ``Pool``): every call into it goes
through :func:`quiet_reffiles`, which holds one process-wide lock while ``sys.stdout`` is
redirected -- two threads redirecting at once would otherwise restore each other's StringIO.
"""

from __future__ import annotations

import contextlib
import io
import multiprocessing.pool
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from core.errors import InputError
from core.io.ramps import SATURATED_DN, Ramp, stripe_rows_for, stripes
from core.readnoise.params import CrdsMeta, ReadnoiseParams

ENGINE_REFFILES = "jwst_reffiles 1.0.1 make_readnoise"

# make_readnoise patches module state (its Pool) and everything in it prints: one call at a time.
_REFFILES_LOCK = threading.RLock()


@contextlib.contextmanager
def quiet_reffiles():
    """Hold the jwst_reffiles lock and send stdout to a buffer (yielded) for the duration."""
    log = io.StringIO()
    with _REFFILES_LOCK, contextlib.redirect_stdout(log):
        yield log


class SerialPool:
    """In-process stand-in for ``multiprocessing.Pool`` (nproc=1): same results, visible progress."""

    def __init__(self, progress):
        self._progress = progress

    def map(self, func, iterable):
        items = list(iterable)
        out = []
        for i, item in enumerate(items):
            out.append(func(item))
            self._progress((i + 1) / len(items))
        return out

    def close(self):
        pass

    def join(self):
        pass


class ClosingPool(multiprocessing.pool.Pool):
    """A real process pool whose ``map`` reports progress; the caller terminates it in any case."""

    def __init__(self, processes, progress):
        super().__init__(processes)
        self._progress = progress

    def map(self, func, iterable, chunksize=None):
        items = list(iterable)
        out = []
        for i, r in enumerate(self.imap(func, items)):
            out.append(r)
            self._progress((i + 1) / len(items))
        return out


def trimmed_copy(src: Path, dst: Path, ngroups: int) -> Path:
    """Copy of a ramp with only its first ``ngroups`` groups (read and written one integration at a time
    would need a streaming FITS writer; one file at a time is within the memory budget)."""
    from astropy.io import fits

    with fits.open(src, memmap=False) as hdul:
        new = fits.HDUList()
        for hdu in hdul:
            if hdu.name == "SCI":
                data = hdu.section[:, :ngroups]
                h = hdu.header.copy()
                new.append(fits.ImageHDU(data=np.asarray(data), header=h, name="SCI", uint=True))
            else:
                new.append(hdu.copy())
        new[0].header["NGROUPS"] = ngroups
        new.writeto(dst, overwrite=True)
    return dst


def sample_census(paths: Sequence[Path]) -> dict:
    """One stripe pass over every file: NaN and saturated (65535 DN) samples, and the pixels NaN in
    every sample of every file.

    Returns {"n_nan", "nan_pixels", "n_saturated", "saturated_pixels", "all_nan" (mask or None)}.
    jwst_reffiles reads the data as they are; this is how the user learns what was in them.
    """
    out = {"n_nan": 0, "nan_pixels": 0, "n_saturated": 0, "saturated_pixels": 0, "all_nan": None}
    all_nan = None
    for p in paths:
        with Ramp(p) as r:
            is_float = r.is_float
            m = np.zeros(r.shape[2:], bool)
            for y0, y1 in stripes(r.shape[2], stripe_rows_for(r.shape)):
                raw = r.read_raw(y0, y1)
                sat = raw == SATURATED_DN
                out["n_saturated"] += int(sat.sum())
                out["saturated_pixels"] += int(sat.any(axis=(0, 1)).sum())
                if is_float:
                    nan = ~np.isfinite(raw)
                    out["n_nan"] += int(nan.sum())
                    out["nan_pixels"] += int(nan.any(axis=(0, 1)).sum())
                    m[y0:y1] = nan.all(axis=(0, 1))
        all_nan = m if all_nan is None else all_nan & m
    out["all_nan"] = all_nan if all_nan is not None and all_nan.any() else None
    return out


def census_notes(c: dict) -> list[str]:
    notes = []
    if c["n_saturated"]:
        notes.append(f"{c['n_saturated']} saturated samples (65535 DN) in {c['saturated_pixels']} pixel(s) "
                     "(pixels counted per file): jwst_reffiles uses them as they are (a pixel saturated in "
                     "every group gets 0 noise; a jump into saturation is usually clipped). The native "
                     "engine masks them.")
    if c["n_nan"]:
        notes.append(f"{c['n_nan']} NaN samples in {c['nan_pixels']} pixel(s) (pixels counted per file): "
                     "jwst_reffiles leaves them out (its sigma clipping masks non-finite values).")
    return notes


def run_reffiles(run_paths, params: ReadnoiseParams, meta: CrdsMeta, h0, outfile: Path, progress) -> None:
    """make_readnoise itself, with a pool we always close and its progress made visible."""
    from jwst_reffiles.readnoise import readnoise as rf

    nproc = int(params.nproc)
    pools: list = []

    def pool_factory(processes=None):
        cb = lambda f: progress(0.05 + 0.9 * f, "jwst_reffiles make_readnoise")  # noqa: E731
        pool = SerialPool(cb) if nproc == 1 else ClosingPool(nproc, cb)
        pools.append(pool)
        return pool

    progress(0.05, f"jwst_reffiles make_readnoise ({params.method}, {params.group_diff_type})")
    with quiet_reffiles():
        original_pool = rf.Pool
        rf.Pool = pool_factory
        try:
            rf.make_readnoise(
                [str(p) for p in run_paths], method=params.method,
                group_diff_type=params.group_diff_type,
                clipping_sigma=float(params.clipping_sigma),
                max_clipping_iters=int(params.max_clipping_iters), nproc=nproc,
                slice_width=int(params.slice_width), single_value=bool(params.single_value),
                outfile=str(outfile), author=meta.author, description=meta.description,
                pedigree=meta.pedigree, useafter=meta.useafter, history="",
                subarray=None, readpatt=str(h0.get("READPATT", "ANY")),
            )
        except Exception as e:  # its failures are numpy/astropy errors: name them plainly
            raise InputError(f"jwst_reffiles make_readnoise failed: {type(e).__name__}: {e}") from e
        finally:
            rf.Pool = original_pool
            for pool in pools:
                if isinstance(pool, multiprocessing.pool.Pool):
                    pool.terminate()
                    pool.join()


def warm_datamodels() -> None:
    """Write one small ReadnoiseModel to a temporary file: a process's first datamodel makes asdf
    discover its extensions and jwst load its schemas (about 1.5 s, once per process)."""
    import tempfile

    from stdatamodels.jwst import datamodels

    with tempfile.TemporaryDirectory() as tmp, datamodels.ReadnoiseModel(data=np.zeros((8, 8), np.float32)) as m:
        m.save(f"{tmp}/warm_readnoise.fits")
