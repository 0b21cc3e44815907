"""`python -m core analyze` writes the same products as the app, with a stable summary.json."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from stdatamodels.jwst import datamodels

from tests.conftest import ROOT


def run_cli(*args, timeout=600):
    return subprocess.run([sys.executable, "-m", "core", *map(str, args)], cwd=ROOT, capture_output=True,
                          text=True, timeout=timeout)


@pytest.fixture(scope="module")
def analysed(demo_like_root, tmp_path_factory):
    out = tmp_path_factory.mktemp("cli")
    junk = demo_like_root.parent / "junk_uncal.fits"
    junk.write_text("junk")
    files = sorted((demo_like_root / "ground").glob("*_uncal.fits")) + [junk]
    r = run_cli("analyze", *files, "--out", out, "--quiet")
    return r, out


def test_exit_zero_and_summary_structure(analysed):
    r, out = analysed
    assert r.returncode == 0, r.stderr
    s = json.loads((out / "summary.json").read_text())
    assert set(s["detectors"]) == {"NRCA1_SUBGRISM256", "NRCB1_SUBGRISM256"}
    assert s["rejected"] == [{"file": "junk_uncal.fits", "reason": "not a FITS file (no SIMPLE = T card at the start)"}]
    a1 = s["detectors"]["NRCA1_SUBGRISM256"]
    assert len(a1["files"]) == 2
    rn = a1["readnoise"]
    assert rn["units"] == "DN, CDS"
    assert [(a["x0"], a["x1"], a["output"]) for a in rn["amps"]] == [(0, 512, 3), (512, 1024, 2), (1024, 1536, 1),
                                                                     (1536, 2048, 0)]
    b1 = s["detectors"]["NRCB1_SUBGRISM256"]["readnoise"]
    assert [a["output"] for a in b1["amps"]] == [0, 1, 2, 3]
    for a in rn["amps"]:
        assert {"median", "clipped_mean", "clipped_std"} <= set(a)
        assert 5 < a["median"] < 12  # 4.4-5.1 DN/read white -> ~6.5-7.3 DN CDS, x0.9 bias, plus 1/f
    t = a1["timings"]
    steps = [k for k in ("readnoise_s", "onef_s", "refpix_s", "readnoise_rest2014_s") if k in t]
    assert "readnoise_s" in steps and len(steps) >= 2
    # Steps run two at a time: the group's wall time is at least its longest step and at most their
    # sum (plus 0.5 s for the recheck of the headers and the hand-over between threads).
    assert max(t[k] for k in steps) <= t["total_s"] <= sum(t[k] for k in steps) + 0.5


def test_products_match_summary(analysed):
    _, out = analysed
    d = out / "NRCA1_SUBGRISM256"
    table = pd.read_csv(d / "readnoise_amps_NRCA1_SUBGRISM256.csv")
    s = json.loads((out / "summary.json").read_text())["detectors"]["NRCA1_SUBGRISM256"]["readnoise"]
    assert np.allclose(table["median"], [a["median"] for a in s["amps"]])
    with datamodels.ReadnoiseModel(str(d / "readnoise_NRCA1_SUBGRISM256.fits")) as m:
        assert m.data.shape == (256, 2048)
        assert m.meta.subarray.name == "SUBGRISM256"


def test_nothing_analysable_is_one_line_error(tmp_path):
    bad = tmp_path / "bad_uncal.fits"
    bad.write_text("nope")
    r = run_cli("analyze", bad, "--out", tmp_path / "o", "--quiet")
    assert r.returncode != 0
    assert "Traceback" not in r.stderr
    assert "nothing could be analysed" in r.stderr
    r = run_cli("analyze", tmp_path / "missing_*.fits", "--out", tmp_path / "o2", "--quiet")
    assert r.returncode != 0 and "Traceback" not in r.stderr


def test_bad_parameter_is_one_line_error(demo_like_root, tmp_path):
    f = next((demo_like_root / "ground").glob("*_uncal.fits"))
    r = run_cli("analyze", f, "--out", tmp_path, "--clip-sigma", "-1")
    assert r.returncode == 2
    assert r.stderr.strip() == "error: clipping sigma must be > 0, not -1.0"


def test_second_run_hits_the_result_store(demo_like_root, tmp_path):
    files = sorted((demo_like_root / "flight").glob("*nrcb1*_uncal.fits"))
    store = tmp_path / "store"
    first = run_cli("analyze", *files, "--out", tmp_path / "a", "--store", store, "--quiet")
    second = run_cli("analyze", *files, "--out", tmp_path / "b", "--store", store, "--quiet")
    assert first.returncode == 0 and second.returncode == 0, second.stderr
    s1 = json.loads((tmp_path / "a" / "summary.json").read_text())["detectors"]["NRCB1_SUBGRISM256"]
    s2 = json.loads((tmp_path / "b" / "summary.json").read_text())["detectors"]["NRCB1_SUBGRISM256"]
    assert "from_store" not in s1
    assert "readnoise" in s2["from_store"]
    assert s1["readnoise"]["amps"] == s2["readnoise"]["amps"]
