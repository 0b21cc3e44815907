"""The reference-pixel analysis split per file, for a cluster: the files and their layout from the
headers (:func:`plan`), one :class:`~core.refpix.perfile.FileResult` per file (:func:`partial`,
:func:`core.refpix.perfile.process_file`) and the result assembled from them (:func:`reduce`,
:func:`core.refpix.analysis.assemble_files`).

``reduce(plan(paths, p), [partial(plan, i, p) for i in range(len(paths))], p)`` is
:func:`core.refpix.analysis.analyze_refpix` ``(paths, p)``: the same two functions in the same order.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from core.io.geometry import Layout
from core.refpix.analysis import assemble_files, check_inputs
from core.refpix.params import RefPixParams
from core.refpix.perfile import FileResult, process_file
from core.refpix.result import RefPixResult


@dataclass(frozen=True)
class RefPixPlan:
    paths: tuple[Path, ...]
    layout: Layout


def plan(paths, params: RefPixParams) -> RefPixPlan:
    """Validated parameters, the files and their one layout (InputError naming a bad file)."""
    params.validate()
    files, layout = check_inputs(paths)
    return RefPixPlan(tuple(files), layout)


def partial(p: RefPixPlan, index: int, params: RefPixParams) -> FileResult:
    """File ``index``: its stripe pass and reference pixels."""
    return process_file(p.paths[index], p.layout, None, params.groupdq_mask)


def reduce(p: RefPixPlan, parts: list[FileResult], params: RefPixParams) -> RefPixResult:
    """The per-file results (in file order) assembled into the section's result."""
    return assemble_files(list(parts), p.layout, params)


__all__ = ["RefPixPlan", "partial", "plan", "reduce"]
