"""The native readnoise engine on a real Dask cluster (scheduler + 2 worker processes on 127.0.0.1).

Every test is bounded: clusters are subprocess groups started here and always killed in ``finally``.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import dask
import numpy as np
import pytest

from core.errors import InputError, ParameterError
from core.io.inventory import inspect_file
from core.io.ramps import stripes
from core.io.simulate import NoiseSpec, simulate_set
from core.readnoise import ReadnoiseParams, make_readnoise_map
from core.readnoise.dask_engine import ClusterError, distributed_readnoise_map
from core.readnoise.native import native_readnoise_map, readnoise_stripe
from tests.conftest import ROOT

pytestmark = pytest.mark.timeout(60)

DASK = shutil.which("dask", path=str(Path(sys.executable).parent))


def _same(a: np.ndarray, b: np.ndarray) -> bool:
    return a.shape == b.shape and np.array_equal(np.isnan(a), np.isnan(b)) and np.allclose(
        a, b, rtol=1e-6, atol=0, equal_nan=True)


class Cluster:
    """``dask scheduler`` + 2 ``dask worker`` (1 process x 1 thread each), each in its own process group."""

    def __init__(self, tmp: Path):
        self.tmp = Path(tmp)
        self.sched_file = self.tmp / "scheduler.json"
        self.procs: list[subprocess.Popen] = []
        self.workers: list[subprocess.Popen] = []
        # No PYTHONPATH: the workers import the installed project, run from a folder outside the checkout.
        self.env = {**{k: v for k, v in os.environ.items() if k != "PYTHONPATH"}, "OMP_NUM_THREADS": "1",
                    "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT": "5s"}
        self.env.pop("DARKS_DASK_SCHEDULER", None)

    def _start(self, name, args):
        log = open(self.tmp / f"{name}.log", "w")
        p = subprocess.Popen([DASK, *args], cwd=self.tmp, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                             start_new_session=True)
        log.close()
        self.procs.append(p)
        return p

    def start(self, nworkers: int = 2):
        self._start("scheduler", ["scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                                  "--dashboard-address", "127.0.0.1:0",
                                  "--scheduler-file", str(self.sched_file)])
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError, ValueError):
                self.address = json.loads(self.sched_file.read_text())["address"]
                break
            time.sleep(0.1)
        else:
            raise RuntimeError("the scheduler did not start: " + self.logs())
        for i in range(nworkers):
            self.workers.append(self._start(f"worker{i}", [
                "worker", "--scheduler-file", str(self.sched_file), "--nthreads", "1", "--nworkers", "1",
                "--host", "127.0.0.1", "--no-dashboard", "--local-directory", str(self.tmp / f"w{i}")]))
        from distributed import Client

        with Client(self.address, timeout="20s") as c:
            c.wait_for_workers(nworkers, timeout=40)
            self.worker_pids = set(c.run(os.getpid).values())
        return self

    def kill_worker(self, i: int):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.workers[i].pid, signal.SIGKILL)

    def logs(self) -> str:
        return "\n".join(f"--- {p.name}\n{p.read_text()[-3000:]}" for p in sorted(self.tmp.glob("*.log")))

    def stop(self):
        for p in reversed(self.procs):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(p.pid, signal.SIGTERM)
        for p in reversed(self.procs):
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(p.pid, signal.SIGKILL)
                p.wait(5)


@contextlib.contextmanager
def running_cluster(tmp: Path):
    if DASK is None:
        pytest.skip("the dask command is not installed")
    c = Cluster(tmp)
    try:
        yield c.start()
    finally:
        c.stop()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    with running_cluster(tmp_path_factory.mktemp("cluster")) as c:
        yield c


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """SUBGRISM256 NRCA2 (y flip), 3 files x 6 groups, white + 1/f."""
    d = tmp_path_factory.mktemp("dist")
    spec = NoiseSpec(white_read=[4.0, 5.0, 6.0, 7.0], corr_1f=3.0, unc_1f=1.0)
    return [e.path for e in simulate_set(d, ("NRCA2",), nfiles=3, ngroups=6, subarray="SUBGRISM256", spec=spec,
                                         seed=7)]


def test_stripe_function_assembles_the_native_map(files):
    """The per-stripe unit of work, over any stripes, is the local engine's map (no cluster)."""
    for method in ("stack", "ramp"):
        local, _ = native_readnoise_map(files, method=method)
        out = np.full_like(local, np.nan)
        for y0, y1 in stripes(256, 50):
            out[y0:y1], _ = readnoise_stripe(files, y0, y1, method)
        assert np.array_equal(out, local, equal_nan=True)


