"""Simulated NIRCam dark ramps with known noise (the project's known-answer source).

Noise is generated in *readout-time order* per detector output (10 us pixel clock, 12 overhead
clocks per row, one extra row and pixel per frame), laid out in detector orientation and then
flipped into the DMS science orientation of the named detector, exactly as the real hardware
would have recorded it.  Components (Rauscher 2015 / NGHXRG):

* white read noise: a per-pixel map ``sigma_read`` (DN per read), lognormal spread around the
  per-output median plus a small population of very noisy pixels;
* correlated 1/f: one pink time series shared by the 4 outputs (so mirrored in space for the
  outputs read right to left);
* uncorrelated 1/f: an independent pink series per output;
* reference pixels: white noise ``ref_ratio`` x the output's median active white noise, and an
  optional *instability*: a random offset per frame and output seen only by reference pixels;
  optionally a few individually unstable reference pixels;
* kTC (reset) noise and bias offsets per integration (they cancel in group differences);
* optional cosmic rays, hot pixels and RTS pixels (:mod:`core.io.simdefects`), drawn from
  generators of their own so that switching them on changes nothing else, and saturation at
  ``spec.saturation`` raw DN (bias included).

Readout patterns: every *frame* is simulated in readout order, the GROUPGAP dropped frames too (1/f
and dark current run through them); a group is the average of its NFRAMES frames (each frame
clipped at the saturation level first, as the ADC does), rounded to uint16.

1/f amplitudes are specified, and reported in the truth, as **DN rms in one CDS frame of single
frames** (a difference of two consecutive frames; for RAPID of two consecutive groups), measured
over the output's pixels after removing that CDS frame's median per output -- the quantity the 1/f
analysis reports.  ``*_raw`` truth values are the same without the median removal (what a
per-pixel temporal readnoise sees); ``*_group_cds`` values are those of a difference of two
consecutive groups of the readout pattern (white: per-frame white x sqrt(2 / NFRAMES)).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from core.io.geometry import FULL_SIZE, PIXEL_TIME_S, Layout, detector_flips, normalize_detector
from core.io.simdefects import Defects, Simulation, defect_truth, draw_defects, dump_truth, pixel_dq, stack_rows
from core.io.simwrite import READ_PATTERNS, ramp_path, read_pattern, truth_path, twin_path, write_ramp_model, write_uncal

SUBARRAY_SHAPES = {
    # name: (xsize, ysize, xstart, ystart, noutputs), science orientation, 1-based starts
    "FULL": (2048, 2048, 1, 1, 4),
    "SUBGRISM256": (2048, 256, 1, 1, 4),
    "SUBGRISM128": (2048, 128, 1, 1, 4),
    "SUBGRISM64": (2048, 64, 1, 1, 4),
    "SUB640": (640, 640, 1, 1, 1),
    "SUB320": (320, 320, 1, 1, 1),
    "SUB160": (160, 160, 1, 1, 1),
    # the upper right corner (science orientation) of the detector, as SUB400P on NRCB1/NRCB5:
    # reference rows at the top and reference columns on the right only
    "SUB400P": (400, 400, 1649, 1649, 1),
}


def _per_output(value, n=4) -> list[float]:
    vals = [float(v) for v in np.atleast_1d(value)]
    if len(vals) == 1:
        return vals * n
    if len(vals) != n:
        raise ValueError(f"need 1 or {n} values per output, got {len(vals)}")
    return vals


@dataclass
class NoiseSpec:
    """Injected noise.  Per-output values are indexed by detector output 0-3 (or one value).

    Every contamination field defaults to off: a spec without them gives exactly the data it gave
    before they existed.
    """

    white_read: float | list[float] = 5.0  # median per-pixel white noise, DN per read (frame)
    white_spread: float = 0.08  # lognormal sigma of the per-pixel white noise map
    noisy_fraction: float = 0.001  # fraction of active pixels with 3-8x the white noise
    corr_1f: float = 0.0  # correlated 1/f, DN rms in a CDS frame of single frames
    unc_1f: float | list[float] = 0.0  # per-output 1/f, DN rms in a CDS frame of single frames
    corr_alpha: float = 1.0  # PSD ~ f^-alpha
    unc_alpha: float = 1.0
    ref_ratio: float = 0.85  # reference / active white noise
    ref_instability: float | list[float] = 0.0  # DN rms per read, offset per frame on refpix only
    unstable_ref_pixels: int = 0  # number of individually unstable reference pixels
    unstable_factor: float = 8.0  # their extra noise, in units of their white noise
    # Reference pixels made unstable in this exposure at given places, [(y, x), ...] in science
    # array coordinates (besides the ``unstable_ref_pixels`` drawn at random): the same pixels can
    # be unstable in some exposures of a set and stable in others.  Not a reference pixel: an error.
    unstable_ref_at: tuple = ()
    ktc: float = 22.0  # DN, reset noise per pixel per integration
    bias: float = 12000.0  # DN
    dark_current: float = 0.0  # DN/s
    cr_rate: float = 0.0  # cosmic-ray hits per active pixel per group (flight: ~0.001)
    cr_amplitude: tuple[float, float] = (20.0, 3000.0)  # DN, log-uniform; the jump persists
    hot_fraction: float = 0.0  # fraction of active pixels that are hot (flight: ~0.003)
    hot_rate: tuple[float, float] = (2.0, 20000.0)  # their dark current, DN per group, log-uniform
    rts_fraction: float = 0.0  # fraction of active pixels with two-level RTS (flight: ~0.0005)
    rts_amplitude: float = 40.0  # DN between the two levels
    rts_switch: float = 0.05  # probability per frame of changing level
    saturation: float = 65535.0  # raw DN (bias included) at which a sample saturates and stays
    dnu_fraction: float = 0.0  # fraction of active pixels flagged DO_NOT_USE in PIXELDQ
    hot_flag_rate: float = 100.0  # hot pixels at or above this rate (DN/group) get PIXELDQ HOT|DO_NOT_USE

    def outputs(self, name) -> list[float]:
        return _per_output(getattr(self, name))


def pink_series(n: int, alpha: float, rng: np.random.Generator) -> np.ndarray:
    """Zero-mean, unit-rms series of length ``n`` with PSD ~ f^-alpha (no DC term)."""
    from scipy.fft import irfft, next_fast_len

    m = next_fast_len(n, real=True)  # a length with small prime factors; the tail is dropped
    nf = m // 2 + 1
    f = np.arange(nf, dtype=np.float64)
    scale = np.zeros(nf)
    scale[1:] = f[1:] ** (-alpha / 2.0)
    spec = scale * (rng.standard_normal(nf) + 1j * rng.standard_normal(nf))
    x = irfft(spec, m)[:n]
    x -= x.mean()
    x /= x.std()
    return x


def _series_frames(series: np.ndarray, layout: Layout, nframes: int) -> np.ndarray:
    """Cut a pixel-clock series into (nframes, ny, channel_width) images in read order."""
    fc, rc = layout.frame_clocks, layout.row_clocks
    body = series[: nframes * fc].reshape(nframes, fc)[:, : layout.ny * rc]
    return body.reshape(nframes, layout.ny, rc)[:, :, : layout.channel_width]


def cds_rms(frames: np.ndarray, remove_median: bool = True) -> float:
    """DN rms of consecutive differences of (nframes, ny, w) images, optionally per-frame median removed.

    A single frame has no difference: its rms is returned instead, so a 1-group ramp still scales.
    """
    if frames.shape[0] < 2:
        return float(np.sqrt(np.mean(frames**2)))
    d = np.diff(frames, axis=0)
    if remove_median:
        d = d - np.median(d, axis=(-2, -1), keepdims=True)
    return float(np.sqrt(np.mean(d**2)))


def subarray_layout(detector: str, subarray: str) -> Layout:
    xsize, ysize, xstart, ystart, nout = SUBARRAY_SHAPES[subarray]
    return Layout(detector, nx=xsize, ny=ysize, xstart=xstart, ystart=ystart, noutputs=nout)


# -- the noise model, step by step -------------------------------------------------------------------
def _white_map(layout: Layout, spec: NoiseSpec, refmask: np.ndarray, rng) -> tuple[np.ndarray, int]:
    """Per-pixel white noise (DN per read, science orientation) and the number of noisy pixels."""
    white = spec.outputs("white_read")
    sigma = np.empty((layout.ny, layout.nx), np.float32)
    for a in layout.amps():
        n = (layout.ny, a.x1 - a.x0)
        sigma[:, a.x0:a.x1] = white[a.output] * np.exp(spec.white_spread * rng.standard_normal(n))
        ref_cols = refmask[:, a.x0:a.x1]
        # Reference pixels: lower, more uniform white noise.
        ref_sigma = spec.ref_ratio * white[a.output] * np.exp(0.03 * rng.standard_normal(n))
        sigma[:, a.x0:a.x1][ref_cols] = ref_sigma[ref_cols]
    active_idx = np.flatnonzero(~refmask.ravel())
    n_noisy = int(round(spec.noisy_fraction * active_idx.size))
    noisy = rng.choice(active_idx, n_noisy, replace=False)
    sigma.ravel()[noisy] *= rng.uniform(3.0, 8.0, n_noisy).astype(np.float32)
    return sigma, n_noisy


def _unstable_refs(spec: NoiseSpec, sigma: np.ndarray, refmask: np.ndarray, rng):
    """Flat indices of the individually unstable reference pixels (drawn ones and
    ``spec.unstable_ref_at``) and their extra noise map."""
    ref_idx = np.flatnonzero(refmask.ravel())
    unstable = np.sort(rng.choice(ref_idx, min(spec.unstable_ref_pixels, ref_idx.size), replace=False))
    if len(spec.unstable_ref_at):
        at = np.asarray(spec.unstable_ref_at, np.int64).reshape(-1, 2)
        ny, nx = refmask.shape
        if ((at < 0) | (at >= [ny, nx])).any() or not refmask[at[:, 0], at[:, 1]].all():
            raise ValueError(f"unstable_ref_at: every (y, x) must be a reference pixel of the {ny}x{nx} frame")
        unstable = np.union1d(unstable, at[:, 0] * nx + at[:, 1])
    extra = np.zeros(sigma.size, np.float32)
    extra[unstable] = spec.unstable_factor * sigma.ravel()[unstable]
    return unstable, extra.reshape(sigma.shape)


def _bias_map(layout: Layout, spec: NoiseSpec, rng) -> np.ndarray:
    amps = layout.amps()
    bias_amp = {a.output: spec.bias + 300.0 * rng.standard_normal() for a in amps}
    bias_pix = np.empty((layout.ny, layout.nx), np.float32)
    for a in amps:
        bias_pix[:, a.x0:a.x1] = bias_amp[a.output] + 200.0 * rng.standard_normal((layout.ny, a.x1 - a.x0))
    return bias_pix


@dataclass
class _OnefStats:
    """What the injected 1/f came out as, per integration (``None``: the correlated series)."""

    cds: dict = field(default_factory=dict)
    raw: dict = field(default_factory=dict)
    group: dict = field(default_factory=dict)

    def add(self, key, target, s, fr, readout):
        self.cds.setdefault(key, []).append(target)
        self.raw.setdefault(key, []).append(s * cds_rms(fr, remove_median=False))
        if readout.nframes == 1 and readout.groupgap == 0:
            self.group.setdefault(key, []).append(target)
        else:
            idx = np.concatenate([readout.defects.group_frames(g) for g in range(readout.ngroups)])
            groups = fr[idx].reshape(readout.ngroups, readout.nframes, *fr.shape[1:]).mean(axis=1)
            self.group.setdefault(key, []).append(s * cds_rms(groups))

    def mean(self, which: str, key) -> float:
        vals = getattr(self, which).get(key)
        return float(np.mean(vals)) if vals else 0.0


def _onef_series(layout: Layout, spec: NoiseSpec, readout, rng, stats: _OnefStats) -> list:
    """One integration's 1/f: [(output slot or None for all, scale, (frames, ny, w) unit series)]."""
    nfr = readout.defects.frames_per_integration
    nclock = nfr * layout.frame_clocks
    comps = []
    if spec.corr_1f > 0:
        fr = _series_frames(pink_series(nclock, spec.corr_alpha, rng), layout, nfr)
        s = spec.corr_1f / cds_rms(fr)
        stats.add(None, spec.corr_1f, s, fr, readout)
        comps.append((None, s, fr))
    unc = spec.outputs("unc_1f")
    for j, k in enumerate(a.output for a in sorted(layout.amps(), key=lambda a: a.output)):
        if unc[k] > 0:
            fr = _series_frames(pink_series(nclock, spec.unc_alpha, rng), layout, nfr)
            s = unc[k] / cds_rms(fr)
            stats.add(k, unc[k], s, fr, readout)
            comps.append((j, s, fr))
    return comps


