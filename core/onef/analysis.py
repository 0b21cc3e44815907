"""1/f noise of NIRCam darks: readout-time power spectra and the cross-spectral split (issue 3).

What is computed
----------------
For every integration of every file (files are streamed one at a time, an integration's CDS frames
one at a time):

1. CDS frames (``consecutive``: G1-G0, G2-G1, ...; ``independent``: G1-G0, G3-G2, ...).  Optionally a
   reference-pixel correction: per output, per column parity (even/odd, as the jwst ``refpix``
   step does) and per CDS frame, the mean of that output's top/bottom reference rows is subtracted.
2. Fixed patterns drop out: each pixel's mean over the integration's CDS stack is subtracted
   (computed in row stripes in a first pass; samples more than ``CLIP_SIGMA`` robust sigma from the
   pixel's median, e.g. cosmic rays, are left out of the mean), then each CDS frame's median per
   output.  A per-pixel *mean* rather than median: the mean is linear, so the variance it removes
   is known exactly (:func:`stack_mean_factor`), while the median's white-noise removal depends on
   how much 1/f noise is present (measured: white 2% high with CV3-like 1/f, ngroups=10).
   Samples more than ``CLIP_SIGMA`` robust sigma from zero (saturated = NaN) become gaps, and so
   do jumps -- samples more than ``JUMP_SIGMA`` (7) sigma from their pixel's median over the
   integration's stack, sigma the larger of the pixel's own robust sigma and the stripe's
   (:func:`jump_samples`): a cosmic ray of 20-140 DN stays under the frame-wide clip but raised the
   white level by 2% at flight rates (0.1% of pixels per group); left out, 0.5%.  Samples flagged
   in GROUPDQ / PIXELDQ are NaN already (:class:`core.io.ramps.Ramp`).
3. The science-orientation flips are undone and every output becomes its readout-time series
   (:meth:`Layout.channel_images`: detector orientation, outputs read right to left mirrored, then
   :meth:`Layout.time_series`): 10 us per sample, the 12 overhead clocks of every row and the extra
   row (and pixel) of every frame kept as gaps, and so are reference pixels, clipped and NaN
   samples.  Gaps hold 0; the spectra are normalised by the number of real samples, so the
   frequencies are right and the integral of a spectrum is the variance of the real samples.
4. Spectra, one-sided, in **DN^2/Hz**, averaged over CDS frames, integrations and files:
   ``P_i(f) = 2 dt |FFT(x_i)|^2 / N_i`` (N_i = real samples), and cross-spectra between the 6
   output pairs ``Re(X_i X_j*) 2 dt / N_ij`` (N_ij = samples real in both).  Frequencies run from
   1/frame time (0.093 Hz for full frame) to the 50 kHz Nyquist frequency.
5. The split: white and per-output noise do not correlate between outputs, so the mean real
   cross-spectrum over the 6 pairs is the correlated 1/f spectrum ``C(f)``, fitted with
   ``A_c (f/1 Hz)^-alpha_c``.  For output i the correlated power it sees is estimated as
   ``C_i = 2 mean_{j!=i} Re X_ij - mean_{k<l; k,l!=i} Re X_kl`` (expectation ``C``), which also
   holds output i's *chance* covariance with the common series -- for 1/f noise over one
   integration that covariance is large (measured: +-5% to +-100% of a small per-output
   variance), and subtracting ``C`` instead of ``C_i`` would put it into the per-output term.
   ``C_i`` is used below the crossover frequency where the correlated fit falls to the white
   level; above it the chance terms average out over many modes and the 6-pair mean ``C`` is
   used (its white-noise scatter is sqrt(10) times smaller).  ``P_i - C_i`` is fitted
   (log-binned, row-rate harmonics excluded) with ``W_i + A_i (f/1 Hz)^-alpha_i``: ``W_i`` is the
   white level (the high-frequency plateau, with the 1/f tail accounted for), the power law the
   per-output ("uncorrelated") 1/f (slope >= 0.3: a flatter one is degenerate with white).

Integrated numbers (DN rms contributed to one CDS frame, Parseval on the full-resolution spectra)::

    white_i        = sqrt(W_i * f_Nyquist)
    correlated     = sqrt(integral C df)                     (one value per detector)
    uncorrelated_i = sqrt(integral (P_i - C_i - W_i) df)      (0 if negative)
    total_i        = rms of the processed CDS samples of output i (pixel domain)

so ``white^2 + correlated^2 + uncorrelated^2`` must match ``total^2`` up to the chance covariance
of output i with the common series (``C_i`` vs ``C``); the result reports that check (``check``),
and a second, model-based one built from the fitted power laws instead of the measured spectra.
Every variance is divided by the variance fraction that the per-pixel mean removal leaves
(:func:`stack_mean_factor`: 1 - 1/N^2 for N consecutive CDS frames, 1 - 1/N for independent
ones), so the numbers are those of a raw CDS frame after removing its per-output median -- the
simulator's truth definitions (``white_cds_rms``, ``uncorrelated_1f_cds``, ``correlated_1f_cds``).
"Uncorrelated" is everything that is neither white nor common to the outputs.

Also computed
-------------
* A pynrc-style time-domain split (``time_domain``): per CDS frame and output, a Savitzky-Golay
  smoothing (31 samples, order 3, as pynrc's ``channel_smooth_savgol`` in ``gen_cds_dict``) of the
  read-order pixel series is the 1/f model; its mean over the 4 outputs is "correlated", the
  per-output remainder "uncorrelated".  Known biases: white noise leaks into the model with
  variance ``g sigma^2`` (``g = sum of squared SG coefficients = 0.0727``), i.e. into the
  correlated term with ``g mean(sigma^2)/4`` and into each uncorrelated term with about
  ``3/4 g sigma^2`` (reported as ``white_leak_*``); a quarter of the uncorrelated variance lands in
  the correlated term; 1/f power above ~1 kHz (shorter than the window) is missed.
* Row banding: the noise of row averages of the side reference columns and of active pixels, the
  effect of a side-reference-column row correction (jwst-style: mean of the left/right reference
  columns of each row, running mean over 11 rows, subtracted from the row) on the row averages and
  on the 1/f (spectra after the correction are kept), and a banding image (row medians of each CDS
  frame vs time).

Memory stays bounded: one file open at a time, one integration's per-pixel median image, a row
stripe in the first pass and a CDS frame or two in the second.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.errors import InputError, ParameterError
from core.io.geometry import Layout
from core.io.inventory import check_ramps
from core.io.ramps import Ramp, cds_frames, dq_note, dq_use, n_cds, stripes
from core.median import median_along0, median_of
from core.onef.accumulate import Accumulator
from core.onef.finish import finish
from core.onef.kernel import (
    NETWORK_MAX_N,
    abs_dev_subsample,
    batcher_pairs,
    clipped_stack_mean,
    frame_output_deviations,
    network_median,
)
from core.onef.params import (
    CLIP_SIGMA,
    JUMP_SIGMA,
    MIN_JUMP_FRAMES,
    PSD_UNITS,
    STRIPE_BUDGET,
    UNITS,
    OneFParams,
    stack_mean_factor,
)
from core.onef.result import OneFResult
from core.runtime import Progress, pool
from core.stats import MAD_TO_SIGMA


# ------------------------------------------------------------------------------------------------
# Driver
# ------------------------------------------------------------------------------------------------
def analyze_onef(
    paths: Sequence[str | Path],
    params: OneFParams = OneFParams(),
    progress: Progress | None = None,
) -> OneFResult:
    """Power spectra and the white / correlated 1/f / per-output 1/f split of one detector's darks.

    ``paths`` are ``*_uncal.fits`` of one detector and one frame geometry (InputError naming the
    file otherwise).  ``progress(fraction, message)`` is called as frames are processed.
    """
    return _run(paths, params, progress, None)


def timed_onef(paths: Sequence[str | Path], params: OneFParams = OneFParams()) -> tuple[OneFResult, dict]:
    """:func:`analyze_onef` and the time of each of its passes, summed over the run: ``{pass name:
    (wall s, CPU s of all threads)}`` (``bench/bench_onef.py`` prints them per CDS frame)."""
    timings: dict = {"_cpu": time.process_time()}
    res = _run(paths, params, None, timings)
    return res, {k: tuple(v) for k, v in timings.items() if k != "_cpu"}


def _run(paths, params, progress, timings: dict | None) -> OneFResult:
    """The driver of :func:`analyze_onef`; with ``timings`` (a dict) each pass's wall time is added to it."""
    params = params.validate() if isinstance(params, OneFParams) else params
    if not isinstance(params, OneFParams):
        raise ParameterError("params must be a OneFParams")
    paths = [Path(p) for p in paths]
    if not paths:
        raise InputError("no files given for the 1/f analysis")
    infos = _inspect(paths, params)
    layout = infos[0].layout
    total_frames = sum(i.nints * i.ncds for i in infos)
    acc = Accumulator(layout, total_frames)
    acc.timings = timings
    notes: list[str] = []
    factors = []
    done = 0
    masked_columns, has_dq = np.zeros(layout.nx, np.int64), False  # DQ-flagged samples left out, per column
    bottom, top = layout.reference_rows()
    refrows = np.concatenate([bottom, top])
    if params.refpix_correct and refrows.size == 0:
        notes.append("refpix_correct: this subarray has no top/bottom reference rows; not applied")
    if infos[0].nframes > 1:
        nf = infos[0].nframes
        notes.append(f"each group averages {nf} frames: the spectra are those of {nf}-frame averages read on "
                     f"the pixel clock of one frame ({layout.frame_time:.3f} s); white noise and 1/f faster than a "
                     f"frame average down by {nf} in power, so the white level is that of a group difference "
                     f"(per-frame white x sqrt(2/{nf})); 1/f slower than a group "
                     f"({(nf + infos[0].groupgap) * layout.frame_time:.1f} s) does not average down.")

    def report(n_done: int, msg: str):
        if progress is not None:
            progress(min(1.0, n_done / max(1, total_frames)), msg)

    for fi, info in enumerate(infos):
        name = info.path.name
        weight = 1.0 / stack_mean_factor(info.ncds, params.diff_type)
        report(done, f"{name}: reading ({fi + 1}/{len(infos)})")
        try:
            ramp = Ramp(info.path, groupdq_mask=params.groupdq_mask)
        except (OSError, KeyError) as exc:
            raise InputError(f"{name}: cannot be opened ({exc})", file=name) from exc
        with ramp:
            try:
                done = _process_file(ramp, info, params, acc, weight, refrows, factors, done, report)
            except (OSError, EOFError) as exc:
                raise InputError(f"{name}: read error ({exc})", file=name) from exc
            masked_columns = masked_columns + ramp.dq_masked_columns
            has_dq = has_dq or ramp.has_dq
    report(done, "fitting spectra")
    t0 = time.perf_counter()
    dq = dq_use(masked_columns, layout, params.groupdq_mask, has_dq)
    if dq is not None:
        notes.append(dq_note(dq))
    result = finish(acc, params, [i.path.name for i in infos], sum(i.nints for i in infos), factors, notes)
    result.dq = dq
    acc.lap("finish (per file set)", t0)
    if progress is not None:
        progress(1.0, "done")
    return result


