"""The file side of the simulator: readout patterns, DQ bits and the DMS writers.

* :func:`write_uncal`: a level-1b ``*_uncal.fits`` (SCI uint16 raw counts, BZERO 32768) through
  stdatamodels' Level1bModel;
* :func:`write_ramp_model`: a pipeline-processed ramp as the pipeline saves it after the linearity
  step (``*_linearitystep.fits``) through stdatamodels' RampModel: SCI float32 DN, optionally
  superbias-subtracted, GROUPDQ uint8, PIXELDQ uint32 and the ``S_*`` step keywords.

Both write the readout pattern's NFRAMES / GROUPGAP, TFRAME (the :class:`Layout` frame time) and
TGROUP = (NFRAMES + GROUPGAP) x TFRAME.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from core.io.geometry import Layout

# NIRCam readout patterns: (NFRAMES averaged per group, GROUPGAP frames dropped after each group).
READ_PATTERNS = {
    "RAPID": (1, 0), "BRIGHT1": (1, 1), "BRIGHT2": (2, 0), "SHALLOW2": (2, 3), "SHALLOW4": (4, 1),
    "MEDIUM2": (2, 8), "MEDIUM8": (8, 2), "DEEP2": (2, 18), "DEEP8": (8, 12),
}

# DQ bits (stdatamodels dqflags): GROUPDQ uses the low byte, PIXELDQ all 32 bits.
DO_NOT_USE = 1
SATURATED = 2
JUMP_DET = 4
HOT = 2048
REFERENCE_PIXEL = 2**31

# Steps of a ``*_linearitystep.fits`` (calwebb_detector1 up to linearity) and what the simulator
# did for each: no reference-pixel correction is applied to simulated data, so S_REFPIX says
# SKIPPED unless the caller passes ``steps={"refpix": "COMPLETE"}`` for data it corrected itself.
RAMP_STEPS = ("dq_init", "saturation", "superbias", "refpix", "linearity", "dark_sub", "jump", "ramp_fit")


def read_pattern(readpatt: str) -> tuple[int, int]:
    """(NFRAMES, GROUPGAP) of a NIRCam readout pattern; ValueError for an unknown name."""
    try:
        return READ_PATTERNS[str(readpatt).upper()]
    except KeyError:
        raise ValueError(f"unknown NIRCam readout pattern {readpatt!r}; one of {', '.join(READ_PATTERNS)}") from None


def ramp_path(path: Path) -> Path:
    """``x_uncal.fits`` -> ``x_linearitystep.fits`` (other names are kept)."""
    path = Path(path)
    if path.name.endswith("_uncal.fits"):
        return path.with_name(path.name[: -len("_uncal.fits")] + "_linearitystep.fits")
    return path


def twin_path(path: Path) -> Path:
    """The clean twin beside ``path``: ``x_uncal.fits`` -> ``x_uncal_clean.fits``.

    The twin does not match ``*_uncal.fits`` / ``*_linearitystep.fits``, so a folder glob picks the
    contaminated files only.
    """
    path = Path(path)
    return path.with_name(path.name.removesuffix(".fits") + "_clean.fits")


def truth_path(path: Path) -> Path:
    path = Path(path)
    return path.with_name(path.name.replace(".fits", "") + "_truth.json")


def _fill_meta(m, shape, layout: Layout, subarray: str, readpatt: str, start_mjd: float, program: str):
    from astropy.time import Time

    nints, ngroups, ny, nx = shape
    nframes, groupgap = read_pattern(readpatt)
    tframe = layout.frame_time
    tgroup = (nframes + groupgap) * tframe
    det = layout.detector
    meta = m.meta
    meta.telescope = "JWST"
    meta.instrument.name = "NIRCAM"
    meta.instrument.detector = det
    meta.instrument.module = det[3]
    meta.instrument.channel = "LONG" if det.endswith("LONG") else "SHORT"
    meta.instrument.filter = "F210M" if meta.instrument.channel == "SHORT" else "F360M"
    meta.instrument.pupil = "CLEAR"
    meta.exposure.type = "NRC_DARK"
    meta.exposure.readpatt = str(readpatt).upper()
    meta.exposure.ngroups = ngroups
    meta.exposure.nints = nints
    meta.exposure.nframes = nframes
    meta.exposure.groupgap = groupgap
    meta.exposure.noutputs = layout.noutputs
    meta.exposure.frame_time = tframe
    meta.exposure.group_time = tgroup
    # one integration: every group's frames and the gaps between groups (none after the last)
    t_int = (ngroups * (nframes + groupgap) - groupgap) * tframe
    meta.exposure.integration_time = t_int
    meta.exposure.start_time = start_mjd
    meta.exposure.end_time = start_mjd + nints * t_int / 86400.0
    t = Time(start_mjd, format="mjd")
    meta.observation.date = t.strftime("%Y-%m-%d")
    meta.observation.time = t.strftime("%H:%M:%S.%f")[:12]
    meta.observation.program_number = program
    meta.subarray.name = subarray
    meta.subarray.xstart = layout.xstart
    meta.subarray.ystart = layout.ystart
    meta.subarray.xsize = nx
    meta.subarray.ysize = ny
    meta.subarray.fastaxis = layout.fastaxis
    meta.subarray.slowaxis = layout.slowaxis


def _save(m, path: Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    m.save(path, overwrite=True)
    m.close()
    return path


def write_uncal(
    path: Path,
    data: np.ndarray,
    layout: Layout,
    subarray: str,
    readpatt: str = "RAPID",
    start_mjd: float = 60000.0,
    program: str = "01234",
) -> Path:
    """Write a DMS level-1b ``*_uncal.fits`` through stdatamodels' Level1bModel."""
    from stdatamodels.jwst import datamodels

    m = datamodels.Level1bModel()
    m.data = data
    _fill_meta(m, data.shape, layout, subarray, readpatt, start_mjd, program)
    return _save(m, path)