def _onef_frame(layout: Layout, comps: list, i: int) -> np.ndarray:
    chan = np.zeros((layout.noutputs, layout.ny, layout.channel_width), np.float32)
    for j, s, fr in comps:
        if j is None:
            chan += (s * fr[i])[None].astype(np.float32)
        else:
            chan[j] += (s * fr[i]).astype(np.float32)
    return layout.from_channel_images(chan)


class _Readout:
    """Reads the frames of each integration in time order and averages them into groups."""

    def __init__(self, layout, spec, ngroups, nints, nframes, groupgap, seed, rng):
        self.layout, self.spec, self.ngroups, self.nints = layout, spec, ngroups, nints
        self.nframes, self.groupgap, self.rng = nframes, groupgap, rng
        self.refmask = layout.reference_mask()
        self.sigma, self.n_noisy = _white_map(layout, spec, self.refmask, rng)
        self.unstable, self.unstable_extra = _unstable_refs(spec, self.sigma, self.refmask, rng)
        self.out_of_col = np.empty(layout.nx, int)
        for a in layout.amps():
            self.out_of_col[a.x0:a.x1] = a.output
        self.inst = np.array(_per_output(spec.ref_instability, 4))
        self.inst_offsets = []  # per integration: (frames, 4) DN offsets of the reference pixels
        self.bias = _bias_map(layout, spec, rng)
        self.active_idx = np.flatnonzero(~self.refmask.ravel())
        self.defects: Defects = draw_defects(spec, self.active_idx, nints, ngroups, nframes, groupgap, seed)
        self.sat = float(min(round(spec.saturation), 65535))
        ny, nx, npix = layout.ny, layout.nx, self.defects.pixels.size
        self.data = np.empty((nints, ngroups, ny, nx), np.uint16)
        self.clean_at = np.empty((nints, ngroups, npix), np.uint16)  # the clean twin on the defects
        self.partial_clean, self.partial_defect = [], []  # [it, g, flat] rows
        self.onef = _OnefStats()

    def frame(self, reset, comps, i):
        """Frame ``i`` of an integration, float32 DN (without the defects)."""
        spec, rng, (ny, nx) = self.spec, self.rng, (self.layout.ny, self.layout.nx)
        frame = reset + self.sigma * rng.standard_normal((ny, nx), dtype=np.float32)
        if comps:
            frame += _onef_frame(self.layout, comps, i)
        frame += np.float32(spec.dark_current * self.layout.frame_time * (i + 1))
        if np.any(self.inst > 0):
            # One offset per output and frame, seen only by that output's reference pixels.
            z = rng.standard_normal(4).astype(np.float32)
            if i == 0:
                self.inst_offsets.append([])
            self.inst_offsets[-1].append(self.inst * z)
            oc = self.out_of_col
            frame += np.where(self.refmask, (self.inst[oc] * z[oc])[None, :], 0.0).astype(np.float32)
        if self.unstable.size:
            frame += self.unstable_extra * rng.standard_normal((ny, nx), dtype=np.float32)
        return frame

    def integration(self, it: int):
        ny, nx = self.layout.ny, self.layout.nx
        reset = self.bias + self.spec.ktc * self.rng.standard_normal((ny, nx)).astype(np.float32)
        comps = _onef_series(self.layout, self.spec, self, self.rng, self.onef)
        d, pix, hi, nf = self.defects, self.defects.pixels, self.sat, self.nframes
        for i in range(d.frames_per_integration):
            frame = self.frame(reset, comps, i)
            g, k = divmod(i, nf + self.groupgap)
            if k >= nf:
                continue  # a dropped frame: nothing is kept, but 1/f, dark current and the defects run on
            dv = frame.ravel()[pix] + d.add(it, i) if pix.size else None
            if nf == 1:
                self.data[it, g] = np.clip(np.rint(frame), 0, hi).astype(np.uint16)
                if pix.size:
                    self._put_defects(it, g, np.rint(np.clip(dv, 0, hi)), None)
                continue
            if k == 0:
                acc, acc_d = np.zeros((ny, nx)), np.zeros(pix.size)
                hit, hit_d = np.zeros((ny, nx), bool), np.zeros(pix.size, bool)
            acc += np.clip(frame, 0, hi)
            hit |= frame >= hi
            if pix.size:
                acc_d += np.clip(dv, 0, hi)
                hit_d |= dv >= hi
            if k == nf - 1:
                self.data[it, g] = np.clip(np.rint(acc / nf), 0, hi).astype(np.uint16)
                self._note_partial(self.partial_clean, it, g, np.flatnonzero(hit & (self.data[it, g] < hi)))
                if pix.size:
                    self._put_defects(it, g, np.clip(np.rint(acc_d / nf), 0, hi), hit_d)

    def _put_defects(self, it, g, values, hit_d):
        """Group ``g``: keep the clean values on the defect pixels, then write the contaminated ones."""
        flat, pix = self.data[it, g].reshape(-1), self.defects.pixels
        self.clean_at[it, g] = flat[pix]
        flat[pix] = values.astype(np.uint16)
        if hit_d is not None:
            self._note_partial(self.partial_defect, it, g, pix[hit_d & (values < self.sat)])

    @staticmethod
    def _note_partial(rows, it, g, flat):
        if flat.size:
            rows.append(np.column_stack([np.full(flat.size, it), np.full(flat.size, g), flat]))