# ------------------------------------------------------------------------------------------------
# Files
# ------------------------------------------------------------------------------------------------
def _read(ramp: Ramp, it: int, groups: slice | int, y0: int, y1: int) -> np.ndarray:
    """Rows ``y0:y1`` of ``groups`` (a slice: (ngroups, rows, nx); one group: (rows, nx)) of
    integration ``it`` as float32 DN, saturated/non-finite -> NaN."""
    g = groups if isinstance(groups, slice) else slice(groups, groups + 1)
    data, _ = ramp.read_stripe(y0, y1, g, slice(it, it + 1))
    return data[0] if isinstance(groups, slice) else data[0, 0]


@dataclass
class _FileInfo:
    path: Path
    layout: Layout
    nints: int
    ngroups: int
    ncds: int
    nframes: int = 1  # frames averaged per group
    groupgap: int = 0


def _inspect(paths: Sequence, params: OneFParams) -> list[_FileInfo]:
    """Headers and shapes of every file (:func:`core.io.inventory.check_ramps`: one detector, frame
    and readout pattern) and enough CDS frames in each; InputError naming the first unusable file."""
    infos: list[_FileInfo] = []
    for r in check_ramps(paths):
        nc = n_cds(r.ngroups, params.diff_type)
        if nc < 2:
            need = 3 if params.diff_type == "consecutive" else 4
            raise InputError(
                f"{r.path.name}: {r.ngroups} groups give {nc} {params.diff_type} CDS frame(s); the per-pixel "
                f"median needs at least 2 (NGROUPS >= {need})", file=str(r.path))
        infos.append(_FileInfo(r.path, r.layout, r.nints, r.ngroups, nc, r.nframes, r.groupgap))
    return infos


