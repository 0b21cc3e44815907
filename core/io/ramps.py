"""Read dark ramps by row stripes and form CDS (group-difference) frames.

Memory stays bounded by the stripe: a full-frame 108-group file is ~0.9 GB, so nothing here ever
loads a whole file.  Pixel values are returned as float32 DN (BZERO applied); saturated samples
(65535) and non-finite samples become NaN so that every estimator ignores them explicitly.

Pipeline-processed ramps (RampModel files: ``*_ramp.fits``, ``*_linearitystep.fits``, ...) carry
data-quality arrays.  A sample whose GROUPDQ has any bit of ``groupdq_mask`` set (DO_NOT_USE,
SATURATED, JUMP_DET by default: a saturated sample keeps a frozen value, so only GROUPDQ tells), and
every sample of a pixel whose PIXELDQ has DO_NOT_USE set, is NaN as well -- except reference pixels:
the mask files flag them DO_NOT_USE together with REFERENCE_PIXEL (they hold no signal for
science), and they are exactly what the reference-pixel section measures.  The samples left out
this way are counted per column (:attr:`Ramp.dq_masked_columns`), apart from the saturated and
non-finite ones (the second value :meth:`Ramp.read_stripe` returns).
"""

from __future__ import annotations

import errno
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numba
import numpy as np
from astropy.io import fits

from core.errors import ParameterError
from core.io.geometry import Layout

SATURATED_DN = 65535
GROUP_DIFF_TYPES = ("independent", "consecutive")

# JWST data-quality bits (stdatamodels' dqflags; always test bits, never equality)
DQ_DO_NOT_USE, DQ_SATURATED, DQ_JUMP_DET = 1, 2, 4
DQ_REFERENCE_PIXEL = 1 << 31
DEFAULT_GROUPDQ_MASK = DQ_DO_NOT_USE | DQ_SATURATED | DQ_JUMP_DET
GROUPDQ_FLAGS = {"DO_NOT_USE": 1, "SATURATED": 2, "JUMP_DET": 4, "DROPOUT": 8, "PERSISTENCE": 32,
                 "AD_FLOOR": 64, "CHARGELOSS": 128}


def parse_groupdq_flags(names) -> int:
    """GROUPDQ bit mask from flag names ('DO_NOT_USE,SATURATED,JUMP_DET', a list of names, or
    'none'); a :class:`ParameterError` names an unknown flag and lists the known ones."""
    if isinstance(names, str):
        names = [n for n in names.replace("|", ",").split(",") if n.strip()]
    mask = 0
    for n in names:
        key = str(n).strip().upper()
        if key == "NONE":
            continue
        if key not in GROUPDQ_FLAGS:
            raise ParameterError(f"unknown GROUPDQ flag {n!r}; the flags are {', '.join(GROUPDQ_FLAGS)} (or 'none')")
        mask |= GROUPDQ_FLAGS[key]
    return mask


def check_groupdq_mask(mask) -> int:
    """The one validator of a GROUPDQ mask setting (every section's ``Params.validate`` calls it)."""
    known = sum(GROUPDQ_FLAGS.values())
    if isinstance(mask, bool) or not isinstance(mask, (int, np.integer)) or mask < 0 or int(mask) & ~known:
        raise ParameterError(f"groupdq_mask must be a combination of the GROUPDQ bits {groupdq_names(known)} "
                             f"(an integer in 0..{known}), not {mask!r}")
    return int(mask)


def groupdq_names(mask: int) -> str:
    """'DO_NOT_USE|SATURATED|JUMP_DET' for a GROUPDQ bit mask ('none' for 0)."""
    return "|".join(n for n, b in GROUPDQ_FLAGS.items() if mask & b) or "none"


def dq_use(masked_columns, layout: Layout, groupdq_mask: int, has_dq: bool) -> dict | None:
    """What every section reports of its DQ use: None where no file carries DQ arrays, else
    ``{"used": True, "groupdq_mask", "groupdq_flags", "masked_samples_per_amp"}`` with the samples
    left out (:attr:`Ramp.dq_masked_columns`, summed over files) counted per amp of ``layout``."""
    if not has_dq:
        return None
    cols = np.asarray(masked_columns if masked_columns is not None else np.zeros(layout.nx), np.int64)
    per_amp = [int(cols[a.x0:a.x1].sum()) for a in layout.amps()]
    return {"used": True, "groupdq_mask": int(groupdq_mask), "groupdq_flags": groupdq_names(groupdq_mask),
            "masked_samples_per_amp": per_amp}


