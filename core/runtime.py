"""Runtime settings shared by every layer (a leaf: imports only core.errors).

- ``CORES``: the threads a compiled pass is split over.  The machine this is sized for has two
  cores, and every kernel releases the GIL, so two threads keep both busy; ``DARKS_CORES``
  overrides it.
- ``pool(name)``: a thread pool per purpose, created on first use (never at import: importing a
  module must not start threads, and a forked or pickled process gets its own pools).
- the Dask scheduler vocabulary: ``"local"`` (threads in this process), ``"local-cluster"``
  (a LocalCluster on this machine, for tests) or ``scheme://host:port`` (a running scheduler);
  ``$DARKS_DASK_SCHEDULER`` is the default when set.
- ``Progress``: the progress callback every long computation takes: ``progress(fraction, message)``
  with ``fraction`` in [0, 1].
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from core.errors import ParameterError

Progress = Callable[[float, str], None]


def _cores() -> int:
    try:
        return max(1, int(os.environ.get("DARKS_CORES", "2")))
    except ValueError:
        return 2


CORES = _cores()

_POOLS: dict[tuple[str, int], ThreadPoolExecutor] = {}
_LOCK = threading.Lock()


def pool(name: str, workers: int = CORES) -> ThreadPoolExecutor:
    """The process's thread pool called ``name`` with ``workers`` threads, made on first use."""
    key = (name, int(workers))
    with _LOCK:
        p = _POOLS.get(key)
        if p is None:
            p = _POOLS[key] = ThreadPoolExecutor(int(workers), thread_name_prefix=name)
        return p


def no_progress(fraction: float, message: str) -> None:
    """The progress callback of a caller that does not watch."""


# -- where a computation runs ---------------------------------------------------------------------
ENV_SCHEDULER = "DARKS_DASK_SCHEDULER"
LOCAL, LOCAL_CLUSTER = "local", "local-cluster"


class ClusterError(RuntimeError):
    """The cluster could not produce the whole map (unreachable, no workers, tasks lost or failing)."""


def resolve_scheduler(scheduler: str | None) -> str:
    """The scheduler to use: ``scheduler``, else ``$DARKS_DASK_SCHEDULER``, else ``"local"``; checked."""
    if scheduler is None:
        scheduler = os.environ.get(ENV_SCHEDULER) or LOCAL
    check_scheduler(scheduler)
    return scheduler.strip()


def check_scheduler(scheduler) -> None:
    """Raise :class:`ParameterError` unless ``scheduler`` is "local", "local-cluster" or "scheme://host:port"."""
    s = scheduler.strip() if isinstance(scheduler, str) else scheduler
    if s in (LOCAL, LOCAL_CLUSTER) or (isinstance(s, str) and "://" in s and s.split("://", 1)[1]):
        return
    raise ParameterError(f"scheduler must be 'local', 'local-cluster' or a Dask address such as "
                         f"tcp://HOST:8786, not {scheduler!r}")
