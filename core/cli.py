"""Command line: the same analysis as the app, headless.

    python -m core analyze FILE... --out DIR [--method stack|ramp] [--group-diff independent|consecutive]
                           [--clip-sigma S] [--clip-iters N] [--slice-width W] [--reference REF.fits]
    python -m core report FILE... --out DIR [same options as analyze] [--config run.yaml]
    python -m core simulate --out DIR --detector NRCA1 [--detector NRCB1 ...] [--nfiles N] ...
    python -m core demo --out DIR
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

from core.errors import InputError, ParameterError


def _progress(quiet):
    last = {"msg": None}

    def cb(f, msg):
        if quiet or msg == last["msg"]:
            return
        last["msg"] = msg
        print(f"[{100 * f:5.1f}%] {msg}", file=sys.stderr, flush=True)

    return cb


# argparse attribute -> ReadnoiseParams field; the options default to None so that a run.yaml
# (report --config) supplies what the command line does not say.
_READNOISE_ARGS = {"method": "method", "group_diff": "group_diff_type", "clip_sigma": "clipping_sigma",
                   "clip_iters": "max_clipping_iters", "slice_width": "slice_width", "single_value": "single_value",
                   "nproc": "nproc", "engine": "engine", "mode": "mode", "scheduler": "scheduler"}


def add_analysis_options(p: argparse.ArgumentParser, files_nargs: str = "+") -> None:
    """The options shared by ``analyze`` and ``report``."""
    from core.readnoise import ReadnoiseParams

    d = ReadnoiseParams()
    p.add_argument("files", nargs=files_nargs, help="*_uncal.fits files or globs")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--method", choices=["stack", "ramp"], help=f"default {d.method}")
    p.add_argument("--group-diff", choices=["independent", "consecutive"], help=f"default {d.group_diff_type}")
    p.add_argument("--clip-sigma", type=float, help=f"default {d.clipping_sigma}")
    p.add_argument("--clip-iters", type=int, help=f"default {d.max_clipping_iters}")
    p.add_argument("--slice-width", type=int, help=f"default {d.slice_width}")
    p.add_argument("--single-value", action="store_true", default=None)
    p.add_argument("--nproc", type=int, help=f"default {d.nproc}")
    p.add_argument("--engine", choices=["reffiles", "native"],
                   help="native (default): one streaming pass on both cores, jwst_reffiles' numbers in compatible mode; "
                        "reffiles: jwst_reffiles make_readnoise itself")
    p.add_argument("--mode", choices=["compatible", "unbiased"],
                   help="native engine only: jwst_reffiles' estimator (default), or with its low bias divided out")
    p.add_argument("--scheduler", metavar="tcp://HOST:PORT|local-cluster|local",
                   help="native engine only: compute on a Dask cluster (default: $DARKS_DASK_SCHEDULER when set, "
                        "else local)")
    p.add_argument("--groupdq-flags", metavar="FLAG,FLAG|none",
                   help="GROUPDQ flags whose samples every section leaves out in DQ-carrying (RampModel) files "
                        "(default DO_NOT_USE,SATURATED,JUMP_DET; PIXELDQ DO_NOT_USE pixels are always left out)")
    p.add_argument("--reference", help="a READNOISE reference FITS to compare with")
    p.add_argument("--store", help="result store folder (default: $DARKS_RESULTS_DIR or ./results)")
    p.add_argument("--no-store", action="store_true", help="always recompute; store nothing")
    p.add_argument("--merge-folders", action="store_true", default=None,
                   help="analyse files of one detector from several folders as one group (default: a group per folder)")
    p.add_argument("--quiet", action="store_true")


def _analysis_options(a, base=None):
    """AnalysisOptions from the command line; options not given keep ``base``'s values (or the defaults)."""
    from dataclasses import replace

    from core.pipeline.run import AnalysisOptions

    base = base or AnalysisOptions()
    given = {field: getattr(a, attr) for attr, field in _READNOISE_ARGS.items() if getattr(a, attr) is not None}
    if getattr(a, "groupdq_flags", None) is not None:
        from core.io.ramps import parse_groupdq_flags

        base = base.with_groupdq_mask(parse_groupdq_flags(a.groupdq_flags))
    params = replace(base.readnoise, **given).validate()
    return replace(base, readnoise=params, reference=Path(a.reference) if a.reference else base.reference,
                   merge_folders=base.merge_folders if a.merge_folders is None else a.merge_folders)


