"""Drive the running app in headless Debian Chromium (Playwright): select, compute, download, render.

One Streamlit server and one browser are shared by the module; every test opens its own page (its own
Streamlit session).  Screenshots of every page go to test-artifacts/screenshots/.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.browser import CHROMIUM, ROOT, chromium, pick_option, running_app, wait_idle

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"browser tests need Debian Chromium at {CHROMIUM}"),
]

SHOTS = ROOT / "test-artifacts" / "screenshots"
COMPUTE_TIMEOUT = 180_000  # ms
UI_TIMEOUT = 60_000  # ms


@pytest.fixture(scope="module")
def app_url(demo_like_root):
    with running_app(demo_like_root) as url:
        yield url


@pytest.fixture(scope="module")
def browser_ctx():
    with chromium() as ctx:
        ctx.set_default_timeout(UI_TIMEOUT)
        yield ctx


@pytest.fixture()
def page(app_url, browser_ctx):
    pg = browser_ctx.new_page()
    pg.goto(app_url)
    wait_idle(pg)
    pg.get_by_role("heading", name="Data").first.wait_for()
    yield pg
    pg.close()


def _no_exception(pg, where: str):
    assert pg.locator('[data-testid="stException"]').count() == 0, f"exception shown on {where}"
    assert pg.get_by_text("Traceback").count() == 0, f"traceback text on {where}"


def _sidebar_link(pg, title: str):
    return pg.locator('[data-testid="stSidebarNav"]').get_by_role("link", name=title).first


def _download(pg, label: str, dest: Path) -> Path:
    # A download button reruns the script (Streamlit's default on_click="rerun") and the rerun replaces
    # the served media files: click only on an idle page, and let the rerun finish afterwards.
    wait_idle(pg)
    with pg.expect_download(timeout=UI_TIMEOUT) as info:
        pg.get_by_role("button", name=label).click()
    info.value.save_as(dest)
    wait_idle(pg)
    assert dest.stat().st_size > 0
    return dest


def test_select_compute_and_download_fits(page, tmp_path):
    from stdatamodels.jwst.datamodels import ReadnoiseModel

    pg = page
    pick_option(pg, "data_folder", "ground")
    use = pg.get_by_role("button", name="Use these")
    assert use.inner_text().strip() == "Use these 4 files"  # 2 files x NRCA1, NRCB1
    use.click()
    wait_idle(pg)
    pg.get_by_text("4 files selected").wait_for()
    _no_exception(pg, "Data after selection")

    _sidebar_link(pg, "Readnoise").click()
    wait_idle(pg)
    pg.get_by_role("heading", name="Readnoise").first.wait_for()
    picked = pg.locator(".st-key-group_picker").get_by_role("combobox").input_value()
    detector = next(d for d in ("NRCA1", "NRCB1") if d in picked)

    pg.get_by_role("button", name="Compute readnoise").click()
    pg.get_by_text("jwst_reffiles estimator [DN, CDS]").wait_for(timeout=COMPUTE_TIMEOUT)
    wait_idle(pg, COMPUTE_TIMEOUT)
    _no_exception(pg, "Readnoise after compute")

    fits = _download(pg, "Readnoise reference file (FITS)", tmp_path / "readnoise.fits")
    with ReadnoiseModel(str(fits)) as m:
        assert m.meta.reftype.upper() == "READNOISE"
        assert m.meta.instrument.detector == detector
        assert m.data.shape == (256, 2048)
        med = float(np.nanmedian(m.data))
    assert np.isfinite(med) and 5.0 < med < 12.0, med

    csv = _download(pg, "Per-amp table (CSV)", tmp_path / "amps.csv")
    amps = pd.read_csv(io.BytesIO(csv.read_bytes()))
    assert len(amps) == 4
    assert {"x0", "x1", "output", "median"} <= set(amps.columns)
    assert set(amps["output"]) == {0, 1, 2, 3}


def test_pages_render_without_exception(page):
    pg = page
    SHOTS.mkdir(parents=True, exist_ok=True)
    links = pg.locator('[data-testid="stSidebarNav"] a')
    # A link's text is "<material icon name>\n\n<title>": keep the title.
    titles = [t.strip().splitlines()[-1].strip() for t in links.all_inner_texts() if t.strip()]
    assert {"Data", "Readnoise"} <= set(titles), titles
    for title in titles:
        _sidebar_link(pg, title).click()
        wait_idle(pg)
        pg.get_by_role("heading", name=title).first.wait_for()
        _no_exception(pg, title)
        if title == "Data":  # select the default folder's files so the section pages show their inputs
            pg.get_by_role("button", name="Use these").click()
            wait_idle(pg)
            _no_exception(pg, "Data after selection")
        pg.screenshot(path=str(SHOTS / f"{title.replace(' ', '_').replace('/', '')}.png"), full_page=True)


def test_bad_pattern_shows_message(page):
    pg = page
    box = pg.locator(".st-key-data_glob input")
    box.fill("../*.fits")
    box.press("Enter")
    wait_idle(pg)
    err = pg.locator('[data-testid="stAlertContentError"]')
    err.first.wait_for()
    assert "path separators" in err.first.inner_text()
    _no_exception(pg, "Data with a bad pattern")


# -- the main flow, end to end --------------------------------------------------------------------
EXPECTED_OUTPUTS = {"NRCA1": [3, 2, 1, 0], "NRCB1": [0, 1, 2, 3]}  # detector output of science amps 0-3
FLOW_BUDGET = 120  # s, the flow on its own (server and browser already up)


def _flow_page(pg, title: str):
    """Go to ``title`` through the sidebar link and wait for its heading."""
    _sidebar_link(pg, title).click()
    wait_idle(pg)
    pg.get_by_role("heading", name=title).first.wait_for()
    _no_exception(pg, title)


# Streamlit scrolls inside its main container, not the document, so full_page alone shows one viewport:
# how much taller the viewport must be for the containers scrolling the main block to show all of it.
_HIDDEN_HEIGHT_JS = """() => {
    const main = document.querySelector('[data-testid="stMainBlockContainer"]');
    return Math.max(0, ...[...document.querySelectorAll('*')]
        .filter(e => main && e.contains(main) && ['auto', 'scroll'].includes(getComputedStyle(e).overflowY))
        .map(e => e.scrollHeight - e.clientHeight));
}"""


def _flow_shot(pg, title: str, max_height: int = 16_000):
    """Check ``title`` for exceptions and save a screenshot of the whole page (all of it, not one viewport)."""
    _no_exception(pg, title)
    SHOTS.mkdir(parents=True, exist_ok=True)
    size = pg.viewport_size
    extra = int(pg.evaluate(_HIDDEN_HEIGHT_JS))
    if extra > 0:
        pg.set_viewport_size({"width": size["width"], "height": min(size["height"] + extra, max_height)})
        pg.wait_for_timeout(500)  # charts re-lay out
    try:
        pg.screenshot(path=str(SHOTS / f"flow_{title.replace(' ', '_').replace('/', '')}.png"), full_page=True)
    finally:
        pg.set_viewport_size(size)


def _compute(pg, button: str, done, where: str):
    """Press a *Compute* button and wait for ``done`` (a locator only present once the result shows)."""
    pg.get_by_role("button", name=button).click()
    done.first.wait_for(timeout=COMPUTE_TIMEOUT)
    wait_idle(pg, COMPUTE_TIMEOUT)
    _no_exception(pg, where)


def _csv(path: Path) -> pd.DataFrame:
    return pd.read_csv(io.BytesIO(path.read_bytes()))


@pytest.mark.timeout(300)  # hard stop; the flow itself must fit in FLOW_BUDGET
def test_main_flow_end_to_end(page, tmp_path, demo_like_root):
    """Data (flight) -> Readnoise -> 1/f noise -> Reference pixels -> Report, downloading each product."""
    import hashlib
    import time

    from stdatamodels.jwst.datamodels import ReadnoiseModel

    t0 = time.monotonic()
    pg = page

    # Data: the flight folder, all 4 files (2 x NRCA1, 2 x NRCB1).
    pick_option(pg, "data_folder", "flight")
    use = pg.get_by_role("button", name="Use these")
    assert use.inner_text().strip() == "Use these 4 files"
    use.click()
    wait_idle(pg)
    pg.get_by_text("4 files selected").wait_for()
    _flow_shot(pg, "Data")

    # Readnoise: compute, download the CRDS FITS and the per-amp CSV.
    _flow_page(pg, "Readnoise")
    detector = next(d for d in EXPECTED_OUTPUTS
                    if d in pg.locator(".st-key-group_picker").get_by_role("combobox").input_value())
    _compute(pg, "Compute readnoise", pg.get_by_text("jwst_reffiles estimator [DN, CDS]"), "Readnoise after compute")
    fits = _download(pg, "Readnoise reference file (FITS)", tmp_path / "readnoise.fits")
    with ReadnoiseModel(str(fits)) as m:
        assert m.meta.reftype.upper() == "READNOISE"
        assert m.meta.instrument.detector == detector
        assert m.data.shape == (256, 2048)
    amps = _csv(_download(pg, "Per-amp table (CSV)", tmp_path / "rn_amps.csv")).sort_values("amp")
    assert len(amps) == 4
    assert list(amps["output"]) == EXPECTED_OUTPUTS[detector], (detector, list(amps["output"]))
    _flow_shot(pg, "Readnoise")

    # 1/f noise: same detector (the choice persists across pages); components CSV.
    _flow_page(pg, "1/f noise")
    assert detector in pg.locator(".st-key-onef_group_picker").get_by_role("combobox").input_value()
    _compute(pg, "Compute 1/f spectra", pg.get_by_role("heading", name="Components per amplifier"),
             "1/f noise after compute")
    comp = _csv(_download(pg, "onef_components (CSV)", tmp_path / "onef_components.csv"))
    assert len(comp) == 4 and sorted(comp["amp"]) == [0, 1, 2, 3]
    assert (comp["white"] > 0).all(), comp["white"].tolist()
    # Simulated: correlated 1/f of 3 DN rms per CDS frame.
    assert comp["correlated"].between(1.5, 6.0).all(), comp["correlated"].tolist()
    _flow_shot(pg, "1/f noise")

    # Reference pixels: injected ref/active white-noise ratio 0.85.
    _flow_page(pg, "Reference pixels")
    assert detector in pg.locator(".st-key-refpix_group_picker").get_by_role("combobox").input_value()
    _compute(pg, "Compute reference-pixel stability", pg.get_by_role("heading", name="Per amplifier", exact=True),
             "Reference pixels after compute")
    rp = _csv(_download(pg, "refpix_amps (CSV)", tmp_path / "refpix_amps.csv"))
    assert len(rp) == 4
    assert rp["ref_active_white_ratio"].between(0.75, 0.95).all(), rp["ref_active_white_ratio"].tolist()
    _flow_shot(pg, "Reference pixels")

    # Report: HTML (sections, an input's SHA-256, nothing fetched from the web), then the PDF.
    _flow_page(pg, "Report")
    html = _download(pg, "Report (HTML)", tmp_path / "report.html").read_text(encoding="utf-8")
    for section in ("Readnoise", "1/f noise", "Reference pixels", "Provenance"):
        assert f"<h2>{section}</h2>" in html, f"no {section} section in the report"
    inputs = sorted((demo_like_root / "flight").glob(f"*{detector.lower()}*_uncal.fits"))
    assert inputs, f"no {detector} file in the flight folder"
    assert hashlib.sha256(inputs[0].read_bytes()).hexdigest() in html
    assert '<script src="http' not in html
    pg.get_by_role("button", name="Make PDF").click()
    pg.get_by_role("button", name="Report (PDF)").wait_for(timeout=COMPUTE_TIMEOUT)
    wait_idle(pg, COMPUTE_TIMEOUT)
    pdf = _download(pg, "Report (PDF)", tmp_path / "report.pdf")
    assert pdf.read_bytes().startswith(b"%PDF")
    _flow_shot(pg, "Report")

    elapsed = time.monotonic() - t0
    print(f"main flow: {elapsed:.1f} s")
    assert elapsed < FLOW_BUDGET, f"main flow took {elapsed:.0f} s (budget {FLOW_BUDGET} s)"