# ------------------------------------------------------------------------------------------------
# One file, integration by integration
# ------------------------------------------------------------------------------------------------
def _process_file(ramp: Ramp, info: _FileInfo, params: OneFParams, acc: Accumulator, weight: float,
                  refrows: np.ndarray, factors: list, done: int, report) -> int:
    """Every integration of one open file into ``acc``; returns the updated frame count."""
    name = info.path.name
    layout = acc.layout
    factor = 1.0 / weight
    for it in range(info.nints):
        factors.append(factor)
        t0 = time.perf_counter()
        offsets = (_refrow_offsets(ramp, it, info.ncds, params.diff_type, layout, refrows)
                   if params.refpix_correct and refrows.size else None)
        pix_mean, jumps = _pixel_means(ramp, it, info.ngroups, params.diff_type, layout, offsets)
        acc.njumps += sum(j.size for j in jumps)
        t0 = acc.lap("pass 1: pixel means and jumps (per integration)", t0)
        for k, frame in enumerate(_cds_frames(ramp, it, info.ncds, params.diff_type, layout.ny)):
            if offsets is not None:
                frame -= offsets[k][None, :]
            frame -= pix_mean
            frame.reshape(-1)[jumps[k]] = np.nan  # left out: a gap in the series, like a clipped sample
            t0 = acc.lap("read, CDS frame, mean and jumps removed", t0)
            acc.add(frame, weight, {"file": name, "integration": it, "cds": k})
            t0 = time.perf_counter()
            done += 1
            report(done, f"{name}: integration {it + 1}/{info.nints}, CDS frame {k + 1}/{info.ncds}")
        del pix_mean
    return done