def _realized_instability(r: _Readout) -> list[float | None]:
    """Per detector output: rms (DN per group) of the injected reference offsets, group-averaged,
    about a straight line over the groups of each integration (G - 2 dof per integration): what
    an estimator that removes each pixel's ramp can see of the injected instability in these
    very frames (the spec's value is its expectation).  None with fewer than 3 groups."""
    if r.ngroups < 3:
        return [None] * 4
    if not r.inst_offsets:
        return [0.0] * 4
    ss = np.zeros(4)
    for offs in r.inst_offsets:
        o = np.asarray(offs, np.float64)
        g = np.stack([o[list(r.defects.group_frames(k))].mean(axis=0) for k in range(r.ngroups)])
        t = np.arange(r.ngroups) - (r.ngroups - 1) / 2
        res = g - g.mean(axis=0) - np.outer(t, (t[:, None] * (g - g.mean(axis=0))).sum(axis=0) / (t**2).sum())
        ss += (res**2).sum(axis=0)
    return [float(v) for v in np.sqrt(ss / (len(r.inst_offsets) * (r.ngroups - 2)))]


def _amp_truth(r: _Readout) -> list[dict]:
    active, refmask, sigma = ~r.refmask, r.refmask, r.sigma
    gfac = np.sqrt(2.0 / r.nframes)
    realized = _realized_instability(r)
    out = []
    for a in r.layout.amps():
        sl = (slice(None), slice(a.x0, a.x1))
        s_act = sigma[sl][active[sl]].astype(np.float64)
        s_ref = sigma[sl][refmask[sl]]
        med = float(np.median(sigma[sl][active[sl]]))
        out.append({
            "amp": a.index, "x0": a.x0, "x1": a.x1, "output": a.output,
            "white_read_median": med,
            "white_read_rms": float(np.sqrt(np.mean(s_act ** 2))),
            "white_cds_median": float(np.sqrt(2) * np.median(sigma[sl][active[sl]])),
            "white_cds_mean": float(np.sqrt(2) * np.mean(s_act)),
            "white_cds_rms": float(np.sqrt(2 * np.mean(s_act ** 2))),
            "ref_white_read_median": float(np.median(s_ref)) if s_ref.size else None,
            "ref_active_white_ratio": (float(np.median(s_ref) / np.median(sigma[sl][active[sl]]))
                                       if s_ref.size and med > 0 else None),
            "uncorrelated_1f_cds": r.onef.mean("cds", a.output),
            "uncorrelated_1f_cds_raw": r.onef.mean("raw", a.output),
            "ref_instability_read": float(r.inst[a.output]),
            "ref_instability_realized": realized[a.output],
            "white_group_cds_median": float(gfac * med),
            "white_group_cds_mean": float(gfac * np.mean(s_act)),
            "white_group_cds_rms": float(gfac * np.sqrt(np.mean(s_act ** 2))),
            "uncorrelated_1f_group_cds": r.onef.mean("group", a.output),
        })
    return out


