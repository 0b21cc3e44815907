"""The result of the 1/f analysis: :class:`OneFResult`, its headline summary and its CSV tables."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from core.onef.params import PSD_UNITS, UNITS, OneFParams

COMPONENT_COLUMNS = [
    "amp", "x0", "x1", "output", "white", "white_err", "uncorrelated", "uncorrelated_err",
    "uncorrelated_slope", "uncorrelated_slope_err", "uncorrelated_psd_1hz",
    "uncorrelated_psd_1hz_err", "correlated", "correlated_slope", "correlated_slope_err",
    "quadrature_sum", "total", "check_ratio", "model_quadrature_sum", "model_check_ratio",
    "td_correlated", "td_uncorrelated", "td_white_leak_correlated",
    "td_white_leak_uncorrelated",
]
BANDING_COLUMNS = ["amp", "x0", "x1", "output", "row_avg_rms", "row_avg_rms_after",
                   "row_avg_white_expected", "onef_before", "onef_after", "onef_variance_removed"]


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
    dq: dict | None = None  # core.io.ramps.dq_use: None without DQ arrays, else the samples left out per amp

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
            "dq": self.dq,
        }

    def detection(self) -> dict:
        """Which 1/f components are detected, and an upper limit (DN rms in a CDS frame) where not.

        A component is detected where its slope is reported (>= 5% of the white noise and a fit that
        pins the slope down: see :mod:`core.onef.finish`).  Where not, the limit is the larger of
        that 5% and the measured value plus 3 of its errors (per output; the correlated value has no
        error of its own, so the measured value).  ``{"correlated": {"detected", "upper_limit"},
        "amps": [{"detected", "upper_limit"}, ...]}`` (limits None where detected)."""
        import math

        white = [float(a["white"]) for a in self.amps]
        mean_white = float(np.mean(white)) if white else float("nan")
        slope = float(self.correlated_fit["slope"])
        corr_det = math.isfinite(slope)
        out = {"correlated": {"detected": corr_det, "upper_limit": None if corr_det else
                              float(max(0.05 * mean_white, float(self.correlated)))}, "amps": []}
        for a, w in zip(self.amps, white):
            det = math.isfinite(float(a["uncorrelated_slope"]))
            err = float(a.get("uncorrelated_err") or 0.0)
            err = err if math.isfinite(err) else 0.0
            out["amps"].append({"detected": det, "upper_limit": None if det else
                                float(max(0.05 * w, float(a["uncorrelated"]) + 3.0 * err))})
        return out

    def tables(self) -> dict:
        """CSV-ready tables: ``onef_components``, ``onef_spectra``, ``onef_cross``, ``onef_banding``."""
        return {"onef_components": self._components_table(), "onef_spectra": self._spectra_table(),
                "onef_cross": self._cross_table(), "onef_banding": self._banding_table()}

    def _components_table(self):
        """One row per amp: the integrated split, the fits, the checks and the time-domain split."""
        import pandas as pd

        rows = []
        for a in self.amps:
            r = {k: a.get(k) for k in COMPONENT_COLUMNS}
            r["correlated"] = self.correlated
            r["correlated_slope"] = self.correlated_fit["slope"]
            r["correlated_slope_err"] = self.correlated_fit["slope_err"]
            rows.append(r)
        components = pd.DataFrame(rows, columns=COMPONENT_COLUMNS)
        components["units"] = UNITS
        return components

    def _spectra_table(self):
        """Long format: per amp its total, uncorrelated, white (and after-correction) spectrum, then
        the correlated one; measured, error and model per frequency."""
        import pandas as pd

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
        return spectra

    def _cross_table(self):
        """Long format: the real cross-spectrum of every output pair."""
        import pandas as pd

        f = self.freq
        columns = ["freq_hz", "amp_a", "amp_b", "output_a", "output_b", "re_cross_dn2_per_hz"]
        cross = pd.concat([
            pd.DataFrame({"freq_hz": f, "amp_a": i, "amp_b": j,
                          "output_a": self.amps[i]["output"], "output_b": self.amps[j]["output"],
                          "re_cross_dn2_per_hz": self.cross[p]})
            for p, (i, j) in enumerate(self.cross_pairs)
        ] or [pd.DataFrame(columns=columns)], ignore_index=True)  # one output: no pair
        cross["units"] = PSD_UNITS
        return cross

    def _banding_table(self):
        """One row per amp: row-average noise and the effect of the side-reference correction."""
        import pandas as pd

        banding = pd.DataFrame([{k: a.get(k) for k in BANDING_COLUMNS} for a in self.amps],
                               columns=BANDING_COLUMNS)
        banding["side_ref_row_avg_rms"] = self.banding.get("side_ref_row_avg_rms")
        banding["side_ref_row_avg_white_expected"] = self.banding.get("side_ref_row_avg_white_expected")
        banding["units"] = UNITS
        return banding
