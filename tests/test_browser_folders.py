"""Files are paths: two folders holding files of the same names (a ground and a flight copy) are
both analysed, in separate groups named by their folder (headless Chromium, Playwright)."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.io.simulate import NoiseSpec, simulate_exposure
from tests.browser import CHROMIUM, chromium, pick_option, running_app, wait_idle

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"browser tests need Debian Chromium at {CHROMIUM}"),
]

WHITE = {"ground": 4.0, "flight": 8.0}  # DN per read: the two copies must not be mistaken for each other
NAMES = ("jw01234001001_01101_00001_nrca1_uncal.fits", "jw01234001001_01101_00002_nrca1_uncal.fits")


@pytest.fixture(scope="module")
def twin_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("twins")
    for j, (folder, white) in enumerate(WHITE.items()):
        for i, name in enumerate(NAMES):
            simulate_exposure(root / folder / name, "NRCA1", ngroups=6, subarray="SUBGRISM256",
                              spec=NoiseSpec(white_read=white), seed=100 * j + i)
    return root


def _median_cds(pg) -> float:
    metric = pg.locator('[data-testid="stMetric"]').filter(has_text="jwst_reffiles estimator [DN, CDS]").first
    return float(metric.locator('[data-testid="stMetricValue"]').inner_text().split()[0])


@pytest.mark.timeout(600)
def test_same_names_in_two_folders_are_two_groups(twin_root):
    with running_app(twin_root) as url, chromium((1500, 2400)) as ctx:
        pg = ctx.new_page()
        pg.goto(url)
        wait_idle(pg)
        pick_option(pg, "data_folder", "(data root)")
        pg.get_by_text("Include subfolders").click()
        wait_idle(pg)
        use = pg.get_by_role("button", name="Use these")
        assert use.inner_text().strip() == "Use these 4 files"  # same names, both folders, none dropped
        use.click()
        wait_idle(pg)
        done = pg.get_by_text("4 files selected")
        done.wait_for()
        assert "NRCA1_SUBGRISM256 · flight" in done.inner_text() and "NRCA1_SUBGRISM256 · ground" in done.inner_text()

        pg.locator('[data-testid="stSidebarNav"]').get_by_role("link", name="Readnoise").first.click()
        wait_idle(pg)
        medians = {}
        for folder in ("flight", "ground"):
            pick_option(pg, "group_picker", f"NRCA1_SUBGRISM256 · {folder}  (2 files, 6 groups)")
            pg.get_by_role("button", name="Compute readnoise").click()
            pg.get_by_text("jwst_reffiles estimator [DN, CDS]").wait_for(timeout=300_000)
            wait_idle(pg, 300_000)
            assert pg.locator('[data-testid="stException"]').count() == 0
            medians[folder] = _median_cds(pg)
        # CDS noise = sqrt(2) x white per read (x 0.91, jwst_reffiles' bias at 6 samples): each folder its own
        for folder, white in WHITE.items():
            assert 0.8 * white * 2**0.5 < medians[folder] < 1.05 * white * 2**0.5, medians
