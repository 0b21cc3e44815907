"""Noise as users plan with it: slope noise against the number of groups (measured and predicted from
the measured noise components), along-ramp spectra and kTC (:mod:`.analysis` documents the method;
the stripe pass in :mod:`.accumulate`, the per-amp numbers in :mod:`.combine`, the slope-fit algebra
in :mod:`.model`, the streaming robust sigma in :mod:`.robust`)."""

from core.noisebudget.analysis import analyze_noisebudget, plan_units
from core.noisebudget.model import white_slope_sigma
from core.noisebudget.params import NoiseBudgetParams
from core.noisebudget.result import NoiseBudgetResult

__all__ = ["NoiseBudgetParams", "NoiseBudgetResult", "analyze_noisebudget", "plan_units", "white_slope_sigma"]