def _truth(r: _Readout, detector, subarray, seed, readpatt) -> dict:
    layout, (nints, ngroups, ny, nx) = r.layout, r.data.shape
    uy, ux = np.unravel_index(r.unstable, (ny, nx))
    tframe = layout.frame_time
    return {
        "detector": detector,
        "subarray": subarray,
        "shape": [nints, ngroups, ny, nx],
        "seed": seed,
        "x_flip": detector_flips(detector)[0],
        "y_flip": detector_flips(detector)[1],
        "units": "DN; *_read per read, *_cds in one CDS frame (difference of consecutive groups)",
        "spec": asdict(r.spec),
        "correlated_1f_cds": r.onef.mean("cds", None),
        "correlated_1f_cds_raw": r.onef.mean("raw", None),
        "amps": _amp_truth(r),
        "noisy_pixels": int(r.n_noisy),
        "unstable_ref_pixels": [[int(y), int(x)] for y, x in zip(uy, ux)],
        "readout": ("*_read and *_cds are per single frame (a CDS of two consecutive frames; for RAPID "
                    "of two groups); *_group_cds in a difference of two consecutive groups of this "
                    "pattern (white: per-frame white x sqrt(2 / nframes)); uint16 rounding adds 1/12 "
                    "DN^2 per group on top"),
        "readpatt": str(readpatt).upper(),
        "nframes": r.nframes,
        "groupgap": r.groupgap,
        "tframe": tframe,
        "tgroup": (r.nframes + r.groupgap) * tframe,
        "frames_per_integration": r.defects.frames_per_integration,
        "white_group_cds_factor": float(np.sqrt(2.0 / r.nframes)),
        "correlated_1f_group_cds": r.onef.mean("group", None),
        "saturation_dn": r.sat,
    }


