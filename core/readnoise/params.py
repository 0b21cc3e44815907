"""Readnoise parameters, CRDS header fields and the result of a readnoise run.

Units: every map is the **CDS noise in DN** -- the standard deviation of a difference of two
groups, as jwst_reffiles writes it (no division by sqrt(2)).  The per-read noise is CDS / sqrt(2).
"""

from __future__ import annotations

import functools
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd

from core.errors import ParameterError
from core.io.geometry import Layout
from core.io.ramps import DEFAULT_GROUPDQ_MASK, GROUP_DIFF_TYPES, check_groupdq_mask
from core.readnoise.stats import DEGENERATE_FRACTION, amp_statistics, mean_bias_factor, unusable_fraction
from core.runtime import check_scheduler
from core.stats import finite_or_none

METHODS = ("stack", "ramp")
ENGINES = ("reffiles", "native")
MODES = ("compatible", "unbiased")
UNITS = "DN, CDS"


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
    # "native" (core.readnoise.native: one pass, jwst_reffiles' numbers) or "reffiles" (jwst_reffiles itself)
    engine: str = "native"
    mode: str = "compatible"  # native only: "compatible" (= jwst_reffiles) or "unbiased"
    # native only: where its row stripes run: None ($DARKS_DASK_SCHEDULER when set, else local), "local",
    # "local-cluster" or "tcp://HOST:PORT" (see core.readnoise.dask_engine).  The map does not depend on it.
    # The whole analysis on a cluster is AnalysisOptions.scheduler (core.pipeline.cluster), which sets this on
    # the workers.
    scheduler: str | None = None
    # native only: the GROUPDQ bits whose samples are left out (jwst_reffiles cannot use DQ)
    groupdq_mask: int = DEFAULT_GROUPDQ_MASK

    def validate(self) -> ReadnoiseParams:
        check_groupdq_mask(self.groupdq_mask)
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
    # Data-quality use: None for files without DQ arrays, else {"used": bool, ...} (per-amp counts of
    # the samples left out when the native engine used them; the files jwst_reffiles ignored them in)
    dq: dict | None = None
    samples_per_pixel: int = 0  # CDS differences per pixel (stack: all files; ramp: per file, the fewest)

    @functools.cached_property
    def bias_factor(self) -> float:
        """Expected per-amp median of the compatible (jwst_reffiles) estimator over the true CDS noise
        for this many samples per pixel (0.913 for 10): what the unbiased mode divides out."""
        from core.readnoise.stats import expected_clipped_std_factor

        n = int(self.samples_per_pixel)
        if n < 2:
            return float("nan")
        return expected_clipped_std_factor(n, self.params.clipping_sigma, self.params.max_clipping_iters,
                                           statistic="median")

    @functools.cached_property
    def amp_table(self) -> pd.DataFrame:
        """Per-amp statistics of the map (computed once: pages, summary and tables all read it)."""
        return amp_statistics(self.cds_noise_map, self.layout)

    @functools.cached_property
    def headline(self) -> pd.DataFrame:
        """Per-amp median readnoise by both estimators (DN, CDS): ``compatible`` (jwst_reffiles'
        clipped ddof=0 std; its per-amp median is biased low by :attr:`bias_factor`) and ``unbiased``
        (that median divided by ``bias_factor``).  The unbiased one is what the app leads with.

        The unbiased mode's map divides each pixel by the *mean* bias, so its per-amp median is
        still low by median/mean of the estimator's spread (about 1% at 10 samples): its compatible
        median is recovered first (x the mean bias, the same for every pixel with all samples)."""
        t = self.amp_table[["amp", "x0", "x1", "output", "median"]].copy()
        b = self.bias_factor
        if self.params.mode == "unbiased":
            p = self.params
            t["compatible"] = t["median"] * mean_bias_factor(int(self.samples_per_pixel), p.clipping_sigma,
                                                             p.max_clipping_iters)
        else:
            t["compatible"] = t["median"]
        t["unbiased"] = t["compatible"] / b
        t["bias_factor"] = b
        return t.drop(columns="median")

    @functools.cached_property
    def overall(self) -> dict:
        """The map's headline over all active pixels (DN, CDS): see :meth:`overall_of`."""
        return self.overall_of(self.cds_noise_map)

    def overall_of(self, shown: np.ndarray) -> dict:
        """{"compatible": median over active pixels of ``shown`` (this map, or it scaled: electrons,
        per read) as the compatible estimator gives it, "unbiased": that divided by
        :attr:`bias_factor`} (see :attr:`headline` for the unbiased mode's map)."""
        active = ~self.layout.reference_mask()
        med = float(np.nanmedian(shown[active])) if np.isfinite(shown[active]).any() else float("nan")
        if self.params.mode == "unbiased":
            p = self.params
            med *= mean_bias_factor(int(self.samples_per_pixel), p.clipping_sigma, p.max_clipping_iters)
        return {"compatible": med, "unbiased": med / self.bias_factor}

    @functools.cached_property
    def warnings(self) -> list[str]:
        """What makes this map unfit for use (shown in the page and the report; the FITS download
        then waits for a confirmation)."""
        bad = unusable_fraction(self.cds_noise_map, self.layout)
        if bad <= DEGENERATE_FRACTION:
            return []
        p = self.params
        return [f"{100 * bad:.0f}% of the active pixels have no readnoise (NaN or 0) with these parameters "
                f"({p.clipping_sigma:g}σ clipping, ≤{p.max_clipping_iters} iterations, {p.method}, "
                f"{p.group_diff_type} differences): this is not a usable readnoise map."]

    @property
    def nframes(self) -> int:
        return int(self.header.get("NFRAMES") or 1)

    def summary(self) -> dict:
        amps = self.amp_table
        return {
            "units": UNITS,
            "engine": self.engine,
            "params": self.params.as_dict(),
            "notes": list(self.notes),
            "warnings": list(self.warnings),
            "samples_per_pixel": int(self.samples_per_pixel),
            "estimator": ("unbiased: clipped ddof=0 std divided by its expected bias" if self.params.mode == "unbiased"
                          else f"compatible: jwst_reffiles' clipped ddof=0 std (per-amp medians biased low by about "
                               f"x{self.bias_factor:.3f} at {self.samples_per_pixel} samples per pixel)"),
            "dq": self.dq,
            "amps": [
                {k: finite_or_none(r[k]) for k in ("x0", "x1", "output", "median", "clipped_mean", "clipped_std",
                                               "robust_std", "n_pixels")}
                | {"median_unbiased": finite_or_none(h["unbiased"]), "median_compatible": finite_or_none(h["compatible"])}
                | ({"median_per_frame_equivalent": finite_or_none(r["median"] * np.sqrt(self.nframes))}
                   if self.nframes > 1 else {})
                for r, h in zip(amps.to_dict("records"), self.headline.to_dict("records"))
            ],
        }

    def tables(self) -> dict[str, pd.DataFrame]:
        return {"readnoise_amps": self.amp_table}
