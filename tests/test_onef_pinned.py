"""Regression pin of the 1/f section's numbers (issue 23: the passes were fused for speed; the
results must not move).

The expected values in ``tests/data/onef_pinned.json`` were computed with the code of main at
fc4803b (before the fusion) on the simulated inputs below, by running this module as a script::

    PYTHONPATH=. .venv/bin/python -m tests.test_onef_pinned --write

What is pinned, per case: every number of the per-amp table (white, per-output and correlated 1/f,
totals, checks, fits, time-domain split, row banding, side-correction columns), the correlated
fit, the checks, the time-domain and banding summaries, the log-binned spectra (before and after the
side correction, cross-spectra), a digest of the banding image, the counts and the notes.

Tolerance: 1e-6 relative (issue 23).  A faster pass may add the same float64 terms in another
order (rounding ~1e-16 relative per sum, ~1e-13 after the fits' amplification), so 1e-6 leaves
room for that and nothing else: a changed selection (one sample more or less clipped or left out as
a jump) moves the spectra by ~1e-6 per sample of a 1M-sample output and the counts exactly, and
the counts are compared exactly.  Numbers that are 0 in truth (a clipped-at-0 uncorrelated term)
are compared with an absolute 1e-6 of the case's white noise, the scale of the numbers.

The cases are chosen around the branches of the code, not around the simulator's defaults: a full
frame with side reference columns, cosmic rays, hot and RTS pixels (jumps left out, clipped
samples); a subarray with the top/bottom reference-row correction and two integrations; independent
differences on another detector with no 1/f at all (fits at their degenerate end).
The simulated input itself is pinned by a digest, so that a changed simulator is reported as such
and not as a changed analysis.
"""

from __future__ import annotations

import hashlib
import json
import math
import sys
from pathlib import Path

import numpy as np
import pytest

from core.io.simulate import NoiseSpec, simulate_exposure
from core.onef import OneFParams, analyze_onef

FIXTURE = Path(__file__).parent / "data" / "onef_pinned.json"
RTOL = 1e-6

FLIGHT = dict(cr_rate=0.001, hot_fraction=0.003, rts_fraction=0.0005)
# name: (detector, subarray, ngroups, nints, NoiseSpec kwargs, seed, OneFParams kwargs)
CASES = {
    "full_flight": ("NRCB1", "FULL", 6, 1, dict(corr_1f=4.0, unc_1f=[2.0, 2.8, 3.6, 4.4], **FLIGHT), 2301,
                    {}),
    "sub_refpix": ("NRCA1", "SUBGRISM256", 10, 2, dict(white_read=[4.0, 4.6, 5.2, 5.8], corr_1f=6.0, unc_1f=1.5,
                                                        ref_instability=2.0), 2302, dict(refpix_correct=True)),
    "sub_indep_white": ("NRCA3", "SUBGRISM256", 9, 1, dict(corr_1f=0.0, unc_1f=0.0, cr_rate=0.002), 2303,
                        dict(diff_type="independent")),
}


def simulate(name: str, root: Path) -> Path:
    det, sub, ng, nints, spec, seed, _ = CASES[name]
    exp = simulate_exposure(root / f"pin_{name}_{det.lower()}_uncal.fits", det, ngroups=ng, nints=nints,
                            subarray=sub, spec=NoiseSpec(**spec), seed=seed)
    return exp.path


def input_digest(path: Path) -> str:
    """Digest of the SCI data of a simulated file (headers hold dates and versions)."""
    from astropy.io import fits

    with fits.open(path) as h:
        return hashlib.sha256(np.ascontiguousarray(h["SCI"].data).tobytes()).hexdigest()[:16]


def _num(v):
    if v is None or isinstance(v, (bool, np.bool_)):
        return v
    if isinstance(v, (int, np.integer)):
        return int(v)
    return float(v)


def _scalars(d: dict) -> dict:
    """The numeric (and None / bool) entries of a dict, lists of numbers kept as lists."""
    out = {}
    for k, v in d.items():
        if isinstance(v, (list, tuple)) and all(isinstance(x, (int, float, np.number)) for x in v):
            out[k] = [_num(x) for x in v]
        elif v is None or isinstance(v, (int, float, np.number, bool, np.bool_)):
            out[k] = _num(v)
    return out


def _arr(a):
    return None if a is None else [_num(x) for x in np.asarray(a, np.float64).ravel()]