def _refrow_offsets(ramp: Ramp, it: int, ncds: int, diff_type: str, layout: Layout,
                    refrows: np.ndarray) -> np.ndarray:
    """(ncds, nx) reference-row offsets of integration ``it``: per CDS frame, output and column
    parity, the mean of the top/bottom reference rows."""
    col_parity = np.arange(layout.nx) % 2
    rr = np.concatenate([_read(ramp, it, slice(None), int(r), int(r) + 1) for r in refrows],
                        axis=1)  # (ngroups, nref, nx)
    dref = cds_frames(rr[None], diff_type)  # (ncds, nref, nx)
    offsets = np.zeros((ncds, layout.nx), np.float32)
    for a in layout.amps():
        for par in (0, 1):
            cols = np.arange(a.x0, a.x1)
            cols = cols[col_parity[cols] == par]
            with np.errstate(all="ignore"):
                m = np.nanmean(dref[:, :, cols], axis=(1, 2)) if cols.size else 0.0
            offsets[:, cols] = np.nan_to_num(m)[:, None]
    return offsets


def _pixel_means(ramp: Ramp, it: int, ngroups: int, diff_type: str, layout: Layout,
                 offsets: np.ndarray | None) -> tuple[np.ndarray, list[np.ndarray]]:
    """Pass 1: (ny, nx) per-pixel (clipped) mean over the CDS stack of integration ``it``, and per
    CDS frame the flat indices of its jump samples (:func:`jump_samples`, left out of both passes),
    in row stripes of at most :data:`STRIPE_BUDGET` bytes (the jump test holds two more copies)."""
    pix_mean = np.empty((layout.ny, layout.nx), np.float32)
    rows = max(1, STRIPE_BUDGET // max(1, 4 * ngroups * layout.nx * 4))
    parts: list[list[np.ndarray]] = []
    for y0, y1 in stripes(layout.ny, rows):
        d = cds_frames(_read(ramp, it, slice(None), y0, y1)[None], diff_type)
        if offsets is not None:
            d -= offsets[:, None, :]
        jump = jump_samples(d, layout)
        if jump is not None:
            d[jump] = np.nan
            parts.append([np.flatnonzero(j) + y0 * layout.nx for j in jump])
        pix_mean[y0:y1] = pixel_stack_mean(d)
    ncds = n_cds(ngroups, diff_type)
    jumps = [np.concatenate([p[k] for p in parts]) if parts else np.zeros(0, np.int64) for k in range(ncds)]
    return pix_mean, jumps


def jump_samples(d: np.ndarray, layout: Layout) -> np.ndarray | None:
    """(ncds, rows, nx) mask of the jump samples of a CDS stripe (None with too few frames to tell).

    Each frame's per-output median over the stripe is removed first (bias drifts move a whole frame),
    then each pixel's median over the stack; a sample deviating by more than :data:`JUMP_SIGMA` x
    the larger of the pixel's robust sigma (1.4826 x its median absolute deviation over the stack)
    and the stripe's is a jump.  A cosmic ray shows in one CDS frame of its pixel; a noisy pixel's
    own sigma keeps its noise in."""
    n = d.shape[0]
    if n < MIN_JUMP_FRAMES:
        return None
    amps = layout.amps()
    d = np.ascontiguousarray(d, np.float32)
    x0s, x1s = np.array([a.x0 for a in amps], np.int64), np.array([a.x1 for a in amps], np.int64)
    dev = np.full(d.shape, np.float32(np.nan)) if x1s.sum() - x0s.sum() < d.shape[2] else np.empty_like(d)
    h = n // 2  # frames 0:h and h:n on the two cores
    list(pool("onef").map(lambda k: frame_output_deviations(d, x0s, x1s, 20_000, dev, k[0], k[1]), ((0, h), (h, n))))
    flat = dev.reshape(n, -1)
    flat -= stack_median(flat)[None, :]
    np.abs(flat, out=flat)
    sig_pix = MAD_TO_SIGMA * stack_median(flat)
    sub = flat[:, :: max(1, flat.shape[1] // 50_000)]
    sig_all = float(MAD_TO_SIGMA * median_of(sub[np.isfinite(sub)])) if np.isfinite(sub).any() else 0.0
    limit = np.float32(JUMP_SIGMA) * np.maximum(sig_pix, np.float32(sig_all))
    with np.errstate(invalid="ignore"):
        return (flat > limit[None, :]).reshape(d.shape)


def _cds_frames(ramp: Ramp, it: int, ncds: int, diff_type: str, ny: int):
    """Pass 2: the CDS frames of integration ``it`` one at a time (new arrays, (ny, nx) float32);
    consecutive differences read each group once."""
    prev = None
    for k in range(ncds):
        if diff_type == "consecutive":
            if prev is None:
                prev = _read(ramp, it, 0, 0, ny)
            cur = _read(ramp, it, k + 1, 0, ny)
            frame = cur - prev
            prev = cur
        else:
            frame = _read(ramp, it, 2 * k + 1, 0, ny) - _read(ramp, it, 2 * k, 0, ny)
        yield frame


def stack_median(flat: np.ndarray) -> np.ndarray:
    """:func:`core.median.median_along0` of a (n, npix) stack (NaN ignored, float32), the same
    values; stacks of up to :data:`NETWORK_MAX_N` frames by a sorting network on both cores
    (:func:`core.onef.kernel.network_median`: 2-2.5x faster for 9 frames)."""
    n, npix = flat.shape
    if n > NETWORK_MAX_N:
        return median_along0(flat)
    x = np.ascontiguousarray(flat, np.float32)
    out = np.empty(npix, np.float32)
    pa, pb = batcher_pairs(n)
    h = npix // 2
    list(pool("onef").map(lambda r: network_median(x, pa, pb, r[0], r[1], out), ((0, h), (h, npix))))
    return out


def pixel_stack_mean(d: np.ndarray) -> np.ndarray:
    """Per-pixel mean over axis 0 of a CDS stack, ignoring NaN and samples further than
    ``CLIP_SIGMA`` robust sigma from the pixel's median (cosmic rays).  Linear for Gaussian data,
    unlike the median, whose white-noise removal changes when 1/f noise is present.  The robust
    sigma is that of all the stack's deviations from their pixel medians (compiled passes)."""
    x = np.ascontiguousarray(d, dtype=np.float32)
    flat = x.reshape(x.shape[0], -1)
    med = stack_median(flat)
    sub = abs_dev_subsample(flat, med, 200_000)
    sig = float(MAD_TO_SIGMA * median_of(sub)) if sub.size else 0.0
    mean = clipped_stack_mean(flat, med, CLIP_SIGMA * sig if sig > 0 else 0.0)
    return mean.reshape(x.shape[1:])


# Re-exported: results stored before the split into modules name these classes as core.onef.analysis's.
__all__ = ["OneFParams", "OneFResult", "analyze_onef", "stack_mean_factor", "UNITS", "PSD_UNITS"]
