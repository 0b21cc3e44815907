"""Native streaming readnoise engine: each file read once, in row stripes, on both cores.

Two modes, labelled wherever a number appears:

* ``compatible``: the same estimator as jwst_reffiles 1.0.1 (astropy ``sigma_clip`` with a median
  centre and ddof=0 std bounds, strict ``<``/``>`` rejection, at most ``max_clipping_iters``
  passes, then ``np.std`` with ddof=0 of the kept samples); its maps match jwst_reffiles to float
  rounding.  The clip is :mod:`core.readnoise.clip`, a compiled replica of astropy's routine.
* ``unbiased``: the compatible estimate divided by its expected value for Gaussian noise with the
  same number of samples (:func:`core.readnoise.expected_clipped_std_factor`, Monte Carlo with the
  same clipping), so that its expectation equals the true CDS noise: this removes both the
  clipping truncation and the small-sample bias of ddof=0.

Units: CDS noise in DN, like jwst_reffiles.  Saturated (65535) and non-finite samples are masked
(jwst_reffiles would use them).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from core.errors import InputError
from core.io.ramps import DEFAULT_GROUPDQ_MASK, Ramp, cds_frames, n_cds, stripes
from core.readnoise.clip import clipped_mean_fast, clipped_std_fast
from core.readnoise.params import MODES
from core.readnoise.stats import mean_bias_factor

STRIPE_BUDGET_BYTES = 192 * 2**20  # float32 bytes of raw stripes held at once, all files together


def clipped_std(stack: np.ndarray, sigma: float = 3.0, maxiters: int = 3, axis: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """jwst_reffiles' clipped standard deviation along ``axis`` (NaN samples ignored).

    Returns (std with ddof=0 of the kept samples, number of kept samples).  The rejection is that
    of astropy's compiled ``sigma_clip`` (median centre, std about the mean) as jwst_reffiles calls
    it, replicated operation for operation in :mod:`core.readnoise.clip` so that the same samples are
    kept -- including exact ties at a bound.
    """
    x = np.moveaxis(np.asarray(stack, dtype=np.float32), axis, 0)
    return clipped_std_fast(x, sigma, maxiters)


def unbias(std: np.ndarray, n: np.ndarray, sigma: float, maxiters: int, n_samples: np.ndarray | None = None) -> np.ndarray:
    """Divide a compatible-mode map by its expected bias for the number of samples of each pixel.

    ``n_samples`` is the number of valid samples before clipping (the factor depends on it, not on
    how many survived); defaults to ``n``.
    """
    ns = np.asarray(n_samples if n_samples is not None else n)
    out = np.full(std.shape, np.nan, np.float32)
    for k in np.unique(ns):
        sel = ns == k
        out[sel] = std[sel] / mean_bias_factor(int(k), float(sigma), int(maxiters))
    return out


def stripe_rows_for_files(shapes: Sequence[tuple], budget: int = STRIPE_BUDGET_BYTES) -> int:
    per_row = sum(s[0] * s[1] * s[3] * 4 for s in shapes) * 3  # raw float32 + CDS + the stacked copy the clip reads
    return int(max(1, min(shapes[0][2], budget // max(per_row, 1))))


def native_readnoise_map(
    paths: Sequence[str | Path],
    method: str = "stack",
    group_diff_type: str = "independent",
    clipping_sigma: float = 3.0,
    max_clipping_iters: int = 3,
    mode: str = "compatible",
    workers: int | None = None,
    progress: Callable[[float, str], None] | None = None,
    groupdq_mask: int = DEFAULT_GROUPDQ_MASK,
) -> tuple[np.ndarray, dict]:
    """CDS noise map (DN) of files of one detector and geometry, read once in row stripes.

    ``stack``: per pixel, the clipped std through all CDS frames of all files;
    ``ramp``: per file, then the clipped mean over files (as jwst_reffiles).
    Returns (map, info) with info = {"mode", "n_masked_samples" (saturated or non-finite),
    "stripe_rows", "n_cds_per_file", "has_dq" (a file carries DQ arrays), "dq_masked_columns"
    (samples left out by their DQ flags, per column)}.
    """
    if mode not in MODES:
        raise InputError(f"mode must be one of {MODES}, not {mode!r}")
    progress = progress or (lambda f, m: None)
    ramps = []
    try:
        for p in paths:
            ramps.append(open_ramp(p, groupdq_mask))
        shapes = [r.shape for r in ramps]
        if len({s[2:] for s in shapes}) > 1:
            raise InputError("the files have different frame shapes")
        ny, nx = shapes[0][2:]
        rows = stripe_rows_for_files(shapes)
        out = np.full((ny, nx), np.nan, np.float32)
        masked = 0
        bands = list(stripes(ny, rows))
        workers = workers or min(2, os.cpu_count() or 1)

        def do(band):
            y0, y1 = band
            std, nbad = readnoise_stripe(ramps, y0, y1, method, group_diff_type, clipping_sigma,
                                         max_clipping_iters, mode)
            return y0, y1, std, nbad

        # Reading a stripe holds the GIL only briefly; the numpy work releases it, so 2 threads use 2 cores.
        with ThreadPoolExecutor(workers) as pool:
            for i, (y0, y1, std, nbad) in enumerate(pool.map(do, bands)):
                out[y0:y1] = std
                masked += nbad
                progress((i + 1) / len(bands), f"native readnoise: rows {y0}-{y1}")
        dq_columns = sum(r.dq_masked_columns for r in ramps)
        has_dq = any(r.has_dq for r in ramps)
    finally:
        for r in ramps:
            r.close()
    return out, {"mode": mode, "n_masked_samples": int(masked), "stripe_rows": rows,
                 "n_cds_per_file": [s[0] * n_cds(s[1], group_diff_type) for s in shapes],
                 "has_dq": has_dq, "dq_masked_columns": dq_columns}


# -- one row stripe (the unit of work, locally in threads or on a Dask worker: core.readnoise.dask_engine) -----
def open_ramp(path, groupdq_mask: int = DEFAULT_GROUPDQ_MASK) -> Ramp:
    """:class:`Ramp` of ``path`` leaving out the samples flagged with ``groupdq_mask``; a file that
    cannot be opened is an :class:`InputError` naming it."""
    try:
        return Ramp(path, groupdq_mask=groupdq_mask)
    except Exception as e:  # astropy/OS errors on a missing, unreadable or garbage file
        name = Path(path).name
        raise InputError(f"{name}: cannot open as a FITS ramp ({type(e).__name__}: {e})", name) from e


@contextlib.contextmanager
def _opened(ramps_or_paths, groupdq_mask: int = DEFAULT_GROUPDQ_MASK):
    """The given :class:`Ramp` objects as they are, paths opened here (and closed on exit)."""
    mine, out = [], []
    try:
        for r in ramps_or_paths:
            if isinstance(r, Ramp):
                out.append(r)
            else:
                mine.append(open_ramp(r, groupdq_mask))
                out.append(mine[-1])
        yield out
    finally:
        for r in mine:
            r.close()


def _read_cds(ramp: Ramp, y0: int, y1: int, group_diff_type: str) -> tuple[np.ndarray, int]:
    """CDS frames of rows ``y0:y1`` of one file, and its masked-sample count."""
    try:
        data, nbad = ramp.read_stripe(y0, y1)
    except Exception as e:  # truncated or changed since it was opened
        name = ramp.path.name
        raise InputError(f"{name}: unreadable or truncated FITS data in rows {y0}-{y1} "
                         f"({type(e).__name__}: {e})", name) from e
    return cds_frames(data, group_diff_type), nbad


def _std_map(cds: np.ndarray, clipping_sigma: float, max_clipping_iters: int, mode: str) -> np.ndarray:
    """Clipped std per pixel; NaN where fewer than 2 valid differences remain (saturated, DQ-flagged
    or non-finite samples left out): a standard deviation of one sample is not a noise (0), and
    none at all is not one either."""
    std, n = clipped_std(cds, clipping_sigma, max_clipping_iters)
    n_valid = np.isfinite(cds).sum(axis=0)
    if mode == "unbiased":
        std = unbias(std, n, clipping_sigma, max_clipping_iters, n_valid)
    std[n_valid < 2] = np.nan
    return std


def file_stripe_map(ramp, y0: int, y1: int, group_diff_type: str = "independent", clipping_sigma: float = 3.0,
                    max_clipping_iters: int = 3, mode: str = "compatible",
                    groupdq_mask: int = DEFAULT_GROUPDQ_MASK) -> tuple[np.ndarray, int]:
    """Per-file map of rows ``y0:y1`` (the ``ramp`` method's first step): (float32 map, masked samples).

    ``ramp`` is a :class:`Ramp` or a path.
    """
    with _opened([ramp], groupdq_mask) as (r,):
        cds, nbad = _read_cds(r, y0, y1, group_diff_type)
    return _std_map(cds, clipping_sigma, max_clipping_iters, mode), nbad


def combine_file_maps(maps: Sequence[np.ndarray], clipping_sigma: float = 3.0, max_clipping_iters: int = 3) -> np.ndarray:
    """The ``ramp`` method's reduce step: clipped mean across files of their per-file maps (one stripe)."""
    return clipped_mean_fast(np.stack(maps), clipping_sigma, max_clipping_iters)


def readnoise_stripe(ramps, y0: int, y1: int, method: str = "stack", group_diff_type: str = "independent",
                     clipping_sigma: float = 3.0, max_clipping_iters: int = 3,
                     mode: str = "compatible", groupdq_mask: int = DEFAULT_GROUPDQ_MASK) -> tuple[np.ndarray, int]:
    """Rows ``y0:y1`` of the map from every file (Ramp objects or paths): (float32 map, masked samples).

    ``stack``: the clipped std through all CDS frames of all files; ``ramp``: per-file maps, then
    their clipped mean (:func:`file_stripe_map`, :func:`combine_file_maps`).
    """
    with _opened(ramps, groupdq_mask) as rs:
        if method == "stack":
            cds_list, nbad = [], 0
            for r in rs:
                cds, bad = _read_cds(r, y0, y1, group_diff_type)
                cds_list.append(cds)
                nbad += bad
            return _std_map(np.concatenate(cds_list, axis=0), clipping_sigma, max_clipping_iters, mode), nbad
        parts = [file_stripe_map(r, y0, y1, group_diff_type, clipping_sigma, max_clipping_iters, mode) for r in rs]
    return combine_file_maps([m for m, _ in parts], clipping_sigma, max_clipping_iters), sum(n for _, n in parts)
