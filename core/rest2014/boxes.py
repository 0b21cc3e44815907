"""Readnoise the Rest (2014) way: spatial noise in boxes of group-difference images.

Method (JWST-STScI-004118, as in STScI's ``nircam_calib`` readnoise scripts):

1. Differences of *consecutive* groups, each integration on its own (G1-G0, G2-G1, ...),
   optionally after a reference-pixel correction: per output and per frame, the mean of that
   output's top/bottom reference rows is subtracted (so a difference loses the frame-to-frame
   offset of its output).
2. Each difference image is tiled into boxes (default 128 x 128) on a grid aligned to the array
   origin and cut at every amplifier boundary, so a box never holds two outputs.  Reference pixels
   and a user bad-pixel mask are left out of every box.  Boxes at the array edge or at an amp
   edge may be smaller than ``box`` (e.g. a 320-column subarray gives 128, 128, 64).
3. In each box: an iterative ``clip_sigma`` clip (median as centre on the first pass, mean after,
   at most ``max_iters`` passes, stopping when no pixel changes), then the standard deviation with
   N-1 divided by ``c4(N) = 1 - 1/(4N) - 7/(32N^2) - 19/(128N^3)``.  A box value is accepted only
   if the clip converged, more than 32 pixels were used and fewer than 10 % were clipped.
4. Per box: the clipped mean of its accepted values over all differences of all files, divided by
   sqrt(2) (a difference holds two reads), with error ``std / sqrt(n) / sqrt(2)``.  Per amp: the
   median of its box values with error ``1.2533 * std / sqrt(n_boxes)`` (normal-theory standard
   error of a median).

Spatial versus temporal readnoise.  A box standard deviation is taken *within one difference
image*, so it contains the part of the 1/f noise that varies inside the box (mainly row-to-row
offsets, the row-correlated 1/f); the box mean removes only the part that is constant over the
box.  A per-pixel temporal estimate does not remove 1/f either, but weighs it differently: it
sees the full 1/f variance of each pixel's difference series, including the slow part that a box
mean would take out.  So with 1/f present the two disagree, and the box variance rises over the
white-only value by the variance of the 1/f *within a box*: roughly the CDS 1/f variance minus the
variance of the box means.  :func:`expected_onef_box_variance` computes that expectation for the
simulator's noise model, :func:`onef_box_variance` measures it on given 1/f images.

Note on white noise with a per-pixel spread: the box std of white noise estimates
``sqrt(mean sigma^2)`` over the box's pixels, but the 3-sigma clip truncates the tails (a Gaussian
clipped at 3 sigma keeps a std of ~0.985 sigma at the fixed point) and removes most samples of
very noisy pixels, so the method reads slightly *below* ``sqrt(mean sigma^2)``.
:func:`expected_clipped_std` gives the fixed point of the clip for a population of per-pixel
sigmas; it is what the tests compare against.

Memory: files are read one at a time in row stripes aligned to the box height (one stripe ahead
of the one being clipped), and the compiled clip (:mod:`core.rest2014.kernel`) forms the group differences
of one box at a time in scratch of one box, so memory stays bounded whatever the file size.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from core.errors import InputError, ParameterError
from core.io.geometry import Layout
from core.io.inventory import check_ramps
from core.io.ramps import DEFAULT_GROUPDQ_MASK, Ramp, check_groupdq_mask, dq_note, dq_use, stripe_rows_for
from core.rest2014 import kernel as boxclip
from core.rest2014.grid import BoxGrid, band_used, box_grid

UNITS_DN = "DN per read"
UNITS_E = "e- per read"
MIN_PIXELS = 32  # a box value needs MORE than this many pixels used
MAX_CLIPPED_FRACTION = 0.10  # ... and FEWER than this fraction of its pixels clipped
_CHUNK_ELEMENTS = 1 << 20  # values per clip_boxes chunk (its float64 copy: x 8 bytes)
_STRIPE_BUDGET = 64 * 2**20  # bytes of float32 data per read; one read ahead takes as much again


# ------------------------------------------------------------------------------------------------
# Parameters
# ------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Rest2014Params:
    """Parameters of the box method.

    ``box``: box side in pixels (8 .. 2048); boxes are cut at amp boundaries and array edges.
    ``refpix_correct``: subtract, per output and frame, the mean of the output's reference rows.
    ``clip_sigma``: clip threshold in standard deviations; ``max_iters``: clipping passes.
    """

    box: int = 128
    refpix_correct: bool = False
    clip_sigma: float = 3.0
    max_iters: int = 10
    groupdq_mask: int = DEFAULT_GROUPDQ_MASK  # GROUPDQ bits whose samples are left out (core.io.ramps)

    def validate(self) -> Rest2014Params:
        check_groupdq_mask(self.groupdq_mask)
        box = self.box
        if isinstance(box, bool) or not isinstance(box, (int, np.integer)):
            raise ParameterError(f"box must be a whole number of pixels, not {box!r}")
        if box < 8:
            raise ParameterError(f"box must be at least 8 pixels (got {box}): smaller boxes hold too "
                                 f"few pixels for a clipped standard deviation")
        if box > 2048:
            raise ParameterError(f"box must be at most 2048 pixels, the detector size (got {box})")
        try:
            cs = float(self.clip_sigma)
        except (TypeError, ValueError):
            raise ParameterError(f"clip_sigma must be a number, not {self.clip_sigma!r}") from None
        if not (math.isfinite(cs) and cs >= 1.0):
            raise ParameterError(f"clip_sigma must be a finite number >= 1 (got {self.clip_sigma})")
        mi = self.max_iters
        if isinstance(mi, bool) or not isinstance(mi, (int, np.integer)) or mi < 1:
            raise ParameterError(f"max_iters must be a whole number >= 1 (got {mi!r})")
        if not isinstance(self.refpix_correct, (bool, np.bool_)):
            raise ParameterError(f"refpix_correct must be True or False, not {self.refpix_correct!r}")
        return self


# ------------------------------------------------------------------------------------------------
# Statistics: c4, the iterative clip (compiled in core/rest2014/kernel.py; the numpy original is kept as
# the reference the kernels are tested against)
# ------------------------------------------------------------------------------------------------
def c4(n):
    """Small-sample bias factor of the standard deviation: E[s] = c4(N) sigma (series form).

    ``c4(N) = 1 - 1/(4N) - 7/(32N^2) - 19/(128N^3)``; NaN for N < 2.  Works on scalars and arrays.
    """
    n = np.asarray(n, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = 1.0 - 1.0 / (4 * n) - 7.0 / (32 * n**2) - 19.0 / (128 * n**3)
    out = np.where(n >= 2, out, np.nan)
    return float(out) if out.ndim == 0 else out


def _masked_median(x: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Row medians of ``x`` (M, N) over ``valid``; NaN for rows without valid values."""
    k = valid.sum(axis=1)
    s = np.sort(np.where(valid, x, np.inf), axis=1)
    lo = np.clip((k - 1) // 2, 0, x.shape[1] - 1)
    hi = np.clip(k // 2, 0, x.shape[1] - 1)
    med = 0.5 * (np.take_along_axis(s, lo[:, None], 1)[:, 0] + np.take_along_axis(s, hi[:, None], 1)[:, 0])
    return np.where(k > 0, med, np.nan)


def _mean_std(x: np.ndarray, use: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    n = use.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(use, x, 0.0).sum(axis=1) / n
        dev = np.where(use, x - mean[:, None], 0.0)
        std = np.sqrt((dev * dev).sum(axis=1) / (n - 1))
    std = np.where(n >= 2, std, np.nan)
    return n, mean, std


def _clip_rows_numpy(x: np.ndarray, valid: np.ndarray, clip_sigma: float, max_iters: int):
    """Iterative clip of each row of ``x`` (M, N) float64 over ``valid``; see :func:`clip_boxes`.

    The vectorised numpy implementation, no longer used by the analysis: it is the reference that
    :mod:`core.rest2014.kernel` reproduces bit for bit (tests/test_rest2014.py compares them).  Returns
    (use, n_used, mean, std, converged).
    """
    use = valid.copy()
    converged = np.zeros(x.shape[0], bool)
    for it in range(max_iters):
        todo = ~converged
        if not todo.any():
            break
        xs, vs, us = x[todo], valid[todo], use[todo]
        n, mean, std = _mean_std(xs, us)
        centre = _masked_median(xs, us) if it == 0 else mean
        with np.errstate(invalid="ignore"):
            keep = np.abs(xs - centre[:, None]) <= clip_sigma * std[:, None]
        # Fewer than 2 values: no spread to clip with, keep what there is.
        keep |= ~np.isfinite(std)[:, None]
        new = vs & keep
        same = (new == us).all(axis=1)
        use[todo] = new
        converged[np.flatnonzero(todo)[same]] = True
    n, mean, std = _mean_std(x, use)
    return use, n, mean, std, converged


def clip_boxes(values, valid=None, clip_sigma: float = 3.0, max_iters: int = 10) -> dict:
    """Iterative sigma clip and bias-corrected std of every row of ``values`` (nboxes, npix).

    NaN values and ``valid == False`` are left out (they count neither as used nor as clipped).
    First pass centre: median; later passes: mean; spread: std with N-1 of the kept values; a pass
    keeps ``|x - centre| <= clip_sigma * std`` of the valid values; the clip stops when a pass
    changes nothing (``converged``) or after ``max_iters`` passes.

    Returns a dict of arrays (nboxes,): ``std`` (N-1 std of the kept values), ``std_corrected``
    (``std / c4(n_used)``), ``mean``, ``n_used``, ``n_clipped``, ``n_valid``, ``converged`` and
    ``accepted`` (converged, n_used > 32 and n_clipped < 10 % of n_valid).
    """
    x = np.asarray(values)
    if x.ndim == 1:
        x = x[None, :]
    ok = np.isfinite(x)
    if valid is not None:
        ok &= np.broadcast_to(np.asarray(valid, bool), x.shape)
    m, npix = x.shape
    out = {k: np.empty(m, np.float64) for k in ("std", "mean")}
    out.update({k: np.empty(m, np.int64) for k in ("n_used", "n_valid")})
    out["converged"] = np.empty(m, bool)
    # Chunks of rows bound the float64 copy of the values.
    step = max(1, _CHUNK_ELEMENTS // max(npix, 1))
    for r0 in range(0, m, step):
        sl = slice(r0, min(m, r0 + step))
        r = boxclip.clip_rows(x[sl], ok[sl], float(clip_sigma), int(max_iters))
        for k in out:
            out[k][sl] = r[k]
    return _finish(out)


def _finish(out: dict) -> dict:
    """Add ``n_clipped``, ``std_corrected`` and ``accepted`` to the clip results ``out``."""
    out["n_clipped"] = out["n_valid"] - out["n_used"]
    with np.errstate(invalid="ignore"):
        out["std_corrected"] = out["std"] / c4(out["n_used"])
    out["accepted"] = (
        out["converged"]
        & (out["n_used"] > MIN_PIXELS)
        & (out["n_clipped"] < MAX_CLIPPED_FRACTION * out["n_valid"])
        & np.isfinite(out["std_corrected"])
    )
    return out


def clip_box(values, clip_sigma: float = 3.0, max_iters: int = 10) -> tuple[float, int, int, bool]:
    """One box: (std_corrected, n_used, n_clipped, converged).  Accept it with :func:`box_accepted`."""
    r = clip_boxes(np.ravel(np.asarray(values, np.float64)), None, clip_sigma, max_iters)
    return float(r["std_corrected"][0]), int(r["n_used"][0]), int(r["n_clipped"][0]), bool(r["converged"][0])


def box_accepted(n_used: int, n_clipped: int, converged: bool) -> bool:
    """The acceptance rule: converged, more than 32 pixels used, fewer than 10 % clipped."""
    n_valid = n_used + n_clipped
    return bool(converged and n_used > MIN_PIXELS and n_clipped < MAX_CLIPPED_FRACTION * n_valid)


# ------------------------------------------------------------------------------------------------
# Result
# ------------------------------------------------------------------------------------------------
@dataclass
class Rest2014Result:
    """Box-method readnoise of one detector.

    ``box_map``: (ny, nx) per-read noise (``units``), science orientation; each box's value fills
    its whole footprint (reference pixels included); boxes without a value are filled from their
    neighbours in the same amp (``filled`` in the box table).  ``boxes``: one dict per box;
    ``amps``: one dict per amp in science column order.  ``box_values``: (ndiffs, nboxes) accepted
    per-difference box values in CDS units (NaN where rejected), for diagnostics.
    """

    box_map: np.ndarray
    boxes: list
    amps: list
    box: int
    units: str = UNITS_DN
    detector: str = ""
    shape: tuple = ()
    files: list = field(default_factory=list)
    n_diffs: int = 0
    params: Rest2014Params = field(default_factory=Rest2014Params)
    gain: float | None = None
    box_values: np.ndarray | None = None
    dq: dict | None = None  # core.io.ramps.dq_use: None without DQ arrays, else the samples left out per amp
    notes: list[str] = field(default_factory=list)

    def summary(self) -> dict:
        return {
            "units": self.units,
            "box": int(self.box),
            "amps": [
                {"x0": int(a["x0"]), "x1": int(a["x1"]), "output": int(a["output"]),
                 "median": float(a["median"]), "error": float(a["error"])}
                for a in self.amps
            ],
            "dq": self.dq,
            "notes": list(self.notes),
        }

    def tables(self) -> dict:
        import pandas as pd

        boxes = pd.DataFrame(self.boxes)
        amps = pd.DataFrame(self.amps)
        boxes.insert(0, "detector", self.detector)
        amps.insert(0, "detector", self.detector)
        boxes["units"] = self.units
        amps["units"] = self.units
        return {"rest2014_boxes": boxes, "rest2014_amps": amps}

    def in_electrons(self, gain: float) -> Rest2014Result:
        return to_electrons(self, gain)


def to_electrons(result: Rest2014Result, gain: float) -> Rest2014Result:
    """A copy of ``result`` converted with one gain value (e-/DN); units become "e- per read"."""
    try:
        g = float(gain)
    except (TypeError, ValueError):
        raise ParameterError(f"gain must be a number in e-/DN, not {gain!r}") from None
    if not (math.isfinite(g) and g > 0):
        raise ParameterError(f"gain must be a positive number in e-/DN (got {gain})")
    if result.units != UNITS_DN:
        raise ParameterError(f"the result is already in {result.units!r}; convert DN results only")
    boxes = [{**b, "value": b["value"] * g, "error": b["error"] * g} for b in result.boxes]
    amps = [{**a, "median": a["median"] * g, "error": a["error"] * g} for a in result.amps]
    return replace(
        result, box_map=result.box_map * g, boxes=boxes, amps=amps, units=UNITS_E, gain=g,
        box_values=None if result.box_values is None else result.box_values * g,
    )


# ------------------------------------------------------------------------------------------------
# Analysis
# ------------------------------------------------------------------------------------------------
def _reference_means(ramp: Ramp, layout: Layout) -> np.ndarray:
    """(nints, ngroups, namps) mean of each amp's top/bottom reference rows, per frame."""
    bottom, top = layout.reference_rows()
    parts = []
    for rows in (bottom, top):
        if rows.size:
            d, _ = ramp.read_stripe(int(rows.min()), int(rows.max()) + 1)
            parts.append(d)
    if not parts:
        raise InputError(
            f"{ramp.path.name}: this subarray has no reference rows, so the reference-pixel "
            f"correction cannot be applied; run without it", file=str(ramp.path))
    ref = np.concatenate(parts, axis=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN (saturated) reference rows
        return np.stack([np.nanmean(ref[..., a.x0:a.x1], axis=(-2, -1)) for a in layout.amps()], -1)


def _check_files(paths) -> tuple[Layout, list[Path]]:
    """The one layout and the files (:func:`core.io.inventory.check_ramps`: at least 2 groups)."""
    if not list(paths):
        raise InputError("no files given")
    ramps = check_ramps(paths, min_groups=2)
    return ramps[0].layout, [r.path for r in ramps]


def _fill_empty(values: np.ndarray, grid: BoxGrid) -> np.ndarray:
    """Fill NaN boxes from the mean of their measured neighbours (same amp), growing outwards."""
    v = values.reshape(grid.nby, grid.nbx).copy()
    amp = grid.col_amp
    for _ in range(grid.nby + grid.nbx):
        empty = ~np.isfinite(v)
        if not empty.any():
            break
        s = np.zeros_like(v)
        n = np.zeros_like(v)
        for dy, dx in ((-1, 0), (1, 0), (0, -1), (0, 1), (-1, -1), (-1, 1), (1, -1), (1, 1)):
            src = np.full_like(v, np.nan)
            ys = slice(max(0, -dy), grid.nby - max(0, dy))
            yd = slice(max(0, dy), grid.nby - max(0, -dy))
            xs = slice(max(0, -dx), grid.nbx - max(0, dx))
            xd = slice(max(0, dx), grid.nbx - max(0, -dx))
            src[yd, xd] = v[ys, xs]
            same_amp = np.zeros(grid.nbx, bool)
            same_amp[xd] = amp[xs] == amp[xd]
            ok = np.isfinite(src) & same_amp[None, :]
            s += np.where(ok, src, 0.0)
            n += ok
        grow = empty & (n > 0)
        if not grow.any():
            break
        v[grow] = s[grow] / n[grow]
    # Amps without any measured box: fall back to the detector median (NaN if nothing at all).
    if (~np.isfinite(v)).any() and np.isfinite(v).any():
        v[~np.isfinite(v)] = np.nanmedian(v)
    return v.ravel()


def _read_jobs(ramp: Ramp, grid: BoxGrid):
    """The reads (y0, y1, g0, g1) of one file: stripes of whole box bands; if one band of all groups
    exceeds the budget, the groups are read in chunks that overlap by one group (memory bounded for
    any box)."""
    nints, ngroups, ny, nx = ramp.shape
    rows = stripe_rows_for(ramp.shape, _STRIPE_BUDGET)
    rows = grid.box * max(1, rows // grid.box)
    for y0 in range(0, ny, rows):
        y1 = min(ny, y0 + rows)
        per_group = nints * (y1 - y0) * nx * 4
        gstep = int(max(2, min(ngroups, _STRIPE_BUDGET // per_group)))
        for g0 in range(0, ngroups - 1, gstep - 1):
            yield y0, y1, g0, min(ngroups, g0 + gstep)


def _stripe_reads(paths, layout: Layout, grid: BoxGrid, params: Rest2014Params, dq: dict):
    """Every read of every file, in order: (file index, (nints, ngroups), (y0, y1, g0, g1), data,
    reference means or None).  The reference means (``params.refpix_correct``) come with the first
    read of each file.  ``dq`` collects the samples the DQ flags left out ("columns", "has_dq") as
    each file is closed.

    Reading and converting a stripe takes about a third of the run; the next read runs in a
    background thread while the caller clips this one (so two stripes are in memory at a time).
    """

    def jobs():
        for fi, path in enumerate(paths):
            with Ramp(path, groupdq_mask=params.groupdq_mask) as ramp:
                first = True
                for job in _read_jobs(ramp, grid):
                    yield fi, ramp, job, first
                    first = False
                # every read of this file is done (the caller takes each result before advancing)
                dq["columns"] = dq["columns"] + ramp.dq_masked_columns
                dq["has_dq"] = dq["has_dq"] or ramp.has_dq

    def read(fi, ramp, job, first):
        y0, y1, g0, g1 = job
        ref = _reference_means(ramp, layout) if (first and params.refpix_correct) else None
        data, _ = ramp.read_stripe(y0, y1, slice(g0, g1))
        return fi, (ramp.nints, ramp.ngroups), job, data, ref

    it = jobs()
    reader = ThreadPoolExecutor(1, thread_name_prefix="rest2014-read")
    try:
        nxt = next(it, None)
        fut = reader.submit(read, *nxt) if nxt else None
        while fut is not None:
            out = fut.result()  # before advancing ``it``: that may close this read's file
            nxt = next(it, None)
            fut = reader.submit(read, *nxt) if nxt else None
            yield out
    finally:
        reader.shutdown(wait=True)  # a read in flight finishes before its file is closed
        it.close()


def _boxes_of_stripe(frames, offset, y0, y1, grid: BoxGrid, skip, params: Rest2014Params, out) -> None:
    """Clip every box of the bands in rows ``y0:y1`` of the consecutive differences of ``frames``
    (ng, h, nx) float32, less ``offset`` (ng - 1, nx) float32 or None; write ``out`` (ng - 1, nboxes).

    The kernel forms each difference and gathers each box's pixels itself, laid out as
    :func:`core.rest2014.grid.band_pixels` does (the layout fixes the summation order, hence the
    exact values).
    """
    iys = [iy for iy, (b0, _) in enumerate(grid.bands) if y0 <= b0 < y1]
    if not iys:
        return
    bands = [(grid.bands[iy][0] - y0, grid.bands[iy][1] - y0) for iy in iys]
    # Padding positions of narrow boxes (col_ok False) are marked -1: the kernel leaves them out.
    cols = np.where(grid.col_ok, grid.cols, -1)
    r = _finish(boxclip.clip_stripe(frames, offset, skip[y0:y1], bands, cols, params.clip_sigma,
                                    params.max_iters))
    v = np.where(r["accepted"], r["std_corrected"], np.nan)  # (nbands, nd, nbx)
    for k, iy in enumerate(iys):
        out[:, iy * grid.nbx:(iy + 1) * grid.nbx] = v[k]


def analyze_rest2014(
    paths: Sequence,
    params: Rest2014Params = Rest2014Params(),
    bad_pixel_mask: np.ndarray | None = None,
    progress: Callable[[float, str], None] | None = None,
) -> Rest2014Result:
    """Box-method (Rest 2014) readnoise of dark ramps of one detector; see the module docstring.

    ``bad_pixel_mask``: optional bool (ny, nx) array, True = bad (left out of every box).
    ``progress(fraction, message)`` is called as files and stripes are done.
    """
    params = params.validate()
    layout, paths = _check_files(paths)
    grid = box_grid(layout, int(params.box))
    ny, nx = layout.ny, layout.nx
    skip = _skip_mask(layout, bad_pixel_mask)
    dq_counts = {"columns": np.zeros(nx, np.int64), "has_dq": False}
    box_values = _box_values(paths, layout, grid, skip, params, progress, dq_counts)  # (ndiffs, nboxes), CDS DN
    dq = dq_use(dq_counts["columns"], layout, params.groupdq_mask, dq_counts["has_dq"])

    agg = clip_boxes(box_values.T, None, params.clip_sigma, params.max_iters)
    sqrt2 = math.sqrt(2.0)
    value = np.where(agg["n_used"] > 0, agg["mean"], np.nan) / sqrt2
    with np.errstate(invalid="ignore", divide="ignore"):
        error = agg["std"] / np.sqrt(agg["n_used"]) / sqrt2
    filled_values = _fill_empty(value, grid)

    box_map = np.empty((ny, nx), np.float32)
    for k, (x0, x1, y0, y1) in enumerate(zip(grid.x0, grid.x1, grid.y0, grid.y1)):
        box_map[y0:y1, x0:x1] = filled_values[k]
    boxes = _box_table(grid, skip, box_values, agg, value, error, filled_values)
    amp_rows = _amp_table(layout, grid, value)
    if progress:
        progress(1.0, "done")
    with Ramp(paths[0]) as r0:
        shape = r0.shape
    return Rest2014Result(
        box_map=box_map, boxes=boxes, amps=amp_rows, box=grid.box, units=UNITS_DN,
        detector=layout.detector, shape=tuple(shape), files=[p.name for p in paths],
        n_diffs=int(box_values.shape[0]), params=params, box_values=box_values, dq=dq,
        notes=[dq_note(dq)] if dq is not None else [],
    )


def _skip_mask(layout: Layout, bad_pixel_mask: np.ndarray | None) -> np.ndarray:
    """(ny, nx) True where a pixel is left out of every box: reference pixels and the bad-pixel mask."""
    ny, nx = layout.ny, layout.nx
    skip = layout.reference_mask()
    if bad_pixel_mask is not None:
        bpm = np.asarray(bad_pixel_mask)
        if bpm.shape != (ny, nx):
            raise ParameterError(f"bad-pixel mask shape {bpm.shape} does not match the frame "
                                 f"({ny}, {nx})")
        skip = skip | bpm.astype(bool)
    return skip


def _box_values(paths: list[Path], layout: Layout, grid: BoxGrid, skip: np.ndarray, params: Rest2014Params,
                progress: Callable[[float, str], None] | None, dq: dict) -> np.ndarray:
    """(ndiffs, nboxes) accepted CDS box values (NaN where rejected) of every consecutive group
    difference of every integration of every file, in that order; ``dq`` collects the DQ-flagged
    samples left out (see :func:`_stripe_reads`)."""
    ny, nx = layout.ny, layout.nx
    amp_of_col = np.empty(nx, int)
    for a in layout.amps():
        amp_of_col[a.x0:a.x1] = a.index
    per_diff = []  # (nboxes,) accepted CDS box values per difference
    nfiles = len(paths)
    cur, vals, ref = -1, None, None
    with closing(_stripe_reads(paths, layout, grid, params, dq)) as reads:
        for fi, (nints, ngroups), (y0, y1, g0, g1), data, file_ref in reads:
            if fi != cur:  # the first read of a file
                if vals is not None:
                    per_diff.append(vals.reshape(-1, grid.nboxes))
                cur, vals, ref = fi, np.full((nints, ngroups - 1, grid.nboxes), np.nan), file_ref
            for i in range(nints):
                # Differences G[g+1] - G[g], g = g0..g1-2, are formed in the kernel; with the
                # correction, less the difference of the reference-row means of each column's amp.
                offset = None
                if ref is not None:
                    rd = (ref[i, g0 + 1:g1] - ref[i, g0:g1 - 1]).astype(np.float32)  # (ndiff, namps)
                    offset = rd[:, amp_of_col]  # (ndiff, nx)
                _boxes_of_stripe(data[i], offset, y0, y1, grid, skip, params, vals[i, g0:g1 - 1])
            del data
            if progress:
                done = (y0 + (y1 - y0) * (g1 - 1) / (ngroups - 1)) / ny
                progress((fi + done) / nfiles, f"{paths[fi].name}: rows {y0}-{y1}, groups {g0}-{g1 - 1}")
    per_diff.append(vals.reshape(-1, grid.nboxes))
    return np.concatenate(per_diff, axis=0)


def _box_table(grid: BoxGrid, skip: np.ndarray, box_values: np.ndarray, agg: dict, value: np.ndarray,
               error: np.ndarray, filled_values: np.ndarray) -> list[dict]:
    """One dict per box: where it is, how many pixels and differences it has, its value."""
    n_acc = np.isfinite(box_values).sum(axis=0)
    npix = np.concatenate([band_used(skip[b0:b1], grid).sum(axis=1) for b0, b1 in grid.bands])
    # The grid's per-box arrays are built on each access: take them once, as Python ints.
    g = {k: getattr(grid, k).tolist() for k in ("iy", "ix", "amp", "output", "x0", "x1", "y0", "y1")}
    boxes = []
    for k in range(grid.nboxes):
        boxes.append({
            "box": k, "iy": g["iy"][k], "ix": g["ix"][k],
            "amp": g["amp"][k], "output": g["output"][k],
            "x0": g["x0"][k], "x1": g["x1"][k], "y0": g["y0"][k], "y1": g["y1"][k],
            "npix": int(npix[k]), "n_diffs": int(box_values.shape[0]), "n_accepted": int(n_acc[k]),
            "n_used": int(agg["n_used"][k]),
            "value": float(value[k]), "error": float(error[k]),
            "filled": bool(not np.isfinite(value[k])), "map_value": float(filled_values[k]),
        })
    return boxes


def _amp_table(layout: Layout, grid: BoxGrid, value: np.ndarray) -> list[dict]:
    """One dict per amp: the median of its box values and its normal-theory standard error."""
    amp_rows = []
    for a in layout.amps():
        v = value[(grid.amp == a.index) & np.isfinite(value)]
        n = v.size
        med = float(np.median(v)) if n else float("nan")
        err = float(1.2533 * np.std(v, ddof=1) / math.sqrt(n)) if n > 1 else float("nan")
        amp_rows.append({"amp": a.index, "x0": a.x0, "x1": a.x1, "output": a.output,
                         "median": med, "error": err, "n_boxes": int(n)})
    return amp_rows


__all__ = [
    "Rest2014Params", "Rest2014Result", "UNITS_DN", "UNITS_E", "analyze_rest2014", "box_accepted", "c4",
    "clip_box", "clip_boxes", "to_electrons",
]
