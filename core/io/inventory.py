"""Find dark exposures under the data root, read their headers (never pixels), validate them.

Every path that reaches the analysis passes through :func:`resolve_under_root`: it is resolved
(symlinks too) and refused if it leaves the data root.  Validation gives each rejected file one
specific, human reason; the other files proceed.
"""

from __future__ import annotations

import glob as _glob
import os
import stat
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from core.errors import InputError
from core.io.geometry import DETECTORS, normalize_detector

REQUIRED_KEYWORDS = ("DETECTOR", "SUBARRAY", "READPATT", "NGROUPS", "NINTS", "SUBSIZE1", "SUBSIZE2")
DATA_ROOT_ENV = "DARKS_DATA_ROOT"


# -- the data root -------------------------------------------------------------------------------
def data_root(default: str | os.PathLike | None = None) -> Path:
    """The configured data root: ``$DARKS_DATA_ROOT``, else ``default``.  Never from the browser."""
    value = os.environ.get(DATA_ROOT_ENV) or default
    if not value:
        raise InputError(f"no data root configured: set {DATA_ROOT_ENV} to the folder holding the darks")
    root = Path(value).expanduser().resolve()
    if not root.is_dir():
        raise InputError(f"the data root {root} is not a folder")
    return root


def resolve_under_root(root: Path, relative: str | os.PathLike) -> Path:
    """Resolve ``relative`` (a path *inside* root) and refuse it if it leaves the root.

    Absolute paths, ``..`` components and symlinks that point outside the root are all refused.
    """
    root = Path(root).resolve()
    rel = str(relative or "")
    if os.path.isabs(rel):
        raise InputError(f"absolute paths are not allowed here: {rel!r}; choose a folder inside the data root")
    if any(part == ".." for part in Path(rel).parts):
        raise InputError(f"'..' is not allowed in a path: {rel!r}")
    target = (root / rel).resolve()
    if target != root and not target.is_relative_to(root):
        raise InputError(f"{rel!r} points outside the data root")
    return target


def list_subfolders(root: Path, max_depth: int = 3) -> list[str]:
    """Folders under the root (relative, '' for the root itself) that the user may pick."""
    root = Path(root).resolve()
    found = [""]
    for dirpath, dirnames, _ in os.walk(root, followlinks=False):
        depth = len(Path(dirpath).relative_to(root).parts)
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        if depth >= max_depth:
            dirnames[:] = []
        for d in dirnames:
            p = Path(dirpath, d)
            if p.resolve().is_relative_to(root):
                found.append(str(p.relative_to(root)))
    return found


def find_files(root: Path, subfolder: str = "", pattern: str = "*_uncal.fits") -> list[Path]:
    """Files matching ``pattern`` directly in ``subfolder`` of the root (sorted, resolved).

    A pattern with a path separator or ``..`` is refused; matches that resolve outside the root
    (symlinks) are dropped.
    """
    pattern = (pattern or "").strip()
    if not pattern:
        raise InputError("the file pattern is empty")
    if "/" in pattern or "\\" in pattern or ".." in pattern:
        raise InputError(f"the file pattern {pattern!r} may not contain path separators or '..'; pick the folder instead")
    folder = resolve_under_root(root, subfolder)
    if not folder.is_dir():
        raise InputError(f"{subfolder or '.'} is not a folder under the data root")
    out = []
    for p in sorted(folder.glob(pattern)):
        rp = p.resolve()
        if rp.is_file() and rp.is_relative_to(Path(root).resolve()):
            out.append(rp)
    return out


# -- headers and validation ------------------------------------------------------------------------
@dataclass
class FileInfo:
    """Header facts of one file, and why it is rejected (``reason``) if it is."""

    path: Path
    size: int = 0
    detector: str | None = None
    exp_type: str | None = None
    readpatt: str | None = None
    ngroups: int | None = None
    nints: int | None = None
    nx: int | None = None
    ny: int | None = None
    subarray: str | None = None
    noutputs: int | None = None
    expstart: float | None = None
    date_obs: str | None = None
    bitpix: int | None = None
    reason: str | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.reason is None

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def group_key(self) -> tuple:
        """Files that can be analysed together: one detector, one frame geometry, one readout pattern."""
        return (self.detector, self.subarray, self.ny, self.nx, self.readpatt)

    def row(self) -> dict:
        return {
            "file": self.name,
            "detector": self.detector,
            "exp_type": self.exp_type,
            "readpatt": self.readpatt,
            "ngroups": self.ngroups,
            "nints": self.nints,
            "subarray": self.subarray,
            "shape (ny x nx)": f"{self.ny} x {self.nx}" if self.ny else None,
            "noutputs": self.noutputs,
            "start (UTC)": self.date_obs,
            "expstart (MJD)": self.expstart,
            "size (MB)": round(self.size / 1e6, 1),
            "status": "ok" if self.ok else "rejected",
            "reason": self.reason or "; ".join(self.notes),
        }


