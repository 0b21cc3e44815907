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
   Samples more than ``CLIP_SIGMA`` robust sigma from zero (cosmic rays; saturated = NaN) become
   gaps.
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

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from itertools import combinations
from pathlib import Path

import numpy as np

from core.errors import InputError, ParameterError
from core.io.geometry import PIXEL_TIME_S, Layout
from core.io.ramps import GROUP_DIFF_TYPES, Ramp, cds_frames, layout_from_header, n_cds, stripes
from core.median import median_along0, median_of
from core.onef.kernel import (
    abs_dev_subsample,
    accumulate_power,
    center_and_clip,
    clipped_stack_mean,
    neighbour_diff_sumsq,
    row_corrected,
    row_medians,
    savgol_split_sums,
    side_sums,
)
from core.runtime import pool
from core.stats import MAD_TO_SIGMA, sqrt_or_zero

UNITS = "DN rms in a CDS frame"
PSD_UNITS = "DN^2/Hz (one-sided)"
CLIP_SIGMA = 20.0  # samples further than this many robust sigma from 0 become gaps (cosmic rays)
SIDE_SMOOTH_ROWS = 11  # running mean of the side-reference row correction (jwst refpix default)
SAVGOL_WINDOW, SAVGOL_ORDER = 31, 3  # pynrc-style time-domain split
BINS_PER_DECADE = 20
HARMONIC_HALF_WIDTH = 0.05  # fits skip frequencies within this fraction of f_row of a row harmonic
FIT_MIN_CYCLES = 3.0  # fits start at FIT_MIN_CYCLES / frame time (CDS and median removal bite below)
MAX_SLOPE_ERR = 0.5  # slopes less certain than this are reported as NaN
MIN_SLOPE = 0.3  # per-output fits: a flatter 'power law' is degenerate with the white level
MAX_BANDING_FRAMES = 256  # columns of the banding image (CDS frames, evenly sub-sampled)
FFT_WORKERS = 2  # the 4 outputs' transforms split over both cores
STRIPE_BUDGET = 64 * 2**20  # bytes of float32 per row stripe in the median pass
Progress = Callable[[float, str], None]


# ------------------------------------------------------------------------------------------------
# Parameters
# ------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class OneFParams:
    """How CDS frames are formed and whether the top/bottom reference-row correction is applied."""

    diff_type: str = "consecutive"  # or "independent"
    refpix_correct: bool = False

    def validate(self) -> OneFParams:
        if self.diff_type not in GROUP_DIFF_TYPES:
            raise ParameterError(
                f"diff_type must be one of {', '.join(GROUP_DIFF_TYPES)}, not {self.diff_type!r}"
            )
        if not isinstance(self.refpix_correct, (bool, np.bool_)):
            raise ParameterError(f"refpix_correct must be True or False, not {self.refpix_correct!r}")
        return self