def dq_note(dq: dict | None) -> str | None:
    """The sentence the pages and the report show for :func:`dq_use`'s summary (None without DQ)."""
    if not dq or not dq.get("used"):
        return None
    per_amp = dq.get("masked_samples_per_amp")
    counts = ("; per amp: " + ", ".join(map(str, per_amp))) if per_amp is not None else " (not counted)"
    total = sum(per_amp) if per_amp is not None else "some"
    return (f"{total} samples left out by their DQ flags (GROUPDQ {dq['groupdq_flags']}; PIXELDQ DO_NOT_USE "
            f"outside the reference pixels){counts}.")


@dataclass(frozen=True)
class FileId:
    """Identity of a file for caching: a changed file gets a new identity."""

    path: str
    size: int
    mtime_ns: int

    @classmethod
    def of(cls, path) -> FileId:
        st = os.stat(path)
        return cls(str(Path(path).resolve()), st.st_size, st.st_mtime_ns)


def layout_from_header(header) -> Layout:
    """Geometry of an exposure from its primary header (and the SCI shape for the sizes)."""
    return Layout(
        detector=header["DETECTOR"],
        nx=int(header["SUBSIZE1"]),
        ny=int(header["SUBSIZE2"]),
        xstart=int(header.get("SUBSTRT1", 1)),
        ystart=int(header.get("SUBSTRT2", 1)),
        noutputs=int(header.get("NOUTPUTS", 4 if int(header["SUBSIZE1"]) == 2048 else 1)),
    )