def _mjd_to_iso(mjd):
    from astropy.time import Time

    try:
        return Time(float(mjd), format="mjd").isot[:19]
    except Exception:
        return None


def inspect_file(path: Path) -> FileInfo:
    """Read the headers of one file (no pixels) and validate it; never raises for a bad file."""
    from astropy.io import fits

    path = Path(path)
    info = FileInfo(path)
    try:
        st = path.stat()
    except FileNotFoundError:
        if _glob.has_magic(path.name):
            info.reason = f"no file matches the pattern {path.name!r}"
        else:
            info.reason = "the file no longer exists (deleted after it was listed)"
        return info
    except OSError as e:
        info.reason = f"cannot read the file: {e.strerror or e}"
        return info
    if not stat.S_ISREG(st.st_mode):  # never open a FIFO or a device: reading it could block forever
        kind = ("a folder" if stat.S_ISDIR(st.st_mode) else "a named pipe (FIFO)" if stat.S_ISFIFO(st.st_mode)
                else "a socket" if stat.S_ISSOCK(st.st_mode) else "a device")
        info.reason = f"not a regular file: it is {kind}"
        return info
    info.size = st.st_size
    if info.size == 0:
        info.reason = "the file is empty (0 bytes)"
        return info
    if not os.access(path, os.R_OK):
        info.reason = "permission denied: the app cannot read this file"
        return info
    try:
        with open(path, "rb") as f:
            magic = f.read(30)
    except OSError as e:
        info.reason = f"cannot read the file: {e.strerror or e}"
        return info
    if not magic.startswith(b"SIMPLE  =                    T"):
        info.reason = "not a FITS file (no SIMPLE = T card at the start)"
        return info
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with fits.open(path, memmap=False, lazy_load_hdus=False) as hdul:
                h0 = hdul[0].header
                sci = _find_sci(hdul)
                if sci is None:
                    info.reason = "no SCI image extension: not a level-1b ramp file"
                    return info
                shdr = sci.header
                naxis = int(shdr.get("NAXIS", 0))
                shape = tuple(int(shdr[f"NAXIS{i}"]) for i in range(naxis, 0, -1))
                loc = sci.fileinfo()
                end = loc["datLoc"] + loc["datSpan"]
                info.bitpix = int(shdr.get("BITPIX", 0))
    except OSError as e:
        info.reason = f"unreadable or truncated FITS: {e}"
        return info
    except Exception as e:  # astropy raises various errors on garbage headers
        info.reason = f"unreadable FITS header: {type(e).__name__}: {e}"
        return info

    info.detector = normalize_detector(h0["DETECTOR"]) if "DETECTOR" in h0 else None
    info.exp_type = h0.get("EXP_TYPE")
    info.readpatt = h0.get("READPATT")
    info.subarray = h0.get("SUBARRAY")
    info.noutputs = h0.get("NOUTPUTS")
    info.expstart = h0.get("EXPSTART")
    if h0.get("DATE-OBS"):
        info.date_obs = f"{h0.get('DATE-OBS')}T{str(h0.get('TIME-OBS', ''))[:8]}".rstrip("T")
    elif info.expstart is not None:
        info.date_obs = _mjd_to_iso(info.expstart)
    if len(shape) == 4:
        info.nints, info.ngroups, info.ny, info.nx = shape

    instrument = str(h0.get("INSTRUME", "")).strip().upper()
    if instrument != "NIRCAM":
        info.reason = f"not a NIRCam file (INSTRUME = {instrument or 'missing'})"
    elif end > info.size:
        info.reason = (f"truncated: the SCI data need {end:,} bytes but the file has {info.size:,} "
                       "(partial download?)")
    elif naxis != 4:
        kind = {2: "a 2-D image (a rate or calibrated file?)", 3: "a 3-D cube"}.get(naxis, f"{naxis}-D")
        info.reason = f"SCI is {kind}, not a 4-D ramp (nints, ngroups, ny, nx)"
    elif info.ngroups < 2:
        info.reason = f"only {info.ngroups} group: at least 2 groups are needed to form a group difference"
    else:
        missing = [k for k in REQUIRED_KEYWORDS if k not in h0]
        if missing:
            info.reason = f"missing header keyword(s): {', '.join(missing)}"
        elif info.detector not in DETECTORS:
            info.reason = f"unknown NIRCam detector {h0['DETECTOR']!r}"
        elif (int(h0["SUBSIZE1"]), int(h0["SUBSIZE2"])) != (info.nx, info.ny):
            info.reason = (f"SUBSIZE1/2 = {h0['SUBSIZE1']}x{h0['SUBSIZE2']} disagree with the SCI "
                           f"shape {info.nx}x{info.ny}")
        elif int(h0["NGROUPS"]) != info.ngroups or int(h0["NINTS"]) != info.nints:
            info.reason = (f"NGROUPS/NINTS = {h0['NGROUPS']}/{h0['NINTS']} disagree with the SCI "
                           f"shape ({info.ngroups} groups, {info.nints} integrations)")
    if info.ok and str(info.exp_type or "").upper() not in ("NRC_DARK", "NRC_FOCUS"):
        info.notes.append(f"EXP_TYPE is {info.exp_type}, not NRC_DARK: is this really a dark?")
    return info


