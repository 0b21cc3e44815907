"""Benchmark: the 1/f section against an FFT floor, in one warm process, on one file (issue 23).

    .venv/bin/python bench/bench_onef.py [--repeats 5] [--data DIR] [--no-full] [--file PATH]

The file is a simulated full frame with 10 groups (``core.io.simulate``, the same file as the
first input of ``bench_readnoise.py``), or ``--file``.  Printed, all in one run on that file:

* the **FFT floor**: read the file (our raw-ramp reader, one group at a time), form its consecutive
  CDS frames, and per frame lay every output's read-order series on the pixel clock and make one
  single-precision real FFT of it (the 1/f section's own plan: FFTW through pyFFTW when installed,
  on both cores, planned once before the timing) -- the least any 1/f spectrum of the file costs;
* the 1/f section's wall time (:func:`core.onef.analysis.timed_onef`, i.e. ``analyze_onef``) and
  its ratio to the floor;
* where the section's time goes: each pass per CDS frame (ms), the per-integration pass 1 (pixel
  means, jump samples) and the finishing step per file set;
* the full analysis (``core.pipeline.run.analyze_group``: native readnoise + every section, two at a
  time) against the same floor;
* the section's peak memory, in a fresh process (peak RSS during the run minus RSS before it).

Every time is the minimum over ``--repeats`` runs, floor, section and full analysis interleaved:
the machine is shared, so the minimum is the least disturbed run.  Start-up (imports, compiled
kernels loaded from their cache, a first datamodel written) is paid once before the timing.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def make_input(data: Path, ngroups: int = 10) -> Path:
    from core.io.simulate import NoiseSpec, simulate_exposure

    data.mkdir(parents=True, exist_ok=True)
    p = data / f"bench_g{ngroups}_00_nrca1_uncal.fits"
    if not p.exists():
        simulate_exposure(p, "NRCA1", ngroups=ngroups, spec=NoiseSpec(corr_1f=4.0, unc_1f=1.5), seed=0)
    return p


class Floor:
    """Read + consecutive CDS + one float32 FFT of each output's clock series per frame, planned once."""

    def __init__(self, path: Path):
        from scipy.fft import next_fast_len

        from core.io.inventory import check_ramps
        from core.onef.accumulate import fft_plan

        info = check_ramps([path])[0]
        self.path, self.lay, self.nints, self.ngroups = path, info.layout, info.nints, info.ngroups
        lay = self.lay
        self.M = next_fast_len(lay.frame_clocks, real=True)
        self.buf, self.plan = fft_plan(lay.noutputs, self.M)
        self.body = self.buf[:, : lay.ny * lay.row_clocks].reshape(lay.noutputs, lay.ny, lay.row_clocks)

    def run(self) -> float:
        from core.io.ramps import Ramp

        lay, w = self.lay, self.lay.channel_width
        t0 = time.perf_counter()
        c0 = time.process_time()
        total = 0.0
        with Ramp(self.path) as ramp:
            for it in range(self.nints):
                prev = ramp.read_stripe(0, lay.ny, slice(0, 1), slice(it, it + 1))[0][0, 0]
                for g in range(1, self.ngroups):
                    cur = ramp.read_stripe(0, lay.ny, slice(g, g + 1), slice(it, it + 1))[0][0, 0]
                    det = lay.to_detector(cur - prev)
                    prev = cur
                    if lay.noutputs == 1:
                        self.body[0, :, :w] = det
                    else:
                        for k in range(lay.noutputs):  # read order: odd outputs mirrored
                            self.body[k, :, :w] = det[:, k * w:(k + 1) * w][:, :: (1 if k % 2 == 0 else -1)]
                    total += float(self.plan()[:, 1].real.sum())  # the result used
        return time.perf_counter() - t0, time.process_time() - c0


def full_analysis(path: Path) -> float:
    from core.io.inventory import group_by_detector, inventory
    from core.pipeline.run import AnalysisOptions, analyze_group
    from core.readnoise import ReadnoiseParams

    groups, _ = group_by_detector(inventory([path]))
    t0, c0 = time.perf_counter(), time.process_time()
    analyze_group(groups[0], AnalysisOptions(readnoise=ReadnoiseParams(engine="native")))
    return time.perf_counter() - t0, time.process_time() - c0


def timed_section(path: Path):
    """(wall s, CPU s of every thread, {pass: s}) of the 1/f section on ``path``; without
    ``timed_onef`` (code before issue 23) no passes."""
    import core.onef.analysis as analysis

    t0, c0 = time.perf_counter(), time.process_time()
    if hasattr(analysis, "timed_onef"):
        res, tim = analysis.timed_onef([path])
    else:
        res, tim = analysis.analyze_onef([path]), {}
    return time.perf_counter() - t0, time.process_time() - c0, tim, res


