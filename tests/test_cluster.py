"""The whole analysis (every section of the registry, every detector group) on a Dask cluster:
a LocalCluster and real ``dask scheduler`` + ``dask worker`` processes on 127.0.0.1.

What must hold (issue 21): summary.json numbers equal a local run's within 1e-6 relative (the
issue's contract; the cluster runs the same functions with the same additions in the same order, so
they are in fact equal), maps identical; a worker killed mid-run has its tasks redone; a run that
cannot complete names the group and the section and returns nothing; a file unreadable on the
workers gets the local message; an unreachable scheduler is one line.

Data: small simulated subarrays (SUBGRISM64, 6 groups) so that the whole module takes well under
two minutes on two cores; two detectors of different flip kinds (one as RampModel files with DQ
arrays, so that the DQ counts are compared) and a one-file group whose readnoise cannot be computed
(3 groups: one independent difference), so that an error message is compared too.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import signal
import socket
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import dask
import numpy as np
import pandas as pd
import pytest

from core.io.simulate import NoiseSpec, simulate_set
from core.onef.accumulate import Accumulator
from core.onef.merge import state
from core.pipeline.cluster import analyze_section
from core.pipeline.registry import ALL_SECTIONS, READNOISE
from core.pipeline.run import AnalysisOptions, run_analysis
from core.runtime import ClusterError
from tests.conftest import ROOT
from tests.test_distributed import DASK, Cluster

pytestmark = pytest.mark.timeout(120)

RTOL = 1e-6  # the contract for summary.json numbers (observed: equal to the last bit)
# Where the run happened, not what it found: the cluster adds these, or says where its stripes ran.
NOT_COMPARED = ("/timings", "/computed_on", "/readnoise/params/scheduler")


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    d = tmp_path_factory.mktemp("cluster_data")
    spec = NoiseSpec(white_read=[4.0, 5.0, 6.0, 7.0], corr_1f=3.0, unc_1f=1.0, unstable_ref_pixels=2)
    made = simulate_set(d, ("NRCA1",), nfiles=2, ngroups=6, subarray="SUBGRISM64", spec=spec, seed=21)
    # RampModel files with GROUPDQ / PIXELDQ (jumps flagged): the DQ counts are compared too
    flight = replace(spec, cr_rate=0.002, hot_fraction=0.003)
    made += simulate_set(d, ("NRCB2",), nfiles=2, ngroups=6, subarray="SUBGRISM64", spec=flight, seed=23,
                         kind="ramp", flag_jumps=True)
    made += simulate_set(d, ("NRCA3",), nfiles=1, ngroups=3, subarray="SUBGRISM64", spec=spec, seed=22)
    return sorted(e.path for e in made)


@pytest.fixture(scope="module")
def local(data, tmp_path_factory):
    out = tmp_path_factory.mktemp("local")
    results: list = []
    summary = run_analysis(data, out, AnalysisOptions(scheduler="local"), results=results)
    return summary, results, out


def flat(x, path=""):
    if isinstance(x, dict):
        for k, v in x.items():
            yield from flat(v, f"{path}/{k}")
    elif isinstance(x, list):
        for i, v in enumerate(x):
            yield from flat(v, f"{path}/{i}")
    else:
        yield path, x


def assert_same_summary(a: dict, b: dict, ignore=()):
    """Every number within RTOL, every string and structure equal; notes: the local ones all present
    (the cluster's readnoise adds one saying where it ran)."""
    skip = (*NOT_COMPARED, *ignore)
    fa = {k: v for k, v in flat(json.loads(json.dumps(a, default=str))) if not any(s in k for s in skip)}
    fb = {k: v for k, v in flat(json.loads(json.dumps(b, default=str))) if not any(s in k for s in skip)}
    notes_a = {v for k, v in fa.items() if "/notes/" in k}
    notes_b = {v for k, v in fb.items() if "/notes/" in k}
    assert notes_a <= notes_b, notes_a - notes_b
    fa = {k: v for k, v in fa.items() if "/notes/" not in k}
    fb = {k: v for k, v in fb.items() if "/notes/" not in k}
    assert sorted(fa) == sorted(fb), set(fa) ^ set(fb)
    bad = []
    for k, va in fa.items():
        vb = fb[k]
        if isinstance(va, float) and isinstance(vb, (int, float)) and not isinstance(vb, bool):
            if not (math.isnan(va) and math.isnan(vb)) and not math.isclose(va, vb, rel_tol=RTOL, abs_tol=0):
                bad.append((k, va, vb))
        elif va != vb:
            bad.append((k, va, vb))
    assert not bad, bad[:10]
    assert len(fa) > 300  # the comparison saw the sections' numbers


def assert_same_products(local_results, cluster_results, local_out: Path, cluster_out: Path, moved=None):
    """Maps identical (readnoise CDS maps bit for bit); every CSV product equal within RTOL.
    ``moved``: (local folder, cluster folder) of input copies, for tables that name file paths."""
    by_key = {r.group.key: r for r in cluster_results}
    maps = 0
    for r in local_results:
        c = by_key[r.group.key]
        if r.readnoise is not None:
            assert np.array_equal(r.readnoise.cds_noise_map, c.readnoise.cds_noise_map, equal_nan=True)
            maps += 1
        assert list(r.sections) == list(c.sections)
    assert maps == 2
    csvs = sorted(p.relative_to(local_out) for p in local_out.rglob("*.csv"))
    assert csvs and csvs == sorted(p.relative_to(cluster_out) for p in cluster_out.rglob("*.csv"))
    for rel in csvs:
        a, b = pd.read_csv(local_out / rel), pd.read_csv(cluster_out / rel)
        if moved:
            for c in a.columns:
                if pd.api.types.is_string_dtype(a[c]):
                    a[c] = a[c].str.replace(str(moved[0]), str(moved[1]), regex=False)
        pd.testing.assert_frame_equal(a, b, check_exact=False, rtol=RTOL, atol=0)


# -- no cluster: the split functions themselves ----------------------------------------------------------
def test_every_section_through_its_cluster_tasks_equals_its_analyze(data):
    """Each registered section, run in this process through the tasks the cluster runs (plan,
    per-file partials, reduce; or one whole task), gives the summary of its own analyze function."""
    paths = [p for p in data if "nrca1" in p.name.lower()]
    assert len(paths) == 2
    for spec in ALL_SECTIONS:
        if spec is READNOISE:
            continue  # its cluster task is make_readnoise_map itself (compared in the cluster runs)
        params = spec.default_params()
        want = spec.analyze_function()(paths, params).summary()
        got = analyze_section(spec.name, [str(p) for p in paths], params).summary()
        assert json.dumps(got, default=str, sort_keys=True) == json.dumps(want, default=str, sort_keys=True), spec.name


def test_an_accumulator_field_the_merge_does_not_know_is_refused(data):
    """A sum added to the 1/f Accumulator must be listed for the per-file merge, else it would be
    silently lost on a cluster (and locally, which merges the same partials)."""
    from core.io.simulate import subarray_layout

    acc = Accumulator(subarray_layout("NRCA1", "SUBGRISM64"), 4)
    state(acc)  # the known fields pass
    acc.new_sum = 0.0
    with pytest.raises(ValueError, match="new_sum"):
        state(acc)


# -- a LocalCluster --------------------------------------------------------------------------------------
def test_local_cluster_gives_the_local_numbers_and_maps(data, local, tmp_path):
    l_summary, l_results, l_out = local
    results: list = []
    messages: list = []
    summary = run_analysis(data, tmp_path, AnalysisOptions(scheduler="local-cluster"),
                           progress=lambda f, m: messages.append(m), results=results)
    assert_same_summary(l_summary, summary)
    assert_same_products(l_results, results, l_out, tmp_path)
    a3 = summary["detectors"]["NRCA3_SUBGRISM64"]
    assert any("the 'stack' method needs at least 2 group differences" in e for e in a3["errors"]), a3["errors"]
    assert all(b["computed_on"] == "Dask cluster local-cluster" for b in summary["detectors"].values())
    b2 = summary["detectors"]["NRCB2_SUBGRISM64"]
    for name in ("readnoise", "onef", "refpix"):  # the DQ-flagged samples are counted on the workers too
        assert sum(b2[name]["dq"]["masked_samples_per_amp"]) > 0, (name, b2[name]["dq"])
    # progress came from the cluster: tasks done of the total, per section
    last = [m for m in messages if "tasks" in m][-1]
    for spec in ALL_SECTIONS:
        assert f"{spec.name} " in last, last
    assert "onef 11/11" in last  # 2 groups x (plan + 2 files + reduce) + NRCA3 (plan + 1 file + reduce)


def test_a_task_that_cannot_complete_names_group_and_section_and_returns_nothing(data, tmp_path):
    """allowed-failures = 0 and both workers killed mid-run: the tasks they ran cannot be redone."""
    from distributed import Client, LocalCluster

    with dask.config.set({"distributed.scheduler.allowed-failures": 0}):
        cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                               dashboard_address=None)
    try:
        with Client(cluster) as client:
            pids = list(client.run(os.getpid).values())
            killed = []

            def progress(f, m):
                if "tasks" in m and not killed:
                    killed.extend(pids)
                    for pid in pids:
                        os.kill(pid, signal.SIGKILL)

            with pytest.raises(ClusterError) as e:
                run_analysis(data, tmp_path / "out", AnalysisOptions(scheduler=client), progress=progress)
    finally:
        cluster.close()
    assert killed
    msg = str(e.value)
    assert msg.split(":")[0] in {"NRCA1_SUBGRISM64", "NRCB2_SUBGRISM64", "NRCA3_SUBGRISM64"}, msg
    assert msg.split(": ")[1] in {s.name for s in ALL_SECTIONS}, msg
    assert "no result was returned" in msg
    assert not (tmp_path / "out" / "summary.json").exists()


