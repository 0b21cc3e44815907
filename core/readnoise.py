"""Readnoise maps with jwst_reffiles ``make_readnoise`` (the reference engine) and their statistics.

Units: every map here is the **CDS noise in DN** -- the standard deviation of a difference of two
groups, as jwst_reffiles writes it (no division by sqrt(2)).  The per-read noise is CDS / sqrt(2).

jwst_reffiles 1.0.1 is called as is, behind guards for its known failures:

* odd NGROUPS with ``independent`` differences raises a broadcast error -> we give it copies of the
  files without their last group, and say so;
* too few group differences (NGROUPS=2 with ``ramp`` gives an all-zero map) -> such files are left
  out with a note, or the run is refused with a message before it runs when no file remains;
* NaN and saturated (65535 DN) samples, which it uses as they are -> counted in one stripe pass and
  reported in the notes;
* pixels NaN in every sample come out 0.0 -> we set them back to NaN;
* files of different shapes raise -> the caller groups files by geometry first
  (:func:`core.inventory.group_by_detector`);
* an exception inside its ``Pool`` leaves the pool open -> we hand it a pool that we always close.

The estimator is biased low (about 0.92 of the true CDS noise with 10 samples per pixel, 0.97 with
50): see :func:`expected_clipped_std_factor`.
"""

from __future__ import annotations

import contextlib
import functools
import io
import multiprocessing.pool
import tempfile
import threading
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .errors import InputError, ParameterError
from .geometry import Layout
from .ramps import GROUP_DIFF_TYPES, SATURATED_DN, Ramp, n_cds, stripe_rows_for, stripes

METHODS = ("stack", "ramp")
ENGINES = ("reffiles", "native")
UNITS = "DN, CDS"
Progress = Callable[[float, str], None]

# make_readnoise patches module state (its Pool, stdout): one call at a time per process.
_REFFILES_LOCK = threading.Lock()


@dataclass(frozen=True)
class ReadnoiseParams:
    """Parameters of ``make_readnoise`` (same names and defaults)."""

    method: str = "stack"
    group_diff_type: str = "independent"
    clipping_sigma: float = 3.0
    max_clipping_iters: int = 3
    slice_width: int = 50
    single_value: bool = False
    nproc: int = 1
    engine: str = "native"  # "native" (core.native: one pass, jwst_reffiles' numbers) or "reffiles" (jwst_reffiles itself)
    mode: str = "compatible"  # native only: "compatible" (= jwst_reffiles) or "unbiased"
    # native only: None ($DARKS_DASK_SCHEDULER when set, else local), "local", "local-cluster" or
    # "tcp://HOST:PORT" (a running dask scheduler): see core.distributed.  The map does not depend on it.
    scheduler: str | None = None

    def validate(self) -> ReadnoiseParams:
        if self.method not in METHODS:
            raise ParameterError(f"method must be one of {METHODS}, not {self.method!r}")
        if self.group_diff_type not in GROUP_DIFF_TYPES:
            raise ParameterError(f"group_diff_type must be one of {GROUP_DIFF_TYPES}, not {self.group_diff_type!r}")
        if not (np.isfinite(self.clipping_sigma) and self.clipping_sigma > 0):
            raise ParameterError(f"clipping sigma must be > 0, not {self.clipping_sigma}")
        if int(self.max_clipping_iters) < 1:
            raise ParameterError(f"max clipping iterations must be >= 1, not {self.max_clipping_iters}")
        if int(self.slice_width) < 1:
            raise ParameterError(f"slice width must be >= 1 column, not {self.slice_width}")
        if int(self.nproc) < 1:
            raise ParameterError(f"nproc must be >= 1, not {self.nproc}")
        if self.engine not in ENGINES:
            raise ParameterError(f"engine must be one of {ENGINES}, not {self.engine!r}")
        if self.mode not in ("compatible", "unbiased"):
            raise ParameterError(f"mode must be 'compatible' or 'unbiased', not {self.mode!r}")
        if self.engine == "reffiles" and self.mode != "compatible":
            raise ParameterError("the unbiased mode needs the native engine (jwst_reffiles has no such mode)")
        if self.scheduler is not None:
            if self.engine != "native":
                raise ParameterError("a Dask scheduler needs the native engine (jwst_reffiles runs only locally)")
            from .distributed import check_scheduler

            check_scheduler(self.scheduler)
        return self

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass
class CrdsMeta:
    """User-editable CRDS header fields of the readnoise reference file."""

    author: str = "NIRCam darks app"
    pedigree: str = "GROUND"
    useafter: str = "2022-01-01T00:00:00"
    description: str = "CDS noise from dark ramps"
    history: str = ""

    def validate(self) -> CrdsMeta:
        if len(self.description) > 65:
            raise ParameterError("the CRDS description may have at most 65 characters")
        if not (self.pedigree.startswith(("GROUND", "INFLIGHT", "DUMMY", "SIMULATION"))):
            raise ParameterError("pedigree must start with GROUND, INFLIGHT, DUMMY or SIMULATION")
        return self


