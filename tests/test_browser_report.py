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


def _sim_root(tmp_path, detectors=("NRCA1", "NRCB1")):
    root = tmp_path / "root"
    for k, det in enumerate(detectors):
        simulate_set(root / "epoch", (det,), nfiles=2, ngroups=6, subarray="SUBGRISM64", spec=NoiseSpec(), seed=k)
    return root


def _open(pg, url, title):
    pg.goto(url)
    wait_idle(pg)
    pg.get_by_role("button", name="Use these").click()
    wait_idle(pg)
    pg.locator('[data-testid="stSidebarNav"]').get_by_role("link", name=title).first.click()
    wait_idle(pg, 180_000)


@pytest.mark.timeout(600)
def test_report_of_two_parameter_sets_shows_both(tmp_path):
    """NRCA1's readnoise computed (CLI) in unbiased mode, NRCB1's in compatible mode, into one store:
    the Report shows each group's own parameters and offers one run.yaml per parameter set."""
    root = _sim_root(tmp_path)
    store = tmp_path / "store"
    for det, mode in (("nrca1", "unbiased"), ("nrcb1", "compatible")):
        r = run_cli("analyze", *sorted((root / "epoch").glob(f"*{det}_uncal.fits")), "--out", tmp_path / det,
                    "--store", store, "--mode", mode, "--quiet")
        assert r.returncode == 0, r.stderr
    with running_app(root, env={"DARKS_RESULTS_DIR": str(store)}) as url, chromium((1500, 2400)) as ctx:
        pg = ctx.new_page()
        _open(pg, url, "Report")
        pg.get_by_role("button", name="run-1.yaml").wait_for(timeout=180_000)
        assert pg.get_by_role("button", name="run-2.yaml").count() == 1
        assert pg.get_by_role("button", name="run.yaml", exact=True).count() == 0
        text = pg.locator('[data-testid="stMain"]').inner_text()
        assert "2 parameter sets" in text, text[:2000]
        assert pg.locator('[data-testid="stException"]').count() == 0
        pg.screenshot(path=str(tmp_path / "report_mixed.png"), full_page=True)


@pytest.mark.timeout(900)
def test_overview_compute_all_counts_to_n(tmp_path):
    """Two detector groups x (readnoise, 1/f, reference pixels) = 6 computations: Compute all runs
    them (two groups at a time) and reports 6 of 6; then the button is gone and the grid is drawn."""
    root = _sim_root(tmp_path)
    with running_app(root, env={"DARKS_RESULTS_DIR": str(tmp_path / "store")}) as url, \
            chromium((1500, 2400)) as ctx:
        pg = ctx.new_page()
        _open(pg, url, "Overview")
        main = pg.locator('[data-testid="stMain"]')
        pg.get_by_text("6 computation(s) to run for 2 detector group(s)").wait_for(timeout=120_000)
        pg.get_by_role("button", name="Compute all").click()
        seen = set()
        for _ in range(600):  # the running progress: "k of 6 done · <running steps>"
            bar = pg.locator('[data-testid="stProgress"]')
            if bar.count():
                try:
                    seen.add(bar.first.inner_text(timeout=1000).split(" done")[0])
                except Exception:  # the bar went between count() and inner_text()
                    pass
            if pg.get_by_text("6 of 6 computations done").count():
                break
            pg.wait_for_timeout(250)
        wait_idle(pg, 300_000)
        assert pg.get_by_text("6 of 6 computations done").count() == 1, main.inner_text()[:2000]
        assert any(s.endswith("of 6") for s in seen), seen
        assert pg.get_by_role("button", name="Compute all").count() == 0
        assert pg.locator('[data-testid="stProgress"]').count() == 0
        assert pg.locator('[data-testid="stException"]').count() == 0
        text = main.inner_text()
        assert "readnoise median, unbiased" in text or pg.locator('[data-testid="stVegaLiteChart"]').count() >= 1
        pg.screenshot(path=str(tmp_path / "overview.png"), full_page=True)
