"""The analysis of many detector groups on a Dask cluster: every section of the registry, the groups
and the files within a group in parallel over the workers.

Units of work (the client sends paths and parameters; the workers read the files from a shared
filesystem and send back results, never pixels):

* a section without a split (:attr:`SectionSpec.split` is None: Rest 2014, and any section that is
  only registered) is one task per detector group: its ``analyze(paths, params)`` on a worker;
* a section with a split (1/f, reference pixels) is, per group, one ``plan`` task (the headers),
  one ``partial`` task per file and one ``reduce`` task that takes the partials worker to worker
  and returns the section's result -- so one long file set spreads over the workers too;
* readnoise is one task per group (:func:`core.readnoise.make_readnoise_map`, the same function as
  locally) whose native engine submits its row-stripe tasks to the same cluster from the worker
  (:mod:`core.readnoise.dask_engine`; the task leaves the worker's thread while it waits);
* before them, one small task per file re-reads its headers on a worker
  (:func:`core.io.inventory.inspect_file`): a file that a worker cannot read is skipped with the
  same reason as locally, and the others proceed.

Results equal a local run: the same functions on the same files (the split's partial sums are the
local sums in another order, equal to float rounding; :mod:`core.onef.partial`).

Failures: an exception in a section's code (a bad file, bad parameters) is turned into the same one
line as locally (:func:`step_message`) on the worker and returned, so the group's other sections
proceed.  A worker that dies has its tasks (and lost intermediate results) redone elsewhere by the
scheduler, up to ``distributed.scheduler.allowed-failures`` times; a task that still cannot complete
raises :class:`ClusterError` naming the detector group and the section, every other task is
cancelled and no result at all is returned (never a partial one).
"""

from __future__ import annotations

import os
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path

from core.errors import InputError, ParameterError
from core.pipeline.registry import READNOISE, section
from core.runtime import ClusterError, Progress

LONGEST_FIRST = ("onef", "refpix", "readnoise_rest2014", "readnoise")  # submission order (registry names)


def step_message(where: str, e: BaseException) -> str:
    """One human line for a failed step: the file it concerns, and the problem; never a traceback."""
    if isinstance(e, (InputError, ParameterError)):
        file, text = getattr(e, "file", None), str(e)
        name = Path(file).name if file else None  # errors name files by path or by name
        return f"{where}: {name}: {text}" if name and name not in text else f"{where}: {text}"
    if isinstance(e, OSError):
        name = Path(e.filename).name if getattr(e, "filename", None) else "a file"
        return f"{where}: cannot read {name}: {e.strerror or e}"
    return f"{where}: unexpected error: {type(e).__name__}: {e}"


@dataclass(frozen=True)
class ClusterJob:
    """One section of one detector group."""

    group: str  # the group's key (named in messages)
    section: str  # registry name
    paths: tuple[str, ...]
    params: object
    meta: object = None  # readnoise: the CrdsMeta of its reference file


@dataclass
class Outcome:
    result: object = None
    error: str | None = None  # the step's one-line message (as locally); then result is None
    seconds: float = 0.0  # compute time of the job's tasks on the workers, summed
    workers: set = field(default_factory=set)  # addresses of the workers that computed it


# -- tasks (run on the workers) ------------------------------------------------------------------------
def _address() -> str | None:
    try:
        from distributed import get_worker

        return get_worker().address
    except (ImportError, ValueError):  # not on a worker
        return None


def _ok(value, t0: float, earlier=()) -> dict:
    return {"value": value, "seconds": time.perf_counter() - t0 + sum(r["seconds"] for r in earlier),
            "workers": {_address(), *(w for r in earlier for w in r["workers"])} - {None}}


def inspect_task(path: str) -> str | None:
    """Why this worker cannot use ``path`` (the inventory's reason), or None."""
    from core.io.inventory import inspect_file

    info = inspect_file(Path(path))
    return None if info.ok else info.reason


