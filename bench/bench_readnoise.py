"""Benchmark: our engines against jwst_reffiles and against a read-the-data floor, in one run.

    .venv/bin/python bench/bench_readnoise.py [--cases 2,4,8] [--long] [--data DIR] [--out bench/results]

Each timed case runs in a fresh subprocess (so peak RSS is that case's own) on the same generated
full-frame inputs (10 groups per file; ``--long`` adds one 108-group file).  Printed and written
to CSV: wall time, peak RSS, and the ratios native/jwst_reffiles and full/floor.  A process's
start-up is timed apart and printed, not included: imports (jwst_reffiles pulls in jwst), writing a
first datamodel (asdf discovers its extensions, jwst loads its schemas; for both engines, which both
write one), loading our compiled kernels from their disk cache and one garbage collection of the
import objects (then frozen) -- the app pays these once per server, not per run.  The numba
kernels are compiled once before the cases (a one-time cost per installation).

The floor reads the data once with plain numpy (a memmap of the SCI data) and forms the CDS stack.
``floor_astropy`` is the floor of the benchmarks before our engine decoded raw ramps itself: the
same work with astropy's ``section`` reader, which costs several times more CPU; it is timed too
so that the ratios can be compared with the older numbers.
"""

from __future__ import annotations

import argparse
import csv
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def make_inputs(data: Path, nfiles: int, ngroups: int = 10) -> list[Path]:
    from core.io.simulate import NoiseSpec, simulate_exposure

    data.mkdir(parents=True, exist_ok=True)
    out = []
    for i in range(nfiles):
        p = data / f"bench_g{ngroups}_{i:02d}_nrca1_uncal.fits"
        if not p.exists():
            simulate_exposure(p, "NRCA1", ngroups=ngroups, spec=NoiseSpec(corr_1f=4.0, unc_1f=1.5), seed=i)
        out.append(p)
    return out


def _startup(kind: str) -> None:
    """What a process pays once before its first run: imports, and loading the compiled kernels."""
    if kind.startswith("reffiles"):
        import jwst_reffiles.readnoise.readnoise  # noqa: F401

        from core.readnoise import warm_datamodels

        warm_datamodels()  # a first model written (asdf's extensions, jwst's schemas), as preload() does
    elif kind == "native":
        import core.readnoise.native  # noqa: F401
        from core.pipeline.warm import warm_up

        warm_up(sections=False)  # the readnoise kernels only: what this process runs
    elif kind == "full":
        from core.pipeline.warm import preload

        preload()  # imports, asdf's extension discovery and the kernels: what the app pays once per server
    else:
        import core.io.ramps  # noqa: F401
    # Every kind alike: the import objects collected once and frozen, so that the first full garbage
    # collection after the imports (0.1-0.2 s with jwst loaded) is start-up, not part of the run.
    import gc

    gc.collect()
    gc.freeze()


def run_one(kind: str, paths: list[str]) -> dict:
    """Time one case in this process; return seconds (start-up apart) and peak RSS (MiB)."""
    import warnings

    warnings.filterwarnings("ignore")
    t0 = time.perf_counter()
    _startup(kind)
    startup = time.perf_counter() - t0
    t0 = time.perf_counter()
    if kind.startswith("reffiles"):
        import contextlib
        import io
        import tempfile

        from jwst_reffiles.readnoise.readnoise import make_readnoise

        nproc = int(kind.split("_nproc")[1])
        with tempfile.TemporaryDirectory() as tmp, contextlib.redirect_stdout(io.StringIO()):
            make_readnoise(paths, method="stack", nproc=nproc, outfile=f"{tmp}/rn.fits")
    elif kind == "native":
        from core.readnoise.native import native_readnoise_map

        native_readnoise_map(paths)
    elif kind == "full":
        from core.io.inventory import group_by_detector, inventory
        from core.pipeline.run import AnalysisOptions, analyze_group
        from core.readnoise import ReadnoiseParams

        groups, _ = group_by_detector(inventory(paths))
        analyze_group(groups[0], AnalysisOptions(readnoise=ReadnoiseParams(engine="native")))
    elif kind == "floor":
        import numpy as np
        from astropy.io import fits

        # The least any engine must do, in plain numpy: read every file once by row stripes (a
        # memmap of the SCI data: no astropy conversion passes), as float32 DN with saturated -> NaN,
        # and form the CDS stack.
        cubes = []
        for p in paths:
            with fits.open(p, lazy_load_hdus=True) as h:
                sci = h["SCI"]
                shape, offset, bzero = sci.shape, sci.fileinfo()["datLoc"], sci.header.get("BZERO", 0)
            cubes.append(np.memmap(p, dtype=">i2", mode="r", offset=offset, shape=shape))
        for y0 in range(0, shape[2], 256):
            parts = []
            for c in cubes:
                d = c[:, :, y0:y0 + 256].astype(np.float32)
                d += bzero
                d[d == 65535] = np.nan
                parts.append(cds_frames_np(d))
            np.concatenate(parts).sum()
    elif kind == "floor_astropy":
        import numpy as np

        from core.io.ramps import Ramp, cds_frames, stripes

        # The floor of earlier benchmarks: the same with astropy's reader (``section``), which
        # makes several passes over the data (~7x the memmap's CPU for 16-bit ramps).
        ramps = [Ramp(p, direct=False) for p in paths]  # astropy's section, not our direct decoder
        for y0, y1 in stripes(ramps[0].shape[2], 256):
            stack = np.concatenate([cds_frames(r.read_stripe(y0, y1)[0], "independent") for r in ramps])
            stack.sum()
        for r in ramps:
            r.close()
    else:
        raise ValueError(kind)
    dt = time.perf_counter() - t0
    return {"seconds": dt, "startup_s": startup, "peak_rss_mib": _peak_rss_mib()}