def _store(a):
    from core.pipeline.store import ResultStore

    return None if a.no_store else ResultStore(Path(a.store) if a.store else None)


def _report_outcome(summary: dict) -> list[str]:
    """Print rejections, notes (what a guard did) and errors; return the analysed group keys."""
    for r in summary["rejected"]:
        print(f"rejected {r['file']}: {r['reason']}", file=sys.stderr)
    for key, block in summary["detectors"].items():
        notes = [n["note"] if isinstance(n, dict) else n for n in block.get("notes", [])]
        notes += block.get("readnoise", {}).get("notes", [])
        for note in dict.fromkeys(notes):
            print(f"{key}: note: {note}", file=sys.stderr)
        for err in block.get("errors", []):
            print(f"{key}: {err}", file=sys.stderr)
    analysed = [k for k, v in summary["detectors"].items() if "readnoise" in v]
    if not analysed:
        print("error: nothing could be analysed (see the reasons above)", file=sys.stderr)
    return analysed


def cmd_analyze(a) -> int:
    from core.io.inventory import glob_paths
    from core.pipeline.run import run_analysis

    paths = glob_paths(a.files)
    if not paths:
        raise InputError("no input files given")
    opts = _analysis_options(a)
    summary = run_analysis(paths, Path(a.out), opts, _progress(a.quiet), store=_store(a))
    analysed = _report_outcome(summary)
    if not analysed:
        return 2
    print(f"wrote {Path(a.out) / 'summary.json'} ({', '.join(analysed)})")
    return 0


def cmd_report(a) -> int:
    from core.io.inventory import glob_paths
    from core.report import load_run_config, write_report

    files, base = [], None
    if a.config:
        files, base = load_run_config(a.config)
    files = list(files) + [p for p in glob_paths(a.files) if p not in files]
    if not files:
        raise InputError("no input files given: name them, or give --config run.yaml with a file list")
    opts = _analysis_options(a, base)
    out = Path(a.out)
    summary = write_report(files, out, opts, _progress(a.quiet), store=_store(a))
    analysed = _report_outcome(summary)
    print(f"wrote {out / 'report.html'}, {out / 'report.pdf'} and {out / 'bundle.zip'}"
          + (f" ({', '.join(analysed)})" if analysed else ""))
    return 0 if analysed else 2


def cmd_simulate(a) -> int:
    from core.io.simulate import NoiseSpec, simulate_set

    spec = NoiseSpec(white_read=a.white, corr_1f=a.corr_1f, unc_1f=a.unc_1f, ref_ratio=a.ref_ratio,
                     ref_instability=a.ref_instability, unstable_ref_pixels=a.unstable_ref_pixels)
    made = simulate_set(Path(a.out), tuple(a.detector), nfiles=a.nfiles, ngroups=a.ngroups, nints=a.nints,
                        subarray=a.subarray, spec=spec, seed=a.seed, start_mjd=a.start_mjd,
                        progress=lambda n, t, name: print(f"[{n}/{t}] {name}", file=sys.stderr))
    print(f"wrote {len(made)} files and their *_truth.json to {a.out}")
    return 0


def cmd_demo(a) -> int:
    from core.io.simulate import make_demo

    make_demo(Path(a.out), progress=lambda n, t, name: print(f"[{n}/{t}] {name}", file=sys.stderr, flush=True))
    print(f"demo data in {a.out}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m core", description="NIRCam darks: readnoise, 1/f, reference pixels")
    sub = p.add_subparsers(dest="command", required=True)

    an = sub.add_parser("analyze", help="analyse dark ramps, grouped by detector")
    add_analysis_options(an)
    an.set_defaults(func=cmd_analyze)

    rp = sub.add_parser("report", help="analyse, then write report.html, report.pdf and bundle.zip")
    add_analysis_options(rp, files_nargs="*")
    rp.add_argument("--config", help="a run.yaml (parameters and files) saved by the app or by an earlier report; "
                                     "options given on the command line take precedence")
    rp.set_defaults(func=cmd_report)

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
