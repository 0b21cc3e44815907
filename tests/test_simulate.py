"""The simulator writes valid DMS files whose noise sits where the hardware would put it."""

from __future__ import annotations

import numpy as np
import pytest
from astropy.io import fits

from core.io.geometry import Layout
from core.io.ramps import Ramp, cds_frames
from core.io.simulate import NoiseSpec, simulate_exposure, simulate_ramp


def test_file_is_level1b_that_jwst_opens(tmp_path):
    import jwst.datamodels

    p = simulate_exposure(tmp_path / "a_uncal.fits", "NRCB1", ngroups=3, nints=2, subarray="SUBGRISM64", seed=1).path
    with jwst.datamodels.open(str(p)) as m:
        assert type(m).__name__ in ("Level1bModel", "RampModel")
        assert m.data.shape == (2, 3, 64, 2048)
        assert m.meta.instrument.detector == "NRCB1"
        assert m.meta.exposure.type == "NRC_DARK"
        assert m.meta.subarray.fastaxis == 1 and m.meta.subarray.slowaxis == -2
    h = fits.getheader(p)
    assert h["NOUTPUTS"] == 4 and h["TFRAME"] == pytest.approx(Layout("NRCB1", ny=64).frame_time)
    assert fits.getheader(p, "SCI")["BZERO"] == 32768
    assert (tmp_path / "a_uncal_truth.json").exists()


def test_full_frame_time_is_10_73677_s():
    assert Layout("NRCA1").frame_time == pytest.approx(10.73677, abs=1e-6)


@pytest.mark.parametrize("det, expected_amp", [("NRCA1", 0), ("NRCA2", 3), ("NRCB1", 3), ("NRCB2", 0)])
def test_per_output_noise_lands_in_the_right_science_quadrant(det, expected_amp):
    """Inject white noise 12 DN on output 3 only (2 DN elsewhere): it must appear in science amp
    0 for x-flipped detectors and amp 3 for y-flipped ones."""
    data, truth, layout = simulate_ramp(det, ngroups=4, subarray="SUBGRISM64",
                                        spec=NoiseSpec(white_read=[2, 2, 2, 12], noisy_fraction=0), seed=3)
    cds = cds_frames(data.astype(np.float32), "consecutive")
    per_amp = [np.std(cds[:, 8:-8, a.x0 + 8:a.x1 - 8]) for a in layout.amps()]
    assert int(np.argmax(per_amp)) == expected_amp
    assert per_amp[expected_amp] == pytest.approx(12 * np.sqrt(2), rel=0.03)


def test_correlated_onef_is_mirrored_for_outputs_read_right_to_left():
    """Correlated 1/f alone: in read order (Layout.channel_images) all outputs carry the same
    series; in detector columns, outputs 1 and 3 are mirror images of 0 and 2."""
    spec = NoiseSpec(white_read=0.0, corr_1f=5.0, ktc=0.0, noisy_fraction=0, ref_ratio=1.0)
    data, truth, layout = simulate_ramp("NRCA1", ngroups=3, subarray="SUBGRISM64", spec=spec, seed=4)
    cds = cds_frames(data.astype(np.float32), "consecutive")
    chans = layout.channel_images(cds - np.median(cds, axis=0))
    rounding = 0.5  # integer DN rounding of each read
    for k in (1, 2, 3):
        assert np.max(np.abs(chans[:, k] - chans[:, 0])) <= 2 * rounding + 1e-3
    assert truth["correlated_1f_cds"] == pytest.approx(5.0)


def test_ramp_reader_streams_stripes_in_dn(tmp_path):
    data, _, layout = simulate_ramp("NRCA3", ngroups=3, subarray="SUBGRISM64", seed=5)
    from core.io.simulate import write_uncal
    p = write_uncal(tmp_path / "r_uncal.fits", data, layout, "SUBGRISM64")
    with Ramp(p) as r:
        stripe, nbad = r.read_stripe(10, 20)
    assert stripe.dtype == np.float32 and nbad == 0
    assert np.array_equal(stripe, data[:, :, 10:20].astype(np.float32))