def readnoise_on_worker(paths, params, meta):
    """The readnoise map; on a worker, the native engine's stripes go to this worker's cluster."""
    from core.readnoise import make_readnoise_map

    try:
        from distributed import get_worker

        scheduler = get_worker().scheduler.address
    except (ImportError, ValueError):  # called directly (tests): local threads
        scheduler = None
    if params.engine == "native":
        params = replace(params, scheduler=scheduler or "local")
    return make_readnoise_map(list(paths), params, meta)


def whole_task(name: str, paths, params, meta=None) -> dict:
    """A section without a split on one group: its analyze function."""
    t0 = time.perf_counter()
    try:
        if name == READNOISE.name:
            value = readnoise_on_worker(paths, params, meta)
        else:
            value = section(name).analyze_function()([Path(p) for p in paths], params, progress=None)
    except Exception as e:  # the local run's message, and the group's other sections proceed
        return {"error": step_message(name, e)}
    return _ok(value, t0)


def plan_task(name: str, paths, params) -> dict:
    t0 = time.perf_counter()
    try:
        return _ok(section(name).split_module().plan([Path(p) for p in paths], params), t0)
    except Exception as e:
        return {"error": step_message(name, e)}


def partial_task(name: str, plan: dict, index: int, params) -> dict:
    if "error" in plan:
        return plan
    t0 = time.perf_counter()
    try:
        return _ok(section(name).split_module().partial(plan["value"], index, params), t0)
    except Exception as e:
        return {"error": step_message(name, e)}


def reduce_task(name: str, plan: dict, parts: list, params) -> dict:
    """The partials (file order) into the section's result; the first failure in file order otherwise
    (the file a local run would have stopped at)."""
    for r in (plan, *parts):
        if "error" in r:
            return r
    t0 = time.perf_counter()
    try:
        value = section(name).split_module().reduce(plan["value"], [p["value"] for p in parts], params)
    except Exception as e:
        return {"error": step_message(name, e)}
    return _ok(value, t0, (plan, *parts))


def analyze_section(name: str, paths, params, meta=None):
    """A section through the same tasks as on the cluster, in this process (no Dask): the split's
    plan, partials and reduce when it has one.  Returns the result; raises what the task reports."""
    spec = section(name)
    split = spec.split_module() if name != READNOISE.name else None
    if split is None:
        r = whole_task(name, paths, params, meta)
    else:
        plan = plan_task(name, paths, params)
        r = reduce_task(name, plan, [partial_task(name, plan, i, params) for i in range(len(paths))], params)
    if "error" in r:
        raise InputError(r["error"])
    return r["value"]


# -- client side -----------------------------------------------------------------------------------------
def inspect_files(client, paths, retries: int = 2) -> dict[str, str]:
    """{absolute path: reason} for the files the workers cannot use (headers re-read on the workers)."""
    paths = list(dict.fromkeys(str(Path(p).absolute()) for p in paths))
    tag = uuid.uuid4().hex[:8]
    futs = [client.submit(inspect_task, p, key=f"inspect-{tag}-{i}", retries=retries) for i, p in enumerate(paths)]
    try:
        reasons = client.gather(futs)
    except Exception as e:
        client.cancel(futs)
        raise ClusterError(f"the cluster failed while reading the file headers: {type(e).__name__}: {e}") from e
    return {p: r for p, r in zip(paths, reasons) if r is not None}


def _submit(client, job: ClusterJob, tag: str, retries: int) -> list:
    """The job's futures, its final one last."""
    split = section(job.section).split_module() if job.section != READNOISE.name else None
    if split is None:
        return [client.submit(whole_task, job.section, job.paths, job.params, job.meta, key=f"{tag}",
                              retries=retries)]
    plan = client.submit(plan_task, job.section, job.paths, job.params, key=f"plan-{tag}", retries=retries)
    parts = [client.submit(partial_task, job.section, plan, i, job.params, key=f"partial-{tag}-{i}", retries=retries)
             for i in range(len(job.paths))]
    return [plan, *parts, client.submit(reduce_task, job.section, plan, parts, job.params, key=f"reduce-{tag}",
                                        retries=retries)]