def simulate(
    detector: str,
    ngroups: int = 10,
    nints: int = 1,
    subarray: str = "FULL",
    spec: NoiseSpec | None = None,
    seed: int = 0,
    readpatt: str = "RAPID",
) -> Simulation:
    """Simulate one exposure in readout pattern ``readpatt``, defects and clean twin included."""
    spec = spec or NoiseSpec()
    detector = normalize_detector(detector)
    nframes, groupgap = read_pattern(readpatt)
    layout = subarray_layout(detector, subarray)
    r = _Readout(layout, spec, ngroups, nints, nframes, groupgap, seed, np.random.default_rng(seed))
    for it in range(nints):
        r.integration(it)
    pdq = pixel_dq(spec, r.refmask, r.defects, r.active_idx, seed)
    sim = Simulation(r.data, _truth(r, detector, subarray, seed, readpatt), layout, r.bias, pdq, r.defects,
                     r.clean_at, stack_rows(r.partial_clean), stack_rows(r.partial_defect), r.sat)
    sim.truth["defects"] = defect_truth(sim, r.defects, clean=False)
    return sim


def simulate_ramp(
    detector: str,
    ngroups: int = 10,
    nints: int = 1,
    subarray: str = "FULL",
    spec: NoiseSpec | None = None,
    seed: int = 0,
    readpatt: str = "RAPID",
) -> tuple[np.ndarray, dict, Layout]:
    """Simulate one exposure.  Returns (uint16 SCI array (nints, ngroups, ny, nx), truth, layout)."""
    sim = simulate(detector, ngroups, nints, subarray, spec, seed, readpatt)
    return sim.data, sim.truth, sim.layout


