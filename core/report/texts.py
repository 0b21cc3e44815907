"""The words the report and the pages show beside the numbers: section titles, the units note, the
"how computed" notes and the chart captions (one copy, so the app and the report say the same)."""

from core.pipeline.registry import ALL_SECTIONS

SECTION_TITLES = {
    "parameters": "Parameters",
    "provenance": "Provenance",
    "overview": "Overview",
    "errors": "Errors",
    **{s.name: s.title for s in ALL_SECTIONS},
}

UNITS_NOTE = (
    "Units: everything is in DN. 'CDS' is the noise of one group difference; 'per read' = CDS / √2. "
    "Readnoise maps and tables are CDS noise. 1/f components are DN rms in one CDS frame; spectra are "
    "one-sided DN²/Hz. Reference-pixel levels, drifts and instability are DN per read. Amplifiers are "
    "listed in science (DMS) column order; 'output' is the detector readout channel 0-3."
)

# "How computed" notes (the same explanations the app pages show).
HOW_COMPUTED = {
    "readnoise": (
        "jwst_reffiles forms group differences (independent: G1−G0, G3−G2…; consecutive: every pair) for every "
        "integration of every file. **stack**: per pixel, the 3σ-clipped (median centre) standard deviation "
        "(ddof=0) through all those CDS frames; **ramp**: that per file, then the clipped mean of the per-file "
        "maps. No pipeline step is run first: 1/f noise and reference-pixel drifts stay in. Per-amp statistics use "
        "active pixels only (clipped: 3σ sigma-clipped; robust std = 1.4826 × MAD). Guards: odd NGROUPS with "
        "independent differences drop the last group; pixels NaN in every sample are set to NaN (jwst_reffiles "
        "writes 0); too few differences are refused. The clipped ddof=0 std is biased low (≈0.92 of the true "
        "noise with 10 samples per pixel, 0.97 with 50) unless the native engine's unbiased mode is used."
    ),
    "onef": (
        "Each output's pixels are laid out on the 10 µs pixel clock in the order they were read (DMS flips "
        "undone, outputs read right to left mirrored, row overheads and the extra row per frame kept as gaps). "
        "CDS frames minus each frame's per-output median and each pixel's mean over the stack (fixed patterns "
        "drop out; the known fraction this removes is corrected). Jumps (cosmic rays, RTS switches: samples more "
        "than 7σ from their pixel's median over the integration, σ the larger of the pixel's own and the frame's) "
        "and samples flagged in GROUPDQ/PIXELDQ are left out as gaps. Periodograms are averaged over CDS frames, "
        "integrations and files and log-binned. The white level is the high-frequency plateau; each 1/f "
        "component is fitted with a power law A·f^-α. White and per-output noise do not correlate between "
        "outputs, so the real part of the mean cross-spectrum of the 6 output pairs estimates the correlated 1/f "
        "directly; each output's own 1/f is its spectrum minus the correlated part minus its white level. "
        "Quadrature sum = √(white² + correlated² + per-output²); it must match the total CDS noise measured from "
        "the pixels within a few percent."
    ),
    "onef_cross": (
        "White and per-output noise do not correlate between outputs, so the real part of the mean "
        "cross-spectrum of the 6 output pairs estimates the correlated 1/f directly."
    ),
    "refpix": (
        "Per file, integration and group: the mean of each pixel set (bottom/top reference rows split into even "
        "and odd detector columns, side reference columns where the amp has them, active pixels as a clipped "
        "mean). Drifts remove each pixel's own straight-line ramp first. **Instability** (DN per read): per frame "
        "and output, D = drift of the 4 active rows read just after the bottom (just before the top) reference rows "
        "minus the drift of those reference rows, over the same columns; for the side reference columns the 4 active "
        "columns beside them, same rows. Most 1/f cancels in D, but not all: for pink noise two adjacent block means "
        "keep a difference that does not shrink with the block (~1.6 DN per read for 5 DN CDS of correlated 1/f). "
        "The same difference between the next active blocks (N, no reference pixel, same geometry and timing) "
        "carries the same 1/f, so I² = ⟨D²⟩ − ⟨N²⟩ − (w_D − w_N), where w are the white-noise floors of exactly "
        "those pixels (σ_ref²/n_ref + σ_act²/n_act, σ_act²(1/n₁ + 1/n₂)); ⟨·⟩ averages frames and edges with the "
        "factor G/(G−2) the per-pixel line fit takes. Its expectation is 0 when the reference pixels are as stable "
        "as the active ones, whatever the 1/f; its error is the scatter of the per-frame values / √(nints (G−2)). "
        "Shown as the signed root (negative: below the null) ± error; from the reference rows, the side columns "
        "beside it. For readout patterns of NFRAMES > 1 it is per group (the group averages the offsets of its "
        "reads). The **whole-frame residual** is the former figure: rms over CDS frames of (active change − "
        "reference-row change) / √2, with floor √(σ_ref²/N_ref + σ_act²/N_act); its 1/f share = 1 − (floor² + "
        "instability²) / residual². The white-noise ratio uses differences of pixels two columns apart in CDS "
        "frames (common-mode offsets and most 1/f cancel; the 1/f that leaks in is measured between outputs and "
        "removed). Unstable pixels are flagged (robust z of the noise above the threshold) pooled over exposures "
        "and in each exposure alone; the history lists every pixel flagged in any exposure."
    ),
    "noisebudget": (
        "**Slope noise (DN/s)** for n = 2, 3, 4, 5, 6, 8, 10, 15, 20, 30, 50, 75, 100, 150 … groups and NGROUPS: each "
        "pixel's unweighted least-squares slope over its first n groups, divided by TGROUP. **Measured** "
        "temporally: integrations are paired (consecutive ones of a file, then leftovers across files) and the "
        "pair difference / √2 is fitted, so bias, dark current and every fixed pattern cancel; the robust sigma "
        "(1.4826 × MAD about the median) over the amp's active pixels, averaged over pairs. The MAD about the "
        "median leaves out what all pixels of the amp share (its frame-mean 1/f, what a reference correction "
        "removes). With one integration there is no pair: no measured value. **Predicted** from measured noise "
        "components: the covariance of group values C = D·I + C_row, propagated through the same fit "
        "(√(wᵀCw)/TGROUP). C_row is the covariance between groups of the per-row means of the amp's active pixels "
        "about the frame mean (the correlated and per-output 1/f at row and frame timescales, along the ramp "
        "included); D is the per-pixel independent variance per group value (white, 1/f above the row rate): "
        "the robust CDS variance less what C_row puts into a CDS frame, halved (so at n = 2 the prediction is "
        "the robust CDS noise itself; what it predicts is the growth with n). White only, this is "
        "√D·√(12/(n(n²−1)))/TGROUP. The residual measured² − predicted² is also given as pynrc's excess-variance "
        "parameters (12(n−1)/(n+1)·p0² − p1/√NFRAMES, a variance × ((n−1)·TGROUP)²). **Spectra** (one-sided "
        "DN²/Hz of group values): along the ramp, 1/(NGROUPS·TGROUP) to 1/(2·TGROUP), of every pixel's series and "
        "of the amp's frame mean; within the frame, 1/TFRAME to half the row rate, of the row means in read order; "
        "a power law is fitted to the common mode (frame and row means above their white floors) over both "
        "ranges. **kTC (DN)**: the robust sigma of the pairs' intercept differences / √2 (straight line over all "
        "groups, at group 0; pairs within one file), active and reference pixels apart, less the intercept's own "
        "noise from the same covariance. Every integration is read once in row stripes."
    ),
    "overview": (
        "Each cell is the per-amplifier headline number of a section. Readnoise, unbiased = the amp's median of "
        "the CDS noise map over active pixels divided by the compatible estimator's expected bias for the samples "
        "per pixel (Monte Carlo with the same clipping); readnoise, jwst_reffiles estimator = that median as "
        "jwst_reffiles computes it (clipped ddof=0 std, biased low). White, correlated and per-amp 1/f from the "
        "cross-spectral split; a 1/f component below 5% of the white noise, or whose slope the fit cannot pin "
        "down, is 'not detected' with an upper limit (the larger of 5% of the white noise and the value plus 3 "
        "errors). Instability and ref/active white ratio from the reference-pixel section (instability against "
        "adjacent active pixels, with its error: a change is flagged when it exceeds both the threshold and 3 "
        "errors); unstable ref pixels = reference pixels flagged in any exposure of the group. Noise figures per "
        "CDS frame or per read (CDS / √2) as chosen; deviations in % do not depend on it."
    ),
    "provenance": (
        "SHA-256 of every input file, read in 1 MiB chunks; start time from DATE-OBS/TIME-OBS (UTC) or EXPSTART "
        "(MJD). Versions are those of the installed packages that made this report."
    ),
}