@pytest.mark.parametrize("method, diff, mode", [("stack", "independent", "compatible"),
                                                ("ramp", "consecutive", "unbiased")])
def test_cluster_map_equals_local_and_workers_computed_it(cluster, files, method, diff, mode):
    local, linfo = native_readnoise_map(files, method=method, group_diff_type=diff, mode=mode)
    seen = []
    m, info = distributed_readnoise_map(files, method, diff, mode=mode, scheduler=cluster.address, stripe_rows=32,
                                        progress=lambda f, msg: seen.append(f))
    assert _same(m, local)
    assert info["n_masked_samples"] == linfo["n_masked_samples"]
    assert info["n_cds_per_file"] == linfo["n_cds_per_file"]
    assert info["n_tasks"] == (8 if method == "stack" else 8 * 4)
    # the workers, not the client, computed every stripe
    assert info["worker_pids"] and set(info["worker_pids"]) <= cluster.worker_pids
    assert os.getpid() not in info["worker_pids"] and info["client_pid"] == os.getpid()
    assert {os.getpgid(p) for p in info["worker_pids"]} <= {w.pid for w in cluster.workers}
    assert seen and seen[-1] == pytest.approx(1.0) and seen == sorted(seen)


def test_readnoise_api_and_env_default_use_the_cluster(cluster, files, monkeypatch):
    """engine='native' with scheduler=... (or $DARKS_DASK_SCHEDULER) gives the local map and CRDS file."""
    local = make_readnoise_map(files, ReadnoiseParams(engine="native"))
    remote = make_readnoise_map(files, ReadnoiseParams(engine="native", scheduler=cluster.address))
    assert _same(remote.cds_noise_map, local.cds_noise_map)
    assert any("Dask cluster" in n for n in remote.notes) and not any("Dask" in n for n in local.notes)
    monkeypatch.setenv("DARKS_DASK_SCHEDULER", cluster.address)
    m, info = distributed_readnoise_map(files)
    assert info["scheduler"] == cluster.address and _same(m, local.cds_noise_map)
    m, info = distributed_readnoise_map(files, scheduler="local")  # explicit local beats the variable
    assert info["scheduler"] == "local" and info["n_tasks"] is None
    from distributed import Client

    with Client(cluster.address, timeout="20s") as client:  # an existing client (the app may keep one)
        m, info = distributed_readnoise_map(files, method="ramp", scheduler=client)
        assert client.status == "running"  # not closed by us
    assert _same(m, native_readnoise_map(files, method="ramp")[0]) and info["scheduler"] == cluster.address


def test_scheduler_parameter_is_validated(files, tmp_path):
    with pytest.raises(ParameterError, match="needs the native engine"):
        ReadnoiseParams(engine="reffiles", scheduler="tcp://127.0.0.1:8786").validate()
    with pytest.raises(ParameterError, match="tcp://HOST"):
        ReadnoiseParams(engine="native", scheduler="my-cluster").validate()
    ReadnoiseParams(engine="native", scheduler="local-cluster").validate()
    from core.cli import build_parser

    # --scheduler runs the whole analysis on the cluster (core.pipeline.cluster), jwst_reffiles too (one task on
    # a worker): no refusal, it goes for the scheduler, which here does not resolve.
    a = build_parser().parse_args(["analyze", str(files[0]), "--out", str(tmp_path), "--scheduler", "tcp://h:1",
                                   "--engine", "reffiles"])
    with pytest.raises(ClusterError, match="cannot connect to the Dask scheduler at tcp://h:1"):
        a.func(a)
    a = build_parser().parse_args(["analyze", str(files[0]), "--out", str(tmp_path), "--scheduler", "my-cluster"])
    with pytest.raises(ParameterError, match="tcp://HOST"):
        a.func(a)  # refused before any work


