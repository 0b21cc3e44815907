"""The native readnoise engine on a Dask cluster: row stripes computed by workers that read the files.

Units of work (every worker reads the files itself from a shared filesystem; the client submits
only paths and row ranges, never pixels):

* ``stack``: one task per row stripe of a detector group -- the worker reads that stripe from every
  file and returns the stripe of the map (float32, rows x nx) and a few counters;
* ``ramp``: one task per (file, row stripe) -- the per-file map of that stripe -- and one reduce
  task per stripe that takes those maps (worker to worker) and returns their clipped mean across
  files.  Both steps are :mod:`core.readnoise.native`'s own functions, so the map is the local one.

Before the stripes, one small task per file inspects its headers on a worker
(:func:`core.io.inventory.inspect_file`), so a bad file gives the same message as the local inventory.

Failure handling: a task raising an unexpected exception is retried (``retries``); a worker that
dies has its tasks (and any lost intermediate results) recomputed elsewhere by the scheduler, up
to ``distributed.scheduler.allowed-failures`` times, after which :class:`ClusterError` is raised.
Input problems are returned by the task as a message and raised on the client as
:class:`core.errors.InputError` naming the file (no retries: they are deterministic).  The map is
assembled only when every stripe came back; otherwise :class:`ClusterError` -- never a partial map.

Schedulers: ``"tcp://HOST:PORT"`` (any ``scheme://`` address: a running ``dask scheduler``),
``"local-cluster"`` (a LocalCluster of 2 worker processes x 1 thread on this machine, for tests),
``"local"`` (no Dask: :func:`core.readnoise.native.native_readnoise_map`, threads).  ``None`` means
``$DARKS_DASK_SCHEDULER`` when set, else ``"local"``.  The scheduler (it unpickles the task graph)
and the workers need this project importable (the environment ``make`` installs it into; checked
on connecting), and the workers the files at the same absolute paths.
"""

from __future__ import annotations

import contextlib
import os
import socket
import sys
import uuid
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from core.errors import InputError, ParameterError
from core.readnoise.params import MODES
from core.runtime import (  # noqa: F401  (re-exported: the engine's scheduler vocabulary)
    ENV_SCHEDULER,
    LOCAL,
    LOCAL_CLUSTER,
    ClusterError,
    Progress,
    check_scheduler,
    resolve_scheduler,
)


# -- tasks (run on the workers; arguments are paths, row ranges and numbers) -------------------------
def _where() -> dict:
    try:
        from distributed import get_worker

        addr = get_worker().address
    except Exception:  # not on a worker (called directly)
        addr = None
    return {"pid": os.getpid(), "host": socket.gethostname(), "worker": addr}


def _inspect_task(path: str) -> dict:
    """Shape of one file, or the inventory's reason to reject it."""
    from core.io.inventory import inspect_file

    info = inspect_file(Path(path))
    if not info.ok:
        return {"error": info.reason, "file": Path(path).name, **_where()}
    return {"shape": (info.nints, info.ngroups, info.ny, info.nx), **_where()}


def _input_error(e: InputError, fallback: str) -> dict:
    return {"error": str(e), "file": e.file or fallback, **_where()}


def _stack_task(paths: list[str], y0: int, y1: int, group_diff_type: str, clipping_sigma: float,
                max_clipping_iters: int, mode: str, groupdq_mask: int) -> dict:
    """Rows y0:y1 of the ``stack`` map, read from every file by this worker."""
    from core.readnoise.native import readnoise_stripe

    try:
        std, nbad = readnoise_stripe(paths, y0, y1, "stack", group_diff_type, clipping_sigma,
                                     max_clipping_iters, mode, groupdq_mask)
    except InputError as e:
        return _input_error(e, ", ".join(Path(p).name for p in paths))
    w = _where()
    return {"y0": y0, "y1": y1, "map": std, "nbad": int(nbad), "pids": [w["pid"]], "workers": [w["worker"]]}


