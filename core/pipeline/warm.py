"""A process's one-time costs, paid up front: compiled kernels and lazily imported libraries.

``warm_up`` compiles every numba kernel of the app (or loads it from the on-disk cache) for the
array types the engines use, so that no user run pays the first compilation (``make`` does this at
install).  ``preload`` also imports what the sections import lazily and writes a first datamodel.
This module sits above every section (it imports their kernels), so no kernel imports it.
"""

from __future__ import annotations

import numpy as np


def warm_up(sections: bool = True) -> None:
    """Compile (or load) the kernels.  ``sections=False``: only the readnoise engine's kernels
    (what a readnoise-only process loads)."""
    from core import median
    from core.io import ramps
    from core.readnoise.clip import clipped_mean_fast, clipped_std_fast

    x = np.zeros((4, 8), np.float32)
    ramps.decode_uint16_be(np.zeros(32, np.uint16), x.reshape(-1))
    clipped_std_fast(x)
    clipped_mean_fast(x)
    median.median_along0(x)
    median.nanmedian_last(x)
    median.median_of(np.arange(median.BRACKET_MIN + 1, dtype=np.float32))
    median.abs_histogram(x, 8)
    if sections:
        from core.onef import kernel as onef_kernel
        from core.refpix import kernel as refpix_kernel
        from core.rest2014 import kernel as rest2014_kernel

        onef_kernel.warm_up()
        refpix_kernel.warm_up()
        rest2014_kernel.warm_up()


def preload() -> None:
    """Pay a process's one-time costs up front: import the libraries the steps import lazily
    (scipy.signal, scipy.ndimage, scipy.optimize, pyFFTW, jwst_reffiles and the jwst datamodels),
    write a first datamodel (asdf discovers its extensions and jwst loads its schemas: about 1.5 s),
    and load the compiled kernels.  The first analysis in a process otherwise pays about 2 s for these.

    Last, the ~300 000 objects those imports leave are collected once and frozen (``gc.freeze``):
    otherwise the first full garbage collection after them -- about 0.15 s, at whatever allocation
    triggers it, typically the first header read of a run -- lands in the first analysis."""
    import gc

    import scipy.ndimage  # noqa: F401
    import scipy.optimize  # noqa: F401
    import scipy.signal  # noqa: F401
    from jwst_reffiles.readnoise import readnoise  # noqa: F401

    from core.pipeline.registry import ALL_SECTIONS
    from core.readnoise import warm_datamodels

    for spec in ALL_SECTIONS:
        spec.load()
    try:
        import pyfftw  # noqa: F401
    except ImportError:  # optional: onef falls back to scipy's FFT
        pass
    warm_datamodels()
    warm_up()
    gc.collect()
    gc.freeze()  # the long-lived import objects leave the collector's generations


if __name__ == "__main__":  # python -m core.pipeline.warm: what make runs after installing
    warm_up()