def numbers(res) -> dict:
    """Every number the 1/f result reports (the banding image as a digest of its statistics)."""
    img = np.asarray(res.banding_image, np.float64)
    fin = np.isfinite(img)
    return {
        "counts": {"n_cds_frames": res.n_cds_frames, "n_integrations": res.n_integrations,
                   "banding_image_shape": list(img.shape), "banding_image_nan": int((~fin).sum()),
                   "banding_frames": [[f["integration"], f["cds"]] for f in res.banding_frames]},
        "scalars": {"correlated": _num(res.correlated), "frame_time": res.frame_time,
                    "row_frequency": res.row_frequency, "freq_resolution": res.freq_resolution,
                    "nyquist": res.nyquist, "row_time": res.row_time, "stack_mean_factor": res.stack_mean_factor},
        "amps": [_scalars(a) for a in res.amps],
        "correlated_fit": _scalars(res.correlated_fit),
        "check": _scalars(res.check),
        "time_domain": _scalars(res.time_domain),
        "banding": _scalars(res.banding),
        "spectra": {k: _arr(getattr(res, k)) for k in
                    ("freq", "psd", "psd_err", "correlated_psd", "correlated_psd_err", "cross", "white_psd",
                     "uncorrelated_psd", "model_correlated", "model_uncorrelated", "psd_after")},
        "banding_image": {"sum": float(img[fin].sum()), "sumsq": float((img[fin] ** 2).sum()),
                          "row_sums": _arr(np.where(fin, img, 0).sum(axis=1)[::97])},
        "notes": list(res.notes),
    }


def compute(name: str, root: Path) -> tuple[str, dict]:
    path = simulate(name, root)
    res = analyze_onef([path], OneFParams(**CASES[name][6]))
    return input_digest(path), numbers(res)


def _compare(got, want, where: str, atol: float, errors: list[str]) -> None:
    if isinstance(want, dict):
        assert isinstance(got, dict) and set(got) == set(want), f"{where}: keys {sorted(got)} != {sorted(want)}"
        for k in want:
            _compare(got[k], want[k], f"{where}.{k}", atol, errors)
    elif isinstance(want, list):
        if len(got) != len(want):
            errors.append(f"{where}: length {len(got)} != {len(want)}")
            return
        for i, (g, w) in enumerate(zip(got, want)):
            _compare(g, w, f"{where}[{i}]", atol, errors)
    elif isinstance(want, float):
        if math.isnan(want):
            if not (isinstance(got, float) and math.isnan(got)):
                errors.append(f"{where}: {got} != NaN")
        elif not (isinstance(got, float) and abs(got - want) <= max(RTOL * abs(want), atol)):
            errors.append(f"{where}: {got!r} != {want!r} (rel {abs(got - want) / abs(want) if want else 'inf'})")
    elif got != want:  # counts, None, bools, strings (notes): exact
        errors.append(f"{where}: {got!r} != {want!r}")


@pytest.mark.parametrize("name", list(CASES))
def test_numbers_as_pinned(name, tmp_path):
    """Every number of the 1/f result on this case equals the pinned one within 1e-6 relative."""
    expected = json.loads(FIXTURE.read_text())[name]
    digest, got = compute(name, tmp_path)
    assert digest == expected["input_digest"], (
        "the simulator now makes a different input for this case: the pin cannot tell whether the "
        "analysis changed; regenerate the fixture from a commit whose analysis is trusted")
    got = json.loads(json.dumps(got))  # the same float/int/None types as the fixture
    # Scale of the numbers: the mean white noise (DN rms); numbers that are 0 are compared to 1e-6 of it.
    atol = RTOL * float(np.mean([a["white"] for a in expected["numbers"]["amps"]]))
    errors: list[str] = []
    _compare(got, expected["numbers"], name, atol, errors)
    assert not errors, f"{len(errors)} numbers moved:\n" + "\n".join(errors[:40])


def test_comparison_catches_a_change():
    """The comparison fails on a relative change of 2e-6 and on a changed count (so it can fail)."""
    want = {"a": [1.0, float("nan")], "n": 3}
    errs: list[str] = []
    _compare({"a": [1.0 + 2e-6, float("nan")], "n": 3}, want, "x", 0.0, errs)
    assert len(errs) == 1
    errs = []
    _compare({"a": [1.0 + 5e-7, float("nan")], "n": 4}, want, "x", 0.0, errs)
    assert errs == ["x.n: 4 != 3"]


if __name__ == "__main__" and "--write" in sys.argv:
    import subprocess
    import tempfile

    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        for case in CASES:
            digest, nums = compute(case, Path(tmp))
            out[case] = {"input_digest": digest, "numbers": nums}
            print(case, "done", flush=True)
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    out["_made_with"] = f"main at {commit}"
    FIXTURE.parent.mkdir(exist_ok=True)
    FIXTURE.write_text(json.dumps(out, allow_nan=True) + "\n")
    print("wrote", FIXTURE)
