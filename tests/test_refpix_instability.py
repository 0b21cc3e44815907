"""Known-answer tests of the reference-pixel instability against adjacent active pixels and of the
unstable reference pixels over time (issue 20), on darks from core.io.simulate.

The estimate is the variance ``I^2`` (``instability_var``, DN^2 per read) with its statistical
error ``instability_var_err``; ``instability`` is its signed root (DN per read).  Tolerances are
in those errors.  The error comes from the scatter of the frames' own values (``nints (G - 2)``
of them): with 8-24 frames it is itself uncertain by 15-25 %, so the pull ``I^2 / err`` of a
null result has a t-like spread (measured: std 1.08-1.11 over 40 seeds x 4 amps, 0.6 % beyond
3), i.e. "within 3 errors" fails about once in 150 amps by chance: the seeds below are fixed,
and the same assertions hold on the other detectors and seeds of these tests.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from core.io.simulate import NoiseSpec, simulate_exposure
from core.pipeline.overview import compare_with_baseline, overview_rows
from core.refpix import analyze_refpix


def _sim(tmp_path_factory, name, detector, **kw):
    out = tmp_path_factory.mktemp("refpix20") / f"{name}_{detector.lower()}_uncal.fits"
    return simulate_exposure(out, detector, **kw)


def _pull(s, kind=""):
    """I^2 / its error for the headline (kind "") or the rows / columns estimate."""
    v = s[f"instability{kind}_var"]
    e = s[f"instability{kind}_var_err"]
    return v / e


# -- no instability: zero within 3 errors, also with strong 1/f -------------------------------------
NULL_CASES = {
    # detector, subarray, groups, seed, correlated 1/f (DN CDS), per-output 1/f
    "A1-full-5DN": ("NRCA1", "FULL", 10, 31, 5.0, 1.5),  # x flip; both row edges + side columns
    "B1-grism-5DN": ("NRCB1", "SUBGRISM256", 20, 32, 5.0, 1.5),  # y flip; bottom rows + side columns
    "ALONG-full-white": ("NRCALONG", "FULL", 8, 33, 0.0, 0.0),  # long wave, no 1/f at all
}


@pytest.fixture(scope="module", params=list(NULL_CASES))
def null_case(request, tmp_path_factory):
    det, sub, G, seed, c1f, u1f = NULL_CASES[request.param]
    exp = _sim(tmp_path_factory, f"null{seed}", det, ngroups=G, subarray=sub, seed=seed,
               spec=NoiseSpec(white_read=5.0, corr_1f=c1f, unc_1f=u1f, ref_ratio=0.85))
    return request.param, exp, analyze_refpix([exp.path])


def test_no_instability_is_zero_within_errors(null_case):
    """Nothing injected: I^2 within 3 of its errors of 0 on every amp, rows and side columns alike.

    With 5 DN CDS of correlated 1/f the old whole-frame figure reads >10x its white floor (the 1/f
    sampled at the frame's edges), and the 1/f between adjacent active blocks is ~1.5 DN per read:
    the null takes it out.  Without 1/f the error is the white floor's own scatter (~0.01 DN^2).
    """
    name, exp, res = null_case
    strong = "5DN" in name
    for s in res.amp_stats:
        assert s["instability_source"] == "rows"
        assert abs(_pull(s)) < 3.0, (name, s["amp"], s["instability_var"], s["instability_var_err"])
        if s["instability_columns_var"] is not None:
            assert abs(_pull(s, "_columns")) < 3.0, (name, s["amp"])
        assert exp.truth["amps"][s["amp"]]["ref_instability_realized"] == 0.0
        if strong:
            assert s["frame_residual"] > 10 * s["frame_residual_floor"]
            # 1 - (floor^2 + max(I^2, 0)) / residual^2: the floor is < 1 %, I^2 may be up to 3 errors
            # (~1.5 DN^2) against a residual^2 of 3-5 DN^2
            assert s["frame_residual_1f_share"] > 0.5
            assert s["instability_1f"] > 1.0  # what the null removes
        else:
            assert s["instability_1f"] < 3 * s["instability_floor"]  # white only: no 1/f to remove
    # Side columns exist on the first and last amps of these frames only.
    assert [s["instability_columns"] is not None for s in res.amp_stats] == [True, False, False, True]


# -- only the correlated 1/f doubles: the estimate does not move -------------------------------------
@pytest.fixture(scope="module")
def onef_pair(tmp_path_factory):
    """2 DN per read injected on every output, correlated 1/f 2.5 and 5 DN CDS, *same seed*: the
    white noise and the injected offsets are the same draws, only the 1/f series doubles."""
    made = {}
    for c1f in (2.5, 5.0):
        exp = _sim(tmp_path_factory, f"c{c1f:g}", "NRCB1", ngroups=20, subarray="SUBGRISM256", seed=41,
                   spec=NoiseSpec(white_read=5.0, corr_1f=c1f, unc_1f=1.0, ref_ratio=0.85, ref_instability=2.0))
        made[c1f] = (exp, analyze_refpix([exp.path]))
    return made


def test_doubling_correlated_onef_leaves_instability(onef_pair):
    """I^2 at 2.5 and 5 DN of correlated 1/f agree within 3 combined errors on every amp (the same
    realisation, so this is conservative), while the whole-frame residual grows by >25 %; the
    Overview does not flag the instability at a 10 % threshold (it would flag the old figure)."""
    (_, r1), (_, r2) = onef_pair[2.5], onef_pair[5.0]
    for s1, s2 in zip(r1.amp_stats, r2.amp_stats):
        comb = math.hypot(s1["instability_var_err"], s2["instability_var_err"])
        assert abs(s2["instability_var"] - s1["instability_var"]) < 3 * comb, s1["amp"]
        # residual^2 = I^2 + 1/f part; the 1/f part (~1-1.5 DN at 2.5 DN CDS) doubles: >25 % more
        assert s2["frame_residual"] > 1.25 * s1["frame_residual"]
    rows = [overview_rows("NRCB1", refpix=r, start_mjd=m) for r, m in ((r1, 60000.0), (r2, 60001.0))]
    t = compare_with_baseline(rows[1], rows[0], threshold_pct=10)
    inst = t[t["metric"] == "instability"]
    assert len(inst) == 4 and inst["error"].notna().all() and not inst["flagged"].any(), inst


# -- injected instability recovered within 15 % ----------------------------------------------------
INJECTED = [3.0, 4.0, 3.5, 5.0]  # DN per read, per detector output


@pytest.fixture(scope="module")
def injected(tmp_path_factory):
    """NRCALONG full frames (both row edges), 2 files x 14 groups, correlated 1/f 3 DN CDS (as the
    darks of the issue) and per-output 1/f 1 DN; instability per output as INJECTED."""
    paths, truths = [], []
    for i in range(2):
        exp = _sim(tmp_path_factory, f"inj{i}", "NRCALONG", ngroups=14, seed=51 + i, start_mjd=60000.0 + i,
                   spec=NoiseSpec(white_read=5.0, corr_1f=3.0, unc_1f=1.0, ref_ratio=0.7,
                                  ref_instability=INJECTED))
        paths.append(exp.path)
        truths.append(exp.truth)
    return truths, analyze_refpix(paths)


def test_injected_instability_recovered(injected):
    """Against what was injected in these very frames (the truth's ``ref_instability_realized``,
    the group-averaged offsets about each integration's line) the estimate is within 15 %.

    Why 15 %: what D holds besides the injected offsets I z is the 1/f between adjacent blocks
    (V ~ 0.9 DN^2 per edge for 3 DN CDS, two edges averaged) and the white floor; the cross term
    2 I z e leaves a per-frame scatter sqrt(2 I^2 V) ~ 4 DN^2 for I = 3, over 24 frames ~0.8 DN^2:
    ~4.5 % of I (measured on two seed pairs: 0.5-5 %), so 15 % is ~3 sigma.
    The *reported* error is larger: it is the error against the expected instability, which also
    holds the chi-square sampling of the offsets themselves (sqrt(1 / (2 x 24)) = 14 % of I) --
    the one a comparison of two epochs needs.  So the estimate is within 3 errors of the spec value
    (in I^2) and its error is 7-25 % of I.  The side columns (1/f cancels microseconds apart)
    recover the realized value within 3 %.
    """
    truths, res = injected
    for s in res.amp_stats:
        out = s["output"]
        realized = math.sqrt(np.mean([t["amps"][s["amp"]]["ref_instability_realized"] ** 2 for t in truths]))
        assert s["instability"] == pytest.approx(realized, rel=0.15), (s["amp"], out)
        assert abs(s["instability_var"] - INJECTED[out] ** 2) < 3 * s["instability_var_err"]
        assert 0.07 < s["instability_err"] / realized < 0.25
        assert realized == pytest.approx(INJECTED[out], rel=0.45)  # chi-square of 24 frames: 14 % sigma
        if s["instability_columns"] is not None:
            assert s["instability_columns"] == pytest.approx(realized, rel=0.03)
        # The old figure carries the injected offsets too (another estimator of them, from CDS
        # frames): here they dominate it, so its 1/f share is small.
        assert s["frame_residual"] == pytest.approx(realized, rel=0.4)
        assert 0.0 <= s["frame_residual_1f_share"] < 0.5
    summ = res.summary()["amps"]
    assert [a["instability"] for a in summ] == [s["instability"] for s in res.amp_stats]
    tr = res.trends
    assert tr["instability"].notna().all() and tr["instability_err"].notna().all() and len(tr) == 8


# -- unstable reference pixels exposure by exposure --------------------------------------------------
# Science (y, x) of SUBGRISM256: rows 0-3 are the bottom reference rows, columns 0-3 / 2044-2047
# the side reference columns of rows 4-255.
PINNED = {"a": (0, 700), "b": (2, 1500), "c": (100, 2), "d": (200, 2046)}
EXPOSURES = [("a", "c"), ("b",), ("a", "b", "c", "d"), ()]  # which pinned pixels are unstable in each


@pytest.fixture(scope="module")
def pinned(tmp_path_factory):
    """4 exposures of NRCB1 SUBGRISM256, 12 groups, 3 DN of correlated 1/f; reference pixels pinned
    unstable (8x their white noise, the simulator's default) in the exposures EXPOSURES says,
    stable in the others."""
    paths, truths = [], []
    for i, names in enumerate(EXPOSURES):
        exp = _sim(tmp_path_factory, f"pin{i}", "NRCB1", ngroups=12, subarray="SUBGRISM256", seed=61 + i,
                   start_mjd=60000.0 + 10 * i,
                   spec=NoiseSpec(corr_1f=3.0, unc_1f=1.0, unstable_factor=8.0,
                                  unstable_ref_at=tuple(PINNED[n] for n in names)))
        paths.append(exp.path)
        truths.append(exp.truth)
    return paths, truths, analyze_refpix(paths)


def test_unstable_pixels_found_in_every_exposure_they_are_unstable_in(pinned):
    """Each pinned pixel is flagged in exactly the exposures it was unstable in, no other pixel in
    any exposure.  Why: its variance is 65x (8x noise on top of its white) its group's, so the cube
    root of its variance, which scatters by sqrt(2 / 10) / 3 = 15 % (G - 2 = 10 dof), sits
    (65^(1/3) - 1) / 0.15 ~ 20 +- 4 robust sigma above its group: below 5 with probability ~1e-4;
    a stable pixel passes z > 5 with probability ~1e-6 (9160 reference pixels x 4 exposures:
    expect 0.04).  (A pixel only 5x noisier would sit at 13 +- 3 and be missed in ~0.3 % of the
    exposures, ~4 % with 8 groups: measured so on other seeds.)"""
    paths, truths, res = pinned
    fl = res.exposure_flags
    for p, t, names in zip(paths, truths, EXPOSURES):
        want = {PINNED[n] for n in names}
        assert {tuple(v) for v in t["unstable_ref_pixels"]} == want  # the truth file records them
        got = fl[(fl["file"] == p.name) & fl["unstable"]]
        assert {(int(y), int(x)) for y, x in zip(got["y"], got["x"])} == want, p.name
    hist = res.history.set_index(["y", "x"])
    assert set(hist.index) == set(PINNED.values())
    for n, yx in PINNED.items():
        times = [i for i, names in enumerate(EXPOSURES) if n in names]
        row = hist.loc[yx]
        assert row["n_flagged"] == len(times) and row["n_exposures"] == 4
        assert row["flagged_expstart"] == "; ".join(f"{60000.0 + 10 * i:.4f}" for i in times)
        assert not row["persistent"]  # every pinned pixel is stable in the last exposure
        assert row["noise_cds_median_flagged"] > 3 * row["noise_cds_median_unflagged"]
    assert (hist.loc[PINNED["c"], "kind"], hist.loc[PINNED["a"], "kind"]) == ("column", "row")
    per_amp = [s["unstable_pixels_any_exposure"] for s in res.amp_stats]
    assert sum(per_amp) == 4 and res.summary()["unstable_pixels_any_exposure"] == 4
    t = overview_rows("NRCB1", refpix=res)
    assert t[t["metric"] == "unstable_ref_pixels"]["value"].tolist() == per_amp


def test_persistent_pixel(tmp_path):
    """A pixel unstable in both of 2 exposures is persistent; one unstable in 1 of 2 is not."""
    paths = []
    for i, at in enumerate((((1, 300), (3, 900)), ((1, 300),))):
        paths.append(simulate_exposure(tmp_path / f"p{i}_uncal.fits", "NRCA1", ngroups=10, subarray="SUBGRISM128",
                                       seed=71 + i, spec=NoiseSpec(unstable_factor=6.0, unstable_ref_at=at)).path)
    res = analyze_refpix(paths)
    h = res.history.set_index(["y", "x"])
    assert bool(h.loc[(1, 300), "persistent"]) and not bool(h.loc[(3, 900), "persistent"])
    assert res.summary()["unstable_pixels_persistent"] == 1
    with pytest.raises(ValueError, match="reference pixel"):
        simulate_exposure(tmp_path / "bad_uncal.fits", "NRCA1", ngroups=3, subarray="SUBGRISM64",
                          spec=NoiseSpec(unstable_ref_at=((30, 300),)))


# -- the Overview's flag: threshold and 3 errors -----------------------------------------------------
def test_overview_flag_needs_threshold_and_three_errors():
    """Instability rows flag only beyond the % threshold *and* 3 combined errors; against a baseline
    consistent with 0 (or below) the errors alone decide; metrics without errors: threshold only."""
    import pandas as pd

    def rows(values, errors, metric="instability"):
        return pd.DataFrame([{"detector": "NRCA1", "amp": i, "output": i, "x0": 0, "x1": 512, "metric": metric,
                              "value": v, "error": e, "start_mjd": 60000.0} for i, (v, e) in enumerate(zip(values, errors))])

    base = rows([1.0, 1.0, -0.3, 1.0], [0.1, 0.5, 0.6, 0.1])
    cur = rows([1.5, 1.5, 4.0, 1.05], [0.1, 0.5, 0.3, 0.1])
    t = compare_with_baseline(cur, base, threshold_pct=10)
    # +50 %, 3.5 sigma | +50 %, 0.7 sigma | from below zero, 6.2 sigma | +5 %, 0.35 sigma
    assert t["flagged"].tolist() == [True, False, True, False]
    assert t["change_sigma"].iloc[0] == pytest.approx(0.5 / math.hypot(0.1, 0.1))
    no_err = compare_with_baseline(rows([1.5], [np.nan], "white"), rows([1.0], [np.nan], "white"), 10)
    assert no_err["flagged"].tolist() == [True]


def test_charts_build(pinned, injected):
    from core.render import refpix as R

    _, _, res = pinned
    spec = str(R.unstable_history_chart(res).to_dict())
    assert "robust z" in spec and "EXPSTART" in spec
    tr = str(R.trends_chart(injected[1]).to_dict())
    assert "DN per read" in tr and "Whole-frame residual" in tr