@dataclass
class SimulatedExposure:
    path: Path
    truth: dict = field(default_factory=dict)
    twin: Path | None = None  # the clean twin, when written


def _write(sim: Simulation, path: Path, kind: str, clean: bool, subarray: str, readpatt: str,
           start_mjd: float, flag_jumps: bool, bias_subtracted: bool) -> Path:
    data = sim.clean() if clean else sim.data
    if kind == "uncal":
        return write_uncal(path, data, sim.layout, subarray, readpatt=readpatt, start_mjd=start_mjd)
    return write_ramp_model(path, data, sim.layout, subarray, readpatt=readpatt,
                            groupdq=sim.groupdq(clean, flag_jumps), pixeldq=sim.pixeldq, superbias=sim.bias,
                            bias_subtracted=bias_subtracted, steps={"jump": "COMPLETE"} if flag_jumps else None,
                            start_mjd=start_mjd)


def simulate_exposure(
    path: Path,
    detector: str,
    ngroups: int = 10,
    nints: int = 1,
    subarray: str = "FULL",
    spec: NoiseSpec | None = None,
    seed: int = 0,
    start_mjd: float = 60000.0,
    readpatt: str = "RAPID",
    kind: str = "uncal",
    twin: bool = False,
    flag_jumps: bool = False,
    bias_subtracted: bool = True,
) -> SimulatedExposure:
    """Simulate one exposure, write it and its truth JSON (``<name>_truth.json``) beside it.

    ``kind="uncal"``: a level-1b raw file; ``kind="ramp"``: a RampModel ``*_linearitystep.fits``
    (an ``_uncal.fits`` name is renamed so) with GROUPDQ / PIXELDQ, SCI bias-subtracted unless
    ``bias_subtracted=False``, JUMP_DET at the cosmic rays with ``flag_jumps``.  ``twin=True`` also
    writes the clean twin ``<name>_clean.fits`` (and its truth): the same noise, no defects.
    """
    if kind not in ("uncal", "ramp"):
        raise ValueError(f"kind must be 'uncal' or 'ramp', not {kind!r}")
    sim = simulate(detector, ngroups, nints, subarray, spec, seed, readpatt)
    path = ramp_path(path) if kind == "ramp" else Path(path)
    extra = {"file": path.name, "start_mjd": start_mjd, "kind": kind}
    if kind == "ramp":
        extra.update(bias_subtracted=bias_subtracted, jumps_flagged=flag_jumps)
    truth = dict(sim.truth, **extra)
    made = SimulatedExposure(path, truth)
    if twin:
        made.twin = twin_path(path)
        truth["clean_twin"] = made.twin.name
        t = dict(sim.clean_truth(), **dict(extra, file=made.twin.name), clean_twin_of=path.name)
        _write(sim, made.twin, kind, True, subarray, readpatt, start_mjd, flag_jumps, bias_subtracted)
        truth_path(made.twin).write_text(dump_truth(t))
    _write(sim, path, kind, False, subarray, readpatt, start_mjd, flag_jumps, bias_subtracted)
    truth_path(path).write_text(dump_truth(truth))
    return made


