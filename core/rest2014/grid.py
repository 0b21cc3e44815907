"""The box grid of the Rest (2014) method: boxes of side ``box`` on a grid aligned to the array
origin and cut at every amplifier boundary (so a box never holds two outputs), and the pixels of
each column box of a row band (:mod:`core.rest2014.boxes` describes the method)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.io.geometry import Layout


@dataclass(frozen=True)
class BoxGrid:
    """Boxes of one layout: band-major order (row band ``iy``, then column box ``ix``).

    Per-box arrays (nboxes,): ``x0, x1, y0, y1`` (end exclusive, science orientation), ``amp``
    (science amp index), ``output``, ``iy``, ``ix``.  ``bands`` are the row ranges; ``cols`` and
    ``col_ok`` (ncolboxes, width) index each column box's columns (padding where ``col_ok`` is False).
    """

    box: int
    ny: int
    nx: int
    bands: tuple
    col_x0: np.ndarray
    col_x1: np.ndarray
    col_amp: np.ndarray
    col_output: np.ndarray
    cols: np.ndarray
    col_ok: np.ndarray

    @property
    def nbx(self) -> int:
        return len(self.col_x0)

    @property
    def nby(self) -> int:
        return len(self.bands)

    @property
    def nboxes(self) -> int:
        return self.nbx * self.nby

    def _per_box(self, a) -> np.ndarray:
        return np.tile(np.asarray(a), self.nby)

    @property
    def x0(self):
        return self._per_box(self.col_x0)

    @property
    def x1(self):
        return self._per_box(self.col_x1)

    @property
    def amp(self):
        return self._per_box(self.col_amp)

    @property
    def output(self):
        return self._per_box(self.col_output)

    @property
    def iy(self):
        return np.repeat(np.arange(self.nby), self.nbx)

    @property
    def ix(self):
        return self._per_box(np.arange(self.nbx))

    @property
    def y0(self):
        return np.repeat([b[0] for b in self.bands], self.nbx)

    @property
    def y1(self):
        return np.repeat([b[1] for b in self.bands], self.nbx)


def box_grid(layout: Layout, box: int) -> BoxGrid:
    """Tile a layout into boxes of side ``box`` that never straddle an amplifier boundary."""
    bands = tuple((y0, min(layout.ny, y0 + box)) for y0 in range(0, layout.ny, box))
    x0s, x1s, amps, outs = [], [], [], []
    for a in layout.amps():
        for x0 in range(a.x0, a.x1, box):
            x0s.append(x0)
            x1s.append(min(a.x1, x0 + box))
            amps.append(a.index)
            outs.append(a.output)
    x0s, x1s = np.array(x0s), np.array(x1s)
    width = int((x1s - x0s).max())
    cols = x0s[:, None] + np.arange(width)[None, :]
    col_ok = cols < x1s[:, None]
    cols = np.where(col_ok, cols, x0s[:, None])
    return BoxGrid(box, layout.ny, layout.nx, bands, x0s, x1s, np.array(amps), np.array(outs), cols, col_ok)


def band_pixels(arr: np.ndarray, grid: BoxGrid) -> np.ndarray:
    """(..., bh, nx) -> (..., nbx, bh * width): the pixels of each column box of a band (a narrow
    box's padding positions repeat its first column: use them only through :func:`band_used`)."""
    b = arr[..., grid.cols]  # (..., bh, nbx, width)
    b = np.moveaxis(b, -2, -3)  # (..., nbx, bh, width)
    return b.reshape(b.shape[:-2] + (-1,))


def band_used(skip_band: np.ndarray, grid: BoxGrid) -> np.ndarray:
    """(bh, nx) skip mask -> (nbx, bh * width): positions that hold a real, not skipped pixel."""
    bh = skip_band.shape[0]
    real = np.broadcast_to(grid.col_ok[:, None, :], (grid.col_ok.shape[0], bh, grid.col_ok.shape[1]))
    return ~band_pixels(skip_band, grid) & real.reshape(real.shape[0], -1)


__all__ = ["BoxGrid", "band_pixels", "band_used", "box_grid"]
