"""The native streaming engine: parity with jwst_reffiles, and an unbiased mode with known answers."""

from __future__ import annotations

import numpy as np
import pytest

from core.io.simulate import NoiseSpec, simulate_exposure
from core.readnoise import ReadnoiseParams, make_readnoise_map
from core.readnoise.native import native_readnoise_map


@pytest.fixture(scope="module")
def sub_files(tmp_path_factory):
    """SUBGRISM256 NRCA2 (y flip), 3 files x 8 groups, white + 1/f: a subarray shape for parity."""
    d = tmp_path_factory.mktemp("native")
    spec = NoiseSpec(white_read=[4.0, 5.0, 6.0, 7.0], corr_1f=3.0, unc_1f=1.0)
    return [simulate_exposure(d / f"n{i}_uncal.fits", "NRCA2", ngroups=8, subarray="SUBGRISM256", spec=spec,
                              seed=40 + i).path for i in range(3)]


@pytest.mark.parametrize("method, diff", [("stack", "independent"), ("stack", "consecutive"),
                                          ("ramp", "independent"), ("ramp", "consecutive")])
def test_compatible_mode_matches_jwst_reffiles_pixel_for_pixel(sub_files, method, diff):
    """Same inputs and parameters: every pixel within 1e-3 DN of jwst_reffiles (float32 rounding only)."""
    ref = make_readnoise_map(sub_files, ReadnoiseParams(method=method, group_diff_type=diff, slice_width=300))
    ours, info = native_readnoise_map(sub_files, method=method, group_diff_type=diff)
    assert ours.shape == ref.cds_noise_map.shape == (256, 2048)
    assert np.array_equal(np.isnan(ours), np.isnan(ref.cds_noise_map))
    assert np.nanmax(np.abs(ours - ref.cds_noise_map)) < 1e-3
    assert info["mode"] == "compatible"


def test_compatible_mode_matches_full_frame(white_sets):
    paths = [e.path for e in white_sets["NRCB1"]]
    ref = make_readnoise_map(paths, ReadnoiseParams(clipping_sigma=2.5, max_clipping_iters=5))
    ours, _ = native_readnoise_map(paths, clipping_sigma=2.5, max_clipping_iters=5)
    assert np.nanmax(np.abs(ours - ref.cds_noise_map)) < 1e-3


def test_unbiased_mode_recovers_injected_noise_at_10_samples(white_sets):
    """Injected white noise 4-7 DN per read by output; 10 CDS samples per pixel.

    Truth per pixel: sqrt(2 sigma^2 + 1/6) DN (CDS, plus integer rounding).  The unbiased map's
    per-amp *mean* must match the per-amp mean of the truth within 1% (the issue's requirement);
    the compatible map sits ~8% low, which this test also checks so it cannot pass trivially.
    ~1e6 pixels per amp make the sampling error of the mean ~0.03%.
    """
    ex = white_sets["NRCA1"]
    ours, _ = native_readnoise_map([e.path for e in ex], mode="unbiased")
    compat, _ = native_readnoise_map([e.path for e in ex], mode="compatible")
    from core.io.geometry import Layout

    lay = Layout("NRCA1")
    active = ~lay.reference_mask()
    for a in ex[0].truth["amps"]:
        expected = np.sqrt(a["white_cds_mean"] ** 2 + 1 / 6) if "white_cds_mean" in a else None
        sel = (slice(None), slice(a["x0"], a["x1"]))
        got = float(np.nanmean(ours[sel][active[sel]]))
        base = float(np.nanmean(compat[sel][active[sel]]))
        assert expected is not None
        assert got == pytest.approx(expected, rel=0.01), a["output"]
        assert base / expected == pytest.approx(0.92, abs=0.015)


def test_saturated_samples_are_masked_and_counted(tmp_path):
    """A pixel saturated (65535) in one group gets a finite noise from its other samples."""
    from astropy.io import fits

    p = simulate_exposure(tmp_path / "s_uncal.fits", "NRCB1", ngroups=6, subarray="SUBGRISM64", seed=9).path
    with fits.open(p, mode="update") as h:
        h["SCI"].data[0, 3, 20, 100] = 65535
    m, info = native_readnoise_map([p], method="stack", group_diff_type="consecutive")
    assert info["n_masked_samples"] == 1
    assert np.isfinite(m[20, 100]) and m[20, 100] < 30


def test_native_engine_through_readnoise_api_writes_same_crds_file(sub_files, tmp_path):
    """engine='native' gives the same map as jwst_reffiles and a READNOISE file of the same form."""
    from stdatamodels.jwst import datamodels

    ref = make_readnoise_map(sub_files, ReadnoiseParams(slice_width=400, engine="reffiles"))
    nat = make_readnoise_map(sub_files, ReadnoiseParams(engine="native"))
    assert np.nanmax(np.abs(nat.cds_noise_map - ref.cds_noise_map)) < 1e-3
    assert "native" in nat.engine
    p = tmp_path / "n.fits"
    p.write_bytes(nat.model_bytes)
    with datamodels.ReadnoiseModel(str(p)) as m:
        assert m.meta.reftype == "READNOISE" and m.meta.subarray.name == "SUBGRISM256"
        assert m.meta.subarray.fastaxis == 1 and m.meta.subarray.slowaxis == -2
    with pytest.raises(Exception, match="unbiased mode needs the native engine"):
        ReadnoiseParams(engine="reffiles", mode="unbiased").validate()
