"""Frame-averaged readout patterns: a group averages NFRAMES frames, so the white noise of a group
difference is the per-frame white noise x sqrt(2 / NFRAMES), in the readnoise and the 1/f section."""

from __future__ import annotations

import json

import numpy as np
import pytest

from core.io.inventory import group_by_detector, inventory
from core.io.simulate import NoiseSpec, simulate_set
from core.pipeline.run import AnalysisOptions, analyze_group, write_group_products
from core.readnoise import ReadnoiseParams

WHITE = 10.0  # DN per frame read; no spread or noisy pixels: the expectation is exact
SPEC = NoiseSpec(white_read=WHITE, white_spread=0.0, noisy_fraction=0.0)


@pytest.fixture(scope="module", params=[("MEDIUM8", 8, 2), ("DEEP8", 8, 12), ("BRIGHT2", 2, 0)],
                ids=["MEDIUM8", "DEEP8", "BRIGHT2"])
def analysed(request, tmp_path_factory):
    readpatt, nframes, groupgap = request.param
    d = tmp_path_factory.mktemp(readpatt)
    es = simulate_set(d, ("NRCA3",), nfiles=2, ngroups=10, subarray="SUBGRISM128", spec=SPEC, seed=5,
                      readpatt=readpatt)
    groups, rejected = group_by_detector(inventory([e.path for e in es]))
    assert not rejected
    opts = AnalysisOptions(readnoise=ReadnoiseParams(mode="unbiased"),  # independent differences: the unbias
                           # factor is that of independent samples (consecutive ones are correlated)
                           sections=("onef",))
    res = analyze_group(groups[0], opts)
    assert not res.errors, res.errors
    block = json.loads(json.dumps(write_group_products(res, d / "out"), default=str))
    return nframes, groupgap, res, block


def _expected_cds(nframes: int) -> float:
    # per-frame white x sqrt(2/NFRAMES); the group values are rounded to integers: + 2 x 1/12 DN^2
    return float(np.sqrt(2 * WHITE**2 / nframes + 2 / 12))


def test_summary_carries_the_readout(analysed):
    nframes, groupgap, res, block = analysed
    assert (block["nframes"], block["groupgap"]) == (nframes, groupgap)
    assert block["tgroup"] == pytest.approx((nframes + groupgap) * block["tframe"], rel=1e-6)


def test_readnoise_is_that_of_nframes_frame_groups(analysed):
    """Unbiased native readnoise, per-amp medians: 2 files x 5 independent differences = 10 samples
    per pixel, ~65k pixels per amp.  The unbias factor is the mean's; the per-pixel median sits
    0.913 / 0.92 = 0.8% below (the spread of a 10-sample std is skewed), hence 1.5% around it."""
    nframes, _, res, block = analysed
    want = _expected_cds(nframes)
    for a in block["readnoise"]["amps"]:
        assert a["median"] == pytest.approx(want * 0.992, rel=0.015), a
        if nframes > 1:
            assert a["median_per_frame_equivalent"] == pytest.approx(a["median"] * np.sqrt(nframes), rel=1e-6)
    if nframes > 1:
        assert any(f"averages {nframes} frames" in n for n in res.readnoise.notes)


def test_onef_white_is_that_of_a_group_difference(analysed):
    """The spectral plateau of ~0.26M samples per output and frame, 10 frames: within 2% (the
    stack-mean correction and the plateau's fit range)."""
    nframes, _, res, _ = analysed
    for a in res.sections["onef"].summary()["amps"]:
        assert a["white"] == pytest.approx(_expected_cds(nframes), rel=0.02), a
