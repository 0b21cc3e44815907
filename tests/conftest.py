"""Shared simulated data sets (made once per test session with the project's simulator)."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.io.simulate import NoiseSpec, simulate_set

ROOT = Path(__file__).resolve().parents[1]  # the checkout (tests run the CLI and the app from it)

# Distinct white noise per detector output, so a wrong output mapping shows up as a wrong amp.
WHITE_BY_OUTPUT = [4.0, 5.0, 6.0, 7.0]  # DN per read


@pytest.fixture(scope="session", autouse=True)
def results_dir(tmp_path_factory):
    """Every test (and every app or CLI it starts) uses a fresh result store, never ./results."""
    import os

    d = tmp_path_factory.mktemp("results")
    old = os.environ.get("DARKS_RESULTS_DIR")
    os.environ["DARKS_RESULTS_DIR"] = str(d)
    yield d
    if old is None:
        os.environ.pop("DARKS_RESULTS_DIR", None)
    else:
        os.environ["DARKS_RESULTS_DIR"] = old


@pytest.fixture(scope="session")
def white_sets(tmp_path_factory):
    """Full-frame, white noise only: 2 files x 10 groups for NRCA1 (x flip) and NRCB1 (y flip)."""
    root = tmp_path_factory.mktemp("white")
    spec = NoiseSpec(white_read=WHITE_BY_OUTPUT, ktc=22.0)
    sets = {}
    for i, det in enumerate(("NRCA1", "NRCB1")):
        sets[det] = simulate_set(root / det, (det,), nfiles=2, ngroups=10, spec=spec, seed=100 + i)
    return sets


@pytest.fixture(scope="session")
def demo_like_root(tmp_path_factory):
    """A small data root for page tests: two detectors, two epochs, 2 files each, subarray-sized."""
    root = tmp_path_factory.mktemp("root")
    spec = NoiseSpec(white_read=[4.6, 4.9, 4.4, 5.1], corr_1f=3.0, unc_1f=1.2, unstable_ref_pixels=2)
    for j, (epoch, mjd) in enumerate((("ground", 59000.0), ("flight", 60000.0))):
        for k, det in enumerate(("NRCA1", "NRCB1")):
            simulate_set(root / epoch, (det,), nfiles=2, ngroups=6, subarray="SUBGRISM256", spec=spec,
                         seed=10 * j + k + 1, start_mjd=mjd, visit=j + 1)
    return root


def with_header(src, dst, **changes):
    """Copy of FITS ``src`` at ``dst`` with primary-header keywords changed (None deletes one)."""
    from astropy.io import fits

    with fits.open(src) as h:
        for k, v in changes.items():
            if v is None:
                del h[0].header[k]
            else:
                h[0].header[k] = v
        h.writeto(dst)
    return dst