def _rss_mib(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def memory_one(path: str) -> dict:
    """In this (fresh) process: the section's peak RSS above the RSS before it (kernels loaded)."""
    from core.onef import analyze_onef
    from core.onef.kernel import warm_up

    warm_up()
    before = _rss_mib("VmRSS")
    analyze_onef([path])
    peak = _rss_mib("VmHWM")
    return {"before_mib": before, "peak_mib": peak, "added_mib": peak - before}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--data", default=str(ROOT / "bench" / "data"))
    ap.add_argument("--file", help="another *_uncal.fits instead of the simulated one")
    ap.add_argument("--no-full", action="store_true", help="skip the full analysis")
    ap.add_argument("--memory-one", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.memory_one:
        print(json.dumps(memory_one(a.memory_one)))
        return
    import warnings

    warnings.filterwarnings("ignore")
    path = Path(a.file) if a.file else make_input(Path(a.data))

    t0 = time.perf_counter()
    if not a.no_full:
        from core.pipeline.warm import preload

        preload()  # imports, asdf's extensions, every compiled kernel: once per server
    else:
        from core.onef.kernel import warm_up

        warm_up()
    floor = Floor(path)
    floor.run()
    res = timed_section(path)[3]  # warm: first pools, first plan, caches
    if not a.no_full:
        full_analysis(path)
    print(f"{path.name}: {res.n_cds_frames} CDS frames of {res.shape[1]}x{res.shape[0]}; "
          f"start-up and one warm-up run {time.perf_counter() - t0:.1f} s (not included)")

    t_floor, t_sec, t_full, passes = [], [], [], {}
    for _ in range(a.repeats):
        t_floor.append(floor.run())
        wall, cpu, tim, res = timed_section(path)
        t_sec.append((wall, cpu))
        for k, v in tim.items():  # (wall, CPU): the minimum of each over the runs
            old = passes.get(k, (float("inf"), float("inf")))
            passes[k] = (min(old[0], v[0]), min(old[1], v[1]))
        if not a.no_full:
            t_full.append(full_analysis(path))
    nfr = res.n_cds_frames
    (f, fc), (s, sc) = (min(x[0] for x in t_floor), min(x[1] for x in t_floor)), \
        (min(x[0] for x in t_sec), min(x[1] for x in t_sec))
    print(f"\nminimum of {a.repeats} runs (shared 2-core machine: scatter 10-30 %, more under load; "
          f"compare within a run); wall time, and CPU time of all threads")
    print(f"  FFT floor (read, {nfr} CDS frames, one float32 FFT per output per frame) "
          f"{f:7.3f} s wall  {fc:7.3f} s CPU")
    print(f"  1/f section (analyze_onef)                                       {s:7.3f} s wall  {sc:7.3f} s CPU"
          f"   = {s / f:.2f}x the floor (wall), {sc / fc:.2f}x (CPU)")
    if t_full:
        w_, c_ = min(x[0] for x in t_full), min(x[1] for x in t_full)
        print(f"  full analysis (analyze_group: readnoise + every section)         {w_:7.3f} s wall  {c_:7.3f} s CPU"
              f"   = {w_ / f:.2f}x the floor (wall), {c_ / fc:.2f}x (CPU)")
    if passes:
        print("\n1/f section, per pass (minimum over the runs of each pass's total):")
    per_frame = {k: v for k, v in passes.items() if "per " not in k}
    if passes:
        print(f"  {'':77s} wall ms   CPU ms")
    for k, (w_, c_) in sorted(per_frame.items(), key=lambda kv: -kv[1][1]):
        print(f"  per CDS frame  {k:62s} {1e3 * w_ / nfr:7.2f}  {1e3 * c_ / nfr:7.2f}")
    if per_frame:
        print(f"  per CDS frame  {'sum':62s} {1e3 * sum(v[0] for v in per_frame.values()) / nfr:7.2f}  "
              f"{1e3 * sum(v[1] for v in per_frame.values()) / nfr:7.2f}")
    for k, (w_, c_) in passes.items():
        if "per " in k:
            print(f"  {k:77s} {1e3 * w_:7.1f}  {1e3 * c_:7.1f}")
    if passes:
        rest_w, rest_c = s - sum(v[0] for v in passes.values()), sc - sum(v[1] for v in passes.values())
        print(f"  {'the rest (file checks, opening, FFT plan, thread hand-offs)':77s} "
              f"{1e3 * rest_w:7.1f}  {1e3 * rest_c:7.1f}")

    r = subprocess.run([sys.executable, __file__, "--memory-one", str(path)], capture_output=True, text=True,
                       cwd=ROOT)
    if r.returncode == 0:
        m = json.loads(r.stdout.strip().splitlines()[-1])
        print(f"\n1/f section peak memory (fresh process): {m['added_mib']:.0f} MiB above the "
              f"{m['before_mib']:.0f} MiB before it (peak RSS {m['peak_mib']:.0f} MiB)")
    else:
        print("memory measurement failed:", r.stderr[-1000:])


if __name__ == "__main__":
    main()
