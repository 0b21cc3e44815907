"""Sums over CDS frames of the 1/f analysis, per detector output: power and cross-spectra, pixel-
domain variances, row averages before / after the side-reference correction, the pynrc-style
time-domain split and the banding image (:class:`Accumulator`), and the compiled passes split over
the two cores (:func:`by_output_halves`, :func:`accumulate_power_halves`, :func:`row_medians_halves`)."""

from __future__ import annotations

import math
import time
from itertools import combinations

import numpy as np

from core.io.geometry import Layout
from core.onef.framepass import centre_stats, clip_and_correct
from core.onef.kernel import accumulate_power, row_medians, savgol_split_sums
from core.onef.params import CLIP_SIGMA, FFT_WORKERS, MAX_BANDING_FRAMES, SAVGOL_ORDER, SAVGOL_WINDOW, SIDE_SMOOTH_ROWS
from core.runtime import pool


class Accumulator:
    """Sums over CDS frames, per detector output (index = output number)."""

    def __init__(self, layout: Layout, total_frames: int):
        from scipy.fft import next_fast_len
        from scipy.signal import savgol_coeffs

        self.layout = layout
        self.nout = layout.noutputs
        self.M = next_fast_len(layout.frame_clocks, real=True)
        self.nf = self.M // 2 + 1
        self.pairs = list(combinations(range(self.nout), 2))
        self.auto = np.zeros((self.nout, self.nf))
        self.cross = np.zeros((len(self.pairs), self.nf))
        self.n_auto = np.zeros(self.nout)
        self.n_cross = np.zeros(len(self.pairs))
        self.sumsq = np.zeros(self.nout)
        self.nframes = 0
        self.nclipped = 0
        self.njumps = 0  # samples left out as jumps (core.onef.analysis.jump_samples)
        self.nsamples = 0

        refmask = layout.reference_mask()
        self.active = layout.channel_images(~refmask)  # (nout, ny, w) in read order
        side = np.zeros_like(refmask)
        left, right = layout.reference_columns()
        bottom, top = layout.reference_rows()
        side[:, left] = True
        side[:, right] = True
        side[bottom, :] = False
        side[top, :] = False
        self.side = layout.channel_images(side)
        self.has_side = bool(side.any())
        if self.has_side:
            self.auto_after = np.zeros((self.nout, self.nf))
            self.sumsq_after = np.zeros(self.nout)
        # Row banding.
        self.rowavg_sumsq = np.zeros(self.nout)
        self.rowavg_sumsq_after = np.zeros(self.nout)
        self.rowavg_n = np.zeros(self.nout)
        self.rowavg_inv_npix = np.zeros(self.nout)  # sum over rows of 1/(pixels averaged)
        self.sideavg_sumsq = 0.0
        self.sideavg_n = 0
        self.sideavg_inv_npix = 0.0
        self.side_diff_sumsq = np.zeros(self.nout)  # neighbouring side-ref pixels, per output
        self.side_diff_n = np.zeros(self.nout)
        self.act_diff_sumsq = np.zeros(self.nout)  # neighbouring active pixels, per output
        self.act_diff_n = np.zeros(self.nout)
        self.band_stride = max(1, math.ceil(total_frames / MAX_BANDING_FRAMES))
        self.band_cols: list[np.ndarray] = []
        self.band_frames: list[dict] = []
        # pynrc-style time-domain split.
        self.td_corr_sumsq = 0.0
        self.td_corr_n = 0
        self.td_unc_sumsq = np.zeros(self.nout)
        self.td_unc_n = np.zeros(self.nout)
        self.sg_gain = float(np.sum(savgol_coeffs(SAVGOL_WINDOW, SAVGOL_ORDER) ** 2))
        self.sg_coeffs = savgol_coeffs(SAVGOL_WINDOW, SAVGOL_ORDER, use="dot").astype(np.float64)
        self.pair_a = np.array([a for a, _ in self.pairs], np.int64)
        self.pair_b = np.array([b for _, b in self.pairs], np.int64)
        self._cross_scratch = np.zeros((0, self.nf))
        self._ts = self._plan = None  # the padded time-series buffer of _fft and its transform
        # The centred frame before / after the side correction (read order): the kernels write
        # into these every frame (no 16 MB allocation and join per frame).
        self._x = np.empty((self.nout, layout.ny, layout.channel_width), np.float32)
        self._xa = np.empty_like(self._x)
        self._valid = np.empty(self._x.shape, bool)  # the frame's valid samples (written by the passes)
        self.timings: dict | None = None  # {pass: [wall s, CPU s]} when timed (core.onef.analysis.timed_onef)

    def lap(self, name: str, t0: float) -> float:
        """When timing: add the wall time since ``t0`` (a :func:`time.perf_counter` value) and the
        process's CPU time since the last lap to pass ``name`` (``timings[name] = [wall s, CPU s]``).
        Returns the time now."""
        t = time.perf_counter()
        if self.timings is not None:
            c = time.process_time()
            w = self.timings.setdefault(name, [0.0, 0.0])
            w[0] += t - t0
            w[1] += c - self.timings.get("_cpu", c)
            self.timings["_cpu"] = c
        return t

    # -- spectra -----------------------------------------------------------------------------
    def _fft(self, x: np.ndarray) -> np.ndarray:
        """Spectra (nout, M // 2 + 1) complex64 of the outputs' read-order series laid out on the
        pixel clock (as :meth:`Layout.time_series` with gaps = 0) and zero-padded to ``M``.

        One input buffer is reused: only the pixel positions are written, so the gaps and the
        padding stay 0 (no fill and no padding copy of 4 x 1.08M samples per transform).  With
        pyFFTW the transform is FFTW's (about 3x faster than scipy's pocketfft here) and the
        result is FFTW's own output buffer: valid until the next call (callers consume it
        at once)."""
        lay = self.layout
        if self._ts is None:
            self._ts, self._plan = fft_plan(self.nout, self.M)
        body = self._ts[:, : lay.ny * lay.row_clocks].reshape(self.nout, lay.ny, lay.row_clocks)
        body[..., : lay.channel_width] = x
        return self._plan()

    def add(self, d_sci: np.ndarray, weight: float, label: dict) -> None:
        """One CDS frame (science orientation, per-pixel mean already removed).

        Two fused compiled passes over the frame's read-order samples (:mod:`.framepass`: centre
        statistics and side sums; clip, row sums, neighbour differences and the side-corrected
        series), the transforms and power sums of both series, the time-domain split and the
        banding row medians."""
        lay = self.layout
        t = time.perf_counter()
        chans = lay.channel_images(d_sci)  # (nout, ny, w) read order, a copy
        valid = self._valid
        med, sig, snum, scnt = by_output_halves(centre_stats, chans, self.active, self.side, valid, split=4)
        t = self.lap("centre: read-order copy, exact medians, robust sigma, side sums", t)
        corr, side_rows = self._side_offsets(snum, scnt)
        do_after = corr is not None
        if corr is None:
            corr = np.zeros(lay.ny, np.float32)
        x, xa = self._x, self._xa
        (nclipped, nvalid, sumsq, rowsum, nrow, ss_side, n_side, ss_act, n_act, sumsq_after,
         rowsum_after) = by_output_halves(
            lambda c, v, s, m, g, xo, xao: clip_and_correct(c, v, s, m, g, xo, xao, corr, CLIP_SIGMA, do_after),
            chans, valid, self.side, med, sig, x, xa, split=7)
        t = self.lap("clip, row sums, neighbour differences, side-corrected series", t)
        self.nclipped += int(nclipped)
        self.nsamples += int(nvalid.sum())

        X = self._fft(x)
        t = self.lap("FFT", t)
        accumulate_power_halves(X, float(weight), self.auto, self.cross, self.pair_a, self.pair_b)
        del X
        t = self.lap("power and cross sums", t)
        for j, (a, b) in enumerate(self.pairs):
            self.n_cross[j] += np.count_nonzero(valid[a] & valid[b])
        self.n_auto += nvalid
        self.sumsq += weight * sumsq
        self.nframes += 1

        # Row averages of the active pixels of each output (banding).
        rows_ok = nrow > 0
        rowavg = np.where(rows_ok, rowsum / np.maximum(nrow, 1), 0.0)
        self.rowavg_sumsq += weight * (rowavg ** 2).sum(axis=1)
        self.rowavg_n += rows_ok.sum(axis=1)
        self.rowavg_inv_npix += (1.0 / np.maximum(nrow, 1) * rows_ok).sum(axis=1)
        t = self.lap("counts and row averages", t)

        if do_after:
            num, cnt, has = side_rows
            rowref = np.where(has, num / np.maximum(cnt, 1), 0.0)
            self.sideavg_sumsq += weight * float((rowref[has] ** 2).sum())
            self.sideavg_n += int(has.sum())
            self.sideavg_inv_npix += float((1.0 / cnt[has]).sum())
            # White noise of the side reference pixels: half the variance of differences of neighbours
            # (10 us apart) is white + the 1/f power near Nyquist; the latter is measured the same way
            # on active pixels (whose white level the spectrum gives) and subtracted in :mod:`.finish`.
            self.side_diff_sumsq += weight * ss_side
            self.side_diff_n += n_side
            self.act_diff_sumsq += weight * ss_act
            self.act_diff_n += n_act
            X = self._fft(xa)
            t = self.lap("FFT", t)
            accumulate_power_halves(X, float(weight), self.auto_after, self._cross_scratch, self.pair_a[:0],
                                    self.pair_b[:0])
            del X
            t = self.lap("power and cross sums", t)
            self.sumsq_after += weight * sumsq_after
            rowavg = np.where(nrow > 0, rowsum_after / np.maximum(nrow, 1), 0.0)
            self.rowavg_sumsq_after += weight * (rowavg ** 2).sum(axis=1)
            t = self.lap("counts and row averages", t)

        self._time_domain(x, valid, weight)
        t = self.lap("Savitzky-Golay split", t)

        if (self.nframes - 1) % self.band_stride == 0:
            self.band_cols.append(row_medians_halves(chans, valid))
            self.band_frames.append(label)
        self.lap("banding row medians", t)

    def _side_offsets(self, snum: np.ndarray, scnt: np.ndarray):
        """The side-reference row correction of one frame from the per-output row sums and counts of
        its finite side samples: (corr (ny,) float32 DN, (num, cnt, has) per read-order row), or
        (None, None) without side reference samples (then no "after" sums for this frame).  ``corr``
        is the running mean over :data:`SIDE_SMOOTH_ROWS` rows (rows without side pixels carry no
        weight)."""
        from scipy.ndimage import uniform_filter1d

        if not self.has_side:
            return None, None
        num = np.zeros(snum.shape[1])
        cnt = np.zeros(snum.shape[1])
        for k in range(snum.shape[0]):  # outputs in order, as one pass over them would add
            num += snum[k]
            cnt += scnt[k]
        has = cnt > 0
        if not has.any():
            return None, None
        snum_s = uniform_filter1d(num, SIDE_SMOOTH_ROWS, mode="nearest")
        scnt_s = uniform_filter1d(cnt, SIDE_SMOOTH_ROWS, mode="nearest")
        corr = np.where(scnt_s > 0, snum_s / np.where(scnt_s > 0, scnt_s, 1), 0.0).astype(np.float32)
        return corr, (num, cnt, has)

    def _time_domain(self, x, valid, weight) -> None:
        """pynrc-style split: SG-smoothed read-order series, channel mean = correlated."""
        from scipy.signal import savgol_filter

        flat = x.reshape(self.nout, -1)
        vm = valid.reshape(self.nout, -1)
        h = SAVGOL_WINDOW // 2
        # The end samples: scipy's mode="interp" polynomial fit of the first/last window.
        edges = np.stack([savgol_filter(flat[:, :SAVGOL_WINDOW], SAVGOL_WINDOW, SAVGOL_ORDER, axis=-1,
                                        mode="interp")[:, :h],
                          savgol_filter(flat[:, -SAVGOL_WINDOW:], SAVGOL_WINDOW, SAVGOL_ORDER, axis=-1,
                                        mode="interp")[:, -h:]], axis=1).astype(np.float64)
        # The two halves of the samples on the two cores (the filter window reads across the cut).
        cut = flat.shape[1] // 2
        parts = pool("onef").map(lambda r: savgol_split_sums(flat, vm, self.sg_coeffs, edges, r[0], r[1]),
                          ((0, cut), (cut, flat.shape[1])))
        (c1, n1, u1, m1), (c2, n2, u2, m2) = parts
        corr_ss, corr_n, unc_ss, unc_n = c1 + c2, n1 + n2, u1 + u2, m1 + m2
        self.td_corr_sumsq += weight * corr_ss
        self.td_corr_n += int(corr_n)
        self.td_unc_sumsq += weight * unc_ss
        self.td_unc_n += unc_n


