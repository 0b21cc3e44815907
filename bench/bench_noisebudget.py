"""Benchmark: memory and time of the noise-budget section on 2 full-frame files x 108 groups.

    .venv/bin/python bench/bench_noisebudget.py [--groups 108] [--files 2] [--data DIR] [--onef]

The inputs (full frame, white 5 DN per read and kTC 22 DN; ``--onef`` adds correlated 1/f 4 DN and
per-output 1/f 1.5 DN, which makes the simulation itself need several GB) are made once and kept in
``--data``. Each case runs in a fresh subprocess so that its peak RSS is its own: ``baseline``
imports the section and reads one file's header; ``analyze`` runs the whole section; then 4 against
8 small (SUBGRISM64) files of as many groups, whose peaks of traced allocations (tracemalloc, numpy
included) must agree within 5 % (each pair is folded into running totals and dropped). Printed: the
data size, the stripe budget, the peak RSS of both, the increment the analysis adds and its ratio to
the data size (it must stay a small fraction: the data are read in row stripes of
``STRIPE_BUDGET_BYTES`` per pair, the slopes for every n reduced into histograms stripe by stripe),
wall and CPU time. The machine is shared: times are indicative only.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MAX_INCREMENT_FRACTION = 0.25  # the analysis may add at most this fraction of the data size in RSS


def make_inputs(data: Path, nfiles: int, ngroups: int, onef: bool, subarray: str = "FULL") -> list[Path]:
    from core.io.simulate import NoiseSpec, simulate_exposure

    data.mkdir(parents=True, exist_ok=True)
    spec = NoiseSpec(white_read=5.0, ktc=22.0, **({"corr_1f": 4.0, "unc_1f": 1.5} if onef else {}))
    out = []
    for i in range(nfiles):
        p = data / f"nb_{subarray.lower()}_g{ngroups}{'_onef' if onef else ''}_{i:02d}_nrca1_uncal.fits"
        if not p.exists():
            t = time.time()
            simulate_exposure(p, "NRCA1", ngroups=ngroups, nints=1, subarray=subarray, spec=spec, seed=40 + i)
            print(f"  made {p.name} in {time.time() - t:.0f} s", flush=True)
        out.append(p)
    return out


CHILD = r"""
import json, sys, time
kind, paths = sys.argv[1], sys.argv[2:]
t0, c0 = time.time(), time.process_time()
from core.noisebudget import analyze_noisebudget
from core.io.inventory import read_ramp_header
read_ramp_header(paths[0])
out = {}
if kind == "traced":  # the peak of Python-level (numpy included) allocations, allocator aside
    import tracemalloc
    tracemalloc.start()
    analyze_noisebudget(paths)
    out["traced_peak_mb"] = tracemalloc.get_traced_memory()[1] / 2**20
if kind == "analyze":
    r = analyze_noisebudget(paths)
    a = r.amps[0]
    out = {"pairs": r.n_pairs, "counts": r.counts, "measured_n2": float(a["measured"][0]),
           "predicted_n2": float(a["predicted"][0]), "ktc_note": r.notes}
# VmHWM: this process image's own peak (ru_maxrss carries the parent's peak across fork + exec)
hwm = [int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM:")][0]
out.update(wall_s=time.time() - t0, cpu_s=time.process_time() - c0, peak_rss_mb=hwm / 1024)
print(json.dumps(out))
"""


def run_case(kind: str, paths: list[Path]) -> dict:
    r = subprocess.run([sys.executable, "-c", CHILD, kind, *map(str, paths)], capture_output=True, text=True,
                       cwd=ROOT)
    if r.returncode:
        raise SystemExit(f"{kind} failed:\n{r.stderr[-3000:]}")
    return json.loads(r.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--groups", type=int, default=108)
    ap.add_argument("--files", type=int, default=2)
    ap.add_argument("--data", type=Path, default=ROOT / "bench" / "results" / "noisebudget_data")
    ap.add_argument("--onef", action="store_true")
    args = ap.parse_args(argv)
    from core.noisebudget.params import STRIPE_BUDGET_BYTES

    print(f"inputs: {args.files} full-frame files x {args.groups} groups in {args.data}", flush=True)
    paths = make_inputs(args.data, args.files, args.groups, args.onef)
    data_mb = sum(p.stat().st_size for p in paths) / 2**20
    base = run_case("baseline", paths)
    full = run_case("analyze", paths)
    inc = full["peak_rss_mb"] - base["peak_rss_mb"]
    print(f"data on disk            {data_mb:9.0f} MB ({args.files} files)")
    print(f"stripe budget           {STRIPE_BUDGET_BYTES / 2**20:9.0f} MB of float32 per pair")
    print(f"peak RSS, baseline      {base['peak_rss_mb']:9.0f} MB (imports + one header)")
    print(f"peak RSS, analysis      {full['peak_rss_mb']:9.0f} MB")
    print(f"increment               {inc:9.0f} MB = {inc / data_mb:.3f} x the data "
          f"(limit {MAX_INCREMENT_FRACTION} x)")
    print(f"wall / cpu              {full['wall_s']:9.1f} s / {full['cpu_s']:.1f} s "
          f"({data_mb / max(full['wall_s'], 1e-9):.0f} MB/s; shared machine: indicative)")
    print(f"pairs {full['pairs']}, group counts {full['counts']}")
    print(f"amp 0, n=2: measured {full['measured_n2']:.3f} DN/s, predicted {full['predicted_n2']:.3f} DN/s")
    ok = inc < MAX_INCREMENT_FRACTION * data_mb
    print("memory bounded by stripes:", "yes" if ok else "NO")
    # the number of files: 4 against 8 SUBGRISM64 files of the same groups (2 and 4 pairs, folded one by one)
    small = make_inputs(args.data, 8, args.groups, args.onef, "SUBGRISM64")
    p4, p8 = run_case("traced", small[:4]), run_case("traced", small)
    grow = p8["traced_peak_mb"] / p4["traced_peak_mb"] - 1
    print(f"SUBGRISM64 x {args.groups} groups, traced allocation peak: 4 files {p4['traced_peak_mb']:.1f} MB, "
          f"8 files {p8['traced_peak_mb']:.1f} MB ({100 * grow:+.1f} %); peak RSS {p4['peak_rss_mb']:.0f} / "
          f"{p8['peak_rss_mb']:.0f} MB; wall {p4['wall_s']:.1f} s / {p8['wall_s']:.1f} s")
    ok_files = grow < 0.05
    print("memory independent of the number of files:", "yes" if ok_files else "NO")
    return 0 if ok and ok_files else 1


if __name__ == "__main__":
    sys.exit(main())
