"""The Overview's batch runner: detector groups two at a time, one progress report counting jobs,
results equal to a direct call, a bad file an error line while the other jobs proceed."""

from __future__ import annotations

import threading

import numpy as np

from core.io.simulate import NoiseSpec, simulate_exposure
from core.pipeline.batch import Job, run_batch
from core.pipeline.registry import ONEF, READNOISE, REFPIX


def test_groups_run_two_at_a_time_with_a_counted_progress(tmp_path):
    spec = NoiseSpec(white_read=6.0)
    files = {det: [simulate_exposure(tmp_path / f"{det}_{i}_uncal.fits", det, ngroups=6, subarray="SUBGRISM64",
                                     spec=spec, seed=i + 10 * k).path for i in range(2)]
             for k, det in enumerate(("NRCA1", "NRCB4", "NRCA2"))}
    bad = tmp_path / "garbage_nrca3_uncal.fits"
    bad.write_bytes(b"not a FITS file")
    jobs = [Job(s, tuple(p), s.default_params(), det) for det, p in files.items() for s in (READNOISE, ONEF, REFPIX)]
    jobs.append(Job(ONEF, (bad,), ONEF.default_params(), "NRCA3"))
    seen, done_calls = [], []
    main = threading.get_ident()

    def progress(p):
        assert threading.get_ident() == main  # widgets may only be updated from the calling thread
        seen.append((p.done, p.total, dict(p.running)))

    def on_done(job, result, error):
        assert threading.get_ident() == main
        done_calls.append(job)

    out = run_batch(jobs, workers=2, progress=progress, on_done=on_done)
    assert len(out) == len(jobs) == len(done_calls)
    assert seen[0][:2] == (0, len(jobs)) and seen[-1][:2] == (len(jobs), len(jobs))
    assert [d for d, _, _ in seen] == sorted(d for d, _, _ in seen)  # counts only go up
    assert max(len({lab.split(" of ")[1] for lab in r}) for _, _, r in seen) <= 2  # at most two groups at once
    err = out[jobs[-1]]
    assert err[0] is None and "garbage_nrca3_uncal.fits" in err[1] and "Traceback" not in err[1]
    # the others proceeded, and equal a direct call
    for j in jobs[:-1]:
        assert out[j][1] is None, out[j][1]
    j = jobs[1]
    direct = ONEF.analyze_function()(list(j.paths), j.params)
    assert np.allclose([a["white"] for a in out[j][0].summary()["amps"]], [a["white"] for a in direct.summary()["amps"]],
                       rtol=1e-12)
