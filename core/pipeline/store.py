"""On-disk result store: results keyed by input identity, parameters and app version.

An entry is a folder ``<root>/<key[:2]>/<key>/`` holding ``result.pkl`` and ``meta.json``.  It is
written into a temporary folder beside it and renamed into place in one step, so a reader sees a
whole entry or none, two sessions never see a half-written result, and an interrupted write leaves
only a ``.tmp-*`` folder that no lookup ever loads.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import shutil
import time
import uuid
from dataclasses import asdict, is_dataclass
from pathlib import Path

from core import __version__
from core.io.ramps import FileId

RESULTS_ENV = "DARKS_RESULTS_DIR"


def default_root() -> Path:
    """``$DARKS_RESULTS_DIR``, else ``results/`` in the project folder (the checkout ``make`` installs from)."""
    return Path(os.environ.get(RESULTS_ENV) or Path(__file__).resolve().parents[2] / "results")


def file_ids(paths) -> tuple[FileId, ...]:
    """The identity of each file (resolved path, size, mtime) as the store keys it; a file that has
    vanished gets size and mtime -1 (no stored result matches it, and its reader will say why)."""
    ids = []
    for p in paths:
        try:
            ids.append(FileId.of(p))
        except OSError:
            ids.append(FileId(str(Path(p).resolve()), -1, -1))
    return tuple(ids)


def _params_repr(params) -> object:
    if is_dataclass(params):
        d = asdict(params)
        d.pop("scheduler", None)  # where it ran does not change the result
        return {"type": type(params).__name__, **d}
    return params


def result_key(kind: str, files: tuple[FileId, ...], params) -> str:
    """SHA-256 of (kind, file identities, parameters, app version)."""
    blob = json.dumps({"kind": kind, "files": [(f.path, f.size, f.mtime_ns) for f in files],
                       "params": _params_repr(params), "version": __version__}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


def _is_key(key) -> bool:
    return isinstance(key, str) and len(key) == 64 and all(c in "0123456789abcdef" for c in key)


def _detector_of(label: str) -> str:
    """The detector group named in a label such as 'readnoise NRCA1_SUBGRISM256' or 'Readnoise of NRCB1'."""
    words = (label or "").split()
    return next((w for w in reversed(words) if w.startswith("NRC")), "")


class ResultStore:
    def __init__(self, root: Path | None = None):
        self.root = Path(root or default_root())

    def _dir(self, key: str) -> Path:
        return self.root / key[:2] / key

    def get(self, kind: str, files, params):
        """The stored result, or None (also when an entry cannot be read: it is then removed)."""
        d = self._dir(result_key(kind, tuple(files), params))
        try:
            with open(d / "result.pkl", "rb") as f:
                return pickle.load(f)
        except FileNotFoundError:
            return None
        except Exception:  # a corrupt or outdated entry: drop it and recompute
            shutil.rmtree(d, ignore_errors=True)
            return None

    def put(self, kind: str, files, params, result, label: str = "") -> str:
        files = tuple(files)
        key = result_key(kind, files, params)
        final = self._dir(key)
        final.parent.mkdir(parents=True, exist_ok=True)
        tmp = final.parent / f".tmp-{key[:12]}-{uuid.uuid4().hex}"
        tmp.mkdir()
        try:
            with open(tmp / "result.pkl", "wb") as f:
                pickle.dump(result, f, protocol=pickle.HIGHEST_PROTOCOL)
                f.flush()
                os.fsync(f.fileno())
            meta = {"key": key, "kind": kind, "label": label, "created": time.strftime("%Y-%m-%dT%H:%M:%S"),
                    "version": __version__, "files": [Path(f.path).name for f in files],
                    "file_ids": [[f.path, f.size, f.mtime_ns] for f in files],
                    "detector": str(getattr(result, "detector", "") or _detector_of(label)),
                    "folders": sorted({str(Path(f.path).parent) for f in files}), "params": _params_repr(params)}
            (tmp / "meta.json").write_text(json.dumps(meta, default=str))
            try:
                os.rename(tmp, final)  # atomic; fails if another session stored it first
            except OSError:
                shutil.rmtree(tmp, ignore_errors=True)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return key

    def entries(self) -> list[dict]:
        out = []
        if not self.root.is_dir():
            return out
        for meta in sorted(self.root.glob("??/*/meta.json")):
            try:
                m = json.loads(meta.read_text())
                m["size_mb"] = round(sum(p.stat().st_size for p in meta.parent.iterdir()) / 1e6, 2)
                out.append(m)
            except (OSError, ValueError):
                continue
        return sorted(out, key=lambda m: m.get("created", ""), reverse=True)

    def for_files(self, files) -> list[dict]:
        """Entries computed from exactly these files (same identities, any order), newest first."""
        want = sorted([f.path, f.size, f.mtime_ns] for f in files)
        return [m for m in self.entries() if sorted(m.get("file_ids") or []) == want]

    def load(self, key: str):
        """The stored result of entry ``key`` (None if it is gone or unreadable)."""
        if not _is_key(key):
            return None
        try:
            with open(self._dir(key) / "result.pkl", "rb") as f:
                return pickle.load(f)
        except Exception:  # gone, or outdated: the caller computes instead
            return None

    def delete(self, key: str) -> bool:
        if not _is_key(key):
            return False  # only ever a key we made: never a path from the browser
        d = self._dir(key)
        if d.is_dir():
            shutil.rmtree(d)
            return True
        return False

    def clean_temporaries(self, older_than_s: float = 3600) -> int:
        n = 0
        for tmp in self.root.glob("??/.tmp-*"):
            if time.time() - tmp.stat().st_mtime > older_than_s:
                shutil.rmtree(tmp, ignore_errors=True)
                n += 1
        return n
