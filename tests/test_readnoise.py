"""Readnoise with the jwst_reffiles engine, against the simulator's known noise."""

from __future__ import annotations

import numpy as np
import pytest
from astropy.io import fits
from stdatamodels.jwst import datamodels

from core.errors import InputError, ParameterError
from core.io.geometry import Layout
from core.io.simulate import NoiseSpec, simulate_exposure
from core.readnoise import (
    CrdsMeta,
    ReadnoiseParams,
    amp_statistics,
    compare_maps,
    expected_clipped_std_factor,
    load_reference_map,
    make_readnoise_map,
    noisy_pixels,
    with_crds_meta,
)
from tests.conftest import WHITE_BY_OUTPUT


@pytest.fixture(scope="module")
def results(white_sets):
    params = ReadnoiseParams(engine="reffiles")
    return {det: make_readnoise_map([e.path for e in ex], params) for det, ex in white_sets.items()}


@pytest.mark.parametrize("det", ["NRCA1", "NRCB1"])
def test_per_amp_median_matches_injected_noise_within_reffiles_bias(results, white_sets, det):
    """Injected: per-output white noise 4, 5, 6, 7 DN per read (CDS = sqrt(2) x that), no 1/f.

    2 files x 10 groups, independent differences -> 10 CDS samples per pixel.  jwst_reffiles'
    clipped ddof=0 std has a *median* over pixels of 0.913 x the true sigma at n=10 (Monte Carlo
    with its own clipping, expected_clipped_std_factor).  Rounding to integer DN adds 1/6 DN^2 to a
    CDS variance.  Tolerance 1%: the median over ~1e6 pixels has ~0.1% sampling error; the
    lognormal spread of the per-pixel noise shifts the median of the product by ~0.3%.
    """
    res = results[det]
    factor = expected_clipped_std_factor(10, statistic="median")
    truth = {a["output"]: a for a in white_sets[det][0].truth["amps"]}
    for row in res.amp_table.itertuples():
        expected = np.sqrt(truth[row.output]["white_cds_median"] ** 2 + 2 / 12) * factor
        assert row.median == pytest.approx(expected, rel=0.01), (det, row.output)
        # and the amp is the one whose output carries that injected noise
        assert row.median / factor / np.sqrt(2) == pytest.approx(WHITE_BY_OUTPUT[row.output], rel=0.02)


def test_output_numbers_for_both_flip_kinds(results):
    """NRCA1 flips x: science column quadrant 0 is read by output 3; NRCB1 flips y: quadrant 0 is output 0."""
    assert list(results["NRCA1"].amp_table["output"]) == [3, 2, 1, 0]
    assert list(results["NRCB1"].amp_table["output"]) == [0, 1, 2, 3]
    assert list(results["NRCA1"].amp_table["x0"]) == [0, 512, 1024, 1536]
    assert list(results["NRCA1"].amp_table["x1"]) == [512, 1024, 1536, 2048]


def test_fits_is_readnoise_model_identical_to_direct_make_readnoise(results, white_sets, tmp_path):
    """Our engine must not change jwst_reffiles' numbers: same call, same pixels, bit for bit."""
    from jwst_reffiles.readnoise.readnoise import make_readnoise

    paths = [str(e.path) for e in white_sets["NRCA1"]]
    direct = tmp_path / "direct.fits"
    make_readnoise(paths, method="stack", group_diff_type="independent", clipping_sigma=3.0,
                   max_clipping_iters=3, nproc=1, slice_width=50, outfile=str(direct))
    ours = tmp_path / "ours.fits"
    ours.write_bytes(results["NRCA1"].model_bytes)
    with datamodels.ReadnoiseModel(str(direct)) as a, datamodels.ReadnoiseModel(str(ours)) as b:
        assert a.data.shape == b.data.shape == (2048, 2048)
        assert np.array_equal(a.data, b.data, equal_nan=True)
        assert b.meta.reftype == "READNOISE"
        assert b.meta.instrument.detector == "NRCA1"
        assert b.meta.subarray.fastaxis == -1 and b.meta.subarray.slowaxis == 2
    h = fits.getheader(ours)
    for key in ("REFTYPE", "DETECTOR", "SUBARRAY", "SUBSTRT1", "SUBSTRT2", "SUBSIZE1", "SUBSIZE2",
                "FASTAXIS", "SLOWAXIS", "READPATT", "AUTHOR", "PEDIGREE", "USEAFTER", "DESCRIP"):
        assert key in h, key
    assert fits.getheader(ours, "SCI")["BUNIT"] == "DN"
    history = " ".join(str(x) for x in h.get("HISTORY", []))
    assert "method=stack" in history and "jw01234001001_01101_00001_nrca1_uncal.fits" in history


def test_crds_meta_edit_keeps_pixels(results, tmp_path):
    edited = with_crds_meta(results["NRCB1"].model_bytes,
                            CrdsMeta(author="A. Tester", pedigree="INFLIGHT 2022-07-01 2022-07-10",
                                     useafter="2022-07-01T00:00:00", description="flight CDS noise",
                                     history="made for a test"))
    p = tmp_path / "e.fits"
    p.write_bytes(edited)
    with datamodels.ReadnoiseModel(str(p)) as m:
        assert m.meta.author == "A. Tester"
        assert m.meta.pedigree.startswith("INFLIGHT")
        assert np.array_equal(m.data, results["NRCB1"].cds_noise_map, equal_nan=True)
    with pytest.raises(ParameterError, match="65"):
        CrdsMeta(description="x" * 66).validate()