def test_cli_analyze_with_scheduler(cluster, files, tmp_path):
    """`python -m core analyze --engine native --scheduler ADDR`: the map of the local run, noted in its FITS."""
    from astropy.io import fits

    r = subprocess.run([sys.executable, "-m", "core", "analyze", *map(str, files), "--out", str(tmp_path),
                        "--engine", "native", "--scheduler", cluster.address, "--no-store", "--quiet"],
                       cwd=ROOT, capture_output=True, text=True, timeout=50)
    assert r.returncode == 0, r.stderr
    summary = json.loads((tmp_path / "summary.json").read_text())
    rn = summary["detectors"]["NRCA2_SUBGRISM256"]["readnoise"]
    assert rn["params"]["scheduler"] == cluster.address
    assert any("Dask cluster" in n for n in rn["notes"])
    local, _ = native_readnoise_map(files)
    with fits.open(tmp_path / "NRCA2_SUBGRISM256" / "readnoise_NRCA2_SUBGRISM256.fits") as h:
        assert _same(np.asarray(h["SCI"].data, np.float32), local)


def test_unreachable_scheduler_is_a_clear_error(files):
    t0 = time.monotonic()
    with pytest.raises(ClusterError, match="cannot connect to the Dask scheduler at tcp://127.0.0.1:9"):
        distributed_readnoise_map(files, scheduler="tcp://127.0.0.1:9", connect_timeout=3)
    assert time.monotonic() - t0 < 30


def test_bad_files_on_workers_give_the_local_messages_naming_the_file(cluster, files, tmp_path):
    junk = tmp_path / "junk_uncal.fits"
    junk.write_text("junk")
    trunc = tmp_path / "trunc_uncal.fits"
    shutil.copy(files[0], trunc)
    os.truncate(trunc, trunc.stat().st_size // 2)
    for bad in (junk, trunc):
        with pytest.raises(InputError) as e:
            distributed_readnoise_map([files[1], bad], scheduler=cluster.address)
        assert str(e.value) == f"{bad.name}: {inspect_file(bad).reason}"  # the inventory's own reason
        assert e.value.file == bad.name


def test_file_failing_while_stripes_run_is_an_input_error_not_a_partial_map(cluster, files, tmp_path):
    """A file truncated after its header was checked: the stripe tasks' read error, naming the file."""
    from astropy.io import fits

    victim = tmp_path / "victim_uncal.fits"
    shutil.copy(files[0], victim)
    with fits.open(victim) as h:
        data_start = h["SCI"].fileinfo()["datLoc"]

    def progress(f, msg):
        if "tasks" in msg and victim.stat().st_size > data_start:
            os.truncate(victim, data_start)  # the headers stay; the SCI data are gone
    with pytest.raises(InputError, match=r"^victim_uncal\.fits: unreadable or truncated") as e:
        distributed_readnoise_map([files[1], victim], method="ramp", scheduler=cluster.address, stripe_rows=2,
                                  progress=progress)
    assert e.value.file == "victim_uncal.fits"


def test_local_cluster_scheduler(files):
    local, _ = native_readnoise_map(files)
    m, info = distributed_readnoise_map(files, scheduler="local-cluster", stripe_rows=64)
    assert _same(m, local) and info["scheduler"] == "local-cluster"
    assert os.getpid() not in info["worker_pids"] and len(info["workers"]) >= 1


def test_killed_worker_gives_the_full_map_or_a_clear_error(tmp_path, files):
    """SIGKILL one of the 2 worker process groups after a few of many small tasks are done."""
    local, _ = native_readnoise_map(files, method="ramp")
    with running_cluster(tmp_path) as cl:
        state = {"killed_at": None}

        def progress(f, msg):
            if state["killed_at"] is None and "tasks" in msg and f > 0.1:
                cl.kill_worker(0)
                state["killed_at"] = f
        try:  # a result gathered from the dead worker: retry the connection for 5 s, not the default 30 s
            with dask.config.set({"distributed.comm.timeouts.connect": "5s"}):
                m, info = distributed_readnoise_map(files, method="ramp", scheduler=cl.address, stripe_rows=2,
                                                    progress=progress)
        except ClusterError as e:  # acceptable, if clear; never a partial map
            assert "no map was made" in str(e) or "could not compute" in str(e), str(e)
        else:
            assert _same(m, local), cl.logs()
            assert info["n_tasks"] == 128 * 4
        assert state["killed_at"] is not None and state["killed_at"] < 0.5
        cl.workers[0].wait(10)
        assert cl.workers[0].poll() is not None  # it really died mid-run