def fft_plan(nout: int, M: int):
    """(zeroed float32 input buffer (nout, M), call returning its rfft along the last axis).

    FFTW through pyFFTW when it is installed (FFTW_ESTIMATE plan: ~10 ms to make, no timing runs),
    else scipy's pocketfft; both on :data:`FFT_WORKERS` threads, single precision (the spectra are
    accumulated in float64 by :func:`accumulate_power`)."""
    try:
        import pyfftw
    except ImportError:
        pyfftw = None
    if pyfftw is not None:
        plan = pyfftw.builders.rfft(pyfftw.zeros_aligned((nout, M), dtype="float32"), axis=-1,
                                    threads=FFT_WORKERS, planner_effort="FFTW_ESTIMATE", avoid_copy=True)
        return plan.input_array, plan  # the array the plan reads (zeros), whether or not it copied
    from scipy.fft import rfft

    buf = np.zeros((nout, M), np.float32)
    return buf, lambda: rfft(buf, axis=-1, workers=FFT_WORKERS)


def by_output_halves(kernel, *args, split: int = 2):
    """``kernel(*args)`` on the first and second half of the outputs in two threads (the kernels
    release the GIL and treat outputs independently): the first ``split`` arguments (per-output
    arrays: ``chans``, masks) are cut along their first axis, the others passed whole.  Array
    results are joined along the output axis, scalar results (counts) added."""
    nout = args[0].shape[0]
    if nout < 2:
        return kernel(*args)
    h = nout // 2

    def half(s):
        return kernel(*(a[s] for a in args[:split]), *args[split:])

    a, b = pool("onef").map(half, (slice(0, h), slice(h, nout)))
    return tuple(np.concatenate([u, v]) if isinstance(u, np.ndarray) else u + v for u, v in zip(a, b))


def accumulate_power_halves(X, weight, auto, cross, pair_a, pair_b) -> None:
    """:func:`accumulate_power` with the frequencies split over the two cores (disjoint writes)."""
    nf = X.shape[1]
    h = nf // 2
    list(pool("onef").map(lambda r: accumulate_power(X, weight, auto, cross, pair_a, pair_b, r[0], r[1]),
                   ((0, h), (h, nf))))


def row_medians_halves(chans: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Median of each read-order row over all outputs' valid samples (NaN if none): the two row
    halves on the two cores (the kernel releases the GIL)."""
    ny = chans.shape[1]
    half = ny // 2
    if half == 0:
        return row_medians(chans, valid, 0, ny)
    parts = list(pool("onef").map(lambda r: row_medians(chans, valid, r[0], r[1]), ((0, half), (half, ny))))
    return np.concatenate(parts)
