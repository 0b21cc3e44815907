"""One store for every front end: a result stored by ``python -m core analyze`` is the one the app
finds for the same files and parameters (every section, Rest 2014 included), so a page shows it
without a Compute button and without computing again."""

from __future__ import annotations

import shutil

import pytest
from streamlit.testing.v1 import AppTest

from core.pipeline.registry import ALL_SECTIONS
from core.pipeline.store import ResultStore
from tests.conftest import ROOT
from tests.test_cli import run_cli

# page, the key of its Compute button (present only while the page has no result)
PAGES = [("pages/readnoise.py", "rn_run"), ("pages/readnoise.py", "rest_run"), ("pages/onef.py", "onef_run"),
         ("pages/refpix.py", "refpix_run"), ("pages/noisebudget.py", "noisebudget_run")]


def _has_button(at, key: str) -> bool:
    return any(getattr(b, "key", None) == key for b in at.button)


@pytest.fixture()
def cli_store(demo_like_root, tmp_path):
    """Copies of one detector group in a new folder (paths no other test computed in this process),
    analysed by the CLI into a new store."""
    data = tmp_path / "data" / "flight"
    data.mkdir(parents=True)
    files = [shutil.copy2(p, data) for p in sorted((demo_like_root / "flight").glob("*nrca1*_uncal.fits"))]
    store = tmp_path / "store"
    r = run_cli("analyze", *files, "--out", tmp_path / "out", "--store", store, "--quiet")
    assert r.returncode == 0, r.stderr
    return tmp_path / "data", [str(f) for f in files], store


def test_cli_stores_every_section_under_its_registry_key(cli_store):
    _, _, store = cli_store
    assert {e["kind"] for e in ResultStore(store).entries()} == {s.store_key for s in ALL_SECTIONS}


@pytest.mark.timeout(600)
def test_app_finds_cli_results_without_computing(cli_store, monkeypatch):
    root, files, store = cli_store
    n_entries = len(ResultStore(store).entries())
    monkeypatch.setenv("DARKS_DATA_ROOT", str(root))
    monkeypatch.setenv("DARKS_RESULTS_DIR", str(store))
    monkeypatch.chdir(ROOT)
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=300).run()
    at.session_state["selected_files"] = files
    for page, button in PAGES:
        at.switch_page(page).run()
        assert not at.exception, f"{page}: {at.exception}"
        assert not _has_button(at, button), f"{page} offers '{button}': the CLI's result was not found"
    assert len(ResultStore(store).entries()) == n_entries  # nothing was computed and stored again
