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
* kTC (reset) noise and bias offsets per integration (they cancel in group differences).

1/f amplitudes are specified, and reported in the truth, as **DN rms in one CDS frame** (a
difference of two consecutive groups), measured over the output's pixels after removing that CDS
frame's median per output -- the quantity the 1/f analysis reports.  ``*_raw`` truth values are
the same without the median removal (what a per-pixel temporal readnoise sees).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from core.io.geometry import FULL_SIZE, PIXEL_TIME_S, Layout, detector_flips, normalize_detector

SUBARRAY_SHAPES = {
    # name: (xsize, ysize, xstart, ystart, noutputs), science orientation, 1-based starts
    "FULL": (2048, 2048, 1, 1, 4),
    "SUBGRISM256": (2048, 256, 1, 1, 4),
    "SUBGRISM128": (2048, 128, 1, 1, 4),
    "SUBGRISM64": (2048, 64, 1, 1, 4),
    "SUB640": (640, 640, 1, 1, 1),
    "SUB320": (320, 320, 1, 1, 1),
    "SUB160": (160, 160, 1, 1, 1),
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
    """Injected noise.  Per-output values are indexed by detector output 0-3 (or one value)."""

    white_read: float | list[float] = 5.0  # median per-pixel white noise, DN per read
    white_spread: float = 0.08  # lognormal sigma of the per-pixel white noise map
    noisy_fraction: float = 0.001  # fraction of active pixels with 3-8x the white noise
    corr_1f: float = 0.0  # correlated 1/f, DN rms in a CDS frame
    unc_1f: float | list[float] = 0.0  # per-output 1/f, DN rms in a CDS frame
    corr_alpha: float = 1.0  # PSD ~ f^-alpha
    unc_alpha: float = 1.0
    ref_ratio: float = 0.85  # reference / active white noise
    ref_instability: float | list[float] = 0.0  # DN rms per read, offset per frame on refpix only
    unstable_ref_pixels: int = 0  # number of individually unstable reference pixels
    unstable_factor: float = 8.0  # their extra noise, in units of their white noise
    ktc: float = 22.0  # DN, reset noise per pixel per integration
    bias: float = 12000.0  # DN
    dark_current: float = 0.0  # DN/s

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


@dataclass
class SimulatedExposure:
    path: Path
    truth: dict = field(default_factory=dict)


def simulate_ramp(
    detector: str,
    ngroups: int = 10,
    nints: int = 1,
    subarray: str = "FULL",
    spec: NoiseSpec | None = None,
    seed: int = 0,
) -> tuple[np.ndarray, dict, Layout]:
    """Simulate one exposure.  Returns (uint16 SCI array (nints, ngroups, ny, nx), truth, layout)."""
    spec = spec or NoiseSpec()
    detector = normalize_detector(detector)
    xsize, ysize, xstart, ystart, nout = SUBARRAY_SHAPES[subarray]
    layout = Layout(detector, nx=xsize, ny=ysize, xstart=xstart, ystart=ystart, noutputs=nout)
    rng = np.random.default_rng(seed)
    ny, nx = layout.ny, layout.nx
    amps = layout.amps()
    refmask = layout.reference_mask()

    # Per-pixel white noise map (science orientation), per output.
    white = spec.outputs("white_read")
    sigma = np.empty((ny, nx), np.float32)
    for a in amps:
        n = (ny, a.x1 - a.x0)
        sigma[:, a.x0:a.x1] = white[a.output] * np.exp(spec.white_spread * rng.standard_normal(n))
        ref_cols = refmask[:, a.x0:a.x1]
        # Reference pixels: lower, more uniform white noise.
        ref_sigma = spec.ref_ratio * white[a.output] * np.exp(0.03 * rng.standard_normal(n))
        sigma[:, a.x0:a.x1][ref_cols] = ref_sigma[ref_cols]
    active_idx = np.flatnonzero(~refmask.ravel())
    n_noisy = int(round(spec.noisy_fraction * active_idx.size))
    noisy = rng.choice(active_idx, n_noisy, replace=False)
    sigma.ravel()[noisy] *= rng.uniform(3.0, 8.0, n_noisy).astype(np.float32)

    ref_idx = np.flatnonzero(refmask.ravel())
    unstable = np.sort(rng.choice(ref_idx, min(spec.unstable_ref_pixels, ref_idx.size), replace=False))
    unstable_extra = np.zeros(ny * nx, np.float32)
    unstable_extra[unstable] = spec.unstable_factor * sigma.ravel()[unstable]
    unstable_extra = unstable_extra.reshape(ny, nx)

    out_of_col = np.empty(nx, int)
    for a in amps:
        out_of_col[a.x0:a.x1] = a.output
    inst = np.array(_per_output(spec.ref_instability, 4))

    corr_target = spec.corr_1f
    unc_target = spec.outputs("unc_1f")
    nclock = ngroups * layout.frame_clocks
    outputs = [a.output for a in sorted(amps, key=lambda a: a.output)]
    rms_corr, rms_corr_raw = [], []
    rms_unc = {k: [] for k in outputs}
    rms_unc_raw = {k: [] for k in outputs}

    bias_amp = {a.output: spec.bias + 300.0 * rng.standard_normal() for a in amps}
    bias_pix = np.empty((ny, nx), np.float32)
    for a in amps:
        bias_pix[:, a.x0:a.x1] = bias_amp[a.output] + 200.0 * rng.standard_normal((ny, a.x1 - a.x0))

    data = np.empty((nints, ngroups, ny, nx), np.uint16)
    t_group = layout.frame_time
    for it in range(nints):
        reset = bias_pix + spec.ktc * rng.standard_normal((ny, nx)).astype(np.float32)
        onef_chan = np.zeros((ngroups, layout.noutputs, ny, layout.channel_width), np.float32)
        if corr_target > 0:
            fr = _series_frames(pink_series(nclock, spec.corr_alpha, rng), layout, ngroups)
            s = corr_target / cds_rms(fr)
            rms_corr.append(corr_target)
            rms_corr_raw.append(s * cds_rms(fr, remove_median=False))
            onef_chan += (s * fr)[:, None].astype(np.float32)
        for j, k in enumerate(outputs):
            if unc_target[k] > 0:
                fr = _series_frames(pink_series(nclock, spec.unc_alpha, rng), layout, ngroups)
                s = unc_target[k] / cds_rms(fr)
                rms_unc[k].append(unc_target[k])
                rms_unc_raw[k].append(s * cds_rms(fr, remove_median=False))
                onef_chan[:, j] += (s * fr).astype(np.float32)
        onef = layout.from_channel_images(onef_chan)
        for g in range(ngroups):
            frame = reset + sigma * rng.standard_normal((ny, nx), dtype=np.float32) + onef[g]
            frame += np.float32(spec.dark_current * t_group * (g + 1))
            if np.any(inst > 0):
                # One offset per output and frame, seen only by that output's reference pixels.
                z = rng.standard_normal(4).astype(np.float32)
                frame += np.where(refmask, (inst[out_of_col] * z[out_of_col])[None, :], 0.0).astype(np.float32)
            if unstable.size:
                frame += unstable_extra * rng.standard_normal((ny, nx), dtype=np.float32)
            data[it, g] = np.clip(np.rint(frame), 0, 65535).astype(np.uint16)

    # Truth, per science amp (with its output).
    act_rows, act_cols = layout.active_slices()
    active = ~refmask
    amp_truth = []
    for a in amps:
        sl = (slice(None), slice(a.x0, a.x1))
        s_act = sigma[sl][active[sl]]
        s_ref = sigma[sl][refmask[sl]]
        unc = float(np.mean(rms_unc[a.output])) if rms_unc[a.output] else 0.0
        unc_raw = float(np.mean(rms_unc_raw[a.output])) if rms_unc_raw[a.output] else 0.0
        amp_truth.append({
            "amp": a.index, "x0": a.x0, "x1": a.x1, "output": a.output,
            "white_read_median": float(np.median(s_act)),
            "white_read_rms": float(np.sqrt(np.mean(s_act.astype(np.float64) ** 2))),
            "white_cds_median": float(np.sqrt(2) * np.median(s_act)),
            "white_cds_mean": float(np.sqrt(2) * np.mean(s_act.astype(np.float64))),
            "white_cds_rms": float(np.sqrt(2 * np.mean(s_act.astype(np.float64) ** 2))),
            "ref_white_read_median": float(np.median(s_ref)) if s_ref.size else None,
            "ref_active_white_ratio": (float(np.median(s_ref) / np.median(s_act))
                                       if s_ref.size and np.median(s_act) > 0 else None),
            "uncorrelated_1f_cds": unc,
            "uncorrelated_1f_cds_raw": unc_raw,
            "ref_instability_read": float(inst[a.output]),
        })
    uy, ux = np.unravel_index(unstable, (ny, nx))
    truth = {
        "detector": detector,
        "subarray": subarray,
        "shape": [nints, ngroups, ny, nx],
        "seed": seed,
        "x_flip": detector_flips(detector)[0],
        "y_flip": detector_flips(detector)[1],
        "units": "DN; *_read per read, *_cds in one CDS frame (difference of consecutive groups)",
        "spec": asdict(spec),
        "correlated_1f_cds": float(np.mean(rms_corr)) if rms_corr else 0.0,
        "correlated_1f_cds_raw": float(np.mean(rms_corr_raw)) if rms_corr_raw else 0.0,
        "amps": amp_truth,
        "noisy_pixels": int(n_noisy),
        "unstable_ref_pixels": [[int(y), int(x)] for y, x in zip(uy, ux)],
    }
    return data, truth, layout


def write_uncal(
    path: Path,
    data: np.ndarray,
    layout: Layout,
    subarray: str,
    readpatt: str = "RAPID",
    start_mjd: float = 60000.0,
    program: str = "01234",
) -> Path:
    """Write a DMS level-1b ``*_uncal.fits`` through stdatamodels' Level1bModel."""
    from astropy.time import Time
    from stdatamodels.jwst import datamodels

    nints, ngroups, ny, nx = data.shape
    det = layout.detector
    m = datamodels.Level1bModel()
    m.data = data
    meta = m.meta
    meta.telescope = "JWST"
    meta.instrument.name = "NIRCAM"
    meta.instrument.detector = det
    meta.instrument.module = det[3]
    meta.instrument.channel = "LONG" if det.endswith("LONG") else "SHORT"
    meta.instrument.filter = "F210M" if meta.instrument.channel == "SHORT" else "F360M"
    meta.instrument.pupil = "CLEAR"
    meta.exposure.type = "NRC_DARK"
    meta.exposure.readpatt = readpatt
    meta.exposure.ngroups = ngroups
    meta.exposure.nints = nints
    meta.exposure.nframes = 1
    meta.exposure.groupgap = 0
    meta.exposure.noutputs = layout.noutputs
    meta.exposure.frame_time = layout.frame_time
    meta.exposure.group_time = layout.frame_time
    meta.exposure.integration_time = layout.frame_time * ngroups
    meta.exposure.start_time = start_mjd
    meta.exposure.end_time = start_mjd + nints * ngroups * layout.frame_time / 86400.0
    t = Time(start_mjd, format="mjd")
    meta.observation.date = t.strftime("%Y-%m-%d")
    meta.observation.time = t.strftime("%H:%M:%S.%f")[:12]
    meta.observation.program_number = program
    meta.subarray.name = subarray
    meta.subarray.xstart = layout.xstart
    meta.subarray.ystart = layout.ystart
    meta.subarray.xsize = nx
    meta.subarray.ysize = ny
    meta.subarray.fastaxis = layout.fastaxis
    meta.subarray.slowaxis = layout.slowaxis
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    m.save(path, overwrite=True)
    m.close()
    return path


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
) -> SimulatedExposure:
    """Simulate one exposure, write it and its truth JSON (``<name>_truth.json``) beside it."""
    data, truth, layout = simulate_ramp(detector, ngroups, nints, subarray, spec, seed)
    path = Path(path)
    write_uncal(path, data, layout, subarray, readpatt=readpatt, start_mjd=start_mjd)
    truth["file"] = path.name
    truth["start_mjd"] = start_mjd
    truth_path = path.with_name(path.name.replace(".fits", "") + "_truth.json")
    truth_path.write_text(json.dumps(truth, indent=1))
    return SimulatedExposure(path, truth)


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
) -> list[SimulatedExposure]:
    """Simulate ``nfiles`` exposures per detector into ``out``; exposures are 1 hour apart."""
    out = Path(out)
    made = []
    total = len(detectors) * nfiles
    for d_i, det in enumerate(detectors):
        for i in range(nfiles):
            n = d_i * nfiles + i
            path = out / exposure_name(det, i + 1, visit)
            made.append(simulate_exposure(
                path, det, ngroups, nints, subarray, spec,
                seed=seed * 1000 + n, start_mjd=start_mjd + i / 24.0,
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
    "FULL_SIZE", "NoiseSpec", "PIXEL_TIME_S", "SUBARRAY_SHAPES", "make_demo", "pink_series",
    "simulate_exposure", "simulate_ramp", "simulate_set", "write_uncal",
]
