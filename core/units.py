"""Noise conventions: one per view, the unit in every title.

Every noise figure of the app is either **per CDS frame** (the standard deviation of a difference
of two groups: what jwst_reffiles' readnoise maps hold, and what the 1/f split is measured in) or
**per read** (CDS / sqrt 2: the noise of one group, white noise only).  Results keep the convention
they were measured in; views convert with :func:`factor` and label with :func:`unit`.  A ratio or a
count has no convention (``None``).
"""

from __future__ import annotations

import math

CDS = "CDS"
PER_READ = "per read"
CONVENTIONS = (CDS, PER_READ)


def check_convention(convention: str) -> str:
    if convention not in CONVENTIONS:
        raise ValueError(f"noise convention must be one of {CONVENTIONS}, not {convention!r}")
    return convention


def factor(measured_in: str | None, shown_in: str) -> float:
    """Multiply a figure measured in ``measured_in`` by this to show it in ``shown_in`` (1 for None)."""
    check_convention(shown_in)
    if measured_in is None or measured_in == shown_in:
        return 1.0
    check_convention(measured_in)
    return 1.0 / math.sqrt(2.0) if shown_in == PER_READ else math.sqrt(2.0)


def unit(shown_in: str | None, base: str = "DN") -> str:
    """'DN, CDS' or 'DN per read' ('' for a ratio: ``shown_in`` None)."""
    if shown_in is None:
        return ""
    check_convention(shown_in)
    return f"{base}, CDS" if shown_in == CDS else f"{base} per read"


__all__ = ["CDS", "CONVENTIONS", "PER_READ", "check_convention", "factor", "unit"]
