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

from tests.browser import CHROMIUM, ROOT, chromium, running_app, wait_idle

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


def _pick(pg, key: str, option: str):
    """Choose ``option`` in the selectbox with widget key ``key`` (a combobox; no-op if already chosen)."""
    combo = pg.locator(f".st-key-{key}").get_by_role("combobox")
    if combo.input_value() == option:
        return
    combo.click()
    pg.get_by_role("option", name=option, exact=True).click()
    wait_idle(pg)
    assert combo.input_value() == option, f"{key} did not switch to {option}"


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
    _pick(pg, "data_folder", "ground")
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
    pg.get_by_text("Median CDS noise (active)").wait_for(timeout=COMPUTE_TIMEOUT)
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
