"""Statistics of readnoise maps: per-amp tables, noisy pixels, histograms, and the expected bias of
jwst_reffiles' clipped standard deviation.  Arrays in, tables out; values in the map's units.
"""

from __future__ import annotations

import functools

import numpy as np
import pandas as pd

from core.errors import ParameterError
from core.io.geometry import Layout
from core.stats import robust_std


def sigma_clipped_stats(values: np.ndarray, sigma: float = 3.0, maxiters: int = 5) -> tuple[float, float, float]:
    """(clipped mean, median, clipped std with ddof=0) of the finite values, astropy convention."""
    from astropy.stats import sigma_clipped_stats as _scs

    v = values[np.isfinite(values)]
    if v.size == 0:
        return np.nan, np.nan, np.nan
    mean, _, std = _scs(v, sigma=sigma, maxiters=maxiters)
    return float(mean), float(np.median(v)), float(std)


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


DEGENERATE_FRACTION = 0.5  # a map with more active pixels NaN or zero than this is not a readnoise map


def unusable_fraction(cds_noise_map: np.ndarray, layout: Layout) -> float:
    """Fraction of active pixels whose noise is NaN or exactly 0 (no estimate)."""
    v = cds_noise_map[~layout.reference_mask()]
    return float(np.mean(~np.isfinite(v) | (v == 0))) if v.size else 1.0


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
    """Per-amp histograms of active pixels of one or more maps on common bins (long table).

    The bins reach past the noisiest amp's 99.99th percentile; every pixel above the last edge is
    counted in the last bin (``overflow`` True there), so no pixel is left out of the counts."""
    active = ~layout.reference_mask()
    allv = np.concatenate([m[active] for m in maps.values()])
    allv = allv[np.isfinite(allv)]
    if allv.size == 0:
        return pd.DataFrame(columns=["map", "amp", "output", "bin_start", "bin_end", "count", "overflow"])
    # Up to the noisiest amp's 99.99th percentile (each amp's tail stays in view), past the bulk
    per_amp_hi = [np.percentile(v[np.isfinite(v)], 99.99) for m in maps.values() for a in layout.amps()
                  if np.isfinite(v := m[:, a.x0:a.x1][active[:, a.x0:a.x1]]).any()]
    lo, hi = np.percentile(allv, 0.05), max(per_amp_hi)
    edges = np.linspace(max(0.0, lo * 0.9), hi * 1.2, bins + 1)
    rows = []
    for label, m in maps.items():
        for a in layout.amps():
            v = m[:, a.x0:a.x1][active[:, a.x0:a.x1]]
            v = v[np.isfinite(v)]
            counts, _ = np.histogram(np.minimum(v, edges[-1]), edges)  # the last bin takes the overflow
            rows.append(pd.DataFrame({"map": label, "amp": f"amp {a.index} (output {a.output})",
                                      "output": a.output, "bin_start": edges[:-1], "bin_end": edges[1:],
                                      "count": counts, "overflow": np.arange(bins) == bins - 1}))
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


@functools.lru_cache(maxsize=256)  # a Monte Carlo of 40000 draws: once per (n, sigma, maxiters)
def mean_bias_factor(n: int, sigma: float, maxiters: int) -> float:
    """The expected clipped ddof=0 std over the true sigma for ``n`` samples: what the unbiased mode
    divides each pixel by (NaN for n < 2)."""
    if n < 2:
        return np.nan
    return expected_clipped_std_factor(int(n), sigma, maxiters, trials=40000, seed=n)
