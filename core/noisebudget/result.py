"""The result of the noise-budget analysis (:func:`core.noisebudget.analysis.analyze_noisebudget`)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from core.io.geometry import Layout
from core.noisebudget.params import PSD_UNITS, UNITS, NoiseBudgetParams
from core.stats import finite_or_none

COMPONENT_COLUMNS = ["amp", "x0", "x1", "output", "white_group", "white_group_reference", "cds_active", "cds_common",
                     "intercept_active", "intercept_reference", "ktc_active", "ktc_reference"]


def _floats(a) -> list:
    return [finite_or_none(v) for v in np.asarray(a, np.float64)]


@dataclass
class NoiseBudgetResult:
    """Slope noise against the number of groups, spectra and kTC of one detector's darks.

    ``amps[i]`` (science column order) holds ``x0, x1, output``; ``n`` (group counts),
    ``measured`` / ``predicted`` / ``white_only`` slope noise (DN/s, NaN where not measurable),
    ``ratio`` (measured / predicted), ``excess`` (pynrc's p0 DN, p1 DN^2), ``cov`` (G x G predicted
    covariance of group values, DN^2), ``white_group`` (sqrt D: per-pixel independent noise per
    group value, DN), ``cds_active`` (robust CDS sigma, DN), ``ktc_active`` / ``ktc_reference``
    (DN) and ``spectra`` (frequencies in Hz, PSDs in DN^2/Hz per group value, ``fit``: the power law
    of the common mode over both ranges, A in DN^2/Hz at 1 Hz).
    """

    detector: str
    layout: Layout
    params: NoiseBudgetParams
    files: list[str]
    ngroups: int
    nframes: int
    groupgap: int
    tframe: float  # s
    tgroup: float  # s
    counts: list[int]
    n_pairs: int
    n_integrations: int
    amps: list[dict]
    notes: list[str] = field(default_factory=list)
    dq: dict | None = None  # core.io.ramps.dq_use: None without DQ arrays, else the samples left out per amp

    @property
    def units(self) -> str:
        return UNITS

    @property
    def measured_available(self) -> bool:
        return self.n_pairs > 0

    def summary(self) -> dict:
        base = ("x0", "x1", "output")
        eff = [{**{k: int(a[k]) for k in base}, "n": [int(n) for n in a["n"]], "measured": _floats(a["measured"]),
                "predicted": _floats(a["predicted"])} for a in self.amps]
        ktc = [{**{k: int(a[k]) for k in base}, "active": finite_or_none(a["ktc_active"]),
                "reference": finite_or_none(a["ktc_reference"])} for a in self.amps]
        return {
            "effective_noise": {"units": UNITS, "estimator": "1.4826 MAD over active pixels of slope pair "
                                "differences / sqrt 2; predicted from the measured covariance of group values",
                                "pairs": int(self.n_pairs), "tgroup_s": float(self.tgroup), "amps": eff},
            "ktc": {"units": "DN", "amps": ktc},
            "dq": self.dq,
        }

    def tables(self) -> dict[str, pd.DataFrame]:
        return {"noisebudget_effective": self.effective_table(), "noisebudget_components": self.components_table(),
                "noisebudget_spectra": self.spectra_table(),
                "noisebudget_files": pd.DataFrame({"file": self.files})}

    def effective_table(self) -> pd.DataFrame:
        rows = []
        for a in self.amps:
            for i, n in enumerate(a["n"]):
                rows.append({"amp": a["amp"], "x0": a["x0"], "x1": a["x1"], "output": a["output"], "n": int(n),
                             "t_ramp_s": (n - 1) * self.tgroup, "measured": a["measured"][i],
                             "predicted": a["predicted"][i], "ratio": a["ratio"][i],
                             "white_only": a["white_only"][i], "pixels": int(a["measured_pixels"][i]),
                             "units": UNITS})
        return pd.DataFrame(rows)

    def components_table(self) -> pd.DataFrame:
        rows = []
        for a in self.amps:
            r = {k: a.get(k) for k in COMPONENT_COLUMNS}
            fit = a["spectra"]["fit"]
            r.update(excess_p0=a["excess"]["p0"], excess_p1=a["excess"]["p1"],
                     onef_amplitude_1hz=fit["amplitude_1hz"], onef_alpha=fit["alpha"], onef_fit_points=fit["npoints"],
                     units="DN (white, cds, intercept, ktc per group value; excess p0 DN, p1 DN^2; "
                           "amplitude DN^2/Hz at 1 Hz)")
            rows.append(r)
        return pd.DataFrame(rows)

    def spectra_table(self) -> pd.DataFrame:
        parts = []
        for a in self.amps:
            sp = a["spectra"]
            for series, fkey, pkey, flkey, rng in (
                    ("pixel along ramp", "freq_ramp", "psd_pixel", "floor_pixel", "along ramp"),
                    ("frame mean along ramp", "freq_ramp", "psd_frame", "floor_frame", "along ramp"),
                    ("row means within frame", "freq_rows", "psd_rows", "floor_rows", "within frame")):
                f = np.asarray(sp[fkey])
                if f.size == 0:
                    continue
                parts.append(pd.DataFrame({"amp": a["amp"], "x0": a["x0"], "x1": a["x1"], "output": a["output"],
                                           "series": series, "range": rng, "freq_hz": f, "psd": sp[pkey],
                                           "white_floor": sp[flkey], "units": PSD_UNITS}))
        return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()


__all__ = ["NoiseBudgetResult"]
