"""Noise as users plan with it: the noise of a fitted slope against the number of groups, measured
and predicted from the measured noise components, the along-ramp spectra, and kTC (issue 22).

Per amplifier (science column order, with its detector output), active pixels only unless said.

Units (pairs of integrations)
    The integrations of the selection are paired: consecutive integrations of a file (0-1, 2-3,
    ...), then the leftover integrations of different files in file order (files of one
    integration each pair with each other).  A pair's difference / sqrt 2 has the noise of one
    integration while bias, superbias, dark current and every other fixed pattern cancel.  With a
    single integration in the selection there is no pair: no measured slope noise and no kTC (said
    in a note); the predicted curve then comes from that integration with each pixel's mean removed
    (the dark-current pattern does not cancel; a note says so).  Every integration is read once,
    pair by pair, in row stripes (memory bounded by the stripe, never by the number of files).

Effective (slope) noise, measured (DN/s)
    For n = 2, 3, 4, 5, 6, 8, 10, 15, 20, 30, 50, 75, 100, 150, ... up to NGROUPS (and NGROUPS
    itself): each pixel's unweighted least-squares slope over its first n groups, divided by TGROUP,
    of the pair difference / sqrt 2; the robust sigma (1.4826 x MAD) over the active pixels of the
    amp, one streaming histogram per pair (bins of 1/64 sigma), the variances averaged over pairs
    weighted by pixel counts.  The MAD is taken about the median: the part of the noise common to
    the whole amp (its frame-mean 1/f, what a reference correction removes) does not enter.  A
    pixel with a flagged (NaN) sample among its first n groups is left out at that n.

Effective noise, predicted (DN/s)
    The covariance of group values ``C = D I + C_row``, propagated through the same fit,
    ``sqrt(w_n^T C w_n) / TGROUP``:  ``C_row`` is the measured covariance between groups of the
    amp's per-row means of active pixels about their frame mean (the 1/f at row and frame
    timescales, correlated and per-output together, along the ramp included; its white part,
    D / pixels per row, taken off the diagonal); ``D`` is the per-pixel independent variance per
    group value: from the robust variance of CDS frames (consecutive groups, about each frame's
    median) less what ``C_row`` puts into a CDS frame, / 2.  It holds the white read noise, the 1/f
    above the row rate and, for NFRAMES > 1, their frame average.  By construction the prediction at
    n = 2 is the robust CDS noise pooled over all CDS frames (the components are normalised to it):
    what the prediction adds is the growth with n.  With white noise only this is
    ``sqrt(D) sqrt(12 / (n (n^2 - 1))) / TGROUP``.  The residual ``measured^2 - predicted^2`` is
    also given in pynrc's excess-variance form (p0, p1 of ``12 (n - 1)/(n + 1) p0^2 - p1 /
    sqrt(NFRAMES)``, as a variance times ((n - 1) TGROUP)^2, DN^2).

Along-ramp and within-frame spectra (DN^2/Hz, one-sided, per group value)
    From 1/(NGROUPS TGROUP) to 1/(2 TGROUP): the mean periodogram of every active pixel's series
    along the ramp (its mean removed; a straight line with a single integration) and of the amp's
    per-frame mean.  Within the frame, from about 1/TFRAME to half the row rate: the periodogram of
    the per-row means about the frame mean, rows in read order, one row per ``row_clocks x 10 us``,
    each row's mean over the groups removed first (a row's share of the kTC and, across exposures,
    of the bias pattern; x G / (G - 1) for the white part this takes away; C_row is formed the
    same way, which no slope or CDS weight sees).
    White floors: ``2 TGROUP D`` (pixels), ``2 TGROUP D / N`` (frame mean of N pixels),
    ``2 t_row D / N_row`` (row means).  A power law ``A f^-alpha`` is fitted in log-log to the common
    mode above its floor over both ranges (frame means and row means, log-binned).  The frame mean
    averages over the group's frames: its spectrum falls below the row-mean one near 1/(2 TGROUP).

kTC (DN)
    Per pixel and pair of integrations *of one file* (a pair across exposures keeps the difference
    of their bias patterns), the least-squares intercept at group 0 of the straight line over all groups;
    the robust sigma of the pair difference / sqrt 2 over the amp's active pixels and, apart, its
    reference pixels (reference rows and side columns), less in quadrature the intercept's own noise
    ``u^T C u`` from the same covariance (``D`` of the reference pixels from their own CDS frames).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from core.errors import InputError
from core.io.inventory import check_ramps
from core.io.ramps import dq_note, dq_use
from core.noisebudget.accumulate import StripePass
from core.noisebudget.combine import amp_numbers
from core.noisebudget.params import NoiseBudgetParams
from core.noisebudget.result import NoiseBudgetResult
from core.noisebudget.totals import AmpTotals


def plan_units(nints: Sequence[tuple[Path, int]]) -> list[tuple]:
    """Pairs of (file, integration): consecutive integrations of a file, then the leftovers of
    different files paired in order; a single integration alone when that is all there is.  A last
    unpaired leftover is not used (said by the caller)."""
    units, left = [], []
    for path, n in nints:
        for i in range(0, n - 1, 2):
            units.append(((path, i), (path, i + 1)))
        if n % 2:
            left.append((path, n - 1))
    for j in range(0, len(left) - 1, 2):
        units.append((left[j], left[j + 1]))
    if not units and left:
        units.append((left[0],))
    return units


def analyze_noisebudget(
    paths: Sequence[str | Path],
    params: NoiseBudgetParams = NoiseBudgetParams(),
    progress: Callable[[float, str], None] | None = None,
) -> NoiseBudgetResult:
    """Slope noise against the number of groups (measured and predicted), spectra and kTC per amp.

    Raises :class:`InputError` naming the file when the files are not ramps of one detector, frame
    and readout pattern with at least 2 groups, :class:`ParameterError` for bad params.
    """
    params.validate()
    if not list(paths):
        raise InputError("no files given: choose at least one *_uncal.fits ramp")
    ramps = check_ramps(paths, min_groups=2)
    first = ramps[0]
    G = min(r.ngroups for r in ramps)
    layout, nframes, groupgap = first.layout, first.nframes, first.groupgap
    tframe = float(first.header.get("TFRAME") or layout.frame_time)
    tgroup = float(first.header.get("TGROUP") or (nframes + groupgap) * tframe)
    counts = params.counts_for(G)
    notes = []
    if any(r.ngroups != G for r in ramps):
        notes.append(f"the files have different numbers of groups: the first {G} of each are used")
    units = plan_units([(r.path, r.nints) for r in ramps])
    n_int = sum(r.nints for r in ramps)
    used = sum(len(u) for u in units)
    if len(units) == 1 and len(units[0]) == 1:
        notes.append("one integration in the selection: no pair of integrations, so no measured slope noise "
                     "and no kTC; the predicted curve comes from that integration alone (its dark-current "
                     "pattern does not cancel)")
    if units and len(units[0]) == 2 and not any(u[0][0] == u[1][0] for u in units):
        notes.append("no file has two integrations: no kTC (a pair across exposures keeps the difference of "
                     "their bias patterns in the intercepts)")
    if used < n_int and not (len(units) == 1 and len(units[0]) == 1):
        notes.append(f"{n_int - used} integration(s) left unpaired and not used (an odd number of leftovers)")
    sp = StripePass(layout, G, counts, tgroup, params.groupdq_mask)
    dq_columns = None
    totals = [AmpTotals.new(G, len(counts)) for _ in layout.amps()]
    n_bad = 0
    for i, unit in enumerate(units):
        sub = None
        if progress:
            def sub(frac, msg, i=i):
                progress(min(0.99, (i + frac) / len(units)), msg)
        us = sp.run(unit, sub)
        for t, s in zip(totals, us.amps):  # folded in and dropped: memory does not grow with files
            t.fold(s, us.temporal, us.same_file, layout.yflip)
        n_bad += us.n_bad
        if us.dq_columns is not None:
            dq_columns = us.dq_columns + (0 if dq_columns is None else dq_columns)
        del us
    any_pairs = any(len(u) == 2 for u in units)
    amps = [amp_numbers(t, a, layout, counts, tgroup, nframes, any_pairs) for t, a in zip(totals, layout.amps())]
    if n_bad:
        notes.append(f"{n_bad} saturated or non-finite samples left out")
    dq = dq_use(dq_columns, layout, params.groupdq_mask, dq_columns is not None)
    if dq is not None:
        notes.append(dq_note(dq) + " A pixel with one among its first n groups is not used at that n, nor in the "
                     "row means.")
    if progress:
        progress(1.0, "noise budget: done")
    return NoiseBudgetResult(
        detector=layout.detector, layout=layout, params=params, files=[str(r.path) for r in ramps],
        ngroups=G, nframes=nframes, groupgap=groupgap, tframe=tframe, tgroup=tgroup, counts=counts,
        n_pairs=sum(1 for u in units if len(u) == 2), n_integrations=n_int, amps=amps, notes=notes, dq=dq)


__all__ = ["analyze_noisebudget", "plan_units"]
