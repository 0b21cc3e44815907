"""Each page with Streamlit's AppTest: widgets set, results shown, download buttons present."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from tests.conftest import ROOT

TIMEOUT = 300


@pytest.fixture()
def app(demo_like_root, monkeypatch):
    monkeypatch.setenv("DARKS_DATA_ROOT", str(demo_like_root))
    monkeypatch.chdir(ROOT)
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT)
    return at.run()


def _downloads(at):
    return [el for el in at.get("download_button")]


def test_data_page_inventory_filters_and_selection(app):
    at = app
    assert not at.exception
    assert at.title[0].value == "Data"
    assert at.selectbox(key="data_folder").value == "flight"  # first folder holding ramps
    at.selectbox(key="data_folder").set_value("ground").run()
    at.multiselect(key="flt_det").set_value(["NRCB1"]).run()
    df = at.dataframe[0].value
    assert set(df["detector"]) == {"NRCB1"} and len(df) == 2
    at.button(key="data_use").click().run()
    assert not at.exception
    assert "2 files selected" in at.success[0].value and "NRCB1_SUBGRISM256" in at.success[0].value


def test_data_page_bad_pattern_message(app):
    at = app
    at.text_input(key="data_glob").set_value("../*.fits").run()
    assert not at.exception
    assert any("path separators" in e.value for e in at.error)


def test_readnoise_page_without_selection_points_to_data(app):
    at = app
    at.switch_page("pages/readnoise.py").run()
    assert not at.exception
    assert any("No files selected" in i.value for i in at.info)


def test_readnoise_page_computes_and_offers_downloads(app, demo_like_root):
    at = app
    at.session_state["selected_files"] = [str(p) for p in sorted((demo_like_root / "ground").glob("*nrca1*_uncal.fits"))]
    at.switch_page("pages/readnoise.py").run()
    assert not at.exception
    at.radio(key="rn_diff").set_value("consecutive")
    at.number_input(key="rn_sigma").set_value(4.0).run()  # parameters no other test has stored
    at.button(key="rn_run").click().run()
    assert not at.exception
    metrics = {m.label: m.value for m in at.metric}
    assert "Readnoise, unbiased [DN, CDS]" in metrics and "jwst_reffiles estimator [DN, CDS]" in metrics
    cds = float(metrics["Readnoise, unbiased [DN, CDS]"])
    assert float(metrics["jwst_reffiles estimator [DN, CDS]"]) < cds  # the compatible estimator is biased low
    at.radio(key="noise_convention").set_value("per read").run()  # one convention for the whole view
    per_read = {m.label: m.value for m in at.metric}
    # both shown to 2 decimals: the rounding of each (<= 0.005) bounds the difference
    assert float(per_read["Readnoise, unbiased [DN per read]"]) == pytest.approx(cds / 2**0.5, abs=0.005 / 2**0.5 + 0.005)
    at.radio(key="noise_convention").set_value("CDS").run()
    amp_table = at.dataframe[0].value
    assert list(amp_table["output"]) == [3, 2, 1, 0]
    assert "consecutive" in " ".join(c.value for c in at.caption)
    dl = [d.proto.label for d in _downloads(at)]
    assert {"Readnoise reference file (FITS)", "Per-amp table (CSV)", "Map (PNG)", "Noisy pixels (CSV)"} <= set(dl)
    # comparison with the other epoch's files
    at.radio(key="rn_cmp_mode").set_value("another file set (same detector)").run()
    at.selectbox(key="rn_cmp_folder").set_value("flight").run()
    at.button(key="rn_cmp_run").click().run()
    assert not at.exception
    assert any("ratio" in c for df in at.dataframe for c in df.value.columns)  # the comparison table
    assert "Comparison table (CSV)" in [d.proto.label for d in _downloads(at)]


def test_readnoise_reference_of_wrong_detector_is_a_message(app, demo_like_root, tmp_path):
    """A reference for NRCB1 offered for NRCA1 data: a specific message, no exception, no zeros."""
    import shutil

    from core.readnoise import ReadnoiseParams, make_readnoise_map

    b1 = sorted((demo_like_root / "ground").glob("*nrcb1*_uncal.fits"))
    refdir = demo_like_root / "refs"
    refdir.mkdir(exist_ok=True)
    (refdir / "nrcb1_readnoise.fits").write_bytes(make_readnoise_map(b1, ReadnoiseParams()).model_bytes)
    at = app
    at.session_state["selected_files"] = [str(p) for p in sorted((demo_like_root / "ground").glob("*nrca1*_uncal.fits"))]
    at.switch_page("pages/readnoise.py").run()
    at.number_input(key="rn_iters").set_value(4).run()
    at.button(key="rn_run").click().run()
    at.radio(key="rn_cmp_mode").set_value("a reference readnoise file").run()
    at.selectbox(key="rn_ref_folder").set_value("refs").run()
    assert not at.exception
    assert any("is for NRCB1, but the data are NRCA1" in e.value for e in at.error)
    shutil.rmtree(refdir)


@pytest.mark.parametrize("page, button, metric_or_header, downloads", [
    ("pages/onef.py", "onef_run", "Correlated 1/f [DN rms, CDS]", {"onef_components (CSV)", "onef_spectra (CSV)"}),
    ("pages/refpix.py", "refpix_run", "Per amplifier", {"refpix_amps (CSV)", "refpix_unstable_pixels (CSV)"}),
])
def test_section_pages_compute_and_offer_downloads(app, demo_like_root, page, button, metric_or_header, downloads):
    at = app
    at.session_state["selected_files"] = [str(p) for p in sorted((demo_like_root / "flight").glob("*nrcb1*_uncal.fits"))]
    at.switch_page(page).run()
    assert not at.exception
    at.button(key=button).click().run()
    assert not at.exception
    texts = [m.label for m in at.metric] + [h.value for h in at.subheader]
    assert metric_or_header in texts
    assert downloads <= {d.proto.label for d in at.get("download_button")}
    assert list(at.dataframe[0].value["output"]) == [0, 1, 2, 3]  # NRCB1: y flip, outputs in order


def test_overview_grid_with_an_earlier_epoch_as_baseline(app, demo_like_root):
    """Both epochs were simulated with the same noise spec: deviations stay small, nothing is zero."""
    at = app
    at.session_state["selected_files"] = [str(p) for p in sorted((demo_like_root / "flight").glob("*_uncal.fits"))]
    at.switch_page("pages/overview.py").run()
    assert not at.exception
    at.checkbox(key="ov_refpix").uncheck().run()
    at.button(key="ov_run").click().run()
    assert not at.exception
    at.radio(key="ov_base_mode").set_value("an earlier epoch (folder)").run()
    at.selectbox(key="ov_base_folder").set_value("ground").run()
    if any(b.key == "ov_base_run" for b in at.button):  # the baseline may be stored already
        at.button(key="ov_base_run").click().run()
    assert not at.exception
    verdicts = [m.value for m in at.success] + [m.value for m in at.error]
    assert any("deviate" in v for v in verdicts), verdicts  # a baseline was found and compared
    assert "Overview table (CSV)" in {d.proto.label for d in at.get("download_button")}
    assert at.selectbox(key="ov_open").options == ["NRCA1_SUBGRISM256", "NRCB1_SUBGRISM256"]


def test_store_page_lists_and_deletes(app, demo_like_root, results_dir):
    from core.io.ramps import FileId
    from core.pipeline.store import ResultStore
    from core.readnoise import ReadnoiseParams

    f = next((demo_like_root / "ground").glob("*_uncal.fits"))
    ResultStore().put("readnoise", (FileId.of(f),), ReadnoiseParams(slice_width=7), {"x": 1}, label="test entry")
    at = app
    at.switch_page("pages/store.py").run()
    assert not at.exception
    table = at.dataframe[0].value
    assert "test entry" in set(table["what"])
    assert {"date", "detector", "kind", "folder", "parameters", "size (MB)"} <= set(table.columns)
    # delete by a column: the entries of these parameters
    choice = [o for o in at.multiselect(key="store_f_params").options if "slice_width=7" in o]
    at.multiselect(key="store_f_params").set_value(choice).run()
    assert set(at.dataframe[0].value["what"]) == {"test entry"}
    n_before = len(ResultStore().entries())
    at.button(key="store_delete").click().run()
    assert not at.exception
    assert ResultStore().get("readnoise", (FileId.of(f),), ReadnoiseParams(slice_width=7)) is None
    assert len(ResultStore().entries()) == n_before - 1  # only the entries shown


def test_readnoise_page_box_method_and_electrons(app, demo_like_root):
    """Rest 2014 beside the temporal map; with a gain of 2 e-/DN every shown readnoise doubles."""
    at = app
    at.session_state["selected_files"] = [str(p) for p in sorted((demo_like_root / "flight").glob("*nrca1*_uncal.fits"))]
    at.switch_page("pages/readnoise.py").run()
    at.number_input(key="rn_slice").set_value(60).run()
    at.button(key="rn_run").click().run()
    dn_median = at.dataframe[0].value["median"].to_numpy()
    at.button(key="rest_run").click().run()
    assert not at.exception
    both = at.dataframe[-1].value
    assert list(both["output"]) == [3, 2, 1, 0]
    ratio = both["spatial / temporal"].to_numpy()
    assert ((ratio > 0.8) & (ratio < 1.4)).all(), ratio  # same noise seen two ways (see the caption for why not 1)
    at.radio(key="units").set_value("electrons").run()
    at.number_input(key="gain_value").set_value(2.0).run()
    assert not at.exception
    import numpy as np

    assert np.allclose(at.dataframe[0].value["median"].to_numpy(), 2 * dn_median, rtol=1e-5)
    assert "Readnoise, unbiased [e-, CDS]" in [m.label for m in at.metric]


def test_report_page_builds_html_pdf_and_zip(app, demo_like_root):
    at = app
    at.session_state["selected_files"] = [str(p) for p in sorted((demo_like_root / "ground").glob("*nrcb1*_uncal.fits"))]
    at.switch_page("pages/report.py").run()
    assert not at.exception
    at.switch_page("pages/readnoise.py").run()
    at.number_input(key="rn_slice").set_value(70).run()
    at.button(key="rn_run").click().run()
    # A section beside readnoise, with a box size no other run used (the CLI's defaults are in the store):
    # its parameters go in the report.
    at.number_input(key="rest_box").set_value(64).run()
    at.button(key="rest_run").click().run()
    at.switch_page("pages/report.py").run()
    assert not at.exception
    assert not at.error, [e.value for e in at.error]
    labels = {d.proto.label for d in at.get("download_button")}
    assert {"Report (HTML)", "run.yaml"} <= labels
    at.button(key="make_pdf").click().run()
    at.button(key="make_zip").click().run()
    assert not at.exception
    labels = {d.proto.label for d in at.get("download_button")}
    assert {"Report (PDF)", "Bundle (ZIP)"} <= labels