def write_ramp_model(
    path: Path,
    data: np.ndarray,
    layout: Layout,
    subarray: str,
    readpatt: str = "RAPID",
    groupdq: np.ndarray | None = None,
    pixeldq: np.ndarray | None = None,
    superbias: np.ndarray | float | None = None,
    bias_subtracted: bool = True,
    steps: dict | None = None,
    start_mjd: float = 60000.0,
    program: str = "01234",
) -> Path:
    """Write a RampModel file (``*_linearitystep.fits``) from raw uint16 counts ``data``.

    SCI is float32 DN: ``data - superbias`` when ``bias_subtracted`` (values then scatter around 0,
    kTC and 1/f included), else the raw counts.  Saturated samples keep their frozen value
    (``65535 - superbias``, or 65535 without the subtraction): only GROUPDQ SATURATED tells.
    ``groupdq`` (uint8, SCI's shape) and ``pixeldq`` (uint32, (ny, nx)) default to zeros.
    ``steps`` overrides the ``meta.cal_step`` values (see :data:`RAMP_STEPS`).
    """
    from stdatamodels.jwst import datamodels

    sci = data.astype(np.float32)
    if bias_subtracted:
        if superbias is None:
            raise ValueError("bias_subtracted=True needs the superbias (the simulation's bias map)")
        sci -= np.asarray(superbias, np.float32)
    m = datamodels.RampModel()
    m.data = sci
    m.groupdq = np.zeros(data.shape, np.uint8) if groupdq is None else np.asarray(groupdq, np.uint8)
    m.pixeldq = np.zeros(data.shape[-2:], np.uint32) if pixeldq is None else np.asarray(pixeldq, np.uint32)
    _fill_meta(m, data.shape, layout, subarray, readpatt, start_mjd, program)
    m.meta.bunit_data = "DN"
    done = {"dq_init": "COMPLETE", "saturation": "COMPLETE",
            "superbias": "COMPLETE" if bias_subtracted else "SKIPPED",
            "refpix": "SKIPPED", "linearity": "COMPLETE", "dark_sub": "SKIPPED", "jump": "SKIPPED",
            "ramp_fit": "SKIPPED"}
    done.update(steps or {})
    for step, state in done.items():
        setattr(m.meta.cal_step, step, state)
    return _save(m, path)


__all__ = [
    "DO_NOT_USE", "HOT", "JUMP_DET", "READ_PATTERNS", "REFERENCE_PIXEL", "SATURATED", "RAMP_STEPS",
    "ramp_path", "read_pattern", "truth_path", "twin_path", "write_ramp_model", "write_uncal",
]
