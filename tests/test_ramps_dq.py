"""DQ-flagged RampModel files: the one reader (core.io.ramps.Ramp) leaves flagged samples out for
every section, counts them, and keeps the reference pixels the mask files always flag DO_NOT_USE."""

from __future__ import annotations

import numpy as np
import pytest
from stdatamodels.jwst import datamodels

from core.io.ramps import DQ_DO_NOT_USE, DQ_JUMP_DET, DQ_REFERENCE_PIXEL, DQ_SATURATED, Ramp
from core.io.simulate import NoiseSpec, simulate_exposure


@pytest.fixture(scope="module")
def ramp_file(tmp_path_factory):
    d = tmp_path_factory.mktemp("dq")
    spec = NoiseSpec(hot_fraction=0.003, cr_rate=0.001, dnu_fraction=0.001)
    e = simulate_exposure(d / "f_nrca1_uncal.fits", "NRCA1", ngroups=6, subarray="SUBGRISM64", spec=spec, seed=3,
                          kind="ramp", flag_jumps=True)
    with datamodels.RampModel(str(e.path)) as m:
        sci, gdq, pdq = np.asarray(m.data), np.asarray(m.groupdq), np.asarray(m.pixeldq)
    return e.path, sci, gdq, pdq


def test_flagged_samples_are_nan_and_counted(ramp_file):
    path, sci, gdq, pdq = ramp_file
    with Ramp(path) as r:
        assert r.has_dq and r.is_float
        data, nbad = r.read_stripe(0, sci.shape[2])
        counted = r.dq_masked_columns.copy()
    dead = ((pdq & DQ_DO_NOT_USE) != 0) & ((pdq & DQ_REFERENCE_PIXEL) == 0)
    out = ((gdq & 7) != 0) | dead[None, None]
    assert out.any() and dead.any()
    assert np.isnan(data[out]).all()
    assert np.array_equal(data[~out], sci[~out])  # every other sample as stored
    assert counted.sum() == out.sum() and np.array_equal(counted, out.sum(axis=(0, 1, 2)))
    refs = (pdq & DQ_REFERENCE_PIXEL) != 0
    assert refs.any() and np.isfinite(data[:, :, refs]).all()  # DO_NOT_USE | REFERENCE_PIXEL: kept


def test_groupdq_mask_is_a_setting(ramp_file):
    path, sci, gdq, pdq = ramp_file
    with Ramp(path, groupdq_mask=0) as r:
        data, _ = r.read_stripe(0, sci.shape[2])
    dead = ((pdq & DQ_DO_NOT_USE) != 0) & ((pdq & DQ_REFERENCE_PIXEL) == 0)
    flagged = ((gdq & (DQ_SATURATED | DQ_JUMP_DET)) != 0) & ~dead[None, None]  # PIXELDQ still applies
    assert flagged.any() and np.isfinite(data[flagged]).all()  # used as they are