# -- real `dask scheduler` + `dask worker` processes ------------------------------------------------------
@pytest.fixture(scope="module")
def real_cluster(tmp_path_factory):
    if DASK is None:
        pytest.skip("the dask command is not installed")
    c = Cluster(tmp_path_factory.mktemp("real_cluster"))
    # The workers import the installed project; a checkout under test (PYTHONPATH) is what is installed.
    if os.environ.get("PYTHONPATH"):
        c.env["PYTHONPATH"] = os.environ["PYTHONPATH"]
    try:
        yield c.start()
    finally:
        c.stop()


def test_real_cluster_file_unreadable_on_the_workers_gets_the_local_message(data, real_cluster, tmp_path):
    """A file deleted after the listing (the client saw it, the workers cannot read it): the same
    rejection and the same numbers for everything else as locally."""
    def run(where, scheduler, trigger):
        d = tmp_path / where
        (d / "in").mkdir(parents=True)
        files = [Path(shutil.copy2(p, d / "in" / p.name)) for p in data]
        victim = next(p for p in files if "nrcb2" in p.name.lower())

        def progress(f, m):
            if victim.exists() and trigger in m:
                victim.unlink()

        results: list = []
        s = run_analysis(files, d / "out", AnalysisOptions(scheduler=scheduler), progress=progress, results=results)
        assert not victim.exists()
        return s, results, d / "out", victim.name

    local_s, local_r, local_out, name = run("local", "local", "NRCA1")  # groups run in key order locally
    s, r, out, _ = run("cluster", real_cluster.address, "connecting")
    reason = "the file no longer exists (deleted after it was listed)"
    assert {"file": name, "reason": reason} in local_s["rejected"]
    assert local_s["rejected"] == s["rejected"]
    assert_same_summary(local_s, s, ignore=("/paths/",))  # two copies of the data, in two folders
    assert_same_products(local_r, r, local_out, out, moved=(tmp_path / "local" / "in", tmp_path / "cluster" / "in"))