class Ramp:
    """An open ``*_uncal.fits`` ramp, read lazily in row stripes.

    Use as a context manager.  ``shape`` is (nints, ngroups, ny, nx) in science orientation.
    """

    def __init__(self, path, direct: bool = True, groupdq_mask: int = DEFAULT_GROUPDQ_MASK):
        """``direct=False``: always read through astropy's ``section`` (the reference the direct
        decoder is tested and benchmarked against).  ``groupdq_mask``: the GROUPDQ bits that leave
        a sample out (0: use every sample the file has)."""
        self.path = Path(path)
        self._hdul = fits.open(self.path, memmap=False, lazy_load_hdus=True)
        self.header = self._hdul[0].header
        self._sci = self._hdul["SCI"]
        self.groupdq_mask = int(groupdq_mask)
        self._groupdq = self._extension("GROUPDQ")
        self._pixeldq = self._extension("PIXELDQ")
        self._dead = None  # PIXELDQ's unusable pixels, read on first use
        self.shape = tuple(int(n) for n in self._sci.shape)
        self.layout = layout_from_header(self.header)
        self._lock = threading.Lock()  # astropy's one file handle: reads from threads must not interleave
        self.dq_masked_columns = np.zeros(self.shape[3], np.int64)  # samples left out by DQ, per column
        self._dq_counted = None  # (int, group, row) already counted; made on first use (DQ files only)
        self._fd = self._data_offset = None
        if direct:
            try:
                fd = os.open(self.path, os.O_RDONLY)
            except OSError:
                self._hdul.close()
                raise
            # the checks and the reads go through the same descriptor: the same file
            self._data_offset = direct_data_offset(fd, self._sci)
            if self._data_offset is None:
                os.close(fd)
            else:
                self._fd = fd

    def _extension(self, name: str):
        """The image extension ``name`` when the file has one, else None."""
        try:
            hdu = self._hdul[name]
        except KeyError:
            return None
        return hdu if hdu.header.get("NAXIS", 0) else None

    def _unusable_pixels(self) -> np.ndarray:
        """(ny, nx) PIXELDQ DO_NOT_USE outside the reference pixels, read once (call under the lock)."""
        if self._dead is None:
            pdq = np.asarray(self._pixeldq.section[:, :]).astype(np.uint32, copy=False)
            self._dead = ((pdq & DQ_DO_NOT_USE) != 0) & ((pdq & np.uint32(DQ_REFERENCE_PIXEL)) == 0)
        return self._dead

    @property
    def has_dq(self) -> bool:
        """The file carries GROUPDQ or PIXELDQ (a pipeline-processed ramp)."""
        return self._groupdq is not None or self._pixeldq is not None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        self._hdul.close()
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    @property
    def nints(self) -> int:
        return self.shape[0]

    @property
    def ngroups(self) -> int:
        return self.shape[1]

    @property
    def is_float(self) -> bool:
        """SCI holds floating-point values (a pipeline-processed ramp), not raw 16-bit counts."""
        return int(self._sci.header.get("BITPIX", 16)) < 0

    def read_raw(self, y0: int, y1: int) -> np.ndarray:
        """Rows ``y0:y1`` of every integration and group as stored (scaled by astropy, no masking)."""
        with self._lock:
            return np.asarray(self._sci.section[:, :, y0:y1, :])

    def read_stripe(self, y0: int, y1: int, groups: slice = slice(None),
                    ints: slice = slice(None)) -> tuple[np.ndarray, int]:
        """Rows ``y0:y1`` of integrations ``ints`` and groups ``groups`` (slices) as float32 DN.

        Returns (array (nints, ngroups, y1-y0, nx), number of samples set to NaN because they were
        saturated or not finite).  Raw 16-bit ramps are decoded straight from the file
        (:func:`direct_data_offset`), anything else is read through astropy; the values are the same.
        """
        if self._fd is not None:
            data, nbad = self._read_direct(range(*ints.indices(self.shape[0])),
                                           range(*groups.indices(self.shape[1])), y0, y1)
        else:
            with self._lock:
                raw = self._sci.section[ints, groups, y0:y1, :]
            data = np.asarray(raw, dtype=np.float32)
            bad = ~np.isfinite(data)
            if raw.dtype.kind in "ui":
                bad |= raw == SATURATED_DN
            nbad = int(bad.sum())
            if nbad:
                data[bad] = np.nan
        if self.has_dq:
            self._mask_dq(data, y0, y1, groups, ints)
        return data, nbad

    def _mask_dq(self, data: np.ndarray, y0: int, y1: int, groups: slice, ints: slice) -> None:
        """Set the samples the DQ arrays exclude to NaN (in place) and count them per column."""
        leave_out = np.zeros(data.shape, bool)
        with self._lock:
            if self._groupdq is not None and self.groupdq_mask:
                gdq = np.asarray(self._groupdq.section[ints, groups, y0:y1, :])
                leave_out |= (gdq & self.groupdq_mask) != 0
            if self._pixeldq is not None:
                leave_out |= self._unusable_pixels()[y0:y1][None, None]
        leave_out &= np.isfinite(data)  # already NaN: counted as saturated or non-finite
        if leave_out.any():
            data[leave_out] = np.nan
            # A section may read the same samples twice (1/f: pixel means, then CDS frames): each
            # (integration, group, row) is counted once, so the counts are of samples, not of reads.
            ii = np.arange(*ints.indices(self.shape[0]))[:, None, None]
            gg = np.arange(*groups.indices(self.shape[1]))[None, :, None]
            yy = np.arange(y0, y1)[None, None, :]
            with self._lock:
                if self._dq_counted is None:
                    self._dq_counted = np.zeros(self.shape[:3], bool)
                new = ~self._dq_counted[ii, gg, yy]
                self._dq_counted[ii, gg, yy] = True
                self.dq_masked_columns += (leave_out & new[..., None]).sum(axis=(0, 1, 2))

    def _read_direct(self, ints: range, groups: range, y0: int, y1: int) -> tuple[np.ndarray, int]:
        """The raw bytes of each (integration, group) block of rows, read with ``os.preadv`` into
        one buffer (no shared file position: threads need no lock), then decoded in one compiled pass."""
        _, ng, ny, nx = self.shape
        rows = y1 - y0
        raw = np.empty((len(ints), len(groups), rows, nx), np.uint16)
        block = rows * nx * 2
        for a, i in enumerate(ints):
            for b, g in enumerate(groups):
                offset = self._data_offset + ((i * ng + g) * ny + y0) * nx * 2
                got = os.preadv(self._fd, [memoryview(raw[a, b]).cast("B")], offset)
                if got != block:
                    raise OSError(errno.EIO, f"the file ends inside its SCI data (integration {i}, group {g}): "
                                  "truncated or being written?", str(self.path))
        data = np.empty(raw.shape, np.float32)
        nbad = decode_uint16_be(raw.reshape(-1), data.reshape(-1))
        return data, int(nbad)


