"""Under load, in headless Chromium (Playwright): five sessions computing at once on different selections,
and a computation abandoned by closing its tab.

Each session must show its own results (detector, engine, parameters and the median CDS noise, which is
compared with the same computation done here with the core), everything must finish in bounded time, and
afterwards every entry of the result store must load and hold the right map.  The app runs with a result
store of its own, so that every computation here really runs.
"""

from __future__ import annotations

import json
import pickle
import time
from pathlib import Path

import numpy as np
import pytest

from core.io.ramps import FileId
from core.pipeline.store import ResultStore
from core.readnoise import ReadnoiseParams, make_readnoise_map
from tests.browser import CHROMIUM, chromium, pick_option, running_app, wait_idle

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"browser tests need Debian Chromium at {CHROMIUM}"),
]

UI_TIMEOUT = 60_000  # ms
ALL_DONE_S = 240  # the five concurrent computations, from the first click to the last result


@pytest.fixture(scope="module")
def store_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("concurrency_store")


@pytest.fixture(scope="module")
def app_url(demo_like_root, store_dir):
    with running_app(demo_like_root, env={"DARKS_RESULTS_DIR": str(store_dir)}) as url:
        yield url


@pytest.fixture(scope="module")
def ctx():
    with chromium(viewport=(1300, 1600)) as c:
        c.set_default_timeout(UI_TIMEOUT)
        yield c


# A selection: (folder, detector, sidebar settings, ReadnoiseParams the page builds from them).
SESSIONS = [
    ("ground", "NRCA1", {}, ReadnoiseParams()),
    ("ground", "NRCB1", {}, ReadnoiseParams()),
    ("flight", "NRCA1", {"engine": "jwst_reffiles"}, ReadnoiseParams(engine="reffiles")),
    ("flight", "NRCB1", {"diff": "consecutive"}, ReadnoiseParams(group_diff_type="consecutive")),
    ("ground", "NRCA1", {"sigma": "4"}, ReadnoiseParams(clipping_sigma=4.0)),
]


def _files(root: Path, folder: str, det: str) -> list[Path]:
    return sorted((root / folder).glob(f"*_{det.lower()}_uncal.fits"))


@pytest.fixture(scope="module")
def expected(demo_like_root):
    """(folder, detector, params) -> the map and its page metric, computed here with the core (lazily)."""
    cache = {}

    def get(folder, det, params):
        key = (folder, det, params)
        if key not in cache:
            res = make_readnoise_map(_files(demo_like_root, folder, det), params)
            active = ~res.layout.reference_mask()
            cache[key] = (res.cds_noise_map, f"{float(np.nanmedian(res.cds_noise_map[active])):.2f}")
        return cache[key]

    return get


# -- driving one page ----------------------------------------------------------------------------------------
def _wait_all(pages):
    """wait_idle for several pages whose actions were all just made (one settling pause for all)."""
    pages[0].wait_for_timeout(400)
    for pg in pages:
        pg.wait_for_selector('[data-testid="stApp"][data-test-script-state="notRunning"]', timeout=UI_TIMEOUT)
    pages[0].wait_for_timeout(200)


def _select_all(pages, selections):
    """Data page, on every page at once: folder, a pattern for one detector, use its 2 files."""
    for pg, (folder, _) in zip(pages, selections):
        pick_option(pg, "data_folder", folder)
    _wait_all(pages)
    for pg, (_, det) in zip(pages, selections):
        box = pg.locator(".st-key-data_glob input")
        box.fill(f"*_{det.lower()}_uncal.fits")
        box.press("Enter")
    _wait_all(pages)
    for pg in pages:
        use = pg.get_by_role("button", name="Use these")
        assert use.inner_text().strip() == "Use these 2 files"
        use.click()
    for pg in pages:
        pg.get_by_text("2 files selected").wait_for()