def test_odd_ngroups_with_independent_drops_last_group_and_says_so(tmp_path):
    """7 groups: jwst_reffiles itself raises a broadcast error; we drop group 7 and note it.

    Injected 5 DN per read on every output; 3 CDS samples per pixel x 2 files = 6 samples.
    """
    spec = NoiseSpec(white_read=5.0)
    paths = [simulate_exposure(tmp_path / f"f{i}_uncal.fits", "NRCA2", ngroups=7, subarray="SUBGRISM64",
                               spec=spec, seed=i).path for i in range(2)]
    res = make_readnoise_map(paths, ReadnoiseParams(group_diff_type="independent", engine="reffiles"))
    assert any("odd number of groups" in n for n in res.notes)
    factor = expected_clipped_std_factor(6, statistic="median")
    assert np.median(res.amp_table["median"]) == pytest.approx(5 * np.sqrt(2) * factor, rel=0.04)


def test_too_few_differences_for_ramp_is_refused(tmp_path):
    p = simulate_exposure(tmp_path / "two_uncal.fits", "NRCA1", ngroups=2, subarray="SUBGRISM64", seed=1).path
    with pytest.raises(InputError, match="ramp.*at least 2 group differences"):
        make_readnoise_map([p], ReadnoiseParams(method="ramp", engine="reffiles"))


def test_all_nan_pixels_come_out_nan_not_zero(tmp_path):
    """A float32 ramp with one pixel NaN in every sample: jwst_reffiles writes 0.0, we write NaN."""
    src = simulate_exposure(tmp_path / "a_uncal.fits", "NRCB1", ngroups=6, subarray="SUBGRISM64", seed=2).path
    with fits.open(src) as h:
        h["SCI"].data = h["SCI"].data.astype(np.float32)
        h["SCI"].data[:, :, 30, 700] = np.nan
        h.writeto(tmp_path / "nan_uncal.fits")
    res = make_readnoise_map([tmp_path / "nan_uncal.fits"], ReadnoiseParams(engine="reffiles"))
    assert np.isnan(res.cds_noise_map[30, 700])
    assert np.isfinite(res.cds_noise_map[31, 700])
    assert any("NaN in every sample" in n for n in res.notes)


def test_mixed_shapes_are_refused_with_the_shapes_named(white_sets, tmp_path):
    sub = simulate_exposure(tmp_path / "s_uncal.fits", "NRCA1", ngroups=4, subarray="SUBGRISM64", seed=3).path
    with pytest.raises(InputError, match="different frame shapes"):
        make_readnoise_map([white_sets["NRCA1"][0].path, sub], ReadnoiseParams(engine="reffiles"))


@pytest.mark.parametrize("bad", [dict(clipping_sigma=0), dict(slice_width=0), dict(method="median"),
                                 dict(group_diff_type="all"), dict(max_clipping_iters=0)])
def test_parameters_are_validated(bad):
    with pytest.raises(ParameterError):
        ReadnoiseParams(**bad).validate()


def test_reference_comparison_and_mismatches(results, tmp_path):
    """Comparing a map with itself gives ratio 1 and delta 0; a reference of another detector is refused."""
    p = tmp_path / "ref_a1.fits"
    p.write_bytes(results["NRCA1"].model_bytes)
    lay = results["NRCA1"].layout
    ref, meta = load_reference_map(p, lay)
    ratio, diff, table = compare_maps(results["NRCA1"].cds_noise_map, ref, lay)
    assert np.nanmedian(ratio) == pytest.approx(1.0)
    assert np.allclose(table["delta (DN)"], 0.0)
    with pytest.raises(InputError, match="is for NRCA1, but the data are NRCB1"):
        load_reference_map(p, results["NRCB1"].layout)
    # A full-frame reference is cut to a subarray by SUBSTRT.
    sub_lay = Layout("NRCA1", nx=2048, ny=64)
    cut, _ = load_reference_map(p, sub_lay)
    assert np.array_equal(cut, results["NRCA1"].cds_noise_map[:64], equal_nan=True)
    # A subarray reference cannot cover a full frame.
    small = tmp_path / "small.fits"
    with datamodels.ReadnoiseModel(str(p)) as m:
        m.data = m.data[:64]
        m.meta.subarray.ysize = 64
        m.save(str(small))
    with pytest.raises(InputError, match="does not cover"):
        load_reference_map(small, lay)
    with pytest.raises(InputError, match="does not exist"):
        load_reference_map(tmp_path / "nothing.fits", lay)
    junk = tmp_path / "junk.fits"
    junk.write_text("not a FITS file at all")
    with pytest.raises(InputError, match="not a readable readnoise"):
        load_reference_map(junk, lay)


def test_noisy_pixels_finds_injected_hot_pixels():
    """Ten pixels at 10x the noise of a flat 7 DN map with 0.2 DN scatter are all found, nothing else."""
    lay = Layout("NRCB1", nx=2048, ny=64)
    rng = np.random.default_rng(0)
    m = (7 + 0.2 * rng.standard_normal((64, 2048))).astype(np.float32)
    ys, xs = rng.integers(5, 59, 10), rng.integers(5, 2040, 10)
    m[ys, xs] = 70
    found = noisy_pixels(m, lay, nsigma=8)
    assert set(zip(found["y"], found["x"])) == set(zip(ys.tolist(), xs.tolist()))
    stats = amp_statistics(m, lay)
    assert np.allclose(stats["median"], 7, atol=0.05)
