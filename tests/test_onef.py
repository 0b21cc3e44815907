"""Known-answer tests for core.onef: readout-time spectra and the white / correlated / per-output split.

Every data set comes from core.io.simulate with a known truth (DN rms in one CDS frame):
``truth["amps"][i]["white_cds_rms"]``, ``["uncorrelated_1f_cds"]`` and ``truth["correlated_1f_cds"]``.
The injected per-output values differ between outputs (white 4.0/4.6/5.2/5.8 DN per read, per-output
1/f 2.0/2.8/3.6/4.4 DN for outputs 0-3) so that a mislabelled or swapped output fails a per-amp
comparison.

Most data sets are SUBGRISM256 (2048 x 256, 4 outputs, frame time 1.35 s, so spectra run from
0.74 Hz instead of 0.093 Hz); one full-frame file checks the full-frame path and frequency range.
Each data set is simulated and analysed once per module (``Cache``).

Tolerances and why:
* white 3% (issue): its statistical error is ~0.1% (>1e6 samples per amp); the estimate comes from
  the fitted high-frequency plateau.
* correlated 1/f 6%: the truth is var(c) of the injected series, the estimate also holds the chance
  covariance of c with the per-output series in this realisation (a few % for 2 integrations).
  Skipping the mirror of the outputs read right to left lowers it by more (see
  ``test_correlated_matches_truth``).
* per-output 1/f 20% (issue): the estimate keeps the chance covariances between the outputs' own
  1/f series in this realisation; measured over 6 seeds (SUBGRISM256, 2 integrations) they scatter
  the per-output rms by 4-5% (1 sigma), so 20% is ~4 sigma and the 22-40% steps between the
  injected values rank reliably.  (A 1 DN term next to 2-4 DN ones scatters by +-40%: the
  smallest of very unequal terms is the hard case, not tested at 20%.)
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from core.errors import InputError, ParameterError
from core.io.simulate import NoiseSpec, simulate_exposure
from core.onef import OneFParams, OneFResult, analyze_onef, stack_mean_factor

WHITE = [4.0, 4.6, 5.2, 5.8]  # DN per read, outputs 0-3
UNC = [2.0, 2.8, 3.6, 4.4]  # per-output 1/f, DN rms in a CDS frame, outputs 0-3 (CV3-like)
CORR = 5.0  # correlated 1/f, DN rms in a CDS frame
SUB = "SUBGRISM256"

# name: (detector, subarray, ngroups, nints, corr_1f, unc_1f, seed)
DATASETS = {
    "A1": ("NRCA1", SUB, 10, 2, CORR, UNC, 11),  # x flip
    "A2": ("NRCA2", SUB, 10, 2, CORR, UNC, 11),  # y flip, same seed = same noise in read order
    "B1": ("NRCB1", SUB, 10, 2, CORR, UNC, 11),  # y flip
    "A1x2": ("NRCA1", SUB, 10, 2, 2 * CORR, UNC, 11),  # doubled correlated 1/f, same seed
    "white": ("NRCA1", SUB, 10, 1, 0.0, 0.0, 12),  # no 1/f at all
    "full": ("NRCB1", "FULL", 6, 1, CORR, UNC, 13),  # full frame, y flip
}


class Cache:
    def __init__(self, root):
        self.root = root
        self.truths: dict = {}
        self.paths: dict = {}
        self.results: dict = {}

    def path(self, name):
        if name not in self.paths:
            det, sub, ng, nints, corr, unc, seed = DATASETS[name]
            spec = NoiseSpec(white_read=WHITE, corr_1f=corr, unc_1f=unc)
            exp = simulate_exposure(self.root / f"{name}_{det.lower()}_uncal.fits", det, ngroups=ng,
                                    nints=nints, subarray=sub, spec=spec, seed=seed)
            self.paths[name], self.truths[name] = exp.path, exp.truth
        return self.paths[name]

    def truth(self, name):
        self.path(name)
        return self.truths[name]

    def result(self, name, **params) -> OneFResult:
        key = (name, tuple(sorted(params.items())))
        if key not in self.results:
            self.results[key] = analyze_onef([self.path(name)], OneFParams(**params))
        return self.results[key]


@pytest.fixture(scope="module")
def onef_data(tmp_path_factory):
    return Cache(tmp_path_factory.mktemp("onef"))


def by_output(res: OneFResult, key: str) -> dict:
    return {a["output"]: a[key] for a in res.amps}


def rel(a, b):
    return a / b - 1.0


# ------------------------------------------------------------------------------------------------
# White noise
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["A1", "B1", "A2", "full"])
def test_white_matches_truth_both_flip_kinds(onef_data, name):
    """White per amp within 3% of the injected white_cds_rms, on x-flip (NRCA1) and y-flip
    (NRCB1, NRCA2) detectors and full frame; amps in science order carry their own output's
    injected value (distinct per output, so a swapped output would be off by >= 10%)."""
    res, truth = onef_data.result(name), onef_data.truth(name)
    assert [a["x0"] for a in res.amps] == [t["x0"] for t in truth["amps"]]
    for a, t in zip(res.amps, truth["amps"]):
        assert a["output"] == t["output"]
        assert abs(rel(a["white"], t["white_cds_rms"])) < 0.03, (name, a["output"], a["white"],
                                                                 t["white_cds_rms"])


def test_full_frame_frequency_range(onef_data):
    """Full frame: spectra from 1/frame time (0.093 Hz) to the 50 kHz Nyquist frequency; the row
    rate is 1/(524 x 10 us) = 190.8 Hz; frame time (524 x 2049 + 1) x 10 us = 10.73677 s."""
    res = onef_data.result("full")
    assert res.frame_time == pytest.approx(10.73677, abs=1e-5)
    assert res.row_frequency == pytest.approx(1 / 5.24e-3, rel=1e-9)
    assert res.nyquist == pytest.approx(50_000.0)
    assert 0.08 < res.freq[0] < 0.12
    assert res.freq[-1] > 40_000
    assert np.all(np.diff(res.freq) > 0)
    assert res.psd.shape == (4, res.freq.size)


def test_no_onef_injected(onef_data):
    """White noise only: both 1/f terms < 10% of the white noise (issue), slopes reported as NaN."""
    res = onef_data.result("white")
    white = min(a["white"] for a in res.amps)
    assert res.correlated < 0.10 * white, res.correlated
    for a in res.amps:
        assert a["uncorrelated"] < 0.10 * a["white"], a
        assert math.isnan(a["uncorrelated_slope"])
    assert math.isnan(res.summary()["correlated_slope"])


# ------------------------------------------------------------------------------------------------
# 1/f split
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["A1", "B1", "full"])
def test_correlated_matches_truth(onef_data, name):
    """Correlated 1/f within 6% of the injected 5 DN (see module docstring); the fitted slope
    within 0.1 of the injected alpha = 1.  Without the mirror of the outputs read right to left
    (Layout.channel_images) the correlation above the row rate is lost and this fails."""
    res, truth = onef_data.result(name), onef_data.truth(name)
    assert abs(rel(res.correlated, truth["correlated_1f_cds"])) < 0.06, res.correlated
    assert res.summary()["correlated_slope"] == pytest.approx(1.0, abs=0.1)


@pytest.mark.parametrize("name", ["A1", "B1", "full"])
def test_per_output_onef_ranked_and_scaled(onef_data, name):
    """Per-output 1/f injected as 2.0, 2.8, 3.6, 4.4 DN on outputs 0-3: the estimates rank the same
    way and each is within 20% of the truth (issue); slopes of the larger ones near the injected 1."""
    res, truth = onef_data.result(name), onef_data.truth(name)
    est = by_output(res, "uncorrelated")
    true = {t["output"]: t["uncorrelated_1f_cds"] for t in truth["amps"]}
    outs = sorted(true)
    assert sorted(outs, key=lambda k: est[k]) == sorted(outs, key=lambda k: true[k])
    for k in outs:
        assert abs(rel(est[k], true[k])) < 0.20, (name, k, est[k], true[k])
    for a in res.amps:
        if true[a["output"]] >= 3:
            assert a["uncorrelated_slope"] == pytest.approx(1.0, abs=0.2)


def test_doubling_correlated(onef_data):
    """Same seed, correlated 1/f 5 -> 10 DN: the correlated estimate doubles (within 15%) and the
    per-output terms stay (within 15%), the issue's tolerances."""
    one, two = onef_data.result("A1"), onef_data.result("A1x2")
    assert two.correlated / one.correlated == pytest.approx(2.0, rel=0.15)
    u1, u2 = by_output(one, "uncorrelated"), by_output(two, "uncorrelated")
    for k in u1:
        assert u2[k] == pytest.approx(u1[k], rel=0.15), (k, u1[k], u2[k])


