"""Provenance of a report: SHA-256 of the input files, software versions, and paths shown relative
to the data root (``data_root``, else ``$DARKS_DATA_ROOT``) where possible."""

from __future__ import annotations

import hashlib
import os
import platform
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from core import __version__
from core.io.inventory import DATA_ROOT_ENV
from core.pipeline.run import GroupResult


def sha256_file(path, chunk: int = 1 << 20) -> str:
    """SHA-256 hex digest of a file, streamed in ``chunk``-byte pieces (bounded memory)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while True:
            b = f.read(chunk)
            if not b:
                break
            h.update(b)
    return h.hexdigest()


def software_versions() -> dict[str, str]:
    """Versions of this app and of the packages whose numbers the report shows."""
    from importlib.metadata import PackageNotFoundError, version

    out = {"NIRCam darks app (core)": __version__}
    for pkg in ("jwst", "jwst_reffiles", "numpy", "astropy", "stdatamodels", "scipy", "altair",
                "vl-convert-python", "matplotlib"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            out[pkg] = "not installed"
    out["python"] = platform.python_version()
    return out


def data_root_path(data_root) -> Path | None:
    """The data root, resolved: ``data_root``, else ``$DARKS_DATA_ROOT``, else None."""
    value = data_root if data_root is not None else os.environ.get(DATA_ROOT_ENV)
    return Path(value).expanduser().resolve() if value else None


def display_path(p: Path, root: Path | None) -> str:
    """``p`` relative to ``root`` when it lies inside it, else absolute."""
    p = Path(p).absolute()
    if root is not None:
        try:
            return str(p.resolve().relative_to(root))
        except ValueError:
            pass
    return str(p)


def file_provenance(group_results: Sequence[GroupResult], data_root=None) -> pd.DataFrame:
    """One row per analysed input file: group, file, folder, size, start time, EXPSTART, SHA-256."""
    root = data_root_path(data_root)
    rows = []
    for res in group_results:
        for f in res.group.files:
            rows.append({
                "group": res.group.key, "file": f.name,
                "folder": str(Path(display_path(f.path, root)).parent),
                "size (bytes)": int(f.size), "start (UTC)": f.date_obs,
                "EXPSTART (MJD)": f.expstart, "SHA-256": sha256_file(f.path),
            })
    return pd.DataFrame(rows, columns=["group", "file", "folder", "size (bytes)", "start (UTC)",
                                       "EXPSTART (MJD)", "SHA-256"])