# One-paragraph explanations of what each chart computes, for captions / help text.
CHART_HELP = {
    "levels": "Mean of each pixel set in every frame (group). 'Drift' removes each pixel's own "
              "straight-line ramp over the integration first (bias, kTC, dark current), so what is "
              "left are frame-to-frame offsets in DN per read. Reference = all reference rows of the "
              "amp (side columns if it has no rows); active = clipped mean of its active pixels.",
    "scatter": "Reference vs active drift of every frame; r is the Pearson correlation over all "
               "frames and files. Shared 1/f or bias drifts correlate them; reference instability "
               "moves only the reference drift.",
    "trends": "Per exposure: reference minus active mean level (DN); instability against the adjacent active "
              "pixels (DN per read, ±1 error; 0 = as stable as the active pixels); the whole-frame residual "
              "(rms over CDS frames of (active change - reference change) / sqrt(2), DN per read, 1/f "
              "included; dashed: its white floor).",
    "instability": "Instability is the signed root of a variance estimate (negative: below the null of active "
                   "neighbours) ± its statistical error; it differs from zero only beyond ~3 errors. The white "
                   "floor and the 1/f between active neighbours are what the null takes out. The whole-frame "
                   "residual's 1/f share is the part of it that is neither white floor nor instability.",
    "history": "Each row a reference pixel flagged in at least one exposure (flagged/measured exposures); each "
               "column an exposure by start time; colour = robust z of its CDS noise in that exposure, ⚑ = "
               "flagged there. A pixel flagged in every exposure is persistent; one flagged in some has noise "
               "that comes and goes (see its median z when not flagged in the table).",
    "noisebudget_effective": "Slope noise against the number of groups, per amp (log-log). Measured: robust "
                             "sigma over active pixels of pair-difference slopes / √2; predicted: the measured "
                             "covariance of group values through the same fit; white only: the same per-pixel "
                             "noise D without any correlation between groups.",
    "noisebudget_ratio": "Measured / predicted slope noise (1 when the measured components explain the slope "
                         "noise), and measured and predicted over the white-only curve: the excess the "
                         "correlations between groups add.",
    "noisebudget_spectra": "One frequency axis: along the ramp (per-pixel series, frame means; up to 1/(2 TGROUP)) "
                           "and within the frame (row means in read order, up to half the row rate); dashed: "
                           "the power law fitted to the common mode over both ranges. The frame mean averages "
                           "over the group's frames, so it falls below the row-mean level near 1/(2 TGROUP). "
                           "Where the 1/f section was computed, its per-output within-frame spectra (CDS "
                           "frames, halved to one read) continue to the pixel-clock Nyquist frequency.",
    "pixels": "Robust z-score of each reference pixel's temporal noise (common mode removed) within "
              "its amp and kind (row/column, even/odd), on the cube root of the variance; pixels "
              "above the red line are flagged unstable.",
}
