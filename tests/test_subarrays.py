"""Subarrays: a 1-output window (SUB400P-like) and a 4-output stripe (SUBGRISM256-like) are analysed
by every section; the 1-output window gets a 1/f result without the correlated split."""

from __future__ import annotations

import numpy as np
import pytest

from core.io.inventory import group_by_detector, inventory
from core.io.simulate import NoiseSpec, simulate_set
from core.pipeline.registry import ALL_SECTIONS
from core.pipeline.run import AnalysisOptions, analyze_group

WHITE = 5.0  # DN per read: no spread, no noisy pixels, so the expectation is exact
UNC = 3.0  # DN rms per CDS frame, per-output 1/f
SPEC = NoiseSpec(white_read=WHITE, white_spread=0.0, noisy_fraction=0.0, unc_1f=UNC, corr_1f=0.0)


@pytest.fixture(scope="module", params=["SUB400P", "SUBGRISM256"])
def analysed(request, tmp_path_factory):
    d = tmp_path_factory.mktemp(request.param)
    paths = simulate_set(d, ("NRCB1",), nfiles=2, ngroups=6, subarray=request.param, spec=SPEC, seed=7)
    groups, rejected = group_by_detector(inventory([e.path for e in paths]))
    assert not rejected and len(groups) == 1
    return request.param, analyze_group(groups[0], AnalysisOptions())


def test_every_section_gives_a_result(analysed):
    name, res = analysed
    assert not res.errors, res.errors
    assert res.readnoise is not None
    assert set(res.sections) == {s.name for s in ALL_SECTIONS if s.name != "readnoise"}


def test_onef_white_and_per_output_1f(analysed):
    """White of a CDS frame = sqrt(2) x 5 DN plus uint16 rounding (1/12 DN^2 per read): 7.083 DN; the
    1/f per output is 3 DN.  Tolerances: white 2% (spectral plateau of ~1e5 samples x frames, a few
    per mille, plus the stack-mean correction); 1/f 15% (two files of 5 CDS frames: few modes at
    the lowest frequencies, where most 1/f power is)."""
    name, res = analysed
    onef = res.sections["onef"].summary()
    white_cds = np.sqrt(2 * WHITE**2 + 2 / 12)
    for a in onef["amps"]:
        assert a["white"] == pytest.approx(white_cds, rel=0.02), (name, a)
        assert a["uncorrelated"] == pytest.approx(UNC, rel=0.15), (name, a)
    if name == "SUB400P":
        assert len(onef["amps"]) == 1 and not np.isfinite(onef["correlated"])  # not measurable: NaN, never 0
        assert any("read by one output" in n for n in res.sections["onef"].notes)
    else:
        assert len(onef["amps"]) == 4 and np.isfinite(onef["correlated"])


def test_reference_pixels_where_the_window_has_them(analysed):
    name, res = analysed
    lay = res.readnoise.layout
    bottom, top = lay.reference_rows()
    left, right = lay.reference_columns()
    if name == "SUB400P":  # the top-right corner of the detector: reference rows on top, columns on the right
        assert len(bottom) == 0 and len(top) == 4 and len(left) == 0 and len(right) == 4
    else:  # a full-width stripe at the bottom edge
        assert len(bottom) == 4 and len(top) == 0 and len(left) == 4 and len(right) == 4
    assert res.sections["refpix"].summary()["amps"], "no reference-pixel result"


@pytest.mark.timeout(600)
def test_pages_show_a_one_output_window(tmp_path, monkeypatch):
    """The Readnoise, 1/f, Reference pixels and Report pages on a SUB400P-like window: results,
    no exception, and the 1/f page says why there is no correlated number."""
    from streamlit.testing.v1 import AppTest

    from tests.conftest import ROOT

    es = simulate_set(tmp_path / "root" / "win", ("NRCB1",), nfiles=2, ngroups=6, subarray="SUB400P", spec=SPEC, seed=3)
    monkeypatch.setenv("DARKS_DATA_ROOT", str(tmp_path / "root"))
    monkeypatch.setenv("DARKS_RESULTS_DIR", str(tmp_path / "store"))
    monkeypatch.chdir(ROOT)
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=300).run()
    at.session_state["selected_files"] = [str(e.path) for e in es]
    for page, button in [("pages/readnoise.py", "rn_run"), ("pages/onef.py", "onef_run"),
                         ("pages/refpix.py", "refpix_run"), ("pages/report.py", None)]:
        at.switch_page(page).run()
        if button:
            at.button(key=button).click().run()
        assert not at.exception, (page, [e.value for e in at.exception])
        assert not at.error, (page, [e.value for e in at.error])
        if page == "pages/onef.py":
            assert dict((m.label, m.value) for m in at.metric)["Correlated 1/f [DN rms, CDS]"] == "needs 4 outputs"
            assert any("read by one output" in i.value for i in at.info)