def test_same_numbers_on_three_detectors(onef_data):
    """The same injected noise (same seed: identical 1/f series in read order, white statistically
    equal) on NRCA1 (x flip), NRCA2 and NRCB1 (y flip) gives the same numbers per output within 5%.
    This is the geometry check: NIRCam has no unflipped detector, and the outputs sit in opposite
    science columns on NRCA1 vs NRCA2/NRCB1.  NRCA2 and NRCB1 (same flip kind) receive identical
    data from the simulator; NRCA1 vs NRCA2 differ only by the white realisation, which moves the
    per-output 1/f (a small residual of total - correlated - white) by 0.6-3.6% over 12 seeds
    (2 integrations of SUBGRISM256), hence 5% is not loose."""
    ref = onef_data.result("A2")
    assert [a["output"] for a in ref.amps] == [0, 1, 2, 3]
    assert [a["output"] for a in onef_data.result("A1").amps] == [3, 2, 1, 0]
    for name in ("A1", "B1"):
        res = onef_data.result(name)
        assert res.correlated == pytest.approx(ref.correlated, rel=0.05)
        for key in ("white", "uncorrelated", "total"):
            a, b = by_output(res, key), by_output(ref, key)
            for k in a:
                assert a[k] == pytest.approx(b[k], rel=0.05), (name, key, k, a[k], b[k])


