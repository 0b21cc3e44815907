"""Where each amplifier's pixels are: active and side reference columns, detector-column parity,
and the science column of every read position of each output."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.io.geometry import FULL_SIZE, Layout


@dataclass
class AmpGeom:
    index: int
    x0: int
    x1: int
    output: int
    act_cols: np.ndarray  # array columns of the amp's active pixels
    side: dict  # "left"/"right" -> array columns of the side reference columns in this amp
    parity: np.ndarray  # detector-column parity of columns x0..x1-1


def amp_geometry(layout: Layout) -> list[AmpGeom]:
    left, right = layout.reference_columns()
    _, acols = layout.active_slices()
    full_sci = np.arange(layout.nx) + layout.xstart - 1
    det_col = (FULL_SIZE - 1 - full_sci) if layout.xflip else full_sci
    out = []
    for a in layout.amps():
        cols = np.arange(a.x0, a.x1)
        act = cols[(cols >= acols.start) & (cols < acols.stop)]
        side = {}
        for name, sc in (("left", left), ("right", right)):
            s = sc[(sc >= a.x0) & (sc < a.x1)]
            if s.size:
                side[name] = s
        out.append(AmpGeom(a.index, a.x0, a.x1, a.output, act, side, det_col[a.x0:a.x1] % 2))
    return out


def read_order(layout: Layout) -> tuple[np.ndarray, np.ndarray]:
    """Per detector output k: science column ``start[k] + step[k] * p`` of its p-th pixel read in a
    row (:meth:`Layout.channel_images` applied to column indices; step is +1 or -1)."""
    cols = layout.channel_images(np.arange(layout.nx)[None, :])[:, 0, :]  # (noutputs, width)
    step = np.where(cols[:, 1] > cols[:, 0], 1, -1)
    start = cols[:, 0]
    p = np.arange(cols.shape[1])
    if not np.array_equal(cols, start[:, None] + step[:, None] * p):
        raise AssertionError("channel_images is not a mirror/shift of the columns")
    return start.astype(np.int64), step.astype(np.int64)


__all__ = ["AmpGeom", "amp_geometry", "read_order"]
