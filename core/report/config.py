"""``run.yaml``: the parameters and the file list of a run (relative to the data root where possible),
so that ``python -m core report --config run.yaml --out DIR`` reproduces a run made in the app."""

from __future__ import annotations

import os
from dataclasses import asdict, fields
from pathlib import Path

from core import __version__
from core.errors import InputError, ParameterError
from core.io.inventory import DATA_ROOT_ENV
from core.pipeline.registry import SECTIONS
from core.pipeline.run import AnalysisOptions
from core.readnoise import CrdsMeta, ReadnoiseParams
from core.report.provenance import data_root_path, display_path


def section_params_effective(opts: AnalysisOptions) -> dict:
    """Parameters of every section that ``opts`` runs, defaults filled in (name -> params object)."""
    out = {}
    for s in SECTIONS:
        if s.name not in opts.sections:
            continue
        p = opts.section_params.get(s.name)
        out[s.name] = p if p is not None else s.default_params()
    return out


def options_of(result, opts: AnalysisOptions) -> AnalysisOptions:
    """The options that made one detector group's results (:class:`core.pipeline.run.GroupResult`):
    each result's own parameters, ``opts``' where the group has no result of that kind."""
    from dataclasses import replace

    rn = result.readnoise.params if getattr(result.readnoise, "params", None) is not None else opts.readnoise
    params = dict(opts.section_params)
    for name, r in result.sections.items():
        if getattr(r, "params", None) is not None:
            params[name] = r.params
    return replace(opts, readnoise=rn, section_params=params)


def run_configs(results, opts: AnalysisOptions, data_root=None) -> dict[str, str]:
    """One ``run.yaml`` per parameter set among ``results``: {"run.yaml": text} when every group was
    computed with the same parameters, else {"run-1.yaml": ..., "run-2.yaml": ...} each with its
    own groups' files, so that every result of a mixed report can be reproduced."""
    sets: dict[str, tuple[AnalysisOptions, list]] = {}
    for res in results:
        o = options_of(res, opts)
        key = repr((asdict(o.readnoise), sorted((k, repr(v)) for k, v in section_params_effective(o).items())))
        sets.setdefault(key, (o, []))[1].extend(f.path for f in res.group.files)
    if len(sets) <= 1:
        o, files = next(iter(sets.values()), (opts, []))
        return {"run.yaml": run_config_yaml(files, o, data_root)}
    return {f"run-{i}.yaml": run_config_yaml(files, o, data_root) for i, (o, files) in enumerate(sets.values(), 1)}


def run_config_yaml(files, opts: AnalysisOptions, data_root=None) -> str:
    """A ``run.yaml`` that reproduces this run: parameters (defaults filled in) and the file list.

    Files inside the data root (``data_root``, else ``$DARKS_DATA_ROOT``) are written relative to
    it, other files as absolute paths.
    """
    import yaml

    root = data_root_path(data_root)
    doc = {
        "app": "NIRCam darks",
        "version": __version__,
        "data_root": str(root) if root else None,
        "files": [display_path(Path(f), root) for f in files],
        "readnoise": asdict(opts.readnoise),
        "crds": asdict(opts.crds),
        "reference": display_path(Path(opts.reference), root) if opts.reference else None,
        "sections": list(opts.sections),
        "section_params": {k: asdict(v) for k, v in section_params_effective(opts).items()},
        "merge_folders": bool(opts.merge_folders),
    }
    head = ("# NIRCam darks run configuration. Reproduce with:\n"
            "#   python -m core report --config run.yaml --out DIR\n"
            "# Relative file paths are relative to the data root ($DARKS_DATA_ROOT, else data_root below).\n")
    return head + yaml.safe_dump(doc, sort_keys=False, allow_unicode=True)


def _dataclass_from(cls, values, what: str):
    """``cls(**values)`` with unknown keys refused and ints accepted for float fields."""
    if values is None:
        values = {}
    if not isinstance(values, dict):
        raise ParameterError(f"{what} must be a mapping of parameter names to values")
    known = {f.name: f for f in fields(cls)}
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise ParameterError(f"unknown {what} parameter(s): {', '.join(unknown)} "
                             f"(known: {', '.join(known)})")
    defaults = cls()
    kw = {}
    for k, v in values.items():
        d = getattr(defaults, k)
        if isinstance(d, bool):
            if not isinstance(v, bool):
                raise ParameterError(f"{what} {k} must be true or false, not {v!r}")
        elif isinstance(d, float) and isinstance(v, int) and not isinstance(v, bool):
            v = float(v)
        elif isinstance(d, int) and isinstance(v, float) and v.is_integer():
            v = int(v)
        kw[k] = v
    obj = cls(**kw)
    return obj.validate() if hasattr(obj, "validate") else obj


def load_run_config(path, data_root=None) -> tuple[list[Path], AnalysisOptions]:
    """Read a ``run.yaml`` (see :func:`run_config_yaml`): (files, options).

    Relative file paths are resolved against ``data_root``, else ``$DARKS_DATA_ROOT``, else the
    ``data_root`` recorded in the file, else the folder of the run.yaml.
    """
    import yaml

    path = Path(path)
    try:
        doc = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise InputError("the run configuration does not exist", path.name) from None
    except (OSError, yaml.YAMLError) as e:
        raise InputError(f"not a readable run configuration ({type(e).__name__}: {e})", path.name) from None
    if not isinstance(doc, dict):
        raise InputError("the run configuration is not a YAML mapping", path.name)
    base = data_root or os.environ.get(DATA_ROOT_ENV) or doc.get("data_root") or path.parent
    base = Path(base).expanduser()
    files = doc.get("files") or []
    if not isinstance(files, list) or not all(isinstance(f, str) for f in files):
        raise InputError("'files' must be a list of paths", path.name)
    resolved = [Path(f) if os.path.isabs(f) else base / f for f in files]
    readnoise = _dataclass_from(ReadnoiseParams, doc.get("readnoise"), "readnoise")
    crds = _dataclass_from(CrdsMeta, doc.get("crds"), "crds")
    ref = doc.get("reference")
    reference = None if not ref else (Path(ref) if os.path.isabs(ref) else base / ref)
    names = {s.name: s for s in SECTIONS}
    sections = doc.get("sections", list(names))
    if not isinstance(sections, list) or any(s not in names for s in sections):
        raise ParameterError(f"'sections' must be a list of {', '.join(names)}; got {sections!r}")
    sp = doc.get("section_params") or {}
    if not isinstance(sp, dict) or any(k not in names for k in sp):
        raise ParameterError(f"'section_params' keys must be among {', '.join(names)}; got {list(sp)!r}")
    section_params = {}
    for name, values in sp.items():
        section_params[name] = _dataclass_from(names[name].params_class(), values, name)
    merge = doc.get("merge_folders", False)
    if not isinstance(merge, bool):
        raise ParameterError(f"'merge_folders' must be true or false, not {merge!r}")
    opts = AnalysisOptions(readnoise=readnoise, crds=crds, reference=reference, sections=tuple(sections),
                           merge_folders=merge,
                           section_params=section_params)
    return resolved, opts