@pytest.mark.parametrize("name", ["A1", "B1", "A1x2", "white", "full"])
def test_quadrature_sum_matches_total(onef_data, name):
    """sqrt(white^2 + correlated^2 + uncorrelated^2) within 3% of the measured total CDS noise (rms
    of the processed pixels, computed in the pixel domain, not from the spectra); the model built
    from the fitted power laws within 5%; Parseval (spectrum integral / pixel variance) to 1e-4."""
    res = onef_data.result(name)
    for a in res.amps:
        assert abs(a["check_ratio"] - 1) < 0.03, a
        assert abs(a["model_check_ratio"] - 1) < 0.05, a
    assert np.allclose(res.check["parseval_spectrum_over_pixels"], 1.0, atol=1e-4)
    assert res.check["max_deviation"] < 0.03


def test_independent_differences(onef_data):
    """independent CDS frames (G1-G0, G3-G2, ...; 5 per integration) -- the per-pixel mean removes
    1/N of the variance, undone by stack_mean_factor: white within 3%, correlated within 10% (half
    the frames of the consecutive case)."""
    res, truth = onef_data.result("A1", diff_type="independent"), onef_data.truth("A1")
    assert res.n_cds_frames == 2 * 5
    for a, t in zip(res.amps, truth["amps"]):
        assert abs(rel(a["white"], t["white_cds_rms"])) < 0.03
    assert abs(rel(res.correlated, truth["correlated_1f_cds"])) < 0.10


