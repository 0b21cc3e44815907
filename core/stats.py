"""Robust statistics and JSON-safe numbers shared by every section (a leaf: imports nothing of core).

Conventions: a *robust sigma* is ``MAD_TO_SIGMA`` x the median absolute deviation, the Gaussian
sigma of a normal sample; a value that could not be measured is NaN in arrays and ``None`` in a
summary (strict JSON has no NaN).
"""

from __future__ import annotations

import math

import numpy as np

MAD_TO_SIGMA = 1.482602218505602  # 1 / Phi^-1(3/4): Gaussian sigma per median absolute deviation
HALF_NORMAL_MEDIAN = 0.6744897501960817  # Phi^-1(3/4): median of |N(0, 1)|


def robust_std(values: np.ndarray) -> float:
    """``MAD_TO_SIGMA`` x median absolute deviation of the finite values (a Gaussian sigma); NaN if none."""
    v = np.asarray(values)
    v = v[np.isfinite(v)]
    if v.size == 0:
        return np.nan
    return float(MAD_TO_SIGMA * np.median(np.abs(v - np.median(v))))


def finite_or_none(x) -> float | int | None:
    """A plain int, a plain float, or None for a missing, NaN or infinite value (for summaries)."""
    if x is None:
        return None
    if isinstance(x, (bool, np.bool_)):
        return bool(x)
    if isinstance(x, (int, np.integer)):
        return int(x)
    x = float(x)
    return x if math.isfinite(x) else None


def sqrt_or_zero(v: float) -> float:
    """sqrt(v) for a variance estimate, 0 where subtraction of a floor made it negative."""
    return float(math.sqrt(v)) if v > 0 else 0.0


def json_safe(obj):
    """Strict JSON: NaN and infinities (an undetected component, say) become null, numpy scalars plain."""
    if isinstance(obj, dict):
        return {k: json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_safe(v) for v in obj]
    if hasattr(obj, "item") and not isinstance(obj, (str, bytes)):
        try:
            obj = obj.item()
        except (ValueError, AttributeError):
            return obj
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj
