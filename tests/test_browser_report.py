"""The report tells what the store holds: a fresh server whose result store holds results computed
headless (`python -m core analyze`) shows them in the Report page without any section being opened."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.io.simulate import NoiseSpec, simulate_set
from tests.browser import CHROMIUM, chromium, running_app, wait_idle
from tests.test_cli import run_cli

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"browser tests need Debian Chromium at {CHROMIUM}"),
]


@pytest.mark.timeout(600)
def test_fresh_server_reports_cli_results(tmp_path):
    root = tmp_path / "root"
    for k, det in enumerate(("NRCA1", "NRCB1")):
        simulate_set(root / "epoch", (det,), nfiles=2, ngroups=6, subarray="SUBGRISM64", spec=NoiseSpec(), seed=k)
    store = tmp_path / "store"
    r = run_cli("analyze", *sorted((root / "epoch").glob("*_uncal.fits")), "--out", tmp_path / "out", "--store", store,
                "--quiet")
    assert r.returncode == 0, r.stderr
    with running_app(root, env={"DARKS_RESULTS_DIR": str(store)}) as url, chromium((1500, 2400)) as ctx:
        pg = ctx.new_page()
        pg.goto(url)
        wait_idle(pg)
        pg.get_by_role("button", name="Use these").click()
        wait_idle(pg)
        pg.locator('[data-testid="stSidebarNav"]').get_by_role("link", name="Report").first.click()
        wait_idle(pg, 180_000)
        assert pg.get_by_text("Nothing computed yet").count() == 0
        pg.get_by_role("button", name="Report (HTML)").wait_for(timeout=180_000)
        assert pg.locator('[data-testid="stException"]').count() == 0
        pg.screenshot(path=str(tmp_path / "report.png"), full_page=True)
        text = pg.locator('[data-testid="stMain"]').inner_text()
        assert "Sections:" in text and "Readnoise" in text and "1/f noise" in text, text[:2000]
