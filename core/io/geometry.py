"""NIRCam detector geometry: outputs, DMS orientation flips, reference pixels, readout timing.

Conventions
-----------
* Arrays are in DMS *science* orientation, shape ``(..., ny, nx)``, as stored in ``*_uncal.fits``.
* *Detector* (raw) orientation differs from science orientation by a flip that depends on the
  detector: an x flip for A1, A3, ALONG, B2, B4 and a y flip for A2, A4, B1, B3, BLONG.  A flip is
  its own inverse, so :meth:`Layout.to_detector` and :meth:`Layout.to_science` are the same
  operation.
* In detector orientation the 2048 columns are read by 4 outputs of 512 columns each
  (output ``k`` reads detector columns ``512k .. 512k+511``).  Outputs 0 and 2 read left to right,
  outputs 1 and 3 right to left; rows are read bottom to top.  Each row costs 512 + 12 pixel
  clocks of 10 us; each frame adds one extra row and one pixel.
* Column bounds ``x0, x1`` are science-orientation column indices of the array, end exclusive.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

FULL_SIZE = 2048
NREF = 4  # reference pixels on each edge of the full detector
CHANNEL_WIDTH = 512
ROW_OVERHEAD_CLOCKS = 12
PIXEL_TIME_S = 10e-6

X_FLIP = frozenset({"NRCA1", "NRCA3", "NRCALONG", "NRCB2", "NRCB4"})
Y_FLIP = frozenset({"NRCA2", "NRCA4", "NRCB1", "NRCB3", "NRCBLONG"})
DETECTORS = (
    "NRCA1", "NRCA2", "NRCA3", "NRCA4", "NRCALONG",
    "NRCB1", "NRCB2", "NRCB3", "NRCB4", "NRCBLONG",
)


def normalize_detector(name: str) -> str:
    """Canonical DETECTOR keyword (``NRCA5`` -> ``NRCALONG``, ``NRCB5`` -> ``NRCBLONG``)."""
    name = str(name).strip().upper()
    return {"NRCA5": "NRCALONG", "NRCB5": "NRCBLONG"}.get(name, name)


def detector_flips(detector: str) -> tuple[bool, bool]:
    """(x_flip, y_flip) between detector and science orientation for a NIRCam detector."""
    det = normalize_detector(detector)
    if det not in DETECTORS:
        raise ValueError(f"unknown NIRCam detector {detector!r}")
    return det in X_FLIP, det in Y_FLIP


def fast_slow_axes(detector: str) -> tuple[int, int]:
    """FASTAXIS, SLOWAXIS keyword values (sign = read direction of output 0 in science axes)."""
    xflip, yflip = detector_flips(detector)
    return (-1 if xflip else 1), (-2 if yflip else 2)


@dataclass(frozen=True)
class Amp:
    """One amplifier's columns in science orientation.

    ``x0:x1`` are array column bounds (end exclusive); ``output`` is the detector output 0-3;
    ``reads_right`` tells whether time runs towards increasing science column within a row.
    """

    index: int
    x0: int
    x1: int
    output: int
    reads_right: bool

    def as_dict(self) -> dict:
        return {"amp": self.index, "x0": self.x0, "x1": self.x1, "output": self.output}


@dataclass(frozen=True)
class Layout:
    """Geometry of the frames of one exposure.

    ``nx, ny`` are the array size (science orientation); ``xstart, ystart`` the 1-based
    SUBSTRT1/SUBSTRT2 of the subarray in full-frame science coordinates.
    """

    detector: str
    nx: int = FULL_SIZE
    ny: int = FULL_SIZE
    xstart: int = 1
    ystart: int = 1
    noutputs: int = 4

    def __post_init__(self):
        object.__setattr__(self, "detector", normalize_detector(self.detector))
        detector_flips(self.detector)  # validates the name
        if self.noutputs not in (1, 4):
            raise ValueError(f"NOUTPUTS must be 1 or 4, not {self.noutputs}")
        if self.noutputs == 4 and self.nx != FULL_SIZE:
            raise ValueError(f"a 4-output frame must be {FULL_SIZE} columns wide, not {self.nx}")
        if not (1 <= self.xstart and self.xstart - 1 + self.nx <= FULL_SIZE):
            raise ValueError("subarray columns fall outside the detector")
        if not (1 <= self.ystart and self.ystart - 1 + self.ny <= FULL_SIZE):
            raise ValueError("subarray rows fall outside the detector")

    # -- orientation -------------------------------------------------------------------------
    @property
    def xflip(self) -> bool:
        return detector_flips(self.detector)[0]

    @property
    def yflip(self) -> bool:
        return detector_flips(self.detector)[1]

    @property
    def fastaxis(self) -> int:
        return fast_slow_axes(self.detector)[0]

    @property
    def slowaxis(self) -> int:
        return fast_slow_axes(self.detector)[1]

    def to_detector(self, arr: np.ndarray) -> np.ndarray:
        """View of ``arr`` (last two axes y, x) in detector orientation (no copy)."""
        if self.yflip:
            arr = arr[..., ::-1, :]
        if self.xflip:
            arr = arr[..., ::-1]
        return arr

    to_science = to_detector  # a flip is its own inverse

    def detector_rows(self, y0: int, y1: int) -> tuple[int, int]:
        """Detector-orientation row range (array indices) that holds science rows ``y0:y1``."""
        if self.yflip:
            return self.ny - y1, self.ny - y0
        return y0, y1

    # -- amplifiers ----------------------------------------------------------------------------
    def _det_col0(self) -> int:
        """Full-frame detector column of detector-orientation array column 0."""
        if self.xflip:
            return FULL_SIZE - (self.xstart - 1 + self.nx)
        return self.xstart - 1

    def amps(self) -> list[Amp]:
        """Amplifiers in science column order."""
        if self.noutputs == 1:
            output = self._det_col0() // CHANNEL_WIDTH
            # A one-output subarray is read left to right in detector orientation.
            return [Amp(0, 0, self.nx, output, reads_right=not self.xflip)]
        amps = []
        for i in range(4):
            x0, x1 = i * CHANNEL_WIDTH, (i + 1) * CHANNEL_WIDTH
            det_col = (FULL_SIZE - 1 - x0) if self.xflip else x0
            output = det_col // CHANNEL_WIDTH
            det_reads_right = output % 2 == 0
            amps.append(Amp(i, x0, x1, output, reads_right=det_reads_right != self.xflip))
        return amps

    # -- reference pixels --------------------------------------------------------------------
    def reference_rows(self) -> tuple[np.ndarray, np.ndarray]:
        """Array row indices of the (bottom, top) reference rows in science orientation."""
        rows = np.arange(self.ny) + self.ystart - 1
        return np.flatnonzero(rows < NREF), np.flatnonzero(rows >= FULL_SIZE - NREF)

    def reference_columns(self) -> tuple[np.ndarray, np.ndarray]:
        """Array column indices of the (left, right) reference columns in science orientation."""
        cols = np.arange(self.nx) + self.xstart - 1
        return np.flatnonzero(cols < NREF), np.flatnonzero(cols >= FULL_SIZE - NREF)

    def reference_mask(self) -> np.ndarray:
        """Boolean (ny, nx) mask, True on reference pixels."""
        mask = np.zeros((self.ny, self.nx), bool)
        bottom, top = self.reference_rows()
        left, right = self.reference_columns()
        mask[bottom, :] = True
        mask[top, :] = True
        mask[:, left] = True
        mask[:, right] = True
        return mask

    def active_slices(self) -> tuple[slice, slice]:
        """(rows, cols) slices of the active area (reference pixels excluded)."""
        bottom, top = self.reference_rows()
        left, right = self.reference_columns()
        return (slice(len(bottom), self.ny - len(top)), slice(len(left), self.nx - len(right)))

    # -- timing --------------------------------------------------------------------------------
    @property
    def channel_width(self) -> int:
        return self.nx // self.noutputs

    @property
    def row_clocks(self) -> int:
        return self.channel_width + ROW_OVERHEAD_CLOCKS

    @property
    def frame_clocks(self) -> int:
        """Pixel clocks per frame: every row plus one extra row and one pixel."""
        return self.row_clocks * (self.ny + 1) + 1

    @property
    def frame_time(self) -> float:
        """Frame time in seconds (10.73677 s for full frame)."""
        return self.frame_clocks * PIXEL_TIME_S

    def channel_index(self, amp: Amp) -> int:
        """Index of ``amp`` on the output axis of :meth:`channel_images`: its detector output, or 0
        in a 1-output window (whose one channel is whichever output reads it)."""
        return amp.output if self.noutputs == 4 else 0

    def channel_images(self, frame_sci: np.ndarray) -> np.ndarray:
        """Split a science-orientation frame (..., ny, nx) into per-output images in read order.

        Returns an array (..., noutputs, ny, channel_width) indexed by *detector output*, where
        row ``r`` is the r-th row read and column ``p`` the p-th pixel read within the row, so
        ``img[..., k, r, p]`` was sampled at clock ``r * row_clocks + p`` of the frame.
        """
        det = self.to_detector(frame_sci)
        if self.noutputs == 1:
            return det[..., None, :, :]
        w = CHANNEL_WIDTH
        # Odd outputs read right to left: mirror them so column p is the p-th pixel read.
        outs = [det[..., k * w:(k + 1) * w][..., :: (1 if k % 2 == 0 else -1)] for k in range(4)]
        return np.stack(outs, axis=-3)

    def from_channel_images(self, chans: np.ndarray) -> np.ndarray:
        """Inverse of :meth:`channel_images`: (..., noutputs, ny, w) in read order -> science frame."""
        if self.noutputs == 1:
            det = chans[..., 0, :, :]
        else:
            det = np.concatenate(
                [chans[..., k, :, :][..., :: (1 if k % 2 == 0 else -1)] for k in range(4)], axis=-1
            )
        return np.ascontiguousarray(self.to_science(det))

    def time_series(self, channel_img: np.ndarray, fill=np.nan) -> np.ndarray:
        """Lay out one output's frame images (..., ny, channel_width) on the pixel clock.

        Returns (..., frame_clocks) with the 12 overhead clocks per row, the extra row and the
        extra pixel per frame set to ``fill``, so sample ``i`` is at ``i * 10 us``.
        """
        lead = channel_img.shape[:-2]
        out = np.full(lead + (self.frame_clocks,), fill, dtype=np.result_type(channel_img, np.float32))
        body = out[..., : self.ny * self.row_clocks].reshape(lead + (self.ny, self.row_clocks))
        body[..., : self.channel_width] = channel_img
        return out

    def amp_of_output(self, output: int) -> Amp:
        for a in self.amps():
            if a.output == output:
                return a
        raise KeyError(output)
