"""Reference-pixel versus active-pixel stability of NIRCam dark ramps (issue 4).

Everything is per file, integration, frame (group) and amplifier, in DMS *science* orientation;
each amplifier also carries its detector output number.  What is computed, and how:

Levels and drifts
    For every frame the **level** of a pixel set is the mean DN of its pixels; the **drift** is the
    same mean after removing each pixel's own straight-line ramp (per-pixel mean + slope over the
    groups of the integration: superbias, kTC and dark current go away).  Pixel sets per amp:
    bottom / top reference rows split into even / odd *detector* columns (the jwst ``refpix``
    convention), the left / right side reference columns where the amp has them (only the first
    and last amps of a full frame), all the amp's reference rows together (``ref``; the side
    columns when the amp has no reference rows) and the amp's active pixels (``active``).
    Pixels whose de-ramped values stray more than ``LEVEL_CLIP_SIGMA`` robust sigma from the
    frame's median in any group of an integration (cosmic rays, noisy or unstable pixels) are left
    out of that integration's levels, so every frame of an integration uses the same pixels: the
    active level is a clipped mean, accumulated stripe by stripe.

Instability (DN per read), against adjacent active pixels (:mod:`.adjacent`, issue 20)
    Per frame, each reference edge (bottom / top rows, side columns) against the 4 active rows or
    columns read next to it, minus the same comparison between the next active blocks (the null:
    the 1/f left between adjacent blocks, which does not cancel for pink noise), minus the
    difference of the white-noise floors of exactly those pixels.  Expectation zero when the
    reference pixels are as stable as the active ones, whatever the 1/f; given with its error
    (from the frames' scatter), its white floor and the 1/f the null removed; from the reference
    rows where the amp has them, from the side columns otherwise (both given).

Whole-frame residual (DN per read, ``frame_residual``; the figure called instability before)
    ``u = drift(active) - drift(ref)`` per frame.  The estimate is the rms over CDS frames
    (consecutive groups) of ``du`` divided by sqrt(2), i.e. ``sqrt(sum(du^2) / c)`` with
    ``c = 2 (G-1) - 12 / (G (G+1))`` per integration: the exact expectation of ``sum(du^2)`` for
    unit white per-frame noise after the per-pixel ramp fit (the ``-12/(G(G+1))`` term is the
    variance the straight-line fit takes away; it is 1 % for 8 groups).  Pooled over
    integrations and files.
    **Floor**: with no instability ``u`` only carries pixel white noise averaged over the pixels:
    ``floor^2 = sigma_ref^2 / N_ref + sigma_act^2 / N_act`` (per read), with the robust white
    noises below and the numbers of pixels that entered each level (clipped ones excluded).  Full
    frame, 5 DN per read, ratio 0.85: ``sqrt(4.25^2/4096 + 5^2/1044480) = 0.067`` DN.
    Correlated or per-output 1/f noise raises it: reference rows sample it only at the start and
    end of the frame while the active level averages it over the whole frame (1-2 DN for 5 DN CDS
    of correlated 1/f): real residual a whole-frame reference-row correction leaves, not
    instability of the reference pixels.  Its 1/f share ``1 - (floor^2 + instability^2) /
    residual^2`` says how much.

White-noise ratio
    From CDS frames, differences of pixel pairs two columns apart (same parity, 20 us apart in
    readout): common-mode offsets (most 1/f, reference instability, ACN) cancel, the pixel white
    noise adds.  The robust sigma is median(|d|)/0.6745 from integer-DN histograms (so memory
    stays bounded), halved to per-read noise.  The 1/f that still leaks into 20 us pairs (~1.4 DN
    per read for 5 DN CDS of correlated 1/f, +2 % on the ratio) is measured as the covariance of
    simultaneous pairs of different outputs (read in step, mirrored into read order; white noise
    is independent between outputs) and subtracted in quadrature (``pair_1f_read``); 1-output
    subarrays are left uncorrected (a note says so).

Per-reference-pixel noise
    Temporal noise of each reference pixel: residuals about its own straight-line ramp after
    removing the common mode per frame (median of the same row, amp and column parity for the
    reference rows; for side columns the median of the amp's de-ramped active pixels of the same
    row and parity, then the frame's median of that side column), chi-square with G - 2 dof per
    integration, pooled over files, given as CDS noise (sqrt(2) x per read).  A pixel is
    *unstable* when its robust z-score (median and 1.4826 MAD, computed on noise^(2/3), the
    Wilson-Hilferty cube root of the variance, which is close to normal) within its group
    (amp, row or column, even or odd) exceeds ``flag_sigma``: pooled over the files, and in each
    file on its own (:mod:`.overtime`: in how many and which exposures each pixel is flagged).

The active pixels of each stripe go through compiled kernels (:mod:`core.refpix.kernel`, same
results as the numpy of :func:`core.refpix.levels.active_sums_numpy`), the amps and row halves on
both cores while the next stripe is read.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from core.errors import InputError
from core.io.geometry import Layout
from core.io.inventory import check_ramps
from core.io.ramps import dq_note, dq_use
from core.refpix.assemble import assemble
from core.refpix.params import RefPixParams
from core.refpix.perfile import FileResult, process_file
from core.refpix.result import RefPixResult


# -- input checks ---------------------------------------------------------------------------------
def _check_inputs(paths: Sequence[str | Path]) -> tuple[list[Path], Layout]:
    """The files and their one layout (:func:`core.io.inventory.check_ramps`)."""
    if not list(paths):
        raise InputError("no files given: choose at least one *_uncal.fits ramp")
    ramps = check_ramps(paths, min_groups=1)  # one group: nothing measurable, said per amp (None)
    return [r.path for r in ramps], ramps[0].layout


# -- analysis -------------------------------------------------------------------------------------
def analyze_refpix(
    paths: Sequence[str | Path],
    params: RefPixParams = RefPixParams(),
    progress: Callable[[float, str], None] | None = None,
) -> RefPixResult:
    """Reference versus active pixel levels, drifts, instability, noise ratio and unstable pixels.

    Files are read one at a time in row stripes.  Raises :class:`InputError` naming the file when
    the files are not one detector and one frame shape, :class:`ParameterError` for bad params.
    """
    params.validate()
    paths, layout = _check_inputs(paths)
    nfiles = len(paths)
    results: list[FileResult] = []
    for f_i, p in enumerate(paths):
        sub = None
        if progress:
            def sub(frac, msg, f_i=f_i):
                progress(min(1.0, (f_i + frac) / nfiles * 0.98), msg)
        results.append(process_file(p, layout, sub, params.groupdq_mask))
    out = assemble(results, layout, params)
    flagged = [r.dq_masked_columns for r in results if r.dq_masked_columns is not None]
    out.dq = dq_use(sum(flagged) if flagged else None, layout, params.groupdq_mask, bool(flagged))
    if out.dq is not None:
        out.notes.append(dq_note(out.dq))
    if progress:
        progress(1.0, "reference pixels: done")
    return out


__all__ = ["analyze_refpix"]