@dataclass
class ReadnoiseResult:
    """A readnoise map (CDS noise, DN, science orientation) and what made it."""

    detector: str
    layout: Layout
    cds_noise_map: np.ndarray
    files: list[str]
    params: ReadnoiseParams
    header: dict = field(default_factory=dict)  # SUBARRAY, READPATT, ... of the inputs
    notes: list[str] = field(default_factory=list)
    engine: str = "jwst_reffiles 1.0.1 make_readnoise"
    model_bytes: bytes = b""  # the CRDS-format FITS exactly as make_readnoise wrote it

    @functools.cached_property
    def amp_table(self) -> pd.DataFrame:
        """Per-amp statistics of the map (computed once: pages, summary and tables all read it)."""
        return amp_statistics(self.cds_noise_map, self.layout)

    def summary(self) -> dict:
        amps = self.amp_table
        return {
            "units": UNITS,
            "engine": self.engine,
            "params": self.params.as_dict(),
            "notes": list(self.notes),
            "amps": [
                {k: _jsonable(r[k]) for k in ("x0", "x1", "output", "median", "clipped_mean", "clipped_std",
                                               "robust_std", "n_pixels")}
                for r in amps.to_dict("records")
            ],
        }

    def tables(self) -> dict[str, pd.DataFrame]:
        return {"readnoise_amps": self.amp_table}


def _jsonable(v):
    if isinstance(v, (int, np.integer)):
        return int(v)
    if isinstance(v, (np.floating, float)):
        return None if not np.isfinite(v) else float(v)
    return v


# -- statistics -----------------------------------------------------------------------------------
def sigma_clipped_stats(values: np.ndarray, sigma: float = 3.0, maxiters: int = 5) -> tuple[float, float, float]:
    """(clipped mean, median, clipped std with ddof=0) of the finite values, astropy convention."""
    from astropy.stats import sigma_clipped_stats as _scs

    v = values[np.isfinite(values)]
    if v.size == 0:
        return np.nan, np.nan, np.nan
    mean, _, std = _scs(v, sigma=sigma, maxiters=maxiters)
    return float(mean), float(np.median(v)), float(std)


def robust_std(values: np.ndarray) -> float:
    """1.4826 x median absolute deviation of the finite values (a Gaussian sigma)."""
    v = values[np.isfinite(values)]
    if v.size == 0:
        return np.nan
    return float(1.4826 * np.median(np.abs(v - np.median(v))))


def amp_statistics(cds_noise_map: np.ndarray, layout: Layout, sigma: float = 3.0) -> pd.DataFrame:
    """Per-amplifier statistics of a noise map over its *active* pixels, science column order.

    Columns: amp, x0, x1 (science columns, end exclusive), output (detector output 0-3),
    n_pixels (finite active pixels), clipped_mean, median, clipped_std (3-sigma, ddof=0),
    robust_std (1.4826 MAD), n_nan.  Values in the map's units.
    """
    active = ~layout.reference_mask()
    rows = []
    for a in layout.amps():
        vals = cds_noise_map[:, a.x0:a.x1][active[:, a.x0:a.x1]]
        cmean, med, cstd = sigma_clipped_stats(vals, sigma)
        rows.append({
            "amp": a.index, "x0": a.x0, "x1": a.x1, "output": a.output,
            "n_pixels": int(np.isfinite(vals).sum()),
            "clipped_mean": cmean, "median": med, "clipped_std": cstd,
            "robust_std": robust_std(vals), "n_nan": int((~np.isfinite(vals)).sum()),
        })
    return pd.DataFrame(rows)