def direct_data_offset(fd: int, sci) -> int | None:
    """Byte offset of the SCI data in the file open as ``fd`` when it can be decoded without
    astropy, else None.

    That is the raw-ramp case: an uncompressed FITS file (it starts with ``SIMPLE``), a 4-D image
    of 16-bit integers stored with BZERO 32768 and BSCALE 1 (unsigned DN) and no BLANK, all of it
    in the file.  astropy's ``section`` reads such data in several passes (read, byte swap, unsigned
    conversion, float conversion: ~65-130 ms per 10-group full-frame file on this machine, warm
    cache); one compiled pass takes ~10 ms.  Everything else (float data, other scalings,
    compressed or short files) keeps astropy's reader and its error messages."""
    h = sci.header
    try:
        if (type(sci) is not fits.ImageHDU or h.get("NAXIS") != 4 or h.get("BITPIX") != 16
                or h.get("BZERO", 0) != 32768 or h.get("BSCALE", 1) != 1 or "BLANK" in h):
            return None
        offset = int(sci.fileinfo()["datLoc"])
        if os.pread(fd, 6, 0) != b"SIMPLE":
            return None
        need = offset + 2 * int(np.prod([int(h[f"NAXIS{k}"]) for k in (1, 2, 3, 4)]))
        if os.fstat(fd).st_size < need:
            return None
    except (KeyError, TypeError, ValueError, OSError):
        return None
    return offset


@numba.njit(cache=True, nogil=True)
def decode_uint16_be(raw, out):
    """FITS 16-bit data with BZERO 32768 -> float32 DN, in one pass: ``raw`` holds the file's bytes
    (big-endian signed integers) viewed as native uint16.  Byte swap, then flipping the top bit adds
    32768 modulo 2^16 (the unsigned value); 65535 (saturated) becomes NaN.  Returns how many did."""
    nbad = 0
    for i in range(raw.size):
        b = raw[i]
        v = np.uint16(((b & 0xFF) << 8) | (b >> 8)) ^ np.uint16(0x8000)
        sat = v == SATURATED_DN
        out[i] = np.float32(np.nan) if sat else np.float32(v)
        nbad += sat
    return nbad


def stripes(ny: int, rows: int) -> Iterator[tuple[int, int]]:
    """Row ranges (y0, y1) covering ``ny`` rows in stripes of ``rows``."""
    rows = max(1, int(rows))
    for y0 in range(0, ny, rows):
        yield y0, min(ny, y0 + rows)


def stripe_rows_for(shape, budget_bytes: int = 256 * 2**20) -> int:
    """Rows per stripe so that one stripe of float32 data stays under ``budget_bytes``."""
    nints, ngroups, ny, nx = shape
    per_row = nints * ngroups * nx * 4
    return int(max(4, min(ny, budget_bytes // max(per_row, 1))))


def n_cds(ngroups: int, diff_type: str) -> int:
    """Number of CDS frames per integration."""
    if diff_type == "independent":
        return ngroups // 2
    if diff_type == "consecutive":
        return max(ngroups - 1, 0)
    raise ValueError(f"group difference type must be one of {GROUP_DIFF_TYPES}, not {diff_type!r}")


def cds_frames(ramp: np.ndarray, diff_type: str = "independent") -> np.ndarray:
    """Group differences of a ramp (nints, ngroups, ...) -> (nints * ncds, ...), in DN.

    ``independent``: G1-G0, G3-G2, ... (each group used once; an odd last group is ignored);
    ``consecutive``: every adjacent pair G1-G0, G2-G1, ...  Same order as jwst_reffiles.
    """
    n = n_cds(ramp.shape[1], diff_type)
    if diff_type == "independent":
        d = ramp[:, 1 : 2 * n : 2] - ramp[:, 0 : 2 * n : 2]
    else:
        d = ramp[:, 1:] - ramp[:, :-1]
    return d.reshape((-1,) + ramp.shape[2:])
