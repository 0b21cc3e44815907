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
# Primary-header keywords of the calibration steps a ramp may have been through (COMPLETE / SKIPPED),
# in pipeline order, and the names the inventory shows.
STEP_KEYWORDS = {"S_GRPSCL": "group_scale", "S_DQINIT": "dq_init", "S_SATURA": "saturation", "S_IPC": "ipc",
                 "S_SUPERB": "superbias", "S_REFPIX": "refpix", "S_RSCD": "rscd", "S_FRSTFR": "firstframe",
                 "S_LASTFR": "lastframe", "S_LINEAR": "linearity", "S_DARK": "dark_current",
                 "S_PERSIS": "persistence", "S_JUMP": "jump", "S_RAMP": "ramp_fit"}
RAW = "raw"  # the processing state of a file no calibration step has touched
MAX_SPAN_DAYS = 30.0  # a group whose exposure starts span more than this gets a note
DATE_DISAGREE_DAYS = 1.0  # DATE-OBS/TIME-OBS further than this from EXPSTART: a note


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
    nframes: int | None = None  # frames averaged per group
    groupgap: int | None = None  # frames dropped between groups
    tframe: float | None = None  # s
    tgroup: float | None = None  # s
    steps: tuple[str, ...] = ()  # calibration steps COMPLETE (pipeline order); () for a raw ramp
    has_dq: bool = False  # GROUPDQ / PIXELDQ extensions present
    reason: str | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.reason is None

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def folder(self) -> Path:
        return self.path.absolute().parent

    @property
    def processing(self) -> str:
        """'raw', or the calibration steps the file has been through (e.g. 'dq_init+saturation+...')."""
        return "+".join(self.steps) if self.steps else RAW

    @property
    def group_key(self) -> tuple:
        """Files that can be analysed together: one detector, one frame geometry, one readout pattern,
        one processing state (a ramp after the refpix step has lost most of its 1/f: never stacked
        with raw ones)."""
        return (self.detector, self.subarray, self.ny, self.nx, self.readpatt, self.processing)

    def row(self) -> dict:
        return {
            "file": self.name,
            "folder": str(self.folder),
            "detector": self.detector,
            "exp_type": self.exp_type,
            "readpatt": self.readpatt,
            "ngroups": self.ngroups,
            "nints": self.nints,
            "subarray": self.subarray,
            "shape (ny x nx)": f"{self.ny} x {self.nx}" if self.ny else None,
            "noutputs": self.noutputs,
            "nframes": self.nframes,
            "groupgap": self.groupgap,
            "tgroup (s)": None if self.tgroup is None else round(self.tgroup, 3),
            "processing": self.processing + (" (DQ)" if self.has_dq else ""),
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
                info.has_dq = any(h.name in ("GROUPDQ", "PIXELDQ") for h in hdul)
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
    info.expstart = h0.get("EXPSTART")
    _read_start(info, h0)
    if len(shape) == 4:
        info.nints, info.ngroups, info.ny, info.nx = shape
    info.noutputs = h0.get("NOUTPUTS")
    if info.noutputs is None and info.nx:  # derived: only full-width frames are read by 4 outputs
        info.noutputs = 4 if info.nx == 2048 else 1
        info.notes.append(f"NOUTPUTS missing: {info.noutputs} derived from the frame width ({info.nx} columns)")
    _read_timing(info, h0)
    info.steps = tuple(name for key, name in STEP_KEYWORDS.items()
                       if str(h0.get(key, "")).strip().upper() == "COMPLETE")

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


def _read_start(info: FileInfo, h0) -> None:
    """Start time from EXPSTART (MJD, UTC); DATE-OBS/TIME-OBS only where EXPSTART is absent, and a
    note where the two disagree by more than a day."""
    if info.expstart is not None:
        info.date_obs = _mjd_to_iso(info.expstart)
    header_date = None
    if h0.get("DATE-OBS"):
        header_date = f"{h0.get('DATE-OBS')}T{str(h0.get('TIME-OBS', ''))[:8]}".rstrip("T")
    if info.date_obs is None:
        info.date_obs = header_date
    elif header_date:
        from astropy.time import Time

        try:
            days = abs(Time(header_date, format="isot", scale="utc").mjd - float(info.expstart))
        except ValueError:
            days = None
        if days is not None and days > DATE_DISAGREE_DAYS:
            info.notes.append(f"DATE-OBS/TIME-OBS ({header_date}) disagree with EXPSTART ({info.date_obs}) by "
                              f"{days:.0f} days: the start time shown is EXPSTART's")


def _read_timing(info: FileInfo, h0) -> None:
    """NFRAMES, GROUPGAP, TFRAME, TGROUP; the frame time computed from the geometry where absent."""
    from core.io.geometry import Layout

    info.nframes = int(h0.get("NFRAMES", 1) or 1)
    info.groupgap = int(h0.get("GROUPGAP", 0) or 0)
    computed = None
    if info.detector in DETECTORS and info.nx and info.ny and info.noutputs in (1, 4):
        try:
            computed = Layout(info.detector, info.nx, info.ny, int(h0.get("SUBSTRT1", 1)),
                              int(h0.get("SUBSTRT2", 1)), int(info.noutputs)).frame_time
        except ValueError:
            computed = None
    tframe = h0.get("TFRAME")
    info.tframe = float(tframe) if tframe else computed
    if tframe and computed and abs(float(tframe) - computed) > 1e-3 * computed:
        info.notes.append(f"TFRAME = {float(tframe):.4g} s disagrees with the frame time of this geometry "
                          f"({computed:.4g} s)")
    tgroup = h0.get("TGROUP")
    info.tgroup = float(tgroup) if tgroup else (None if info.tframe is None
                                                 else (info.nframes + info.groupgap) * info.tframe)


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
    """Files of one detector, one frame geometry, one readout pattern and one processing state
    (and one folder, unless folders were merged), analysed together."""

    detector: str
    subarray: str
    files: list[FileInfo]
    tag: str = ""  # only when needed to tell groups apart: the readout pattern, the frame shape, the state
    folder: str = ""  # the folder's label (e.g. "ground") when the selection spans folders
    folder_in_key: bool = False  # the same detector group comes from several folders: the key names it

    @property
    def base_key(self) -> str:
        """The key without the folder: the same detector group in another epoch has the same one."""
        base = self.detector if self.subarray == "FULL" else f"{self.detector}_{self.subarray}"
        return f"{base}_{self.tag}" if self.tag else base

    @property
    def key(self) -> str:
        return f"{self.base_key} · {self.folder}" if self.folder and self.folder_in_key else self.base_key

    @property
    def label(self) -> str:
        """The key with the folder beside it (what a person reads in a picker or a table)."""
        where = f" · {self.folder}" if self.folder and not self.folder_in_key else ""
        return f"{self.key}{where}"

    @property
    def slug(self) -> str:
        """The key as a file or folder name (products, downloads)."""
        import re

        return re.sub(r"[^A-Za-z0-9_.+-]+", "_", self.key.replace(" · ", "__")).strip("_")

    @property
    def paths(self) -> list[Path]:
        return [f.path for f in self.files]

    @property
    def processing(self) -> str:
        return self.files[0].processing

    @property
    def expstart_span_days(self) -> float:
        starts = [float(f.expstart) for f in self.files if f.expstart is not None]
        return max(starts) - min(starts) if len(starts) > 1 else 0.0


def folder_labels(folders) -> dict[Path, str]:
    """A short, distinct label per folder: the last path component, or as many as it takes to tell
    two folders of the same name apart (``a/ground``, ``b/ground``)."""
    folders = sorted({Path(f) for f in folders})
    for depth in range(1, max((len(f.parts) for f in folders), default=1) + 1):
        labels = {f: "/".join(f.parts[-depth:]) for f in folders}
        if len(set(labels.values())) == len(folders):
            return labels
    return {f: str(f) for f in folders}


def group_by_detector(infos: list[FileInfo], merge_folders: bool = False,
                      max_span_days: float = MAX_SPAN_DAYS) -> tuple[list[DetectorGroup], list[FileInfo]]:
    """Group valid files by detector, frame geometry, readout pattern, processing state and folder:
    files of different shapes cannot be combined (jwst_reffiles would raise), the CDS noise of
    different readout patterns differs (frames averaged per group), a ramp after the refpix step
    has lost most of its 1/f, and two folders are usually two epochs or a ground and a flight copy
    (files of the same name in both stay apart).  ``merge_folders``: one group across folders.

    A detector whose files come in several geometries gives several groups (``NRCA1``,
    ``NRCA1_SUBGRISM256``); one geometry in several readout patterns gives ``NRCA1_RAPID`` and
    ``NRCA1_BRIGHT2``; several processing states ``NRCA1_raw`` and ``NRCA1_dq_init+...``; when the
    same group comes from several folders each key names its folder (``NRCB1 · ground``).  Each file says so in
    its notes, and a group whose exposure starts span more than ``max_span_days`` gets a note.

    Returns (groups sorted by key, rejected files).
    """
    rejected = [f for f in infos if not f.ok]
    valid = [f for f in infos if f.ok]
    labels = folder_labels(f.folder for f in valid)
    spans_folders = len(labels) > 1 and not merge_folders
    by_key: dict[tuple, list[FileInfo]] = {}
    for f in valid:
        by_key.setdefault(f.group_key + ((f.folder,) if spans_folders else ()), []).append(f)
    groups = [DetectorGroup(k[0], k[1], files, folder=labels[k[-1]] if spans_folders else "")
              for k, files in by_key.items()]
    _tag_groups(groups)
    # The key names the folder where the same detector group comes from several folders (the label
    # always shows it): a selection of one folder, or of folders holding different detectors, keeps
    # the plain keys of its products.
    seen: dict[str, int] = {}
    for g in groups:
        seen[g.base_key] = seen.get(g.base_key, 0) + 1
    for g in groups:
        g.folder_in_key = seen[g.base_key] > 1
    groups.sort(key=lambda g: (g.detector, g.subarray != "FULL", g.key))
    for g in groups:
        if g.expstart_span_days > max_span_days:
            for f in g.files:
                f.notes.append(f"the exposure starts of {g.key} span {g.expstart_span_days:.0f} days "
                               f"(more than {max_span_days:g}): several epochs in one group?")
    return groups, rejected


def _tag_groups(groups: list[DetectorGroup]) -> None:
    """Tell apart groups of one detector and folder that differ in readout pattern, processing
    state or frame shape, and note it in their files."""
    by_geometry: dict[tuple, list[DetectorGroup]] = {}
    for g in groups:
        by_geometry.setdefault(g.files[0].group_key[:4], []).append(g)
    for same in by_geometry.values():
        if len({g.files[0].group_key for g in same}) < 2:  # only folders differ: the folder tells them apart
            continue
        patterns = {str(g.files[0].readpatt) for g in same}
        states = {g.processing for g in same}
        for g in same:
            g.tag = "_".join(t for t in (str(g.files[0].readpatt) if len(patterns) > 1 else "",
                                         g.processing if len(states) > 1 else "") if t)
        keys = ", ".join(g.key for g in same)
        for g in same:
            for f in g.files:
                if len(patterns) > 1:
                    f.notes.append(f"{f.detector} files of one geometry come in readout patterns "
                                   f"{', '.join(sorted(patterns))}; analysed as separate groups ({keys}), not mixed")
                if len(states) > 1:
                    f.notes.append(f"{f.detector} files of one geometry come in processing states "
                                   f"{', '.join(sorted(states))}; analysed as separate groups ({keys}), never stacked")
    # Two geometries under one SUBARRAY name (inconsistent headers): tell them apart by the shape.
    by_name: dict[tuple, list[DetectorGroup]] = {}
    for g in groups:
        by_name.setdefault((g.base_key, g.folder), []).append(g)
    for same in by_name.values():
        if len(same) > 1:
            for g in same:
                g.tag = "_".join(t for t in (g.tag, f"{g.files[0].ny}x{g.files[0].nx}") if t)
    for det in {g.detector for g in groups}:
        mine = [g for g in groups if g.detector == det]
        geometries = {g.files[0].group_key[:4] for g in mine}
        if len(geometries) > 1:
            keys = ", ".join(dict.fromkeys(g.base_key for g in mine))
            for g in mine:
                for f in g.files:
                    f.notes.append(f"{det} files come in {len(geometries)} geometries; analysed as separate "
                                   f"groups ({keys})")


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


# -- the header check every section runs on its inputs ------------------------------------------------
@dataclass(frozen=True)
class RampHeader:
    """What a section needs to know of one input before reading pixels."""

    path: Path
    header: object  # the primary header (astropy Header)
    shape: tuple[int, int, int, int]  # (nints, ngroups, ny, nx)
    layout: object  # core.io.geometry.Layout

    @property
    def nints(self) -> int:
        return self.shape[0]

    @property
    def ngroups(self) -> int:
        return self.shape[1]

    @property
    def nframes(self) -> int:
        return int(self.header.get("NFRAMES") or 1)

    @property
    def groupgap(self) -> int:
        return int(self.header.get("GROUPGAP") or 0)


def read_ramp_header(path) -> RampHeader:
    """Primary header, SCI shape and geometry of one ramp; :class:`InputError` naming the file when
    it cannot be a ramp of this app (missing, not FITS, no 4-D SCI, a header that gives no layout,
    SUBSIZE1/2 that disagree with the SCI frame)."""
    from astropy.io import fits

    from core.io.ramps import layout_from_header

    path = Path(path)
    name = path.name
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with fits.open(path, memmap=False, lazy_load_hdus=True) as hdul:
                header = hdul[0].header.copy()
                sci = hdul["SCI"].header
                naxis = int(sci.get("NAXIS", 0))
                shape = tuple(int(sci[f"NAXIS{i}"]) for i in range(naxis, 0, -1))
    except FileNotFoundError:
        raise InputError(f"{name}: file not found", file=str(path)) from None
    except KeyError:
        raise InputError(f"{name}: has no SCI extension", file=str(path)) from None
    except Exception as exc:  # astropy/OS errors on garbage, truncated or unreadable files
        raise InputError(f"{name}: cannot be read as a NIRCam ramp ({type(exc).__name__}: {exc})",
                         file=str(path)) from None
    if len(shape) != 4:
        raise InputError(f"{name}: SCI must be 4-D (nints, ngroups, ny, nx), not {len(shape)}-D", file=str(path))
    header.setdefault("SUBSIZE1", shape[3])
    header.setdefault("SUBSIZE2", shape[2])
    try:
        if "DETECTOR" not in header:
            raise ValueError("no DETECTOR keyword")
        layout = layout_from_header(header)
    except (ValueError, KeyError, TypeError) as exc:
        raise InputError(f"{name}: unusable header ({exc})", file=str(path)) from None
    if (layout.ny, layout.nx) != shape[2:]:
        raise InputError(f"{name}: SCI frames are {shape[2]}x{shape[3]} but SUBSIZE2/SUBSIZE1 say "
                         f"{layout.ny}x{layout.nx}", file=str(path))
    return RampHeader(path, header, shape, layout)


def check_ramps(paths, min_groups: int = 2) -> list[RampHeader]:
    """The one check of a section's inputs: every file a ramp (:func:`read_ramp_header`) with at least
    ``min_groups`` groups, all of one detector and one frame (size, position, outputs) and one
    readout pattern (NFRAMES, GROUPGAP).  :class:`InputError` naming the first file that is not."""
    paths = [Path(p) for p in paths]
    if not paths:
        raise InputError("no files to analyse")
    out: list[RampHeader] = []
    for p in paths:
        r = read_ramp_header(p)
        if r.ngroups < min_groups:
            raise InputError(f"{p.name}: {r.ngroups} group(s); at least {min_groups} are needed", file=str(p))
        if out:
            first, lay, lay0 = out[0], r.layout, out[0].layout
            if lay.detector != lay0.detector:
                raise InputError(f"{p.name}: detector {lay.detector} differs from {lay0.detector} of "
                                 f"{first.path.name}; analyse one detector at a time", file=str(p))
            if lay != lay0:
                raise InputError(
                    f"{p.name}: frame {lay.nx}x{lay.ny} at ({lay.xstart},{lay.ystart}) with {lay.noutputs} "
                    f"output(s) differs from {first.path.name} ({lay0.nx}x{lay0.ny} at ({lay0.xstart},"
                    f"{lay0.ystart}), {lay0.noutputs} output(s)): the files have different frame shapes", file=str(p))
            if (r.nframes, r.groupgap) != (first.nframes, first.groupgap):
                raise InputError(f"{p.name}: {r.nframes} frame(s) per group and a gap of {r.groupgap}, but "
                                 f"{first.path.name} has {first.nframes} and {first.groupgap}: analyse one readout "
                                 "pattern at a time", file=str(p))
        out.append(r)
    return out