def noisy_pixels(cds_noise_map: np.ndarray, layout: Layout, nsigma: float = 5.0) -> pd.DataFrame:
    """Active pixels more than ``nsigma`` robust sigmas above their amp's median, noisiest first."""
    if not nsigma > 0:
        raise ParameterError(f"the noisy-pixel threshold must be > 0 sigma, not {nsigma}")
    active = ~layout.reference_mask()
    out = []
    for a in layout.amps():
        sub = cds_noise_map[:, a.x0:a.x1]
        vals = sub[active[:, a.x0:a.x1]]
        med, rstd = np.nanmedian(vals), robust_std(vals)
        if not np.isfinite(rstd) or rstd == 0:
            continue
        excess = (sub - med) / rstd
        ys, xs = np.nonzero((excess > nsigma) & active[:, a.x0:a.x1])
        for y, x in zip(ys, xs):
            out.append({"x": int(x + a.x0), "y": int(y), "amp": a.index, "output": a.output,
                        "noise_DN": float(sub[y, x]), "amp_median_DN": float(med),
                        "sigmas_above": float(excess[y, x])})
    df = pd.DataFrame(out, columns=["x", "y", "amp", "output", "noise_DN", "amp_median_DN", "sigmas_above"])
    return df.sort_values("sigmas_above", ascending=False).reset_index(drop=True)


def histograms(maps: dict[str, np.ndarray], layout: Layout, bins: int = 80) -> pd.DataFrame:
    """Per-amp histograms of active pixels of one or more maps on common bins (long table)."""
    active = ~layout.reference_mask()
    allv = np.concatenate([m[active] for m in maps.values()])
    allv = allv[np.isfinite(allv)]
    if allv.size == 0:
        return pd.DataFrame(columns=["map", "amp", "output", "bin_start", "bin_end", "count"])
    lo, hi = np.percentile(allv, [0.05, 99.9])
    edges = np.linspace(max(0.0, lo * 0.9), hi * 1.2, bins + 1)
    rows = []
    for label, m in maps.items():
        for a in layout.amps():
            v = m[:, a.x0:a.x1][active[:, a.x0:a.x1]]
            counts, _ = np.histogram(v[np.isfinite(v)], edges)
            rows.append(pd.DataFrame({"map": label, "amp": f"amp {a.index} (output {a.output})",
                                      "output": a.output, "bin_start": edges[:-1], "bin_end": edges[1:],
                                      "count": counts}))
    return pd.concat(rows, ignore_index=True)


def expected_clipped_std_factor(n: int, sigma: float = 3.0, maxiters: int = 3, trials: int = 20000,
                                seed: int = 0, statistic: str = "mean") -> float:
    """Ratio of jwst_reffiles' clipped ddof=0 std to the true sigma for ``n`` Gaussian samples.

    Monte Carlo with the same clipping as jwst_reffiles (astropy sigma_clip, median centre).
    ``statistic="mean"``: the expected value (about 0.92 for n=10, 0.97 for n=50);
    ``"median"``: the median over pixels (0.913 for n=10), which is what a per-amp *median* of a
    map sees.
    """
    from astropy.stats import sigma_clip

    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, trials))
    c = sigma_clip(x, sigma=sigma, maxiters=maxiters, axis=0)
    s = np.asarray(np.std(c, axis=0))
    return float(np.median(s) if statistic == "median" else np.mean(s))


# -- comparison --------------------------------------------------------------------------------
def load_reference_map(path, layout: Layout) -> tuple[np.ndarray, dict]:
    """Read a READNOISE reference file and return its map cut to ``layout``'s frame.

    A full-frame reference is cut to a subarray with SUBSTRT.  Refuses, with a specific message, a
    file that is not a readnoise model, is for another detector, or does not cover the frame.
    """
    return _load_reference(path, layout, "ReadnoiseModel", "readnoise")


def load_gain_map(path, layout: Layout) -> tuple[np.ndarray, dict]:
    """A GAIN reference file (e-/DN) cut to ``layout``'s frame, with the same checks."""
    return _load_reference(path, layout, "GainModel", "gain")


