"""Per-file sums of the 1/f analysis and their merge: what :func:`core.onef.analysis.analyze_onef`
keeps of each file (:class:`OneFPartial`) and adds into the run's Accumulator, locally and on a
cluster (:mod:`core.onef.partial`) alike -- the same additions in the same order, so a cluster run
gives the local numbers to the last bit.

Every sum of the :class:`~core.onef.accumulate.Accumulator` (spectra in DN^2/Hz x frames, sums of
squares in DN^2, counts) is added file by file; the banding image keeps every ``band_stride``-th
frame of the whole run (each file's Accumulator starts counting at the file's frame offset); the
per-integration variance factors stay in file order.  A partial holds only those sums (tens of MB
for a full frame: the spectra), never pixels.

The fields are listed here by kind; an Accumulator field this module does not know raises
(:func:`state`), so a new sum cannot be silently left out.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.onef.accumulate import Accumulator

# Accumulator fields that depend only on the layout and the run's frame count (equal in every partial).
CONSTANT = frozenset({"layout", "nout", "M", "nf", "pairs", "active", "side", "has_side", "band_stride", "sg_gain",
                      "sg_coeffs", "pair_a", "pair_b",
                      "timings"})  # the pass timer of bench_onef (shared by the run's Accumulators), not a sum
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

    index: int  # the file's position in the run
    state: dict  # Accumulator field -> its sum over this file's frames (SUMMED and JOINED fields)
    factors: list  # per integration: the variance fraction the per-pixel mean removal leaves
    masked_columns: np.ndarray | None = None  # samples its DQ flags left out, per column (int64)
    has_dq: bool = False  # the file carries GROUPDQ / PIXELDQ arrays


def state(acc: Accumulator) -> dict:
    """The SUMMED and JOINED fields of ``acc``; ValueError for a public field of unknown kind."""
    fields = {k: v for k, v in vars(acc).items() if not k.startswith("_")}
    unknown = set(fields) - CONSTANT - JOINED - SUMMED
    if unknown:
        raise ValueError(f"core.onef.merge does not know how to merge Accumulator field(s) {sorted(unknown)}; "
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


__all__ = ["CONSTANT", "JOINED", "SUMMED", "OneFPartial", "merge", "state"]