def exposure_name(detector: str, index: int, visit: int = 1) -> str:
    det = normalize_detector(detector).lower()
    return f"jw01234{visit:03d}001_01101_{index:05d}_{det}_uncal.fits"


def simulate_set(
    out: Path,
    detectors=("NRCA1",),
    nfiles: int = 2,
    ngroups: int = 10,
    nints: int = 1,
    subarray: str = "FULL",
    spec: NoiseSpec | None = None,
    seed: int = 0,
    start_mjd: float = 60000.0,
    visit: int = 1,
    progress=None,
    **kw,
) -> list[SimulatedExposure]:
    """Simulate ``nfiles`` exposures per detector into ``out``; exposures are 1 hour apart.

    ``kw`` goes to :func:`simulate_exposure` (``readpatt``, ``kind``, ``twin``, ...)."""
    out = Path(out)
    made = []
    total = len(detectors) * nfiles
    for d_i, det in enumerate(detectors):
        for i in range(nfiles):
            n = d_i * nfiles + i
            path = out / exposure_name(det, i + 1, visit)
            made.append(simulate_exposure(
                path, det, ngroups, nints, subarray, spec,
                seed=seed * 1000 + n, start_mjd=start_mjd + i / 24.0, **kw,
            ))
            if progress:
                progress(n + 1, total, path.name)
    return made