def _to_readnoise_all(pages, settings_list, compute_button=True):
    for pg in pages:
        pg.locator('[data-testid="stSidebarNav"]').get_by_role("link", name="Readnoise").first.click()
    for pg in pages:
        pg.get_by_role("heading", name="Readnoise").first.wait_for()
    _wait_all(pages)
    for pg, settings in zip(pages, settings_list):
        if "engine" in settings:
            pg.locator(".st-key-rn_engine").get_by_text(settings["engine"], exact=True).click()
        if "diff" in settings:
            pg.locator(".st-key-rn_diff").get_by_text(settings["diff"], exact=True).click()
    _wait_all(pages)
    for pg, settings in zip(pages, settings_list):
        for key, widget in (("sigma", "rn_sigma"), ("slice", "rn_slice")):
            if key in settings:
                box = pg.locator(f".st-key-{widget} input")
                box.fill(settings[key])
                box.press("Enter")
    _wait_all(pages)
    if compute_button:
        for pg in pages:
            pg.get_by_role("button", name="Compute readnoise").wait_for()


def _open(ctx, url, n: int = 1) -> list:
    """``n`` new sessions on the Data page, loading at the same time."""
    pages = [ctx.new_page() for _ in range(n)]
    for pg in pages:
        pg.goto(url, wait_until="commit")
    for pg in pages:
        pg.get_by_role("heading", name="Data").first.wait_for()
    _wait_all(pages)
    return pages


def _metric(pg, label: str) -> str:
    # by the exact label: has_text is a case-insensitive substring ("Files" is in "jwst_reffiles ...")
    m = pg.locator('[data-testid="stMetric"]').filter(
        has=pg.locator('[data-testid="stMetricLabel"]').get_by_text(label, exact=True)).first
    return m.locator('[data-testid="stMetricValue"]').inner_text().strip()


def _no_exception(pg, where: str):
    assert pg.locator('[data-testid="stException"]').count() == 0, f"exception shown on {where}"
    assert pg.get_by_text("Traceback").count() == 0, f"traceback text on {where}"


def _check_page(pg, folder, det, settings, params, expected, where):
    _no_exception(pg, where)
    assert pg.locator('[data-testid="stAlertContentError"]').count() == 0, where
    picked = pg.locator(".st-key-group_picker").get_by_role("combobox").input_value()
    assert picked.startswith(f"{det}_SUBGRISM256"), (where, picked)
    assert _metric(pg, "Files") == "2", where
    assert _metric(pg, "jwst_reffiles estimator [DN, CDS]") == expected(folder, det, params)[1], where
    caption = pg.get_by_text("Engine: ").first.inner_text()
    engine = "native streaming engine, compatible" if params.engine == "native" else "jwst_reffiles"
    assert engine in caption and f"{params.group_diff_type} differences" in caption, (where, caption)
    assert f"{params.clipping_sigma}σ clipping" in caption, (where, caption)


# -- the store after the fact ---------------------------------------------------------------------------------
def _store_settles(root: Path, timeout: float = 60):
    """Wait until no entry is being written (no .tmp-* folder left)."""
    deadline = time.time() + timeout
    while list(root.glob("??/.tmp-*")) and time.time() < deadline:
        time.sleep(0.5)
    assert not list(root.glob("??/.tmp-*")), "a temporary store folder was left behind"


def _every_entry_loads(root: Path) -> int:
    dirs = [d for d in root.glob("??/*") if d.is_dir()]
    for d in dirs:
        meta = json.loads((d / "meta.json").read_text())
        assert meta["key"] == d.name
        with open(d / "result.pkl", "rb") as f:
            res = pickle.load(f)
        if meta["kind"] == "readnoise":
            assert res.cds_noise_map.shape == (256, 2048), d
    assert len(ResultStore(root).entries()) == len(dirs)
    return len(dirs)


def _stored_map(root: Path, files, params):
    hit = ResultStore(root).get("readnoise", tuple(FileId.of(p) for p in files), params)
    assert hit is not None, "no store entry for a computation a page showed"
    return hit.cds_noise_map