def _file_task(path: str, y0: int, y1: int, group_diff_type: str, clipping_sigma: float,
               max_clipping_iters: int, mode: str, groupdq_mask: int) -> dict:
    """Rows y0:y1 of one file's map (``ramp`` method, before the mean across files)."""
    from core.readnoise.native import file_stripe_map

    try:
        std, nbad = file_stripe_map(path, y0, y1, group_diff_type, clipping_sigma, max_clipping_iters, mode,
                                    groupdq_mask)
    except InputError as e:
        return _input_error(e, Path(path).name)
    w = _where()
    return {"y0": y0, "y1": y1, "map": std, "nbad": int(nbad), "pids": [w["pid"]], "workers": [w["worker"]]}


def _ramp_reduce_task(parts: list[dict], clipping_sigma: float, max_clipping_iters: int) -> dict:
    """Clipped mean across files of the per-file maps of one stripe (the local reduce, on a worker)."""
    from core.readnoise.native import combine_file_maps

    for p in parts:
        if "error" in p:
            return p
    w = _where()
    return {"y0": parts[0]["y0"], "y1": parts[0]["y1"],
            "map": combine_file_maps([p["map"] for p in parts], clipping_sigma, max_clipping_iters),
            "nbad": sum(p["nbad"] for p in parts),
            "pids": sorted({w["pid"], *(q for p in parts for q in p["pids"])}),
            "workers": sorted({w["worker"], *(q for p in parts for q in p["workers"])} - {None})}


# -- client side ------------------------------------------------------------------------------------
@contextlib.contextmanager
def connect(scheduler, connect_timeout: float = 20.0, worker_timeout: float = 60.0):
    """A ``distributed.Client`` for ``scheduler`` (an address, "local-cluster" or a Client), closed on exit
    if made here; waits for at least one worker."""
    from distributed import Client, LocalCluster

    if isinstance(scheduler, Client):
        _check_workers(scheduler, "the given client")
        yield scheduler
        return
    cluster = None
    try:
        if scheduler == LOCAL_CLUSTER:
            # no dashboard; the scheduler's HTTP endpoint on any free port (never a clash on 8787)
            cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                   dashboard_address=None, scheduler_kwargs={"dashboard_address": "127.0.0.1:0"})
            client = Client(cluster)
        else:
            try:
                client = Client(scheduler, timeout=f"{connect_timeout}s")
            except OSError as e:
                raise ClusterError(f"cannot connect to the Dask scheduler at {scheduler}: {e}") from e
        try:
            try:
                client.wait_for_workers(1, timeout=worker_timeout)
            except Exception as e:  # a TimeoutError of one kind or another
                raise ClusterError(f"no Dask worker joined the scheduler at {scheduler} within "
                                   f"{worker_timeout:g} s") from e
            _check_workers(client, scheduler)
            yield client
        finally:
            client.close()
    finally:
        if cluster is not None:
            cluster.close()


def _check_workers(client, scheduler) -> None:
    """The scheduler (it unpickles the task graph) and the workers must import this project."""
    expr = "__import__('core.readnoise.native').__name__"  # builtins only: a function of ours could not be unpickled
    for where, run in (("scheduler", client.run_on_scheduler), ("workers", client.run)):
        try:
            run(eval, expr)
        except Exception as e:
            raise ClusterError(
                f"the Dask {where} of {scheduler} cannot import this project's 'core' package "
                f"({type(e).__name__}: {e}); start the scheduler and the workers with the environment this "
                f"project is installed in ({sys.prefix}/bin/dask, after `make`)") from e