# ------------------------------------------------------------------------------------------------
# Result
# ------------------------------------------------------------------------------------------------
@dataclass
class OneFResult:
    """Spectra, split and banding of one detector's darks.

    Per-amp arrays are in science column order (``amps[i]`` has ``x0, x1, output``).  Spectra are
    log-binned (``freq`` in Hz, bin mean frequency) and in DN^2/Hz, one-sided; integrated numbers
    are DN rms in one CDS frame.
    """

    detector: str
    shape: tuple[int, int]  # (ny, nx) of a frame
    params: OneFParams
    files: list[str]
    n_integrations: int
    n_cds_frames: int
    frame_time: float  # s
    row_frequency: float  # Hz
    freq_resolution: float  # Hz
    nyquist: float  # Hz
    amps: list[dict]
    correlated: float
    correlated_fit: dict
    freq: np.ndarray
    psd: np.ndarray  # (namps, nbins) total spectrum of each output
    psd_err: np.ndarray
    correlated_psd: np.ndarray  # (nbins,) mean real cross-spectrum
    correlated_psd_err: np.ndarray
    cross_pairs: list[tuple[int, int]]  # amp indices
    cross: np.ndarray  # (npairs, nbins) real cross-spectrum of each pair
    white_psd: np.ndarray  # (namps,) white level, DN^2/Hz
    uncorrelated_psd: np.ndarray  # (namps, nbins) psd - correlated as seen by the output - white
    model_correlated: np.ndarray  # (nbins,)
    model_uncorrelated: np.ndarray  # (namps, nbins)
    model_total: np.ndarray  # (namps, nbins) white + correlated fit + uncorrelated fit
    psd_after: np.ndarray | None  # (namps, nbins) after the side-reference row correction
    check: dict
    time_domain: dict
    banding: dict
    banding_image: np.ndarray  # (ny, nframes) row medians (DN), rows in read order
    banding_frames: list[dict]  # one per image column: file, integration, cds
    row_time: float  # s per row
    stack_mean_factor: float
    notes: list[str] = field(default_factory=list)

    @property
    def units(self) -> str:
        return UNITS

    def summary(self) -> dict:
        """The headline numbers (JSON-able); slopes are NaN where a component is not detected."""
        return {
            "units": UNITS,
            "correlated": float(self.correlated),
            "correlated_slope": float(self.correlated_fit["slope"]),
            "amps": [
                {
                    "x0": int(a["x0"]),
                    "x1": int(a["x1"]),
                    "output": int(a["output"]),
                    "white": float(a["white"]),
                    "uncorrelated": float(a["uncorrelated"]),
                    "uncorrelated_slope": float(a["uncorrelated_slope"]),
                    "total": float(a["total"]),
                }
                for a in self.amps
            ],
        }

    def tables(self) -> dict:
        """CSV-ready tables: ``onef_components``, ``onef_spectra``, ``onef_cross``, ``onef_banding``."""
        import pandas as pd

        comp_cols = [
            "amp", "x0", "x1", "output", "white", "white_err", "uncorrelated", "uncorrelated_err",
            "uncorrelated_slope", "uncorrelated_slope_err", "uncorrelated_psd_1hz",
            "uncorrelated_psd_1hz_err", "correlated", "correlated_slope", "correlated_slope_err",
            "quadrature_sum", "total", "check_ratio", "model_quadrature_sum", "model_check_ratio",
            "td_correlated", "td_uncorrelated", "td_white_leak_correlated",
            "td_white_leak_uncorrelated",
        ]
        rows = []
        for a in self.amps:
            r = {k: a.get(k) for k in comp_cols}
            r["correlated"] = self.correlated
            r["correlated_slope"] = self.correlated_fit["slope"]
            r["correlated_slope_err"] = self.correlated_fit["slope_err"]
            rows.append(r)
        components = pd.DataFrame(rows, columns=comp_cols)
        components["units"] = UNITS

        spec = []
        f = self.freq
        for i, a in enumerate(self.amps):
            base = {"amp": a["amp"], "x0": a["x0"], "x1": a["x1"], "output": a["output"]}
            series = [
                ("total", self.psd[i], self.psd_err[i], self.model_total[i]),
                ("uncorrelated", self.uncorrelated_psd[i], self.psd_err[i], self.model_uncorrelated[i]),
                ("white", np.full_like(f, self.white_psd[i]), np.full_like(f, np.nan),
                 np.full_like(f, self.white_psd[i])),
            ]
            if self.psd_after is not None:
                series.append(("after side-ref correction", self.psd_after[i], np.full_like(f, np.nan),
                               np.full_like(f, np.nan)))
            for name, y, e, m in series:
                spec.append(pd.DataFrame({"freq_hz": f, "component": name, **base,
                                          "psd_dn2_per_hz": y, "psd_err": e, "model_dn2_per_hz": m}))
        spec.append(pd.DataFrame({
            "freq_hz": f, "component": "correlated", "amp": pd.NA, "x0": pd.NA, "x1": pd.NA,
            "output": pd.NA, "psd_dn2_per_hz": self.correlated_psd, "psd_err": self.correlated_psd_err,
            "model_dn2_per_hz": self.model_correlated,
        }))
        spectra = pd.concat(spec, ignore_index=True)
        for c in ("amp", "x0", "x1", "output"):
            spectra[c] = spectra[c].astype("Int64")
        spectra["units"] = PSD_UNITS

        cross = pd.concat([
            pd.DataFrame({"freq_hz": f, "amp_a": i, "amp_b": j,
                          "output_a": self.amps[i]["output"], "output_b": self.amps[j]["output"],
                          "re_cross_dn2_per_hz": self.cross[p]})
            for p, (i, j) in enumerate(self.cross_pairs)
        ], ignore_index=True)
        cross["units"] = PSD_UNITS

        band_cols = ["amp", "x0", "x1", "output", "row_avg_rms", "row_avg_rms_after",
                     "row_avg_white_expected", "onef_before", "onef_after", "onef_variance_removed"]
        banding = pd.DataFrame([{k: a.get(k) for k in band_cols} for a in self.amps], columns=band_cols)
        banding["side_ref_row_avg_rms"] = self.banding.get("side_ref_row_avg_rms")
        banding["side_ref_row_avg_white_expected"] = self.banding.get("side_ref_row_avg_white_expected")
        banding["units"] = UNITS
        return {"onef_components": components, "onef_spectra": spectra, "onef_cross": cross,
                "onef_banding": banding}


# ------------------------------------------------------------------------------------------------
# Helpers
# ------------------------------------------------------------------------------------------------
def stack_mean_factor(ncds: int, diff_type: str) -> float:
    """Fraction of a CDS frame's white-noise variance left after subtracting each pixel's mean over
    the ``ncds`` CDS frames of its integration.

    ``consecutive``: the mean of G1-G0 ... GN-G(N-1) is (GN-G0)/N, so the factor is 1 - 1/N^2;
    ``independent``: the frames are independent, 1 - 1/N.  For 1/f noise the consecutive factor is
    1 - D(N T)/(N^2 D(T)) (D = structure function), within 0.5% of the white value for N >= 4; the
    independent one is 1 - 1/N up to the weak frame-to-frame correlation of CDS 1/f noise.
    """
    if ncds < 2:
        raise ValueError("need at least 2 CDS frames per integration")
    if diff_type == "consecutive":
        return 1.0 - 1.0 / ncds**2
    return 1.0 - 1.0 / ncds


def _pixel_stack_mean(d: np.ndarray) -> np.ndarray:
    """Per-pixel mean over axis 0 of a CDS stack, ignoring NaN and samples further than
    ``CLIP_SIGMA`` robust sigma from the pixel's median (cosmic rays).  Linear for Gaussian data,
    unlike the median, whose white-noise removal changes when 1/f noise is present.  The robust
    sigma is that of all the stack's deviations from their pixel medians (compiled passes)."""
    x = np.ascontiguousarray(d, dtype=np.float32)
    flat = x.reshape(x.shape[0], -1)
    med = median_along0(flat)
    sub = abs_dev_subsample(flat, med, 200_000)
    sig = float(MAD_TO_SIGMA * median_of(sub)) if sub.size else 0.0
    mean = clipped_stack_mean(flat, med, CLIP_SIGMA * sig if sig > 0 else 0.0)
    return mean.reshape(x.shape[1:])