# -- the tests ---------------------------------------------------------------------------------------------
def test_five_sessions_compute_at_once(app_url, ctx, demo_like_root, store_dir, expected):
    pages = []
    try:
        t_setup = time.time()
        pages += _open(ctx, app_url, len(SESSIONS))
        _select_all(pages, [(folder, det) for folder, det, _, _ in SESSIONS])
        _to_readnoise_all(pages, [settings for _, _, settings, _ in SESSIONS])
        print(f"five sessions set up in {time.time() - t_setup:.1f} s")
        t0 = time.time()
        for pg in pages:  # five computations under way at the same time
            pg.get_by_role("button", name="Compute readnoise").click()
        for pg in pages:
            left_ms = max(1_000, int((ALL_DONE_S - (time.time() - t0)) * 1000))
            pg.get_by_text("jwst_reffiles estimator [DN, CDS]").wait_for(timeout=left_ms)
            wait_idle(pg, left_ms)
        elapsed = time.time() - t0
        print(f"five concurrent computations done in {elapsed:.1f} s")
        assert elapsed < ALL_DONE_S, elapsed
        for i, (pg, (folder, det, settings, params)) in enumerate(zip(pages, SESSIONS)):
            _check_page(pg, folder, det, settings, params, expected, f"session {i} ({folder} {det} {settings})")
    finally:
        for pg in pages:
            pg.close()

    _store_settles(store_dir)
    assert _every_entry_loads(store_dir) >= len(SESSIONS)
    for folder, det, _, params in SESSIONS:
        got = _stored_map(store_dir, _files(demo_like_root, folder, det), params)
        assert np.array_equal(got, expected(folder, det, params)[0], equal_nan=True), (folder, det, params)


def test_tab_closed_mid_compute_leaves_no_broken_entry(app_url, ctx, demo_like_root, store_dir, expected):
    """A slow run (jwst_reffiles with 5-column slices re-reads every file 410 times) is abandoned by
    closing its tab while its progress bar moves; the store stays sound, and a new session computes
    (or loads) the same thing and shows the right numbers."""
    folder, det, settings = "ground", "NRCB1", {"engine": "jwst_reffiles", "slice": "5"}
    params = ReadnoiseParams(slice_width=5, engine="reffiles")  # the slice width changes the work, not the numbers
    want = expected(folder, det, ReadnoiseParams(engine="reffiles"))
    files = _files(demo_like_root, folder, det)

    pg, = _open(ctx, app_url)
    _select_all([pg], [(folder, det)])
    _to_readnoise_all([pg], [settings])
    pg.get_by_role("button", name="Compute readnoise").click()
    bar = pg.locator('[data-testid="stProgress"]').filter(has_text="jwst_reffiles make_readnoise")
    bar.first.wait_for(timeout=UI_TIMEOUT)  # the run is inside make_readnoise, its progress bar moving
    assert pg.get_by_text("jwst_reffiles estimator [DN, CDS]").count() == 0
    pg.close()  # mid-compute

    _store_settles(store_dir)
    _every_entry_loads(store_dir)

    pg, = _open(ctx, app_url)
    try:
        _select_all([pg], [(folder, det)])
        _to_readnoise_all([pg], [settings], compute_button=False)
        button = pg.get_by_role("button", name="Compute readnoise")
        if button.count():  # else the abandoned run finished and stored it: the page shows it at once
            button.click()
        print("after the closed tab, the new session", "computed it" if button.count() else "loaded it from the store")
        pg.get_by_text("jwst_reffiles estimator [DN, CDS]").wait_for(timeout=ALL_DONE_S * 1000)
        wait_idle(pg, ALL_DONE_S * 1000)
        _no_exception(pg, "the session after the abandoned one")
        assert _metric(pg, "jwst_reffiles estimator [DN, CDS]") == want[1]
        assert "slice width 5" in pg.get_by_text("Engine: ").first.inner_text()
    finally:
        pg.close()

    _store_settles(store_dir)
    _every_entry_loads(store_dir)
    assert np.array_equal(_stored_map(store_dir, files, params), want[0], equal_nan=True)