def test_refpix_correct(onef_data):
    """Top/bottom reference-row correction (per output, parity and CDS frame): the simulator has no
    even/odd offsets, and a per-output offset is removed by the per-output median anyway, so the
    numbers stay within 1%; the result says what was done."""
    plain, corr = onef_data.result("A1"), onef_data.result("A1", refpix_correct=True)
    assert corr.params.refpix_correct
    assert any("refpix_correct" in n for n in corr.notes)
    assert corr.correlated == pytest.approx(plain.correlated, rel=0.01)
    for a, b in zip(corr.amps, plain.amps):
        assert a["white"] == pytest.approx(b["white"], rel=0.01)
        assert a["uncorrelated"] == pytest.approx(b["uncorrelated"], rel=0.05)


def test_stack_mean_factor():
    """Exact variance fractions left by the per-pixel mean: 1 - 1/N^2 (consecutive), 1 - 1/N."""
    assert stack_mean_factor(9, "consecutive") == pytest.approx(1 - 1 / 81)
    assert stack_mean_factor(5, "independent") == pytest.approx(0.8)
    rng = np.random.default_rng(0)
    g = rng.standard_normal((11, 200_000))
    d = np.diff(g, axis=0)
    r = d - d.mean(axis=0)
    assert np.mean(r**2) / np.mean(d**2) == pytest.approx(stack_mean_factor(10, "consecutive"), abs=3e-3)


# ------------------------------------------------------------------------------------------------
# pynrc-style comparison and banding
# ------------------------------------------------------------------------------------------------
def test_time_domain_white_leakage(onef_data):
    """With white noise only, the pynrc-style time-domain split sees only its known white leakage:
    its 'correlated' and 'uncorrelated' equal the stated leak (g = 0.0727 for a 31-sample order-3
    Savitzky-Golay filter) within 10%."""
    res = onef_data.result("white")
    td = res.time_domain
    assert td["savgol_white_gain"] == pytest.approx(0.0727, abs=1e-4)
    assert td["correlated"] == pytest.approx(td["white_leak_correlated"], rel=0.10)
    for got, leak in zip(td["uncorrelated"], td["white_leak_uncorrelated"]):
        assert got == pytest.approx(leak, rel=0.10)
    assert "leak" in td["known_biases"]


def test_banding(onef_data):
    """Row banding.  White only: row averages of the active pixels of an output are white,
    sigma/sqrt(n) within 5%; the side reference pixels have white 0.85 x the active white of
    their outputs (simulator ref_ratio), measured within 3%; the side-reference row correction can
    only add noise.  With correlated 1/f injected it removes part of the 1/f of every output: > 3%
    of the variance for SUBGRISM256 (1.35 s frames: little 1/f power sits at the low frequencies a
    row correction reaches) and > 10% for full frame (measured 19-32%).  The banding image holds one
    column (row medians, rows in read order) per CDS frame."""
    white = onef_data.result("white")
    for a in white.amps:
        assert a["row_avg_rms"] == pytest.approx(a["row_avg_white_expected"], rel=0.05)
        assert a["total_after"] >= a["total"]
    edge = [0, 3]  # the side reference columns belong to outputs 0 and 3
    expect = 0.85 * math.sqrt(2 * np.mean([WHITE[o] ** 2 for o in edge]))
    assert white.banding["side_ref_pixel_white"] == pytest.approx(expect, rel=0.03)

    for name, least in (("A1", 0.03), ("full", 0.10)):
        res = onef_data.result(name)
        for a in res.amps:
            assert a["onef_variance_removed"] > least, (name, a)
            assert a["row_avg_rms_after"] < a["row_avg_rms"]
        assert res.banding["side_ref_row_avg_rms"] > 2 * res.banding["side_ref_row_avg_white_expected"]
        assert res.banding_image.shape == (res.shape[0], res.n_cds_frames)
        assert len(res.banding_frames) == res.n_cds_frames


