"""The 1/f analysis split per file, for a cluster (:mod:`core.pipeline.cluster`): a plan from the
headers (:func:`plan`), one partial per file (:func:`partial`: that file's sums, :mod:`core.onef.merge`)
and their sum finished into the result (:func:`reduce`).

``reduce(plan(paths, p), [partial(plan, i, p) for i in range(len(paths))], p)`` is
:func:`core.onef.analysis.analyze_onef` ``(paths, p)`` to the last bit: the local run makes the
same per-file partials and adds them in the same order.
"""

from __future__ import annotations

from core.onef.analysis import OneFPlan, combine, file_partial, plan_onef
from core.onef.merge import OneFPartial
from core.onef.params import OneFParams
from core.onef.result import OneFResult


def plan(paths, params: OneFParams) -> OneFPlan:
    """Headers only (:func:`core.onef.analysis.plan_onef`); InputError naming a bad file."""
    return plan_onef(paths, params)


def partial(p: OneFPlan, index: int, params: OneFParams) -> OneFPartial:
    """File ``index`` of the plan through the per-frame pass: its sums."""
    return file_partial(p, index, params)


def reduce(p: OneFPlan, parts: list[OneFPartial], params: OneFParams) -> OneFResult:
    """The sum of every file's partial (file order), finished into the :class:`OneFResult`."""
    return combine(p, parts, params)


__all__ = ["partial", "plan", "reduce"]
