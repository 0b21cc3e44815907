"""One file of the reference-pixel analysis: the stripe pass (:mod:`.stripes`), then the reference
pixels (:mod:`.reference`), kept as a :class:`FileResult` for :mod:`.assemble`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from core.errors import InputError
from core.io.geometry import Layout
from core.io.ramps import DEFAULT_GROUPDQ_MASK, Ramp
from core.refpix.adjacent import adjacent_series
from core.refpix.amps import amp_geometry
from core.refpix.reference import reference_pass
from core.refpix.stripes import stripe_pass
from core.stats import finite_or_none


@dataclass
class FileResult:
    name: str
    expstart: float | None
    nints: int
    ngroups: int
    levels: dict  # (amp, kind) -> (level (nints, G), drift (nints, G), kept pixel counts (nints,))
    white: dict  # amp -> {"ref": hist, "active": hist} of |pair differences| of CDS
    cross: tuple | None  # (hist of |e_k + e_j|, hist of |e_k - e_j|), simultaneous active pairs
    pix: dict  # amp -> list of (DataFrame of pixel coordinates, sum of squares, dof)
    ref_source: dict  # amp -> "rows" / "columns" / None
    dq_masked_columns: np.ndarray | None = None  # samples left out by DQ flags, per column (None: no DQ arrays)
    # amp -> reference edges against their adjacent active pixels (core.refpix.adjacent)
    adjacent: dict = field(default_factory=dict)


def process_file(path: Path, layout: Layout, progress: Callable[[float, str], None] | None,
                 groupdq_mask: int = DEFAULT_GROUPDQ_MASK) -> FileResult:
    """One file's levels, drifts, white-noise histograms and pixel sums (the map step; the reduce is
    :func:`core.refpix.assemble.assemble`); samples flagged with ``groupdq_mask`` are left out."""
    name = path.name
    try:
        ramp = Ramp(path, groupdq_mask=groupdq_mask)
    except Exception as exc:  # noqa: BLE001 - any failure to open is the file's fault
        raise InputError(f"{name}: cannot be read ({exc})", file=str(path)) from exc
    with ramp:
        nints, G, ny, nx = ramp.shape
        expstart = finite_or_none(ramp.header.get("EXPSTART"))
        amps = amp_geometry(layout)
        acc = stripe_pass(ramp, layout, amps, name, progress)
        cross = acc.cross
        levels, white, pix, ref_source = reference_pass(acc, amps)
        adjacent = {a.index: adjacent_series(acc, a) for a in amps}
        del acc
        if progress:
            progress(1.0, f"{name}: reference pixels done")
        dq_columns = ramp.dq_masked_columns.copy() if ramp.has_dq else None
    return FileResult(name, expstart, nints, G, levels, white, cross, pix, ref_source, dq_columns, adjacent)


__all__ = ["FileResult", "process_file"]