# ------------------------------------------------------------------------------------------------
# API contract
# ------------------------------------------------------------------------------------------------
def test_summary_contract(onef_data):
    """summary(): exactly the agreed keys, amps in science column order with their outputs."""
    for name, outputs in (("A1", [3, 2, 1, 0]), ("B1", [0, 1, 2, 3])):
        res = onef_data.result(name)
        s = res.summary()
        assert set(s) == {"units", "correlated", "correlated_slope", "amps", "dq"}
        assert s["dq"] is None  # raw ramps: no DQ arrays
        assert s["units"] == "DN rms in a CDS frame"
        assert len(s["amps"]) == 4
        for i, a in enumerate(s["amps"]):
            assert set(a) == {"x0", "x1", "output", "white", "uncorrelated", "uncorrelated_slope", "total"}
            assert (a["x0"], a["x1"]) == (512 * i, 512 * (i + 1))
            assert all(isinstance(a[k], float) for k in ("white", "uncorrelated", "uncorrelated_slope",
                                                          "total"))
        assert [a["output"] for a in s["amps"]] == outputs
        assert s["correlated"] == res.correlated
        json.dumps(s)


def test_tables(onef_data):
    res = onef_data.result("A1")
    t = res.tables()
    assert {"onef_spectra", "onef_components", "onef_cross", "onef_banding"} <= set(t)
    comp = t["onef_components"]
    assert list(comp["output"]) == [3, 2, 1, 0]
    assert (comp["units"] == "DN rms in a CDS frame").all()
    spec = t["onef_spectra"]
    assert set(spec["component"]) >= {"total", "uncorrelated", "white", "correlated"}
    assert (spec["freq_hz"] > 0).all()
    for df in t.values():
        df.to_csv()


def test_progress_and_validation(onef_data, tmp_path):
    calls = []
    analyze_onef([onef_data.path("white")], progress=lambda f, m: calls.append((f, m)))
    fracs = [f for f, _ in calls]
    assert fracs[-1] == 1.0 and all(0.0 <= f <= 1.0 for f in fracs)
    assert fracs == sorted(fracs)

    with pytest.raises(ParameterError, match="diff_type"):
        OneFParams(diff_type="median").validate()
    with pytest.raises(InputError):
        analyze_onef([])
    # A second detector in the set: named in the error.
    with pytest.raises(InputError, match="B1_nrcb1") as exc:
        analyze_onef([onef_data.path("A1"), onef_data.path("B1")])
    assert Path(exc.value.file).name == onef_data.path("B1").name  # the one validator names files by path
    # Too few groups for a per-pixel mean over at least 2 CDS frames.
    short = simulate_exposure(tmp_path / "short_uncal.fits", "NRCA1", ngroups=3, subarray="SUBGRISM64",
                              spec=NoiseSpec(), seed=1).path
    with pytest.raises(InputError, match="NGROUPS >= 4"):
        analyze_onef([short], OneFParams(diff_type="independent"))
    # One-output subarray: no cross-spectra possible, but the output's own spectrum, white and 1/f are
    # measured, and the result says why the split is missing (tests/test_subarrays.py checks the numbers).
    one = simulate_exposure(tmp_path / "sub160_uncal.fits", "NRCA1", ngroups=3, subarray="SUB160",
                            spec=NoiseSpec(), seed=1).path
    res = analyze_onef([one])
    assert len(res.amps) == 1 and not np.isfinite(res.correlated)
    assert any("read by one output" in n and "4 outputs" in n for n in res.notes)


def test_charts(onef_data):
    """Chart builders: altair specs with axis titles carrying units; the banding PNG is a PNG."""
    from core.render import onef as R

    res = onef_data.result("A1")
    for fn in (R.spectra_chart, R.cross_spectrum_chart, R.components_chart, R.side_correction_chart):
        spec = json.dumps(fn(res).to_dict(), ensure_ascii=False)
        assert "Hz" in spec or "DN rms" in spec
    assert "DN²/Hz" in json.dumps(R.spectra_chart(res).to_dict(), ensure_ascii=False)
    assert "DN rms, CDS" in json.dumps(R.components_chart(res).to_dict(), ensure_ascii=False)
    assert "DN rms per read" in json.dumps(R.components_chart(res, convention="per read").to_dict(), ensure_ascii=False)
    png = R.banding_png(res)
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 5000
