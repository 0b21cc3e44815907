"""Overview table: per detector/amp numbers against a baseline, with flags."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core.pipeline.overview import compare_with_baseline, overview_rows
from core.readnoise import ReadnoiseParams, make_readnoise_map
from core.render.overview import grid_chart


def _rows(values, detector="NRCA1", metric="readnoise"):
    return pd.DataFrame([{"detector": detector, "amp": i, "output": 3 - i, "x0": 512 * i, "x1": 512 * (i + 1),
                          "metric": metric, "value": v, "start_mjd": 60000.0} for i, v in enumerate(values)])


def test_deviation_and_flags():
    cur = _rows([10.0, 11.0, 9.0, np.nan])
    base = _rows([10.0, 10.0, 10.0, 10.0])
    t = compare_with_baseline(cur, base, threshold_pct=5)
    assert t["deviation_pct"].tolist()[:3] == pytest.approx([0.0, 10.0, -10.0])
    assert t["flagged"].tolist() == [False, True, True, False]  # NaN is never flagged, never 0
    assert np.isnan(t["deviation_pct"].iloc[3])
    no_base = compare_with_baseline(cur, None, 5)
    assert not no_base["flagged"].any() and no_base["baseline"].isna().all()
    grid_chart(t, 5).to_dict()  # the chart builds


def test_overview_rows_from_two_epochs_of_the_same_noise(demo_like_root):
    """ground and flight were simulated with the same spec (white 4.4-5.1 DN/read, 3 DN correlated
    1/f): per-amp readnoise medians agree within 5% (different noise realisations, 12 samples per
    pixel), so nothing is flagged at a 5% threshold; outputs follow NRCA1's x flip."""
    tabs = []
    for epoch in ("ground", "flight"):
        paths = sorted((demo_like_root / epoch).glob("*nrca1*_uncal.fits"))
        rn = make_readnoise_map(paths, ReadnoiseParams(engine="native"))
        tabs.append(overview_rows("NRCA1", readnoise=rn, start_mjd=59000.0 if epoch == "ground" else 60000.0))
    t = compare_with_baseline(tabs[1], tabs[0], threshold_pct=5)
    assert set(t["metric"]) == {"readnoise", "readnoise_compatible"}  # the unbiased estimate, and jwst_reffiles'
    assert list(t[t["metric"] == "readnoise"]["output"]) == [3, 2, 1, 0]
    assert (t["value"] > 5).all()
    assert not t["flagged"].any(), t


def test_trend_axis_is_dates_and_grid_text_readable():
    """Trends run against dates (UTC), not raw MJD numbers; grid text turns white on dark cells."""
    import pandas as pd

    from core.render.overview import grid_chart, trend_chart

    t = pd.DataFrame({"detector": ["NRCA1"] * 2, "amp": [0, 0], "output": [3, 3], "metric": ["white"] * 2,
                      "value": [6.0, 6.6], "start_mjd": [59000.5, 60000.25]})
    x = trend_chart(t, "white").to_dict()["encoding"]["x"]
    assert x["type"] == "temporal" and x["field"] == "start"
    g = t.assign(x0=0, x1=512, baseline=[6.0, 3.0], deviation_pct=[0.0, 120.0], flagged=[False, True])
    spec = grid_chart(g, 10.0, color_range_pct=50.0).to_dict()
    layers = spec["spec"]["layer"]
    assert layers[0]["encoding"]["color"]["scale"]["domain"] == [-50.0, 50.0]
    assert layers[1]["encoding"]["color"]["condition"]["value"] == "white"
