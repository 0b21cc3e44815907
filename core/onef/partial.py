"""The 1/f analysis split per file, for a cluster: a plan from the headers (:func:`plan`), one
partial accumulator per file (:func:`partial`) and their sum finished into the result (:func:`reduce`).

``reduce(plan(paths, p), [partial(plan, i, p) for i in range(len(paths))], p)`` is
:func:`core.onef.analysis.analyze_onef` ``(paths, p)``: every sum of the
:class:`~core.onef.accumulate.Accumulator` (spectra in DN^2/Hz x frames, sums of squares in DN^2,
counts) is added file by file instead of frame by frame (the same terms in another order: equal to
float rounding, ~1e-15 relative), the banding image keeps every ``band_stride``-th frame of the whole
run (each file starts counting at its frame offset) and the per-integration variance factors stay in
file order.  A partial holds only those sums (a few MB for a full frame), never pixels.

The fields are listed here by kind; an Accumulator field this module does not know raises
(:func:`state`), so a new sum cannot be silently left out of a cluster run.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.errors import InputError
from core.onef.accumulate import Accumulator
from core.onef.analysis import OneFPlan, add_file, plan_onef
from core.onef.finish import finish
from core.onef.params import OneFParams
from core.onef.result import OneFResult

# Accumulator fields that depend only on the layout and the run's frame count (equal in every partial).
CONSTANT = frozenset({"layout", "nout", "M", "nf", "pairs", "active", "side", "has_side", "band_stride", "sg_gain",
                      "sg_coeffs", "pair_a", "pair_b"})
# Fields that are lists of per-frame entries, joined in file order.
JOINED = frozenset({"band_cols", "band_frames"})
# Sums over frames (arrays or numbers), added.
SUMMED = frozenset({"auto", "cross", "n_auto", "n_cross", "sumsq", "nframes", "nclipped", "njumps", "nsamples",
                    "auto_after", "sumsq_after", "rowavg_sumsq", "rowavg_sumsq_after", "rowavg_n", "rowavg_inv_npix",
                    "sideavg_sumsq", "sideavg_n", "sideavg_inv_npix", "side_diff_sumsq", "side_diff_n",
                    "act_diff_sumsq", "act_diff_n", "td_corr_sumsq", "td_corr_n", "td_unc_sumsq", "td_unc_n"})


@dataclass
class OneFPartial:
    """The sums of one file's CDS frames and its integrations' variance factors."""

    index: int  # the file's position in the plan
    state: dict  # Accumulator field -> its sum over this file's frames (SUMMED and JOINED fields)
    factors: list  # per integration: the variance fraction the per-pixel mean removal leaves


def plan(paths, params: OneFParams) -> OneFPlan:
    """Headers only (:func:`core.onef.analysis.plan_onef`); InputError naming a bad file."""
    return plan_onef(paths, params)


def state(acc: Accumulator) -> dict:
    """The SUMMED and JOINED fields of ``acc``; ValueError for a public field of unknown kind."""
    fields = {k: v for k, v in vars(acc).items() if not k.startswith("_")}
    unknown = set(fields) - CONSTANT - JOINED - SUMMED
    if unknown:
        raise ValueError(f"core.onef.partial does not know how to merge Accumulator field(s) {sorted(unknown)}; "
                         "list them in CONSTANT, JOINED or SUMMED")
    return {k: v for k, v in fields.items() if k in SUMMED or k in JOINED}


def merge(acc: Accumulator, part: dict) -> None:
    """Add one partial's sums (:func:`state`) into ``acc``, in place; lists are extended."""
    for k, v in part.items():
        if k in JOINED:
            getattr(acc, k).extend(v)
        elif isinstance(v, np.ndarray):
            getattr(acc, k).__iadd__(v)
        else:
            setattr(acc, k, getattr(acc, k) + v)


def partial(p: OneFPlan, index: int, params: OneFParams) -> OneFPartial:
    """File ``index`` of the plan through the per-frame pass into a fresh Accumulator (its frame
    counter starts at the file's offset in the run, so the banding image samples the same frames)."""
    acc = Accumulator(p.layout, p.total_frames)
    offset = p.frame_offset(index)
    acc.nframes = offset
    factors: list = []
    add_file(p, index, params, acc, factors, offset, lambda n, m: None)
    acc.nframes -= offset
    return OneFPartial(index, state(acc), factors)


def reduce(p: OneFPlan, parts: list[OneFPartial], params: OneFParams) -> OneFResult:
    """The sum of every file's partial, finished into the :class:`OneFResult` (file order)."""
    parts = sorted(parts, key=lambda q: q.index)
    if [q.index for q in parts] != list(range(len(p.infos))):
        raise InputError(f"the 1/f reduce needs one partial per file (0..{len(p.infos) - 1}), "
                         f"got {[q.index for q in parts]}")
    acc = Accumulator(p.layout, p.total_frames)
    factors: list = []
    for q in parts:
        merge(acc, q.state)
        factors.extend(q.factors)
    return finish(acc, params, p.names, p.nints, factors, list(p.notes))


__all__ = ["CONSTANT", "JOINED", "SUMMED", "OneFPartial", "merge", "partial", "plan", "reduce", "state"]
