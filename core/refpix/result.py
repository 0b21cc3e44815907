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
    # per exposure: noise, z and flag of every reference pixel flagged in at least one exposure,
    # and one row per such pixel: in how many / which exposures (core.refpix.overtime)
    exposure_flags: pd.DataFrame = field(default_factory=pd.DataFrame)
    history: pd.DataFrame = field(default_factory=pd.DataFrame)

    @property
    def unstable(self) -> pd.DataFrame:
        if self.pixels.empty:
            return self.pixels
        return self.pixels[self.pixels["unstable"]].reset_index(drop=True)

    def summary(self) -> dict:
        """Per amp: ``instability`` (DN per read: against adjacent active pixels, zero when the
        reference pixels are as stable as the active ones) and its error; ``frame_residual`` (the
        per-frame residual a whole-frame reference-row correction leaves, 1/f included) and its
        1/f share; white ratio, drift correlation; unstable pixel counts."""
        ints = ("x0", "x1", "output", "unstable_pixels_any_exposure", "unstable_pixels_persistent")
        floats = ("ref_active_white_ratio", "instability", "instability_err", "instability_rows",
                  "instability_rows_err", "instability_columns", "instability_columns_err", "instability_floor",
                  "instability_1f", "frame_residual", "frame_residual_floor", "frame_residual_1f_share",
                  "drift_correlation")
        amps = []
        for s in self.amp_stats:
            row = {k: int(s[k]) for k in ints}
            row.update({k: finite_or_none(s[k]) for k in floats})
            row["instability_source"] = s["instability_source"]
            amps.append(row)
        hist = self.history
        return {"amps": amps, "unstable_pixels": int(len(self.unstable)),
                "unstable_pixels_any_exposure": int(len(hist)),
                "unstable_pixels_persistent": int(hist["persistent"].sum()) if len(hist) else 0, "dq": self.dq}

    def tables(self) -> dict[str, pd.DataFrame]:
        return {
            "refpix_amps": pd.DataFrame(self.amp_stats),
            "refpix_levels": self.levels,
            "refpix_drifts": self.drifts,
            "refpix_unstable_pixels": self.unstable,
            "refpix_unstable_over_time": self.history,
            "refpix_unstable_per_exposure": self.exposure_flags,
            "refpix_pixel_noise": self.pixels,
            "refpix_trends": self.trends,
            "refpix_files": self.files,
        }


__all__ = ["RefPixResult"]