def _load_reference(path, layout: Layout, model_name: str, what: str) -> tuple[np.ndarray, dict]:
    from stdatamodels.jwst import datamodels

    path = Path(path)
    try:
        with getattr(datamodels, model_name)(str(path)) as m:
            data = np.asarray(m.data, dtype=np.float32)
            det = m.meta.instrument.detector
            xstart = m.meta.subarray.xstart or 1
            ystart = m.meta.subarray.ystart or 1
            meta = {"file": path.name, "detector": det, "reftype": m.meta.reftype,
                    "pedigree": m.meta.pedigree, "useafter": m.meta.useafter,
                    "description": m.meta.description}
    except FileNotFoundError:
        raise InputError("the reference file does not exist", path.name) from None
    except Exception as e:
        raise InputError(f"not a readable {what} reference file ({type(e).__name__}: {e})", path.name) from None
    if data is None or data.ndim != 2 or data.size == 0:
        raise InputError(f"the reference file holds no 2-D {what} map", path.name)
    if det and str(det).upper() != layout.detector:
        raise InputError(f"the reference file is for {det}, but the data are {layout.detector}", path.name)
    y0, x0 = layout.ystart - ystart, layout.xstart - xstart
    if y0 < 0 or x0 < 0 or y0 + layout.ny > data.shape[0] or x0 + layout.nx > data.shape[1]:
        raise InputError(
            f"the reference map ({data.shape[0]}x{data.shape[1]} from SUBSTRT {xstart},{ystart}) does not "
            f"cover the data frame ({layout.ny}x{layout.nx} from SUBSTRT {layout.xstart},{layout.ystart})",
            path.name)
    cut = data[y0:y0 + layout.ny, x0:x0 + layout.nx]
    if not np.isfinite(cut).any() or not np.any(cut[np.isfinite(cut)] != 0):
        raise InputError(f"the {what} map is all zero or NaN over this frame", path.name)
    return cut, meta


def compare_maps(current: np.ndarray, baseline: np.ndarray, layout: Layout,
                 labels=("current", "baseline")) -> tuple[np.ndarray, np.ndarray, pd.DataFrame]:
    """Ratio (current / baseline) and difference (current - baseline) maps, and a per-amp table.

    Baseline pixels <= 0 give NaN in the ratio (never a silent inf or 0).
    """
    if current.shape != baseline.shape:
        raise InputError(f"cannot compare maps of shapes {current.shape} and {baseline.shape}")
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(baseline > 0, current / baseline, np.nan).astype(np.float32)
    diff = (current - baseline).astype(np.float32)
    a_tab = amp_statistics(current, layout)
    b_tab = amp_statistics(baseline, layout)
    la, lb = labels
    tab = pd.DataFrame({
        "amp": a_tab["amp"], "x0": a_tab["x0"], "x1": a_tab["x1"], "output": a_tab["output"],
        f"median {la} (DN)": a_tab["median"], f"median {lb} (DN)": b_tab["median"],
        "delta (DN)": a_tab["median"] - b_tab["median"],
        "ratio": a_tab["median"] / b_tab["median"],
        "median pixel ratio": [np.nanmedian(ratio[:, r.x0:r.x1][~layout.reference_mask()[:, r.x0:r.x1]])
                               for r in a_tab.itertuples()],
    })
    return ratio, diff, tab


# -- the jwst_reffiles engine ----------------------------------------------------------------------
class _SerialPool:
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


class _ClosingPool(multiprocessing.pool.Pool):
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


def _trimmed_copy(src: Path, dst: Path, ngroups: int) -> Path:
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
                data = np.asarray(r._sci.section[:, :, y0:y1, :], dtype=np.float32)
                m[y0:y1] = np.all(np.isnan(data), axis=(0, 1))
        mask = m if mask is None else mask & m
    return mask if mask is not None and mask.any() else None


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
            is_float = r._sci.header.get("BITPIX", 16) < 0
            m = np.zeros(r.shape[2:], bool)
            for y0, y1 in stripes(r.shape[2], stripe_rows_for(r.shape)):
                raw = np.asarray(r._sci.section[:, :, y0:y1, :])
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


