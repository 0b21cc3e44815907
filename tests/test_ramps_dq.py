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


# -- the GROUPDQ flags as a setting of every section, and the per-amp counts each one reports -------------
def _expected_per_amp(path, mask):
    """Samples the reader must leave out with GROUPDQ ``mask``, per amp, straight from the file's DQ
    arrays (the truth the sections' counts are checked against: exact integers, no tolerance)."""
    from core.io.ramps import layout_from_header

    with datamodels.RampModel(str(path)) as m:
        sci, gdq, pdq = np.asarray(m.data), np.asarray(m.groupdq), np.asarray(m.pixeldq)
    with Ramp(path) as r:
        layout = layout_from_header(r.header)
    dead = ((pdq & DQ_DO_NOT_USE) != 0) & ((pdq & DQ_REFERENCE_PIXEL) == 0)
    out = (((gdq & mask) != 0) | dead[None, None]) & np.isfinite(sci)
    cols = out.sum(axis=(0, 1, 2))
    return [int(cols[a.x0:a.x1].sum()) for a in layout.amps()]


@pytest.mark.parametrize("mask", [DQ_DO_NOT_USE | DQ_SATURATED | DQ_JUMP_DET, 0])
def test_every_section_uses_the_groupdq_setting_and_counts_per_amp(ramp_file, mask):
    """Readnoise, 1/f, reference pixels and Rest 2014 read through the same Ramp with the same mask:
    each reports exactly the samples the DQ arrays say (per amp), and the flags used by name."""
    from dataclasses import replace

    from core.pipeline.registry import ALL_SECTIONS

    path = ramp_file[0]
    want = _expected_per_amp(path, mask)
    assert sum(want) > 0
    for spec in ALL_SECTIONS:
        params = replace(spec.default_params(), groupdq_mask=mask)
        summary = spec.analyze_function()([path], params).summary()
        dq = summary["dq"]
        assert dq["used"] and dq["groupdq_mask"] == mask, spec.name
        assert dq["masked_samples_per_amp"] == want, spec.name  # every section: one file read once
    no_jumps = _expected_per_amp(path, 0)
    if mask:
        assert sum(want) > sum(no_jumps)  # the jump/saturation flags do leave more out


def test_groupdq_flags_parse_and_validate():
    from core.errors import ParameterError
    from core.io.ramps import check_groupdq_mask, parse_groupdq_flags
    from core.onef import OneFParams

    assert parse_groupdq_flags("DO_NOT_USE,SATURATED,JUMP_DET") == 7
    assert parse_groupdq_flags("jump_det|saturated") == 6
    assert parse_groupdq_flags("none") == 0 and parse_groupdq_flags([]) == 0
    with pytest.raises(ParameterError, match="unknown GROUPDQ flag 'JUMP'.*DO_NOT_USE"):
        parse_groupdq_flags("JUMP")
    assert check_groupdq_mask(7) == 7
    for bad in (-1, 1 << 20, 2.0, True):
        with pytest.raises(ParameterError, match="groupdq_mask"):
            OneFParams(groupdq_mask=bad).validate()


def test_cli_groupdq_flags_reach_every_section(ramp_file, tmp_path):
    """``--groupdq-flags none`` on the command line: summary.json of every section records mask 0."""
    import json
    import subprocess
    import sys

    path = ramp_file[0]
    out = tmp_path / "out"
    r = subprocess.run([sys.executable, "-m", "core", "analyze", str(path), "--out", str(out), "--no-store",
                        "--quiet", "--groupdq-flags", "none"], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    block = next(iter(json.loads((out / "summary.json").read_text())["detectors"].values()))
    for name in ("readnoise", "onef", "refpix", "readnoise_rest2014"):
        assert block[name]["dq"]["groupdq_mask"] == 0, name
    bad = subprocess.run([sys.executable, "-m", "core", "analyze", str(path), "--out", str(out), "--no-store",
                          "--quiet", "--groupdq-flags", "JUMPS"], capture_output=True, text=True, timeout=600)
    assert bad.returncode != 0 and "unknown GROUPDQ flag 'JUMPS'" in bad.stderr and "Traceback" not in bad.stderr