def run_jobs(client, jobs: list[ClusterJob], progress: Progress | None = None, label: str = "",
             retries: int = 2) -> dict[tuple[str, str], Outcome]:
    """Every job on the cluster, longest sections first; {(group, section): Outcome} once all are done.

    ``progress(fraction, message)`` as tasks complete, with the tasks done of the total per section.
    Raises :class:`ClusterError` naming the group and the section of a task the cluster could not
    complete (after the scheduler's retries on other workers); then nothing is returned."""
    from distributed import as_completed

    progress = progress or (lambda f, m: None)
    rank = {n: i for i, n in enumerate(LONGEST_FIRST)}
    order = sorted(range(len(jobs)), key=lambda i: (rank.get(jobs[i].section, len(rank)), i))
    owner, finals, every = {}, {}, []
    total, done = Counter(), Counter()
    run = uuid.uuid4().hex[:8]
    for i in order:
        job = jobs[i]
        slug = "".join(c if c.isalnum() else "_" for c in job.group)
        futs = _submit(client, job, f"{job.section}-{slug}-{run}-{i}", retries)
        for f in futs:
            owner[f.key] = (job.group, job.section)
        finals[futs[-1].key] = futs[-1]
        total[job.section] += len(futs)
        every.extend(futs)
    n = len(every)
    pending = as_completed(every)
    every.clear()  # as_completed holds each future until it is done: partials are then released
    out: dict[tuple[str, str], Outcome] = {}
    try:
        for fut in pending:
            group, name = owner[fut.key]
            if fut.key in finals:
                try:
                    r = fut.result()  # waits for a recomputation if its worker died meanwhile
                except Exception as e:
                    raise _failure(group, name, fut.key, e) from e
                del finals[fut.key]
                out[(group, name)] = (Outcome(error=r["error"]) if "error" in r
                                      else Outcome(r["value"], None, round(r["seconds"], 3), set(r["workers"])))
            elif fut.status in ("error", "cancelled"):
                try:
                    exc = fut.exception()
                except BaseException as e:  # cancelled
                    exc = e
                raise _failure(group, name, fut.key, exc) from exc
            done[name] += 1
            counts = ", ".join(f"{s} {done[s]}/{total[s]}" for s in total)
            progress(sum(done.values()) / n, f"cluster {label}: tasks {counts}")
    except BaseException:
        pending.clear()
        client.cancel(list(finals.values()))
        raise
    return out


def compute_on_cluster(scheduler, jobs: list[ClusterJob], progress: Progress | None = None,
                       connect_timeout: float = 20.0) -> dict[tuple[str, str], Outcome]:
    """:func:`run_jobs` on the cluster ``scheduler`` ("tcp://HOST:PORT", "local-cluster" or a
    ``distributed.Client``), connected here (the app's entry: one page's sections at a time)."""
    from core.readnoise.dask_engine import connect

    label = scheduler if isinstance(scheduler, str) else "a Dask client"
    (progress or (lambda f, m: None))(0.0, f"cluster {label}: connecting")
    with connect(scheduler, connect_timeout, 3 * connect_timeout) as client:
        return run_jobs(client, jobs, progress, label)


def _failure(group: str, name: str, key: str, exc: BaseException) -> ClusterError:
    return ClusterError(f"{group}: {name}: the cluster could not complete task {key} "
                        f"({type(exc).__name__}: {exc}); no result was returned")


def client_cpu_seconds() -> float:
    """CPU seconds used so far by this process (the client's share of a cluster run)."""
    t = os.times()
    return t.user + t.system


__all__ = ["LONGEST_FIRST", "ClusterJob", "Outcome", "analyze_section", "client_cpu_seconds", "compute_on_cluster",
           "inspect_files", "inspect_task", "partial_task", "plan_task", "readnoise_on_worker", "reduce_task",
           "run_jobs", "step_message", "whole_task"]