def _census_notes(c: dict) -> list[str]:
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
    from astropy.io import fits

    params = params.validate()
    meta = (meta or CrdsMeta()).validate()
    progress = progress or (lambda f, m: None)
    paths = [Path(p) for p in paths]
    if not paths:
        raise InputError("no files to analyse")
    try:
        headers = {p.name: fits.getheader(p) for p in paths}
        shapes = {p.name: fits.getheader(p, "SCI") for p in paths}
    except OSError as e:  # vanished or unreadable since the inventory
        name = Path(getattr(e, "filename", None) or "").name or "a file"
        raise InputError(f"cannot read {name}: {e.strerror or e}", name) from None
    shapes = {n: tuple(int(h[f"NAXIS{i}"]) for i in (4, 3, 2, 1)) for n, h in shapes.items()}
    if len({s[2:] for s in shapes.values()}) > 1:
        raise InputError("the files have different frame shapes: " +
                         ", ".join(f"{n}: {s[2]}x{s[3]}" for n, s in shapes.items()))
    dets = {str(h["DETECTOR"]).upper() for h in headers.values()}
    if len(dets) > 1:
        raise InputError(f"the files are of different detectors ({', '.join(sorted(dets))}); analyse one at a time")
    h0 = headers[paths[0].name]
    from .ramps import layout_from_header
    layout = layout_from_header(h0)

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
                    run_paths[i] = _trimmed_copy(p, tmp / p.name, ng - 1)
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
            notes.extend(_census_notes(census))

        outfile = tmp / f"readnoise_{layout.detector}.fits"
        if params.engine == "native":
            engine = _run_native(paths, params, meta, h0, outfile, progress, notes)
        else:
            engine = ENGINE_REFFILES
            _run_reffiles(run_paths, params, meta, h0, outfile, progress)
        progress(0.97, "writing the reference file")
        model_bytes, cds_map = _finish_model(outfile, paths, params, meta, nan_mask, notes)
    progress(1.0, "done")
    header = {k: h0.get(k) for k in ("SUBARRAY", "READPATT", "NOUTPUTS", "SUBSTRT1", "SUBSTRT2",
                                     "SUBSIZE1", "SUBSIZE2", "FASTAXIS", "SLOWAXIS", "NGROUPS", "NINTS")}
    return ReadnoiseResult(layout.detector, layout, cds_map, [p.name for p in paths], params,
                           header, notes, engine=engine, model_bytes=model_bytes)


ENGINE_REFFILES = "jwst_reffiles 1.0.1 make_readnoise"


def _run_reffiles(run_paths, params: ReadnoiseParams, meta: CrdsMeta, h0, outfile: Path, progress) -> None:
    """make_readnoise itself, with a pool we always close and its progress made visible."""
    from jwst_reffiles.readnoise import readnoise as rf

    log = io.StringIO()
    nproc = int(params.nproc)
    pools: list = []

    def pool_factory(processes=None):
        cb = lambda f: progress(0.05 + 0.9 * f, "jwst_reffiles make_readnoise")  # noqa: E731
        pool = _SerialPool(cb) if nproc == 1 else _ClosingPool(nproc, cb)
        pools.append(pool)
        return pool

    progress(0.05, f"jwst_reffiles make_readnoise ({params.method}, {params.group_diff_type})")
    with _REFFILES_LOCK:
        original_pool = rf.Pool
        rf.Pool = pool_factory
        try:
            with contextlib.redirect_stdout(log):
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


def _run_native(paths, params: ReadnoiseParams, meta: CrdsMeta, h0, outfile: Path, progress, notes) -> str:
    """The native engine's map, written with jwst_reffiles' own CRDS writer (same file format)."""
    from jwst_reffiles.readnoise import readnoise as rf

    from .distributed import distributed_readnoise_map

    # local threads (core.native) unless a scheduler is given or $DARKS_DASK_SCHEDULER is set
    cds_map, info = distributed_readnoise_map(
        paths, params.method, params.group_diff_type, params.clipping_sigma, params.max_clipping_iters,
        mode=params.mode, scheduler=params.scheduler, progress=lambda f, m: progress(0.05 + 0.9 * f, m),
        group=str(h0.get("DETECTOR", "")))
    if info["scheduler"] != "local":
        notes.append(f"computed on the Dask cluster {info['scheduler']} ({info['n_tasks']} task(s), "
                     f"{info['stripe_rows']} rows each).")
    if info["n_masked_samples"]:
        notes.append(f"{info['n_masked_samples']} saturated or non-finite samples were masked.")
    if params.single_value:
        with contextlib.redirect_stdout(io.StringIO()):
            cds_map = rf.use_single_value(cds_map, h0["INSTRUME"], h0["DETECTOR"], h0["SUBARRAY"],
                                          params.clipping_sigma, params.max_clipping_iters)
    with contextlib.redirect_stdout(io.StringIO()):
        rf.save_readnoise(
            cds_map.astype(np.float32), instrument=h0["INSTRUME"], detector=h0["DETECTOR"],
            subarray=h0["SUBARRAY"], readpatt=str(h0.get("READPATT", "ANY")), outfile=str(outfile),
            author=meta.author, description=meta.description, pedigree=meta.pedigree, useafter=meta.useafter,
            fastaxis=h0["FASTAXIS"], slowaxis=h0["SLOWAXIS"], substrt1=h0["SUBSTRT1"], substrt2=h0["SUBSTRT2"],
            filenames=[str(p) for p in paths])
    return f"native streaming engine, {params.mode} mode"


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
