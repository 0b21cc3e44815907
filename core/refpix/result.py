"""The result of the reference-pixel analysis (:func:`core.refpix.analysis.analyze_refpix`)."""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from core.io.geometry import Layout
from core.refpix.params import RefPixParams
from core.stats import finite_or_none


@dataclass
class RefPixResult:
    """Reference-pixel stability of a set of exposures of one detector.

    ``levels``: one row per file, integration, group, amp and pixel set (``kind``), with
    ``level`` (mean DN) and ``drift`` (DN, after the per-pixel ramp fit); ``drifts``: per CDS
    frame (consecutive groups) the change of the reference and active drifts and their difference;
    ``amp_stats``: per-amp statistics (None where not measurable); ``pixels``: every reference
    pixel's CDS noise, robust z-score and flag; ``trends``: per file and amp, with EXPSTART (MJD).
    """

    detector: str
    layout: Layout
    params: RefPixParams
    files: pd.DataFrame
    levels: pd.DataFrame
    drifts: pd.DataFrame
    amp_stats: list[dict]
    pixels: pd.DataFrame
    trends: pd.DataFrame
    notes: list[str] = field(default_factory=list)
    frame_time: float = 0.0
    dq: dict | None = None  # core.io.ramps.dq_use: None without DQ arrays, else the samples left out per amp

    @property
    def unstable(self) -> pd.DataFrame:
        if self.pixels.empty:
            return self.pixels
        return self.pixels[self.pixels["unstable"]].reset_index(drop=True)

    def summary(self) -> dict:
        keys = ("x0", "x1", "output", "ref_active_white_ratio", "instability", "drift_correlation")
        amps = []
        for s in self.amp_stats:
            row = {k: s[k] for k in keys}
            for k in ("x0", "x1", "output"):
                row[k] = int(row[k])
            for k in keys[3:]:
                row[k] = finite_or_none(row[k])
            amps.append(row)
        return {"amps": amps, "unstable_pixels": int(len(self.unstable)), "dq": self.dq}

    def tables(self) -> dict[str, pd.DataFrame]:
        return {
            "refpix_amps": pd.DataFrame(self.amp_stats),
            "refpix_levels": self.levels,
            "refpix_drifts": self.drifts,
            "refpix_unstable_pixels": self.unstable,
            "refpix_pixel_noise": self.pixels,
            "refpix_trends": self.trends,
            "refpix_files": self.files,
        }


__all__ = ["RefPixResult"]
