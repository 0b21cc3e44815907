"""Many section computations at once: detector groups ``workers`` at a time (the Overview's
"Compute all"), with one progress report that counts jobs and names the running steps.

Each group's jobs run one after another in one thread, so two groups run at a time on this
machine's two cores (the kernels, FFTs and reads release the GIL).  ``progress`` and ``on_done`` are
only ever called from the calling thread (Streamlit widgets may only be updated from the script
thread); the jobs post their progress to a queue that the calling thread drains.
"""

from __future__ import annotations

import queue
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass

from core.pipeline.cluster import step_message
from core.pipeline.registry import SectionSpec
from core.runtime import CORES


@dataclass(frozen=True)
class Job:
    """One section on one detector group's files."""

    spec: SectionSpec
    paths: tuple
    params: object
    group: str  # the detector group's key: jobs of one group run one after another

    @property
    def label(self) -> str:
        return f"{self.spec.title} of {self.group}"


@dataclass(frozen=True)
class BatchProgress:
    """What :func:`run_batch` reports: ``done`` of ``total`` jobs finished, ``running`` maps each
    running job's label to its last message."""

    done: int
    total: int
    running: dict

    def text(self) -> str:
        now = "; ".join(f"{k}: {m}" for k, m in self.running.items())
        return f"{self.done} of {self.total} done" + (f" · {now}" if now else "")


def run_batch(jobs: Sequence[Job], workers: int = CORES, progress: Callable[[BatchProgress], None] | None = None,
              on_done: Callable[[Job, object | None, str | None], None] | None = None) -> dict:
    """Run ``jobs`` (groups ``workers`` at a time); returns {job: (result or None, error or None)}.

    A failed job is an error line and the other jobs proceed.  ``on_done(job, result, error)`` is
    called as each job ends (e.g. to store the result), from the calling thread.
    """
    by_group: dict[str, list[Job]] = {}
    for j in jobs:
        by_group.setdefault(j.group, []).append(j)
    events: queue.SimpleQueue = queue.SimpleQueue()
    outcomes: dict = {}
    running: dict = {}

    def run_group(group_jobs):
        for j in group_jobs:
            events.put(("start", j, "starting"))
            try:
                result = j.spec.analyze_function()(list(j.paths), j.params,
                                                   progress=lambda f, m, j=j: events.put(("progress", j, m)))
                events.put(("done", j, (result, None)))
            except Exception as e:  # one line per failed job; the others proceed
                events.put(("done", j, (None, step_message(j.spec.name, e))))

    def drain():
        changed = False
        while True:
            try:
                kind, j, payload = events.get_nowait()
            except queue.Empty:
                break
            changed = True
            if kind == "done":
                running.pop(j.label, None)
                outcomes[j] = payload
                if on_done is not None:
                    on_done(j, *payload)
            else:
                running[j.label] = payload
        if changed and progress is not None:
            progress(BatchProgress(len(outcomes), len(jobs), dict(running)))

    if progress is not None:
        progress(BatchProgress(0, len(jobs), {}))
    with ThreadPoolExecutor(max(1, int(workers)), thread_name_prefix="batch") as pool:
        pending = {pool.submit(run_group, g) for g in by_group.values()}
        while pending:
            done, pending = wait(pending, timeout=0.2, return_when=FIRST_COMPLETED)
            drain()
            for fut in done:
                fut.result()  # run_group catches every job's error: this only re-raises a bug
    drain()
    return outcomes


__all__ = ["BatchProgress", "Job", "run_batch"]