def _find_sci(hdul):
    for hdu in hdul:
        if hdu.name == "SCI":
            return hdu
    return None


def inventory(paths) -> list[FileInfo]:
    """Inspect every path; the list keeps the input order."""
    return [inspect_file(Path(p)) for p in paths]


@dataclass
class DetectorGroup:
    """Files of one detector, one frame geometry and one readout pattern, analysed together."""

    detector: str
    subarray: str
    files: list[FileInfo]
    tag: str = ""  # only when needed to tell groups apart: the readout pattern, or the frame shape

    @property
    def key(self) -> str:
        base = self.detector if self.subarray == "FULL" else f"{self.detector}_{self.subarray}"
        return f"{base}_{self.tag}" if self.tag else base

    @property
    def paths(self) -> list[Path]:
        return [f.path for f in self.files]


def group_by_detector(infos: list[FileInfo]) -> tuple[list[DetectorGroup], list[FileInfo]]:
    """Group valid files by detector, frame geometry and readout pattern: files of different shapes
    cannot be combined (jwst_reffiles would raise), and the CDS noise of different readout patterns
    differs (frames averaged per group), so one statistic over both would mean nothing.

    A detector whose files come in several geometries gives several groups (``NRCA1``,
    ``NRCA1_SUBGRISM256``); one geometry in several readout patterns gives ``NRCA1_RAPID`` and
    ``NRCA1_BRIGHT2``; and each file says so in its notes.

    Returns (groups sorted by key, rejected files).
    """
    rejected = [f for f in infos if not f.ok]
    by_key: dict[tuple, list[FileInfo]] = {}
    for f in infos:
        if f.ok:
            by_key.setdefault(f.group_key, []).append(f)
    groups = [DetectorGroup(k[0], k[1], files) for k, files in by_key.items()]
    # Readout patterns of one geometry: tell the groups apart by the pattern.
    by_geometry: dict[tuple, list[DetectorGroup]] = {}
    for g in groups:
        by_geometry.setdefault(g.files[0].group_key[:4], []).append(g)
    for same in by_geometry.values():
        if len(same) > 1:
            for g in same:
                g.tag = str(g.files[0].readpatt)
    # Two geometries under one SUBARRAY name (inconsistent headers): tell them apart by the shape.
    by_name: dict[str, list[DetectorGroup]] = {}
    for g in groups:
        by_name.setdefault(g.key, []).append(g)
    for same in by_name.values():
        if len(same) > 1:
            for g in same:
                g.tag = "_".join(t for t in (g.tag, f"{g.files[0].ny}x{g.files[0].nx}") if t)
    groups.sort(key=lambda g: (g.detector, g.subarray != "FULL", g.key))
    for det in {g.detector for g in groups}:
        geometries = [same for same in by_geometry.values() if same[0].detector == det]
        if len(geometries) > 1:
            keys = ", ".join(g.key for same in geometries for g in same)
            for same in geometries:
                for g in same:
                    for f in g.files:
                        f.notes.append(f"{det} files come in {len(geometries)} geometries; analysed as separate "
                                       f"groups ({keys})")
    for same in by_geometry.values():
        if len(same) > 1:
            patterns = ", ".join(sorted(str(g.files[0].readpatt) for g in same))
            keys = ", ".join(g.key for g in same)
            for g in same:
                for f in g.files:
                    f.notes.append(f"{f.detector} files of one geometry come in readout patterns {patterns}; "
                                   f"analysed as separate groups ({keys}), not mixed")
    return groups, rejected


def glob_paths(patterns) -> list[Path]:
    """Expand CLI arguments (files or shell globs) to existing paths, in order, without duplicates."""
    out, seen = [], set()
    for pat in patterns:
        matches = sorted(_glob.glob(str(pat))) or [str(pat)]
        for m in matches:
            p = Path(m)
            if p not in seen:
                seen.add(p)
                out.append(p)
    return out