def distributed_readnoise_map(
    paths: Sequence[str | Path],
    method: str = "stack",
    group_diff_type: str = "independent",
    clipping_sigma: float = 3.0,
    max_clipping_iters: int = 3,
    mode: str = "compatible",
    scheduler=None,
    progress: Progress | None = None,
    stripe_rows: int | None = None,
    retries: int = 2,
    group: str = "",
    connect_timeout: float = 20.0,
    worker_timeout: float = 60.0,
    groupdq_mask: int | None = None,
) -> tuple[np.ndarray, dict]:
    """:func:`core.readnoise.native.native_readnoise_map` computed on a Dask cluster (or locally): same map.

    ``scheduler``: "tcp://HOST:PORT", "local-cluster", "local", a ``distributed.Client``, or None
    (``$DARKS_DASK_SCHEDULER``, else local).  ``progress(fraction, message)`` is called as tasks
    complete.  ``stripe_rows`` overrides the rows per task (the local memory budget by default);
    ``group`` labels the task keys (e.g. the detector group); ``groupdq_mask``: the GROUPDQ bits left out
    (None: :data:`core.io.ramps.DEFAULT_GROUPDQ_MASK`).

    Returns (map, info) with native's info keys plus "scheduler", "n_tasks", "worker_pids" (the
    processes that computed the stripes), "workers" (their addresses) and "client_pid".
    Raises :class:`InputError` (a bad file, named), :class:`ParameterError`, :class:`ClusterError`.
    """
    from core.io.ramps import DEFAULT_GROUPDQ_MASK, GROUP_DIFF_TYPES, n_cds, stripes
    from core.readnoise.native import native_readnoise_map, stripe_rows_for_files

    if mode not in MODES:
        raise InputError(f"mode must be one of {MODES}, not {mode!r}")
    if method not in ("stack", "ramp"):
        raise ParameterError(f"method must be 'stack' or 'ramp', not {method!r}")
    if group_diff_type not in GROUP_DIFF_TYPES:
        raise ParameterError(f"group_diff_type must be one of {GROUP_DIFF_TYPES}, not {group_diff_type!r}")
    if stripe_rows is not None and int(stripe_rows) < 1:
        raise ParameterError(f"stripe_rows must be >= 1, not {stripe_rows}")
    progress = progress or (lambda f, m: None)
    groupdq_mask = DEFAULT_GROUPDQ_MASK if groupdq_mask is None else int(groupdq_mask)
    paths = [str(Path(p).resolve()) for p in paths]
    if not paths:
        raise InputError("no files to analyse")
    if not isinstance(scheduler, str) and scheduler is not None:
        label = getattr(scheduler, "scheduler", None)
        label = getattr(label, "address", None) or "a Dask client"
    else:
        scheduler = label = resolve_scheduler(scheduler)
        if scheduler == LOCAL:
            out, info = native_readnoise_map(paths, method, group_diff_type, clipping_sigma, max_clipping_iters,
                                             mode=mode, progress=progress, groupdq_mask=groupdq_mask)
            return out, {**info, "scheduler": LOCAL, "n_tasks": None, "worker_pids": [os.getpid()],
                         "workers": [], "client_pid": os.getpid()}

    tag = f"{group or 'readnoise'}-{method}-{uuid.uuid4().hex[:8]}"
    common = dict(group_diff_type=group_diff_type, clipping_sigma=float(clipping_sigma),
                  max_clipping_iters=int(max_clipping_iters), mode=mode, groupdq_mask=int(groupdq_mask))
    progress(0.0, f"cluster {label}: connecting")
    with connect(scheduler, connect_timeout, worker_timeout) as client:
        # 1. headers, on the workers (the client need not read the files)
        futs = [client.submit(_inspect_task, p, key=f"inspect-{tag}-{i}", retries=retries)
                for i, p in enumerate(paths)]
        heads = _gather(client, futs, "reading the file headers")
        for h in heads:
            if "error" in h:
                _raise_input_error(h)
        shapes = [tuple(h["shape"]) for h in heads]
        if len({s[2:] for s in shapes}) > 1:
            raise InputError("the files have different frame shapes: " + ", ".join(
                f"{Path(p).name}: {s[2]}x{s[3]}" for p, s in zip(paths, shapes)))
        ny, nx = shapes[0][2:]
        if stripe_rows:
            rows = int(stripe_rows)
        else:  # the local memory budget, but at least ~4 tasks per worker thread (>= 8 rows each)
            nthreads = sum(client.nthreads().values()) or 1
            rows = min(stripe_rows_for_files(shapes), max(8, -(-ny // (4 * nthreads))))
        bands = list(stripes(ny, rows))

        # 2. stripes: paths and row ranges only
        finals, steps = [], []
        for y0, y1 in bands:
            if method == "stack":
                finals.append(client.submit(_stack_task, paths, y0, y1, **common, key=f"stack-{tag}-{y0}-{y1}",
                                            retries=retries))
                steps.append(finals[-1])
                continue
            parts = [client.submit(_file_task, p, y0, y1, **common, key=f"file-{tag}-{i}-{y0}-{y1}",
                                   retries=retries) for i, p in enumerate(paths)]
            finals.append(client.submit(_ramp_reduce_task, parts, float(clipping_sigma), int(max_clipping_iters),
                                        key=f"reduce-{tag}-{y0}-{y1}", retries=retries))
            steps.extend(parts + [finals[-1]])
        del futs
        n_tasks = len(steps)
        out, masked, pids, workers = _assemble(client, finals, steps, ny, nx, progress, label)
    return out, {"mode": mode, "n_masked_samples": int(masked), "stripe_rows": rows,
                 "n_cds_per_file": [s[0] * n_cds(s[1], group_diff_type) for s in shapes],
                 "scheduler": label, "n_tasks": n_tasks, "worker_pids": sorted(pids),
                 "workers": sorted(workers), "client_pid": os.getpid()}


def _gather(client, futs, what: str) -> list:
    try:
        return client.gather(futs)
    except Exception as e:
        client.cancel(futs)
        raise ClusterError(f"the cluster failed while {what}: {type(e).__name__}: {e}") from e


def _raise_input_error(r: dict):
    msg = r["error"] if r["error"].startswith(f"{r['file']}:") else f"{r['file']}: {r['error']}"
    raise InputError(msg, r["file"])


def _assemble(client, finals, steps, ny: int, nx: int, progress: Progress, label: str):
    """Collect the stripes as they complete; the map only if every row came back exactly once.

    Intermediate (per-file) results are never fetched: they go from worker to worker and are
    released once their reduce task has used them.  A stripe whose result was lost with its worker
    before we fetched it is recomputed by the scheduler (we still hold its future) and awaited again.
    """
    from distributed import as_completed

    finals = {f.key: f for f in finals}
    n = len(steps)
    pending = as_completed(steps)
    steps.clear()  # as_completed holds each future until it is done: intermediates can then be released
    out = np.full((ny, nx), np.nan, np.float32)
    covered = np.zeros(ny, np.int32)
    masked, pids, workers, done = 0, set(), set(), 0
    try:
        for fut in pending:
            if fut.status in ("error", "cancelled"):
                try:
                    exc = fut.exception()
                except BaseException as e:  # cancelled
                    exc = e
                raise ClusterError(f"the cluster could not compute task {fut.key} ({type(exc).__name__}: {exc}); "
                                   "no map was made") from exc
            if fut.key not in finals:
                done += 1
                progress(done / n, f"cluster {label}: {done}/{n} tasks")
                continue
            if fut.status != "finished":  # "lost" with its worker: the scheduler recomputes it
                pending.add(fut)
                continue
            try:
                r = fut.result()
            except Exception as e:
                raise ClusterError(f"the cluster could not compute task {fut.key} ({type(e).__name__}: {e}); "
                                   "no map was made") from e
            del finals[fut.key]  # fetched: if its worker dies now, nothing needs recomputing
            if "error" in r:
                _raise_input_error(r)
            y0, y1 = r["y0"], r["y1"]
            if r["map"].shape != (y1 - y0, nx):
                raise ClusterError(f"rows {y0}-{y1} came back with shape {r['map'].shape}, not {(y1 - y0, nx)}")
            out[y0:y1] = r["map"]
            covered[y0:y1] += 1
            masked += r["nbad"]
            pids.update(r["pids"])
            workers.update(w for w in r["workers"] if w)
            done += 1
            progress(done / n, f"cluster {label}: rows {y0}-{y1} ({done}/{n} tasks)")
    except BaseException:
        pending.clear()
        client.cancel(list(finals.values()))
        raise
    if finals or not np.all(covered == 1):
        missing = np.flatnonzero(covered != 1)
        first = f" (first missing row {int(missing[0])})" if missing.size else ""
        raise ClusterError(f"the cluster returned {int((covered == 1).sum())} of {ny} rows exactly once"
                           f"{first}; no map was made")
    return out, masked, pids, workers
