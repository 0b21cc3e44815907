"""Command line: the same analysis as the app, headless.

    python -m core analyze FILE... --out DIR [--method stack|ramp] [--group-diff independent|consecutive]
                           [--clip-sigma S] [--clip-iters N] [--slice-width W] [--reference REF.fits]
    python -m core simulate --out DIR --detector NRCA1 [--detector NRCB1 ...] [--nfiles N] ...
    python -m core demo --out DIR
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

from .errors import InputError, ParameterError


def _progress(quiet):
    last = {"msg": None}

    def cb(f, msg):
        if quiet or msg == last["msg"]:
            return
        last["msg"] = msg
        print(f"[{100 * f:5.1f}%] {msg}", file=sys.stderr, flush=True)

    return cb


def cmd_analyze(a) -> int:
    from .analysis import AnalysisOptions, run_analysis
    from .inventory import glob_paths
    from .readnoise import ReadnoiseParams
    from .store import ResultStore

    paths = glob_paths(a.files)
    if not paths:
        raise InputError("no input files given")
    params = ReadnoiseParams(method=a.method, group_diff_type=a.group_diff, clipping_sigma=a.clip_sigma,
                             max_clipping_iters=a.clip_iters, slice_width=a.slice_width,
                             single_value=a.single_value, nproc=a.nproc, engine=a.engine,
                             mode=a.mode).validate()
    opts = AnalysisOptions(readnoise=params, reference=Path(a.reference) if a.reference else None)
    store = None if a.no_store else ResultStore(Path(a.store) if a.store else None)
    summary = run_analysis(paths, Path(a.out), opts, _progress(a.quiet), store=store)
    for r in summary["rejected"]:
        print(f"rejected {r['file']}: {r['reason']}", file=sys.stderr)
    analysed = {k: v for k, v in summary["detectors"].items() if "readnoise" in v}
    for key, block in summary["detectors"].items():
        for err in block.get("errors", []):
            print(f"{key}: {err}", file=sys.stderr)
    if not analysed:
        print("error: nothing could be analysed (see the reasons above)", file=sys.stderr)
        return 2
    print(f"wrote {Path(a.out) / 'summary.json'} ({', '.join(analysed)})")
    return 0


def cmd_simulate(a) -> int:
    from .simulate import NoiseSpec, simulate_set

    spec = NoiseSpec(white_read=a.white, corr_1f=a.corr_1f, unc_1f=a.unc_1f, ref_ratio=a.ref_ratio,
                     ref_instability=a.ref_instability, unstable_ref_pixels=a.unstable_ref_pixels)
    made = simulate_set(Path(a.out), tuple(a.detector), nfiles=a.nfiles, ngroups=a.ngroups, nints=a.nints,
                        subarray=a.subarray, spec=spec, seed=a.seed, start_mjd=a.start_mjd,
                        progress=lambda n, t, name: print(f"[{n}/{t}] {name}", file=sys.stderr))
    print(f"wrote {len(made)} files and their *_truth.json to {a.out}")
    return 0


def cmd_demo(a) -> int:
    from .simulate import make_demo

    make_demo(Path(a.out), progress=lambda n, t, name: print(f"[{n}/{t}] {name}", file=sys.stderr, flush=True))
    print(f"demo data in {a.out}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m core", description="NIRCam darks: readnoise, 1/f, reference pixels")
    sub = p.add_subparsers(dest="command", required=True)

    an = sub.add_parser("analyze", help="analyse dark ramps, grouped by detector")
    an.add_argument("files", nargs="+", help="*_uncal.fits files or globs")
    an.add_argument("--out", required=True, help="output folder")
    an.add_argument("--method", choices=["stack", "ramp"], default="stack")
    an.add_argument("--group-diff", choices=["independent", "consecutive"], default="independent")
    an.add_argument("--clip-sigma", type=float, default=3.0)
    an.add_argument("--clip-iters", type=int, default=3)
    an.add_argument("--slice-width", type=int, default=50)
    an.add_argument("--single-value", action="store_true")
    an.add_argument("--nproc", type=int, default=1)
    an.add_argument("--engine", choices=["reffiles", "native"], default="reffiles",
                    help="reffiles: jwst_reffiles make_readnoise; native: one streaming pass on both cores")
    an.add_argument("--mode", choices=["compatible", "unbiased"], default="compatible",
                    help="native engine only: jwst_reffiles' estimator, or with its low bias divided out")
    an.add_argument("--reference", help="a READNOISE reference FITS to compare with")
    an.add_argument("--store", help="result store folder (default: $DARKS_RESULTS_DIR or ./results)")
    an.add_argument("--no-store", action="store_true", help="always recompute; store nothing")
    an.add_argument("--quiet", action="store_true")
    an.set_defaults(func=cmd_analyze)

    si = sub.add_parser("simulate", help="write simulated dark ramps with known noise")
    si.add_argument("--out", required=True)
    si.add_argument("--detector", action="append", required=True)
    si.add_argument("--nfiles", type=int, default=2)
    si.add_argument("--ngroups", type=int, default=10)
    si.add_argument("--nints", type=int, default=1)
    si.add_argument("--subarray", default="FULL")
    si.add_argument("--white", type=float, nargs="+", default=[5.0], help="DN per read, 1 or 4 values (per output)")
    si.add_argument("--corr-1f", type=float, default=4.0, help="DN rms in a CDS frame")
    si.add_argument("--unc-1f", type=float, nargs="+", default=[1.5], help="DN rms in a CDS frame, 1 or 4 values")
    si.add_argument("--ref-ratio", type=float, default=0.85)
    si.add_argument("--ref-instability", type=float, nargs="+", default=[0.0])
    si.add_argument("--unstable-ref-pixels", type=int, default=0)
    si.add_argument("--seed", type=int, default=0)
    si.add_argument("--start-mjd", type=float, default=60000.0)
    si.set_defaults(func=cmd_simulate)

    de = sub.add_parser("demo", help="write the demo data set (2 detectors x 2 epochs)")
    de.add_argument("--out", required=True)
    de.set_defaults(func=cmd_demo)
    return p


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    warnings.filterwarnings("ignore")
    try:
        return args.func(args)
    except (InputError, ParameterError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as e:  # never a traceback on the terminal for a user
        print(f"error: {type(e).__name__}: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