def cds_frames_np(d):
    """Independent differences G1-G0, G3-G2, ... of (nints, ngroups, rows, nx), plain numpy."""
    n = d.shape[1] // 2
    return (d[:, 1:2 * n:2] - d[:, 0:2 * n:2]).reshape((-1,) + d.shape[2:])


def _peak_rss_mib() -> float:
    """This process's own peak RSS (VmHWM; ru_maxrss would include the parent's before exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cases", default="2,4,8")
    ap.add_argument("--long", action="store_true", help="also one full-frame 108-group file")
    ap.add_argument("--data", default=str(ROOT / "bench" / "data"))
    ap.add_argument("--out", default=str(ROOT / "bench" / "results"))
    ap.add_argument("--kinds", default="reffiles_nproc1,reffiles_nproc2,native,full,floor,floor_astropy")
    ap.add_argument("--one", nargs="+", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.one:
        print(json.dumps(run_one(a.one[0], a.one[1:])))
        return
    data = Path(a.data)
    cases = [(f"{n} files x 10 groups", make_inputs(data, n)) for n in map(int, a.cases.split(","))]
    if a.long:
        cases.append(("1 file x 108 groups", make_inputs(data, 1, ngroups=108)))
    # Compile the numba kernels (or load them from the on-disk cache) once, untimed: a one-time cost
    # per installation that `make` pays at install, not per run.
    subprocess.run([sys.executable, "-c", "from core.pipeline.warm import warm_up; warm_up()"], check=True, cwd=ROOT)
    rows = []
    for label, paths in cases:
        res = {}
        for kind in a.kinds.split(","):
            r = subprocess.run([sys.executable, __file__, "--one", kind, *map(str, paths)], capture_output=True,
                               text=True, cwd=ROOT)
            if r.returncode:
                print(f"{label} {kind}: failed\n{r.stderr[-2000:]}")
                continue
            res[kind] = json.loads(r.stdout.strip().splitlines()[-1])
            rows.append({"case": label, "kind": kind, **{k: round(v, 3) for k, v in res[kind].items()}})
            print(f"{label:22s} {kind:16s} {res[kind]['seconds']:8.2f} s  {res[kind]['peak_rss_mib']:7.0f} MiB"
                  f"  (start-up {res[kind]['startup_s']:.2f} s, not included)", flush=True)
        if "native" in res and "reffiles_nproc1" in res:
            print(f"{label:22s} speed-up native vs jwst_reffiles (nproc 1): "
                  f"{res['reffiles_nproc1']['seconds'] / res['native']['seconds']:.1f}x")
        if "full" in res and "floor" in res:
            print(f"{label:22s} full analysis / floor: {res['full']['seconds'] / res['floor']['seconds']:.1f}x")
        if "full" in res and "floor_astropy" in res:
            print(f"{label:22s} full analysis / floor read with astropy (earlier benchmarks' floor): "
                  f"{res['full']['seconds'] / res['floor_astropy']['seconds']:.1f}x")
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"bench_{time.strftime('%Y%m%dT%H%M%S')}.csv"
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=["case", "kind", "seconds", "startup_s", "peak_rss_mib"])
        w.writeheader()
        w.writerows(rows)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