def test_real_cluster_worker_killed_mid_run_is_redone_with_the_same_numbers(data, local, real_cluster, tmp_path):
    l_summary, l_results, l_out = local
    killed = []

    def progress(f, m):
        if "tasks" in m and not killed:
            killed.append(m)
            real_cluster.kill_worker(0)

    results: list = []
    summary = run_analysis(data, tmp_path, AnalysisOptions(scheduler=real_cluster.address), progress=progress,
                           results=results)
    assert killed and real_cluster.workers[0].poll() is not None  # it is gone
    assert_same_summary(l_summary, summary)
    assert_same_products(l_results, results, l_out, tmp_path)


# -- an unreachable scheduler ----------------------------------------------------------------------------
def test_unreachable_scheduler_is_one_line(data, tmp_path):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    r = subprocess.run([sys.executable, "-m", "core", "analyze", *map(str, data), "--out", str(tmp_path / "out"),
                        "--scheduler", f"tcp://127.0.0.1:{port}", "--no-store", "--quiet"],
                       cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert r.returncode == 1
    assert r.stderr.strip().splitlines() == [
        f"error: cannot connect to the Dask scheduler at tcp://127.0.0.1:{port}: Connection refused"], r.stderr
    assert not (tmp_path / "out" / "summary.json").exists()


# -- the app -------------------------------------------------------------------------------------------
def test_app_sidebar_scheduler_runs_the_overview_on_the_cluster(demo_like_root, monkeypatch, tmp_path):
    """The sidebar's Dask scheduler field: the overview's *Compute all* runs readnoise, 1/f and the
    reference pixels of both groups on the cluster, and stores the local numbers."""
    from streamlit.testing.v1 import AppTest

    from core.onef import OneFParams, analyze_onef
    from core.pipeline.store import ResultStore, file_ids

    copies = tmp_path / "root" / "flight"  # new files for the store (nothing computed yet), a root of its own
    copies.mkdir(parents=True)
    files = [Path(shutil.copy2(p, copies / p.name)) for p in sorted((demo_like_root / "flight").glob("*_uncal.fits"))]
    monkeypatch.setenv("DARKS_DATA_ROOT", str(tmp_path / "root"))
    monkeypatch.chdir(ROOT)
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=300).run()
    at.session_state["selected_files"] = [str(p) for p in files]
    at.switch_page("pages/overview.py").run()
    at.text_input(key="scheduler_field").set_value("local-cluster").run()
    at.button(key="ov_run").click().run()
    assert not at.exception
    assert not [e.value for e in at.error], [e.value for e in at.error]
    nrca1 = [p for p in files if "nrca1" in p.name]
    params = OneFParams(groupdq_mask=OneFParams().groupdq_mask)
    stored = ResultStore().get("onef", file_ids(nrca1), params)
    assert stored is not None  # computed and stored
    from core.readnoise import ReadnoiseParams

    rn = ResultStore().get("readnoise", file_ids(nrca1), ReadnoiseParams())
    assert any(n.startswith("computed on the Dask cluster tcp://127.0.0.1:") for n in rn.notes), rn.notes  # there
    assert json.dumps(stored.summary(), sort_keys=True, default=str) == json.dumps(
        analyze_onef(nrca1, params).summary(), sort_keys=True, default=str)