def _robust_sigma(v: np.ndarray) -> float:
    """``MAD_TO_SIGMA`` x median absolute value of a (sub-sampled) zero-centred sample."""
    if v.size == 0:
        return 0.0
    sub = v[:: max(1, v.size // 200_000)]
    return float(MAD_TO_SIGMA * median_of(np.abs(sub)))


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


def _inspect(paths: Sequence, params: OneFParams) -> list[_FileInfo]:
    """Headers and shapes of every file; InputError naming the first unusable file."""
    from astropy.io import fits

    infos: list[_FileInfo] = []
    for p in paths:
        path = Path(p)
        name = path.name
        try:
            with fits.open(path, memmap=False, lazy_load_hdus=True) as hdul:
                header = hdul[0].header
                shape = tuple(int(n) for n in hdul["SCI"].shape)
                layout = layout_from_header(header)
        except FileNotFoundError as exc:
            raise InputError(f"{name}: file not found", file=name) from exc
        except (OSError, KeyError, ValueError, TypeError, IndexError) as exc:
            raise InputError(f"{name}: cannot be read as a NIRCam ramp ({exc})", file=name) from exc
        if len(shape) != 4:
            raise InputError(f"{name}: SCI must be 4-D (nints, ngroups, ny, nx), got {shape}", file=name)
        nints, ngroups, ny, nx = shape
        if (ny, nx) != (layout.ny, layout.nx):
            raise InputError(
                f"{name}: SCI frames are {ny}x{nx} but SUBSIZE2/SUBSIZE1 say {layout.ny}x{layout.nx}",
                file=name)
        if layout.noutputs != 4:
            raise InputError(
                f"{name}: the 1/f split compares the 4 outputs, but this {nx}x{ny} subarray is read "
                f"by {layout.noutputs} output", file=name)
        nc = n_cds(ngroups, params.diff_type)
        if nc < 2:
            need = 3 if params.diff_type == "consecutive" else 4
            raise InputError(
                f"{name}: {ngroups} groups give {nc} {params.diff_type} CDS frame(s); the per-pixel "
                f"median needs at least 2 (NGROUPS >= {need})", file=name)
        if infos:
            ref = infos[0]
            if layout.detector != ref.layout.detector:
                raise InputError(f"{name}: detector {layout.detector}, but {ref.path.name} is "
                                 f"{ref.layout.detector}; analyse one detector at a time", file=name)
            if layout != ref.layout:
                raise InputError(f"{name}: frame geometry {layout.ny}x{layout.nx} at "
                                 f"({layout.xstart},{layout.ystart}) differs from {ref.path.name}",
                                 file=name)
        infos.append(_FileInfo(path, layout, nints, ngroups, nc))
    return infos


# ------------------------------------------------------------------------------------------------
# Accumulation
# ------------------------------------------------------------------------------------------------
class _Accumulator:
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
            self._ts, self._plan = _fft_plan(self.nout, self.M)
        body = self._ts[:, : lay.ny * lay.row_clocks].reshape(self.nout, lay.ny, lay.row_clocks)
        body[..., : lay.channel_width] = x
        return self._plan()

    def add(self, d_sci: np.ndarray, weight: float, label: dict) -> None:
        """One CDS frame (science orientation, per-pixel median already removed)."""
        lay = self.layout
        chans = lay.channel_images(d_sci)  # (nout, ny, w) read order, a copy
        finite = np.isfinite(chans)
        valid = finite & self.active
        # Per output: centre on the median, clip beyond CLIP_SIGMA robust sigma (compiled, one pass).
        x = self._x
        _, nclipped, nvalid, sumsq, rowsum, nrow = _by_output_halves(
            lambda c, v, out: center_and_clip(c, v, CLIP_SIGMA, out)[1:], chans, valid, x, split=3)
        self.nclipped += int(nclipped)
        self.nsamples += int(nvalid.sum())

        X = self._fft(x)
        _accumulate_power(X, float(weight), self.auto, self.cross, self.pair_a, self.pair_b)
        del X
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

        if self.has_side:
            self._side_correction(chans, finite, valid, weight)

        self._time_domain(x, valid, weight)

        if (self.nframes - 1) % self.band_stride == 0:
            self.band_cols.append(_row_medians(chans, valid))
            self.band_frames.append(label)

    def _side_correction(self, chans, finite, valid, weight) -> None:
        """Side-reference-column row correction: spectra and row averages after it."""
        from scipy.ndimage import uniform_filter1d

        side = finite & self.side
        num, cnt = side_sums(chans, side)  # per read-order row
        has = cnt > 0
        if not has.any():
            return
        rowref = np.where(has, num / np.maximum(cnt, 1), 0.0)
        self.sideavg_sumsq += weight * float((rowref[has] ** 2).sum())
        self.sideavg_n += int(has.sum())
        self.sideavg_inv_npix += float((1.0 / cnt[has]).sum())
        # White noise of the side reference pixels: half the variance of differences of neighbours
        # (10 us apart) is white + the 1/f power near Nyquist; the latter is measured the same way
        # on active pixels (whose white level the spectrum gives) and subtracted in _finish.
        ss_side, n_side, ss_act, n_act = _by_output_halves(neighbour_diff_sumsq, chans, side, valid, split=3)
        self.side_diff_sumsq += weight * ss_side
        self.side_diff_n += n_side
        self.act_diff_sumsq += weight * ss_act
        self.act_diff_n += n_act
        # Running mean over SIDE_SMOOTH_ROWS rows (rows without side pixels carry no weight).
        snum = uniform_filter1d(num, SIDE_SMOOTH_ROWS, mode="nearest")
        scnt = uniform_filter1d(cnt, SIDE_SMOOTH_ROWS, mode="nearest")
        corr = np.where(scnt > 0, snum / np.where(scnt > 0, scnt, 1), 0.0).astype(np.float32)
        xa = self._xa
        sumsq_after, rowsum_after = _by_output_halves(lambda c, v, out: row_corrected(c, v, corr, out)[1:],
                                                      chans, valid, xa, split=3)
        X = self._fft(xa)
        _accumulate_power(X, float(weight), self.auto_after, self._cross_scratch, self.pair_a[:0],
                          self.pair_b[:0])
        del X
        self.sumsq_after += weight * sumsq_after
        nrow = valid.sum(axis=2)
        rowavg = np.where(nrow > 0, rowsum_after / np.maximum(nrow, 1), 0.0)
        self.rowavg_sumsq_after += weight * (rowavg ** 2).sum(axis=1)

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


def _fft_plan(nout: int, M: int):
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


def _by_output_halves(kernel, *args, split: int = 2):
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


def _accumulate_power(X, weight, auto, cross, pair_a, pair_b) -> None:
    """:func:`accumulate_power` with the frequencies split over the two cores (disjoint writes)."""
    nf = X.shape[1]
    h = nf // 2
    list(pool("onef").map(lambda r: accumulate_power(X, weight, auto, cross, pair_a, pair_b, r[0], r[1]),
                   ((0, h), (h, nf))))


def _row_medians(chans: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Median of each read-order row over all outputs' valid samples (NaN if none): the two row
    halves on the two cores (the kernel releases the GIL)."""
    ny = chans.shape[1]
    half = ny // 2
    if half == 0:
        return row_medians(chans, valid, 0, ny)
    parts = list(pool("onef").map(lambda r: row_medians(chans, valid, r[0], r[1]), ((0, half), (half, ny))))
    return np.concatenate(parts)


# ------------------------------------------------------------------------------------------------
# Spectral post-processing
# ------------------------------------------------------------------------------------------------
def _log_binning(freq: np.ndarray, per_decade: int = BINS_PER_DECADE):
    """Bin index per frequency (-1 for DC) and the number of bins; geometric edges."""
    lo, hi = freq[1], freq[-1]
    nb = max(1, int(math.ceil(per_decade * math.log10(hi / lo))))
    edges = lo * (hi / lo) ** (np.arange(nb + 1) / nb)
    edges[0] *= 0.999
    edges[-1] *= 1.001
    idx = np.searchsorted(edges, freq, side="right") - 1
    idx[0] = -1
    idx[(idx < 0) | (idx >= nb)] = -1
    return idx, nb


def _binned(idx: np.ndarray, nb: int, y: np.ndarray, keep: np.ndarray | None = None):
    """Mean of ``y`` (..., nfreq) per bin and the count per bin."""
    sel = idx >= 0 if keep is None else (idx >= 0) & keep
    ii = idx[sel]
    n = np.bincount(ii, minlength=nb).astype(np.float64)
    y2 = np.atleast_2d(y)
    out = np.stack([np.bincount(ii, weights=row[sel], minlength=nb) for row in y2])
    with np.errstate(invalid="ignore", divide="ignore"):
        out = out / n
    return (out[0] if y.ndim == 1 else out), n


def _power_law(f, amp, slope):
    return amp * f ** (-slope)


def _white_power_law(f, white, amp, slope):
    return white + amp * f ** (-slope)


def _fit(f, y, s, with_white: bool, nyquist: float) -> dict:
    """Weighted least-squares power law (+ white level) on log-binned spectra.

    Errors are statistical (bin scatter predicted from the number of averaged periodograms),
    scaled up by sqrt(reduced chi^2) when the model does not fit to within them.
    """
    from scipy.optimize import curve_fit

    ok = np.isfinite(y) & np.isfinite(s) & (s > 0)
    f, y, s = f[ok], y[ok], s[ok]
    nan = float("nan")
    res = {"white": nan, "white_err": nan, "amp": nan, "amp_err": nan, "slope": nan,
           "slope_err": nan, "chi2_red": nan, "nbins": int(f.size), "ok": False}
    npar = 3 if with_white else 2
    if f.size <= npar + 1:
        return res
    hi = f > 0.3 * nyquist
    w0 = float(np.median(y[hi])) if (with_white and hi.any()) else 0.0
    lo = f < max(10.0, f[0] * 10)
    a0 = float(np.median((y[lo] - w0) * f[lo])) if lo.any() else float(np.median(y * f))
    a0 = max(a0, 1e-12)
    try:
        if with_white:
            p, cov = curve_fit(_white_power_law, f, y, p0=[max(w0, 1e-12), a0, 1.0], sigma=s,
                               absolute_sigma=True, bounds=([0, 0, MIN_SLOPE], [np.inf, np.inf, 4.0]),
                               x_scale="jac", max_nfev=2000)
            model = _white_power_law(f, *p)
        else:
            p, cov = curve_fit(_power_law, f, y, p0=[a0, 1.0], sigma=s, absolute_sigma=True,
                               bounds=([0, 0], [np.inf, 4.0]), x_scale="jac", max_nfev=2000)
            model = _power_law(f, *p)
    except (RuntimeError, ValueError):
        return res
    chi2 = float(np.sum(((y - model) / s) ** 2) / max(1, f.size - npar))
    cov = cov * max(1.0, chi2)
    err = np.sqrt(np.clip(np.diag(cov), 0, None))
    if with_white:
        res.update(white=float(p[0]), white_err=float(err[0]), amp=float(p[1]), amp_err=float(err[1]),
                   slope=float(p[2]), slope_err=float(err[2]))
    else:
        res.update(amp=float(p[0]), amp_err=float(err[0]), slope=float(p[1]), slope_err=float(err[1]))
    res.update(chi2_red=chi2, ok=True)
    return res


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

    params = params.validate() if isinstance(params, OneFParams) else params
    if not isinstance(params, OneFParams):
        raise ParameterError("params must be a OneFParams")
    paths = [Path(p) for p in paths]
    if not paths:
        raise InputError("no files given for the 1/f analysis")
    infos = _inspect(paths, params)
    layout = infos[0].layout
    total_frames = sum(i.nints * i.ncds for i in infos)
    acc = _Accumulator(layout, total_frames)
    notes: list[str] = []
    factors = []
    done = 0
    bottom, top = layout.reference_rows()
    refrows = np.concatenate([bottom, top])
    if params.refpix_correct and refrows.size == 0:
        notes.append("refpix_correct: this subarray has no top/bottom reference rows; not applied")
    amps = layout.amps()
    col_parity = np.arange(layout.nx) % 2

    def report(n_done: int, msg: str):
        if progress is not None:
            progress(min(1.0, n_done / max(1, total_frames)), msg)

    for fi, info in enumerate(infos):
        name = info.path.name
        weight = 1.0 / stack_mean_factor(info.ncds, params.diff_type)
        report(done, f"{name}: reading ({fi + 1}/{len(infos)})")
        try:
            ramp = Ramp(info.path)
        except (OSError, KeyError) as exc:
            raise InputError(f"{name}: cannot be opened ({exc})", file=name) from exc
        with ramp:
            try:
                done = _process_file(ramp, info, params, layout, acc, weight, refrows, amps, col_parity,
                                     factors, done, report)
            except (OSError, EOFError) as exc:
                raise InputError(f"{name}: read error ({exc})", file=name) from exc
    report(done, "fitting spectra")
    result = _finish(acc, infos, params, factors, notes)
    if progress is not None:
        progress(1.0, "done")
    return result


def _process_file(ramp: Ramp, info: _FileInfo, params: OneFParams, layout: Layout, acc: _Accumulator,
                  weight: float, refrows, amps, col_parity, factors: list, done: int, report) -> int:
    """Every integration of one open file into ``acc``; returns the updated frame count."""
    name = info.path.name
    factor = 1.0 / weight
    for it in range(info.nints):
        factors.append(factor)
        # Reference-row offsets per CDS frame, output and column parity.
        offsets = None
        if params.refpix_correct and refrows.size:
            rr = np.concatenate([_read(ramp, it, slice(None), int(r), int(r) + 1) for r in refrows],
                                axis=1)  # (ngroups, nref, nx)
            dref = cds_frames(rr[None], params.diff_type)  # (ncds, nref, nx)
            offsets = np.zeros((info.ncds, layout.nx), np.float32)
            for a in amps:
                for par in (0, 1):
                    cols = np.arange(a.x0, a.x1)
                    cols = cols[col_parity[cols] == par]
                    with np.errstate(all="ignore"):
                        m = np.nanmean(dref[:, :, cols], axis=(1, 2)) if cols.size else 0.0
                    offsets[:, cols] = np.nan_to_num(m)[:, None]
        # Pass 1: per-pixel (clipped) mean over the CDS stack, in row stripes.
        pix_mean = np.empty((layout.ny, layout.nx), np.float32)
        rows = max(1, STRIPE_BUDGET // max(1, 2 * info.ngroups * layout.nx * 4))
        for y0, y1 in stripes(layout.ny, rows):
            d = cds_frames(_read(ramp, it, slice(None), y0, y1)[None], params.diff_type)
            if offsets is not None:
                d -= offsets[:, None, :]
            pix_mean[y0:y1] = _pixel_stack_mean(d)
        del d
        # Pass 2: CDS frames one at a time.
        prev = None
        for k in range(info.ncds):
            if params.diff_type == "consecutive":
                if prev is None:
                    prev = _read(ramp, it, 0, 0, layout.ny)
                cur = _read(ramp, it, k + 1, 0, layout.ny)
                frame = cur - prev
                prev = cur
            else:
                frame = (_read(ramp, it, 2 * k + 1, 0, layout.ny)
                         - _read(ramp, it, 2 * k, 0, layout.ny))
            if offsets is not None:
                frame -= offsets[k][None, :]
            frame -= pix_mean
            acc.add(frame, weight, {"file": name, "integration": it, "cds": k})
            done += 1
            report(done, f"{name}: integration {it + 1}/{info.nints}, CDS frame {k + 1}/{info.ncds}")
        del pix_mean, prev
    return done


def _finish(acc: _Accumulator, infos: list[_FileInfo], params: OneFParams, factors, notes) -> OneFResult:
    lay = acc.layout
    dt = PIXEL_TIME_S
    M = acc.M
    freq = np.arange(acc.nf) / (M * dt)
    df = 1.0 / (M * dt)
    nyq = 1.0 / (2 * dt)
    wint = np.full(acc.nf, 2.0)
    wint[0] = 1.0
    if M % 2 == 0:
        wint[-1] = 1.0
    if np.any(acc.n_auto == 0):
        raise InputError("no valid samples in at least one output (all saturated or NaN?)")

    # Full-resolution spectra, DN^2/Hz one-sided (wint = 2 except DC/Nyquist).
    P = dt * wint * acc.auto / acc.n_auto[:, None]
    Cp = dt * wint * acc.cross / acc.n_cross[:, None]
    C = Cp.mean(axis=0)
    V = (P * df).sum(axis=1)  # variance per output, = pixel-domain total (Parseval)
    V_pix = acc.sumsq / acc.n_auto
    C_int = float((C * df).sum())
    # Correlated power as seen by each output: 2 x mean of its 3 pair cross-spectra minus the mean
    # of the 3 pairs without it.  Expectation C; it also holds output i's chance covariance with
    # the common series (large for 1/f noise over one integration), which then cancels in P_i - C_i.
    w_pair = np.zeros((acc.nout, len(acc.pairs)))
    for i in range(acc.nout):
        with_i = [j for j, pr in enumerate(acc.pairs) if i in pr]
        without = [j for j, pr in enumerate(acc.pairs) if i not in pr]
        w_pair[i, with_i] = 2.0 / len(with_i)
        w_pair[i, without] = -1.0 / len(without)
    Ci = w_pair @ Cp  # replaced by C above the 1/f-white crossover, below

    # Log bins: display uses every frequency, fits skip the row-rate harmonics and the lowest bins.
    frame_time = lay.frame_time
    f_row = 1.0 / (lay.row_clocks * dt)
    idx, nb = _log_binning(freq)
    h = np.rint(freq / f_row)
    near_harm = (h >= 1) & (np.abs(freq - h * f_row) < HARMONIC_HALF_WIDTH * f_row)
    keep_fit = ~near_harm & (freq >= FIT_MIN_CYCLES / frame_time)

    K = acc.nframes / (1.5 if params.diff_type == "consecutive" else 1.0)  # effective averages

    def binned(y, keep=None):
        return _binned(idx, nb, y, keep)

    Pb, n_b = binned(P)
    Cb, _ = binned(C)
    Cpb, _ = binned(Cp)
    fb, _ = binned(freq)
    Pf, n_f = binned(P, keep_fit)
    Cf, _ = binned(C, keep_fit)
    Cpf, _ = binned(Cp, keep_fit)
    ff, _ = binned(freq, keep_fit)
    pair_prod_b = np.mean([Pb[a] * Pb[b] for a, b in acc.pairs], axis=0)
    pair_prod_f = np.mean([Pf[a] * Pf[b] for a, b in acc.pairs], axis=0)

    def cross_err(pp, c, n):
        rho2 = np.clip(c ** 2 / np.where(pp > 0, pp, np.inf), 0, 1)
        neff = len(acc.pairs) / (1 + (len(acc.pairs) - 1) * rho2)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.sqrt((pp + c ** 2) / 2 / (K * n * neff))

    with np.errstate(invalid="ignore", divide="ignore"):
        Pb_err = Pb / np.sqrt(K * n_b)
        Pf_err = Pf / np.sqrt(K * n_f)
    Cb_err = cross_err(pair_prod_b, Cb, n_b)
    Cf_err = cross_err(pair_prod_f, Cf, n_f)

    # Fits.
    cfit = _fit(ff, Cf, Cf_err, with_white=False, nyquist=nyq)

    # C_i is needed where 1/f dominates (few modes: large chance covariances); where white
    # dominates, the chance terms average out and the 6-pair mean C is sqrt(10) times less noisy
    # (white noise in C_i: weights 2/3, -1/3 on 6 pairs).  Crossover: correlated fit = white level.
    hi = ff > 0.5 * nyq
    w0 = float(np.nanmean([np.nanmean(Pf[k][hi] - Cf[hi]) for k in range(acc.nout)])) if hi.any() else 0.0
    f_cross = 0.0
    if cfit["ok"] and cfit["amp"] > 0 and w0 > 0 and cfit["slope"] > 0:
        f_cross = float(np.clip((cfit["amp"] / w0) ** (1.0 / cfit["slope"]), 0.0, nyq))
    Ci = np.where(freq[None, :] < f_cross, Ci, C[None, :])
    Ci_int = (Ci * df).sum(axis=1)
    Cib, _ = binned(Ci)
    Cif, _ = binned(Ci, keep_fit)
    wfac = float(np.sqrt((w_pair[0] ** 2).sum() * len(acc.pairs)))  # pairs taken as independent
    Cif_err = np.where(ff < f_cross, Cf_err * wfac, Cf_err)

    ufits = []
    for k in range(acc.nout):
        R = Pf[k] - Cif[k]
        Rerr = np.sqrt(Pf_err[k] ** 2 + Cif_err ** 2)
        uf = _fit(ff, R, Rerr, with_white=True, nyquist=nyq)
        hi = ff > 0.5 * nyq
        plateau = float(np.nanmean(R[hi])) if hi.any() else float("nan")
        if not uf["ok"] or not np.isfinite(uf["white"]):
            uf["white"] = plateau
            notes.append(f"output {k}: power-law fit failed; white = mean PSD above {0.5 * nyq:.0f} Hz")
        elif np.isfinite(plateau) and abs(uf["white"] / plateau - 1) > 0.10:
            notes.append(f"output {k}: fitted white level {uf['white']:.3g} is >10% from the "
                         f"plateau above {0.5 * nyq:.0f} Hz ({plateau:.3g} DN^2/Hz); plateau used")
            uf["white"] = plateau
        ufits.append(uf)

    W = np.array([u["white"] for u in ufits])
    white_var = W * nyq
    unc_var = V - Ci_int - white_var
    factor = float(np.mean(factors)) if factors else 1.0

    # Fitted-model integrals on the measured grid (DC excluded) for the model check.
    fpos = freq[1:]

    def model_int(fit):
        if not fit["ok"]:
            return float("nan")
        return float((_power_law(fpos, fit["amp"], fit["slope"]) * wint[1:] / 2 * df).sum())

    corr_model_var = model_int(cfit)
    correlated = sqrt_or_zero(C_int)
    # A slope is reported when the component is >= 5% of the white noise and the fit pins it down.
    correlated_detected = (correlated > 0.05 * sqrt_or_zero(float(np.mean(white_var))) and cfit["ok"]
                           and cfit["slope_err"] < MAX_SLOPE_ERR)
    cfit_out = {
        "amplitude_1hz": cfit["amp"], "amplitude_1hz_err": cfit["amp_err"],
        "slope": cfit["slope"] if correlated_detected else float("nan"),
        "slope_fitted": cfit["slope"], "slope_err": cfit["slope_err"], "chi2_red": cfit["chi2_red"],
        "model_integral": sqrt_or_zero(corr_model_var) if np.isfinite(corr_model_var) else float("nan"),
        "fit_range_hz": [float(FIT_MIN_CYCLES / frame_time), float(nyq)],
        "crossover_hz": f_cross,
        "units": "amplitude DN^2/Hz at 1 Hz; PSD = amplitude * f^-slope",
    }

    # Time-domain (pynrc-style) numbers and their known white leakage.
    g = acc.sg_gain
    mean_white_var = float(np.mean(white_var))

    # Side-reference correction and banding.
    has_sd = (acc.side_diff_n > 0) & (acc.act_diff_n > 0)
    if has_sd.any():
        onef_nyq = acc.act_diff_sumsq[has_sd] / acc.act_diff_n[has_sd] / 2.0 - white_var[has_sd]
        side_k = acc.side_diff_sumsq[has_sd] / acc.side_diff_n[has_sd] / 2.0 - onef_nyq
        side_white = float(np.average(side_k, weights=acc.side_diff_n[has_sd]))
    else:
        side_white = float("nan")
    banding = {
        "side_ref_row_avg_rms": sqrt_or_zero(acc.sideavg_sumsq / acc.sideavg_n) if acc.sideavg_n else None,
        "side_ref_pixel_white": sqrt_or_zero(side_white) if np.isfinite(side_white) else None,
        "side_ref_row_avg_white_expected": (sqrt_or_zero(side_white * acc.sideavg_inv_npix / acc.sideavg_n)
                                            if acc.sideavg_n and np.isfinite(side_white) else None),
        "side_smoothing_rows": SIDE_SMOOTH_ROWS,
        "available": acc.has_side,
        "units": UNITS,
        "description": ("row averages per CDS frame: side reference columns (left+right, per row) and "
                        "active pixels of each output; 'after' = after subtracting the side-reference "
                        f"row average (running mean over {SIDE_SMOOTH_ROWS} rows)"),
    }
    P_after = None
    if acc.has_side:
        P_after = dt * wint * acc.auto_after / acc.n_auto[:, None]
        V_after = (P_after * df).sum(axis=1)

    # Per-output -> per science amp.
    rows = []
    for a in lay.amps():
        k = a.output
        uf = ufits[k]
        u = sqrt_or_zero(unc_var[k])
        detected = u > 0.05 * sqrt_or_zero(white_var[k]) and uf["ok"] and uf["slope_err"] < MAX_SLOPE_ERR
        unc_model_var = model_int(uf)
        model_total = sqrt_or_zero(white_var[k] + corr_model_var + unc_model_var)
        quad = sqrt_or_zero(white_var[k] + C_int + max(unc_var[k], 0.0))
        total = sqrt_or_zero(V_pix[k])
        td_unc = sqrt_or_zero(acc.td_unc_sumsq[k] / acc.td_unc_n[k]) if acc.td_unc_n[k] else float("nan")
        row = {
            "amp": a.index, "x0": a.x0, "x1": a.x1, "output": k,
            "white": sqrt_or_zero(white_var[k]),
            "white_err": (0.5 * uf["white_err"] * nyq / sqrt_or_zero(white_var[k])
                          if white_var[k] > 0 else float("nan")),
            "uncorrelated": u,
            "uncorrelated_err": (0.5 * uf["white_err"] * nyq / u if u > 0
                                 else sqrt_or_zero(uf["white_err"] * nyq)),
            "uncorrelated_slope": uf["slope"] if detected else float("nan"),
            "uncorrelated_slope_fitted": uf["slope"],
            "uncorrelated_slope_err": uf["slope_err"],
            "uncorrelated_psd_1hz": uf["amp"], "uncorrelated_psd_1hz_err": uf["amp_err"],
            "fit_chi2_red": uf["chi2_red"],
            "correlated": correlated,
            "correlated_seen": sqrt_or_zero(Ci_int[k]),
            "quadrature_sum": quad, "total": total,
            "check_ratio": quad / total if total > 0 else float("nan"),
            "total_from_spectrum": sqrt_or_zero(V[k]),
            "model_quadrature_sum": model_total,
            "model_check_ratio": model_total / total if total > 0 else float("nan"),
            "td_correlated": sqrt_or_zero(acc.td_corr_sumsq / acc.td_corr_n) if acc.td_corr_n else float("nan"),
            "td_uncorrelated": td_unc,
            "td_white_leak_correlated": sqrt_or_zero(g * mean_white_var / acc.nout),
            "td_white_leak_uncorrelated": sqrt_or_zero(g * (white_var[k] * (1 - 2.0 / acc.nout)
                                                      + mean_white_var / acc.nout)),
            "row_avg_rms": sqrt_or_zero(acc.rowavg_sumsq[k] / acc.rowavg_n[k]) if acc.rowavg_n[k] else None,
            "row_avg_white_expected": (sqrt_or_zero(white_var[k] * factor * acc.rowavg_inv_npix[k]
                                              / acc.rowavg_n[k]) if acc.rowavg_n[k] else None),
        }
        if acc.has_side:
            onef_before = V[k] - white_var[k]
            onef_after = V_after[k] - white_var[k]
            row.update({
                "row_avg_rms_after": sqrt_or_zero(acc.rowavg_sumsq_after[k] / acc.rowavg_n[k]),
                "onef_before": sqrt_or_zero(onef_before),
                "onef_after": sqrt_or_zero(onef_after),
                # Only meaningful where there is 1/f to remove (>= 5% of the white noise, rms).
                "onef_variance_removed": (1.0 - max(onef_after, 0.0) / onef_before
                                          if onef_before > 0.05**2 * white_var[k] else float("nan")),
                "total_after": sqrt_or_zero(V_after[k]),
            })
        else:
            row.update({"row_avg_rms_after": None, "onef_before": sqrt_or_zero(V[k] - white_var[k]),
                        "onef_after": None, "onef_variance_removed": None, "total_after": None})
        rows.append(row)

    order = [a.output for a in lay.amps()]  # science amp i -> output
    amp_of_output = {a.output: a.index for a in lay.amps()}
    with np.errstate(invalid="ignore"):
        model_c = (_power_law(fb, cfit["amp"], cfit["slope"]) if cfit["ok"]
                   else np.full_like(fb, np.nan))
        model_u = np.array([_power_law(fb, ufits[k]["amp"], ufits[k]["slope"]) if ufits[k]["ok"]
                            else np.full_like(fb, np.nan) for k in order])
    good = n_b > 0
    sel = lambda arr: arr[..., good]  # noqa: E731
    psd = Pb[order]
    white_psd = W[order]
    unc_psd = psd - Cib[order] - white_psd[:, None]
    cross_pairs = []
    for a, b in acc.pairs:
        ia, ib = amp_of_output[a], amp_of_output[b]
        cross_pairs.append((min(ia, ib), max(ia, ib)))

    checks = [r["check_ratio"] for r in rows]
    check = {
        "quadrature_sum_over_total": checks,
        "max_deviation": float(np.nanmax(np.abs(np.array(checks) - 1.0))),
        "model_quadrature_sum_over_total": [r["model_check_ratio"] for r in rows],
        "parseval_spectrum_over_pixels": [float(V[k] / V_pix[k]) for k in order],
        "description": ("total = rms of the processed CDS samples (pixel domain); quadrature sum = "
                        "sqrt(white^2 + correlated^2 + uncorrelated^2) from the integrated spectra "
                        "(differs from total by the chance covariance of the output with the common "
                        "1/f series, and if the uncorrelated term is clipped at 0); model = the "
                        "same with the fitted power laws integrated over the measured frequency grid"),
    }
    time_domain = {
        "method": (f"pynrc-style: Savitzky-Golay ({SAVGOL_WINDOW} samples, order {SAVGOL_ORDER}) "
                   "smoothing of each output's read-order pixel series as the 1/f model; mean over "
                   "outputs = correlated, remainder = uncorrelated"),
        "correlated": rows[0]["td_correlated"],
        "uncorrelated": [r["td_uncorrelated"] for r in rows],
        "white_leak_correlated": rows[0]["td_white_leak_correlated"],
        "white_leak_uncorrelated": [r["td_white_leak_uncorrelated"] for r in rows],
        "savgol_white_gain": g,
        "known_biases": (f"white leaks in with variance g*sigma^2 (g={g:.4f}): g*mean(sigma^2)/4 into "
                         "the correlated and ~3/4*g*sigma^2 into each uncorrelated term; 1/4 of the "
                         "uncorrelated variance lands in the correlated term; 1/f above ~1 kHz is "
                         "missed"),
        "units": UNITS,
    }
    nclip_frac = acc.nclipped / max(1, acc.nsamples + acc.nclipped)
    if nclip_frac > 1e-3:
        notes.append(f"{100 * nclip_frac:.2f}% of samples clipped (> {CLIP_SIGMA:g} robust sigma)")
    if params.refpix_correct:
        notes.append("refpix_correct: per-output, per-parity mean of the top/bottom reference rows "
                     "subtracted per CDS frame (the per-output median removal already removes any "
                     "per-output offset, so only the even/odd difference changes the numbers)")
    band_img = (np.stack(acc.band_cols, axis=1) if acc.band_cols
                else np.zeros((lay.ny, 0), np.float32))

    return OneFResult(
        detector=lay.detector,
        shape=(lay.ny, lay.nx),
        params=params,
        files=[i.path.name for i in infos],
        n_integrations=int(sum(i.nints for i in infos)),
        n_cds_frames=int(acc.nframes),
        frame_time=float(frame_time),
        row_frequency=float(f_row),
        freq_resolution=float(df),
        nyquist=float(nyq),
        amps=rows,
        correlated=correlated,
        correlated_fit=cfit_out,
        freq=fb[good],
        psd=sel(psd),
        psd_err=sel(Pb_err[order]),
        correlated_psd=sel(Cb),
        correlated_psd_err=sel(Cb_err),
        cross_pairs=cross_pairs,
        cross=sel(Cpb),
        white_psd=white_psd,
        uncorrelated_psd=sel(unc_psd),
        model_correlated=sel(model_c),
        model_uncorrelated=sel(model_u),
        model_total=sel(white_psd[:, None] + model_c[None, :] + model_u),
        psd_after=sel(binned(P_after)[0][order]) if P_after is not None else None,
        check=check,
        time_domain=time_domain,
        banding=banding,
        banding_image=band_img,
        banding_frames=acc.band_frames,
        row_time=float(lay.row_clocks * dt),
        stack_mean_factor=factor,
        notes=notes,
    )


__all__ = ["OneFParams", "OneFResult", "analyze_onef", "stack_mean_factor", "UNITS", "PSD_UNITS"]