def make_demo(out: Path, progress=None) -> Path:
    """The demo data set for ``make run``: two detectors of different flip kind, two epochs.

    ``ground/``: CV3-like noise; ``flight/``: more correlated 1/f, a noisier output on NRCB1 and
    reference-pixel instability on NRCA1, so every section has something to compare.
    """
    out = Path(out)
    ground = NoiseSpec(white_read=[4.6, 4.9, 4.4, 5.1], corr_1f=4.0, unc_1f=[1.4, 1.2, 1.6, 1.3],
                       ref_ratio=0.85, unstable_ref_pixels=4)
    flight_a = NoiseSpec(white_read=[4.7, 5.0, 4.5, 5.2], corr_1f=5.5, unc_1f=[1.5, 1.3, 1.7, 1.4],
                         ref_ratio=0.85, ref_instability=[0.0, 1.5, 0.0, 0.0], unstable_ref_pixels=6)
    flight_b = NoiseSpec(white_read=[4.7, 5.8, 4.5, 5.2], corr_1f=5.5, unc_1f=[1.5, 2.6, 1.7, 1.4],
                         ref_ratio=0.85, unstable_ref_pixels=6)
    jobs = [
        ("ground", "NRCA1", ground, 59000.0, 1),
        ("ground", "NRCB1", ground, 59000.2, 1),
        ("flight", "NRCA1", flight_a, 60000.0, 2),
        ("flight", "NRCB1", flight_b, 60000.2, 2),
    ]
    for j, (epoch, det, spec, mjd, visit) in enumerate(jobs):
        simulate_set(out / epoch, (det,), nfiles=3, ngroups=10, spec=spec, seed=j + 1,
                     start_mjd=mjd, visit=visit,
                     progress=(lambda n, t, name, j=j: progress(j * 3 + n, 12, name)) if progress else None)
    (out / "README.txt").write_text(
        "Simulated NIRCam darks made by `python -m core demo`; each *_truth.json holds the injected noise.\n"
    )
    return out


__all__ = [
    "FULL_SIZE", "NoiseSpec", "PIXEL_TIME_S", "READ_PATTERNS", "SUBARRAY_SHAPES", "SimulatedExposure",
    "Simulation", "dump_truth", "make_demo", "pink_series", "simulate", "simulate_exposure", "simulate_ramp",
    "simulate_set", "subarray_layout", "write_ramp_model", "write_uncal",
]
