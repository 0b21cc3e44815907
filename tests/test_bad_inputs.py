"""Bad inputs, in the core, the CLI and the app alike: each gets a specific message naming the file and
the problem, is skipped (or handled, and said), and the good files' results do not change.

"Unchanged" is checked by comparing the per-group summary (readnoise per-amp numbers and every
section's summary) of the good files analysed alone with the same files analysed beside the bad ones,
through :func:`core.pipeline.run.run_analysis` and through ``python -m core analyze``.

Data: SUBGRISM64 ramps (64 x 2048, 6 groups) from the project's simulator, so that a whole analysis
takes about a second.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits

from core.io.simulate import simulate_exposure
from core.pipeline.run import AnalysisOptions, run_analysis
from core.readnoise import ReadnoiseParams, make_readnoise_map
from tests.conftest import ROOT, with_header

SUB = "SUBGRISM64"
NG = 6


# -- helpers ------------------------------------------------------------------------------------------
def _sim(path: Path, det: str, seed: int, ngroups: int = NG, subarray: str = SUB, **kw) -> Path:
    return simulate_exposure(path, det, ngroups=ngroups, subarray=subarray, seed=seed, **kw).path




def _with_sci(src: Path, dst: Path, data: np.ndarray) -> Path:
    with fits.open(src) as h:
        h["SCI"].data = data
        h.writeto(dst)
    return dst


def analyse(paths, out: Path, **opts) -> dict:
    """run_analysis, then the summary as written (strict JSON, what a user gets)."""
    run_analysis([Path(p) for p in paths], out, AnalysisOptions(**opts))
    return json.loads((out / "summary.json").read_text())


def run_cli(*args, timeout=300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "core", *map(str, args)], cwd=ROOT, capture_output=True,
                          text=True, timeout=timeout)


def cli_analyse(paths, out: Path, *extra, store: Path | None = None) -> tuple[subprocess.CompletedProcess, dict]:
    store_args = ["--store", store] if store else ["--no-store"]
    r = run_cli("analyze", *paths, "--out", out, "--quiet", *store_args, *extra)
    assert "Traceback" not in r.stderr + r.stdout, r.stderr
    assert r.returncode == 0, r.stderr
    return r, json.loads((out / "summary.json").read_text())


def numbers(block: dict, ignore=()) -> dict:
    """What must not change: files, readnoise per-amp numbers, section summaries (not timings or
    notes about the other files of the selection)."""
    return {k: v for k, v in block.items() if k not in ("timings", "from_store", "notes", "paths", *ignore)}


def block_of(summary: dict, files) -> dict:
    names = [Path(f).name for f in files]
    found = [b for b in summary["detectors"].values() if b["files"] == names]
    assert len(found) == 1, (names, {k: b["files"] for k, b in summary["detectors"].items()})
    return found[0]


def rejected_reason(summary: dict, name: str) -> str:
    reasons = [r["reason"] for r in summary["rejected"] if r["file"] == name]
    assert reasons, (name, summary["rejected"])
    return reasons[0]


def assert_no_unexpected_errors(summary: dict):
    for key, block in summary["detectors"].items():
        for err in block.get("errors", []):
            assert "unexpected error" not in err, (key, err)


# -- the good files and their results alone -------------------------------------------------------------
@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """Good files (NRCA1 x2, NRCB1 x2) and their summary analysed alone (core, no result store)."""
    d = tmp_path_factory.mktemp("bad_inputs")
    good = d / "good"
    a = [_sim(good / f"good{i}_nrca1_uncal.fits", "NRCA1", seed=1 + i) for i in range(2)]
    b = [_sim(good / f"good{i}_nrcb1_uncal.fits", "NRCB1", seed=3 + i) for i in range(2)]
    base = analyse(a + b, d / "baseline")
    assert not base["rejected"]
    assert_no_unexpected_errors(base)
    return {"dir": d, "a": a, "b": b, "good": a + b, "base": base, "base_out": d / "baseline",
            "store": d / "cli_store"}


def assert_good_unchanged(summary: dict, lab, ignore=()):
    for files in (lab["a"], lab["b"]):
        assert numbers(block_of(summary, files), ignore) == numbers(block_of(lab["base"], files), ignore)


# -- bad files beside the good ones, all in one run (core and CLI) ---------------------------------------------
def _make_rejects(d: Path, good: Path) -> dict[str, tuple[Path, str]]:
    """Files the inventory rejects: name -> (path, expected words of the reason)."""
    d.mkdir(parents=True)
    cases = {}

    def case(name, path, words):
        cases[name] = (path, words)

    p = d / "text_uncal.fits"
    p.write_text("hello, this is not a FITS file")
    case("not FITS", p, "not a FITS file (no SIMPLE = T card at the start)")
    p = d / "trunc_uncal.fits"
    p.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    case("truncated", p, "truncated")
    p = d / "empty_uncal.fits"
    p.write_bytes(b"")
    case("empty", p, "the file is empty (0 bytes)")
    case("2-D image", _with_sci(good, d / "rate_uncal.fits", np.zeros((64, 2048), np.float32)),
         "SCI is a 2-D image (a rate or calibrated file?), not a 4-D ramp")
    case("3-D cube", _with_sci(good, d / "cube_uncal.fits", np.zeros((NG, 64, 2048), np.uint16)),
         "SCI is a 3-D cube, not a 4-D ramp")
    case("1 group", _sim(d / "one_nrca1_uncal.fits", "NRCA1", seed=7, ngroups=1),
         "only 1 group: at least 2 groups are needed")
    for key in ("DETECTOR", "SUBARRAY", "READPATT"):
        case(f"no {key}", with_header(good, d / f"no{key.lower()}_uncal.fits", **{key: None}),
             f"missing header keyword(s): {key}")
    case("another instrument", with_header(good, d / "miri_uncal.fits", INSTRUME="MIRI"),
         "not a NIRCam file (INSTRUME = MIRI)")
    p = d / "folder_uncal.fits"
    p.mkdir()
    case("a folder named like a file", p, "not a regular file: it is a folder")
    p = d / "pipe_uncal.fits"
    os.mkfifo(p)
    case("a FIFO", p, "not a regular file: it is a named pipe (FIFO)")
    case("a glob matching nothing", d / "nothing_*_uncal.fits", "no file matches the pattern 'nothing_*_uncal.fits'")
    return cases


@pytest.fixture(scope="module")
def nan_sat(lab):
    """NRCA3 float32 ramp with a pixel NaN in every sample (6 samples) and 5 single NaN samples;
    NRCA4 uint16 ramp with a pixel saturated from group 3 on (3 samples) and 4 single saturated samples."""
    d = lab["dir"] / "nansat"
    src = _sim(d / "src" / "f_nrca3_uncal.fits", "NRCA3", seed=21)
    with fits.open(src) as h:
        data = h["SCI"].data.astype(np.float32)
    data[:, :, 30, 700] = np.nan
    for g, y, x in ((2, 10, 100), (3, 11, 101), (4, 12, 1500), (1, 40, 900), (5, 50, 1800)):
        data[0, g, y, x] = np.nan
    nan_file = _with_sci(src, d / "nan_nrca3_uncal.fits", data)
    src = _sim(d / "src" / "s_nrca4_uncal.fits", "NRCA4", seed=22)
    with fits.open(src) as h:
        raw = np.array(h["SCI"].data)
    assert raw.dtype == np.uint16
    raw[0, 3:, 20, 300] = 65535
    for g, y, x in ((0, 5, 5), (2, 6, 1000), (4, 7, 1200), (1, 8, 2000)):
        raw[0, g, y, x] = 65535
    sat_file = _with_sci(src, d / "sat_nrca4_uncal.fits", raw)
    return nan_file, sat_file


@pytest.fixture(scope="module")
def bag(lab, nan_sat):
    """The good files with every default-parameter bad input beside them, analysed once by the core
    (no result store) and once by the CLI: files rejected by the inventory; an odd number of groups
    (NRCA2, 7 groups); NaN and saturated samples (NRCA3, NRCA4); another geometry of NRCA1
    (SUBGRISM128) and another readout pattern of NRCB1 (BRIGHT2)."""
    d = lab["dir"] / "bag"
    cases = _make_rejects(d / "rejects", lab["a"][0])
    extra = {
        "odd": _sim(d / "odd_nrca2_uncal.fits", "NRCA2", seed=13, ngroups=7),
        "nan": nan_sat[0],
        "sat": nan_sat[1],
        "wide": _sim(d / "sub128_nrca1_uncal.fits", "NRCA1", seed=41, ngroups=4, subarray="SUBGRISM128"),
        "bright": _sim(d / "bright2_nrcb1_uncal.fits", "NRCB1", seed=42, readpatt="BRIGHT2"),
    }
    paths = lab["good"] + [p for p, _ in cases.values()] + list(extra.values())
    core = analyse(paths, d / "core")
    cli, cli_summary = cli_analyse(paths, d / "cli", store=lab["store"])
    return {"cases": cases, **extra, "runs": ((core, d / "core"), (cli_summary, d / "cli")), "cli": cli}


REJECT_CASES = ["not FITS", "truncated", "empty", "2-D image", "3-D cube", "1 group", "no DETECTOR", "no SUBARRAY",
                "no READPATT", "another instrument", "a folder named like a file", "a FIFO", "a glob matching nothing"]


@pytest.mark.parametrize("case", REJECT_CASES)
def test_rejected_with_reason_and_good_files_unchanged(bag, lab, case):
    path, words = bag["cases"][case]
    for s, _ in bag["runs"]:
        assert words in rejected_reason(s, path.name)
        assert_good_unchanged(s, lab)
        assert len(s["rejected"]) == len(bag["cases"])  # nothing else was lost
        assert_no_unexpected_errors(s)
    assert f"rejected {path.name}: " in bag["cli"].stderr and words in bag["cli"].stderr


def test_odd_groups_independent_handled_and_said(bag, lab):
    """7 groups: the last is dropped (jwst_reffiles cannot pair it), a note says so, and the map is that
    of the file without its last group; the good files are unchanged."""
    odd = bag["odd"]
    trimmed = odd.parent / "trimmed" / odd.name
    trimmed.parent.mkdir()
    with fits.open(odd) as h:
        h["SCI"].data = np.array(h["SCI"].data[:, :6])
        h[0].header["NGROUPS"] = 6
        h.writeto(trimmed)
    want = make_readnoise_map([trimmed]).amp_table
    for s, _ in bag["runs"]:
        assert_good_unchanged(s, lab)
        rn = block_of(s, [odd])["readnoise"]
        assert any("odd number of groups (odd_nrca2_uncal.fits)" in n and "last group" in n for n in rn["notes"])
        assert [a["median"] for a in rn["amps"]] == pytest.approx(list(want["median"]), rel=1e-6)


def test_nan_and_saturated_samples_counted_and_reported(bag, lab):
    """Default (native) engine: NaN and saturated samples are masked and counted in a note (11 in the
    NaN file, 7 in the saturated one); a pixel NaN in every sample comes out NaN, never 0."""
    for s, out in bag["runs"]:
        assert_good_unchanged(s, lab)
        notes = block_of(s, [bag["nan"]])["readnoise"]["notes"]
        assert any("11 saturated or non-finite samples were masked" in n for n in notes), notes
        assert any("1 pixel(s) are NaN in every sample: set to NaN" in n for n in notes), notes
        notes = block_of(s, [bag["sat"]])["readnoise"]["notes"]
        assert any("7 saturated or non-finite samples were masked" in n for n in notes), notes
        with fits.open(out / "NRCA3_SUBGRISM64" / "readnoise_NRCA3_SUBGRISM64.fits") as h:
            m = h["SCI"].data
        assert np.isnan(m[30, 700])  # not 0.0, as jwst_reffiles writes
        assert np.isfinite(m[31, 700]) and np.isfinite(m[10, 100])  # one NaN sample: the others are used
        assert np.isfinite(m).sum() == m.size - 1
        with fits.open(out / "NRCA4_SUBGRISM64" / "readnoise_NRCA4_SUBGRISM64.fits") as h:
            m = h["SCI"].data
        # saturated samples left out; the pixel saturated from group 3 on keeps 1 independent
        # difference (G1-G0): a 1-sample std is no noise, so NaN -- every other pixel is finite
        assert np.isnan(m[20, 300]) and np.isfinite(m).sum() == m.size - 1


def test_reffiles_engine_uses_and_counts_nan_and_saturated_samples(nan_sat):
    """jwst_reffiles engine: the samples are used as jwst_reffiles does, and counted in a note (11 NaN in 6
    pixels; 7 saturated in 5 pixels); a pixel NaN in every sample comes out NaN, never 0."""
    nan_file, sat_file = nan_sat
    reffiles = ReadnoiseParams(engine="reffiles")
    res = make_readnoise_map([nan_file], reffiles)
    assert any(n.startswith("11 NaN samples in 6 pixel(s)") for n in res.notes), res.notes
    assert any("1 pixel(s) are NaN in every sample: set to NaN" in n for n in res.notes), res.notes
    assert np.isnan(res.cds_noise_map[30, 700]) and np.isfinite(res.cds_noise_map[10, 100])
    assert np.isfinite(res.cds_noise_map).sum() == res.cds_noise_map.size - 1
    res = make_readnoise_map([sat_file], reffiles)
    assert any(n.startswith("7 saturated samples (65535 DN) in 5 pixel(s)") for n in res.notes), res.notes


def test_mixed_geometry_and_readout_pattern_are_split_and_said(bag, lab):
    wide, bright = bag["wide"], bag["bright"]
    for s, _ in bag["runs"]:
        assert {"NRCA1_SUBGRISM64", "NRCA1_SUBGRISM128", "NRCB1_SUBGRISM64_RAPID",
                "NRCB1_SUBGRISM64_BRIGHT2"} <= set(s["detectors"])
        assert_good_unchanged(s, lab)
        notes = block_of(s, [wide])["notes"]
        assert notes[0]["file"] == wide.name
        assert "NRCA1 files come in 2 geometries; analysed as separate groups" in notes[0]["note"]
        notes = block_of(s, [bright])["notes"]
        assert notes[0]["file"] == bright.name
        assert ("readout patterns BRIGHT2, RAPID; analysed as separate groups (NRCB1_SUBGRISM64_RAPID, "
                "NRCB1_SUBGRISM64_BRIGHT2), not mixed") in notes[0]["note"]
        assert "readnoise" in block_of(s, [wide]) and "readnoise" in block_of(s, [bright])


def test_one_subarray_name_in_two_shapes_gives_two_groups():
    """Inconsistent headers (one SUBARRAY name, two frame shapes) must not share a group key (their
    products would overwrite each other): the shape tells them apart."""
    from core.io.inventory import FileInfo, group_by_detector

    infos = [FileInfo(Path(f"{i}_uncal.fits"), detector="NRCA1", subarray="GENERIC", readpatt="RAPID", ngroups=4,
                      nints=1, ny=ny, nx=2048) for i, ny in enumerate((64, 128))]
    groups, rejected = group_by_detector(infos)
    assert not rejected
    assert [g.key for g in groups] == ["NRCA1_GENERIC_128x2048", "NRCA1_GENERIC_64x2048"]
    assert all("2 geometries" in f.notes[0] for f in infos)


# -- 2 groups with a method that needs more ----------------------------------------------------------------------
def test_two_groups_with_ramp_method_left_out_and_said(lab):
    """'ramp' needs >= 2 differences per file: a 2-group file beside good ones is left out (a note names
    it); alone, its group is refused with a message; the good files give what they give alone."""
    d = lab["dir"] / "ramp"
    two_a = _sim(d / "two_nrca1_uncal.fits", "NRCA1", seed=11, ngroups=2)
    two_b2 = _sim(d / "two_nrcb2_uncal.fits", "NRCB2", seed=12, ngroups=2)
    ramp = ReadnoiseParams(method="ramp")
    base = analyse(lab["a"], d / "alone", readnoise=ramp, sections=())
    want = base["detectors"]["NRCA1_SUBGRISM64"]["readnoise"]["amps"]
    paths = lab["a"] + [two_a, two_b2]  # two folders, analysed as one group per detector
    core = analyse(paths, d / "core", readnoise=ramp, sections=(), merge_folders=True)
    cli, cli_summary = cli_analyse(paths, d / "cli", "--method", "ramp", "--merge-folders", store=lab["store"])
    for s in (core, cli_summary):
        rn = s["detectors"]["NRCA1_SUBGRISM64"]["readnoise"]
        assert rn["amps"] == want
        assert any("left out 1 file(s) with fewer than 2 group differences (two_nrca1_uncal.fits: 1)" in n
                   for n in rn["notes"]), rn["notes"]
        err = s["detectors"]["NRCB2_SUBGRISM64"]["errors"]
        assert any("the 'ramp' method needs at least 2 group differences per file, but two_nrcb2_uncal.fits "
                   "gives 1" in e for e in err), err
    assert "NRCB2_SUBGRISM64: readnoise: " in cli.stderr and "two_nrcb2_uncal.fits gives 1" in cli.stderr


# -- a reference file of the wrong detector or shape ---------------------------------------------------------------
@pytest.fixture(scope="module")
def small_ref(lab):
    """An NRCA1 readnoise reference cut to 32 rows: too small for NRCA1's 64-row frame, and of the wrong
    detector for NRCB1."""
    from stdatamodels.jwst import datamodels

    d = lab["dir"] / "reference"
    d.mkdir()
    small = d / "ref_small_nrca1.fits"
    with datamodels.ReadnoiseModel(str(lab["base_out"] / "NRCA1_SUBGRISM64" / "readnoise_NRCA1_SUBGRISM64.fits")) as m:
        m.data = m.data[:32]
        m.meta.subarray.ysize = 32
        m.save(str(small))
    return small


REF_ERRORS = {
    "NRCA1": "ref_small_nrca1.fits: the reference map (32x2048 from SUBSTRT 1,1) does not cover the data frame "
             "(64x2048 from SUBSTRT 1,1)",
    "NRCB1": "ref_small_nrca1.fits: the reference file is for NRCA1, but the data are NRCB1",
}


def test_reference_of_wrong_detector_or_shape_is_refused_per_group(lab, small_ref):
    """Each group says why the reference does not fit it, naming the reference; the readnoise results are
    those without a reference."""
    d, small = small_ref.parent, small_ref
    core = analyse(lab["good"], d / "core", reference=small)
    cli, cli_summary = cli_analyse(lab["good"], d / "cli", "--reference", small, store=lab["store"])
    for s in (core, cli_summary):
        assert_good_unchanged(s, lab, ignore=("errors",))  # the errors are the reference's, checked here
        for det in ("NRCA1", "NRCB1"):
            errors = s["detectors"][f"{det}_SUBGRISM64"]["errors"]
            assert errors == [f"reference comparison: {REF_ERRORS[det]}"], errors
    assert "NRCB1_SUBGRISM64: reference comparison: ref_small_nrca1.fits: the reference file is for NRCA1" in cli.stderr


# -- a file deleted between listing and reading ----------------------------------------------------------------
@pytest.fixture(scope="module")
def b1_alone(lab):
    """The first NRCB1 file analysed alone: what its group gives once the second file has gone."""
    return analyse(lab["b"][:1], lab["dir"] / "b1_alone")


def _copies(lab, d: Path) -> list[Path]:
    d.mkdir(parents=True)
    return [Path(shutil.copy2(p, d / p.name)) for p in lab["good"]]


def test_file_deleted_after_listing_core(lab, b1_alone):
    """The inventory sees all four files; the second NRCB1 file is deleted while NRCA1 is being analysed
    (groups run in key order). It is reported for that file; NRCB1 proceeds with the other file."""
    d = lab["dir"] / "deleted_core"
    files = _copies(lab, d / "in")
    victim = files[3]
    seen = []

    def progress(f, msg):
        seen.append(msg)
        if victim.exists() and msg.startswith("NRCA1"):
            victim.unlink()

    run_analysis(files, d / "out", AnalysisOptions(), progress=progress)
    s = json.loads((d / "out" / "summary.json").read_text())
    assert not victim.exists()
    assert rejected_reason(s, victim.name) == "the file no longer exists (deleted after it was listed)"
    assert numbers(block_of(s, lab["a"])) == numbers(block_of(lab["base"], lab["a"]))
    assert numbers(block_of(s, lab["b"][:1])) == numbers(block_of(b1_alone, lab["b"][:1]))
    assert_no_unexpected_errors(s)


def test_file_deleted_after_listing_cli(lab, b1_alone):
    """The same through the CLI: the file is deleted as soon as it prints NRCA1 progress."""
    d = lab["dir"] / "deleted_cli"
    files = _copies(lab, d / "in")
    victim = files[3]
    proc = subprocess.Popen([sys.executable, "-m", "core", "analyze", *map(str, files), "--out", str(d / "out"),
                             "--no-store"], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    err_lines = []
    try:
        for line in proc.stderr:
            err_lines.append(line)
            if victim.exists() and "NRCA1_SUBGRISM64:" in line:
                victim.unlink()
        out = proc.stdout.read()
        rc = proc.wait(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    err = "".join(err_lines)
    assert rc == 0, err
    assert "Traceback" not in err + out
    assert f"rejected {victim.name}: the file no longer exists (deleted after it was listed)" in err
    s = json.loads((d / "out" / "summary.json").read_text())
    assert numbers(block_of(s, lab["a"])) == numbers(block_of(lab["base"], lab["a"]))
    assert numbers(block_of(s, lab["b"][:1])) == numbers(block_of(b1_alone, lab["b"][:1]))


# -- an unreadable file (permissions) -----------------------------------------------------------------------
def _unprivileged(cmd: list[str]) -> list[str]:
    """As root, reading ignores permissions (CAP_DAC_OVERRIDE): run without those capabilities."""
    if os.geteuid() != 0:
        return cmd
    return ["setpriv", "--bounding-set", "-dac_override,-dac_read_search", *cmd]


def test_unreadable_file_is_reported(lab):
    d = lab["dir"] / "unreadable"
    d.mkdir()
    locked = Path(shutil.copy2(lab["a"][0], d / "locked_nrca1_uncal.fits"))
    locked.chmod(0)
    probe = subprocess.run(_unprivileged(["cat", str(locked)]), capture_output=True)
    if probe.returncode == 0 or b"Permission denied" not in probe.stderr:
        pytest.skip("cannot make a file unreadable here (root without a way to drop CAP_DAC_OVERRIDE): "
                    f"{probe.stderr.decode(errors='replace').strip()}")
    paths = [str(p) for p in lab["good"]] + [str(locked)]
    # The good groups come from the CLI store filled by the other tests (same files, same parameters):
    # what is tested here is that the locked file is named and the good groups stay exactly as they were.
    code = ("import sys; from pathlib import Path; from core.pipeline.run import AnalysisOptions, run_analysis; "
            "from core.pipeline.store import ResultStore; "
            "run_analysis([Path(p) for p in sys.argv[3:]], Path(sys.argv[1]), AnalysisOptions(), "
            "store=ResultStore(Path(sys.argv[2])))")
    r = subprocess.run(_unprivileged([sys.executable, "-c", code, str(d / "core"), str(lab["store"]), *paths]),
                       cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr
    r = subprocess.run(_unprivileged([sys.executable, "-m", "core", "analyze", *paths, "--out", str(d / "cli"),
                                      "--quiet", "--store", str(lab["store"])]),
                       cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr
    assert "rejected locked_nrca1_uncal.fits: permission denied: the app cannot read this file" in r.stderr
    for out in (d / "core", d / "cli"):
        s = json.loads((out / "summary.json").read_text())
        assert rejected_reason(s, locked.name) == "permission denied: the app cannot read this file"
        assert_good_unchanged(s, lab)


# -- parameters -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("args, message", [
    (["--clip-sigma", "0"], "error: clipping sigma must be > 0, not 0.0"),
    (["--clip-sigma", "nan"], "error: clipping sigma must be > 0, not nan"),
    (["--slice-width", "0"], "error: slice width must be >= 1 column, not 0"),
    (["--clip-iters", "0"], "error: max clipping iterations must be >= 1, not 0"),
    (["--nproc", "0"], "error: nproc must be >= 1, not 0"),
    (["--engine", "reffiles", "--mode", "unbiased"], "error: the unbiased mode needs the native engine"),
])
def test_bad_parameters_are_one_line_errors(lab, tmp_path, capsys, args, message):
    """In-process ``main`` (the same code as ``python -m core``; test_cli runs one case as a subprocess)."""
    from core.cli import main

    rc = main(["analyze", str(lab["a"][0]), "--out", str(tmp_path), "--quiet", "--no-store", *args])
    err = capsys.readouterr().err
    assert rc == 2
    assert err.strip().startswith(message) and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "summary.json").exists()  # refused before any work


def test_bad_parameters_in_run_analysis_are_messages_per_group(lab, tmp_path):
    s = analyse(lab["a"], tmp_path, readnoise=ReadnoiseParams(slice_width=0), sections=())
    assert s["detectors"]["NRCA1_SUBGRISM64"]["errors"] == ["readnoise: slice width must be >= 1 column, not 0"]


# -- the app ------------------------------------------------------------------------------------------------
@pytest.fixture()
def app_root(lab, small_ref, tmp_path):
    """A data root with the good files, the rejects the Data page lists (regular files) and the
    ill-fitting reference file."""
    ep = tmp_path / "approot" / "epoch"
    files = _copies(lab, ep)
    shutil.copy2(small_ref, ep / small_ref.name)
    cases = _make_rejects(tmp_path / "rejects", lab["a"][0])
    listed = {}
    for name, (p, words) in cases.items():
        if p.is_file() and not p.is_fifo():
            listed[name] = (Path(shutil.copy2(p, ep / p.name)), words)
    return tmp_path / "approot", files, listed


def _app(root: Path, monkeypatch):
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("DARKS_DATA_ROOT", str(root))
    monkeypatch.chdir(ROOT)
    return AppTest.from_file(str(ROOT / "app.py"), default_timeout=300).run()


def _frame_with(at, columns, exact=False):
    frames = [df.value for df in at.dataframe
              if (set(columns) == set(df.value.columns) if exact else set(columns) <= set(df.value.columns))]
    assert frames, [list(df.value.columns) for df in at.dataframe]
    return frames[0]


def test_app_lists_rejects_then_survives_a_deleted_file(lab, app_root, b1_alone, monkeypatch):
    """Data page: every bad file is listed with its reason and the good ones are used. One is then
    deleted: the Readnoise page names it, and each group gives what its remaining files give alone."""
    root, files, listed = app_root
    at = _app(root, monkeypatch)
    assert not at.exception
    rej = _frame_with(at, ["file", "folder", "reason"], exact=True)
    reasons = dict(zip(rej["file"], rej["reason"]))
    assert len(listed) >= 10
    for _name, (p, words) in listed.items():
        assert words in reasons[p.name], (p.name, reasons.get(p.name))
    at.button(key="data_use").click().run()
    assert not at.exception
    assert "4 files selected" in at.success[0].value

    files[3].unlink()  # the second NRCB1 file goes after it was selected
    at.switch_page("pages/readnoise.py").run()
    assert not at.exception
    warns = [w.value for w in at.warning]
    assert any(f"{files[3].name} is left out of the selection: the file no longer exists" in w for w in warns), warns

    for det, good, base in (("NRCA1", lab["a"], lab["base"]), ("NRCB1", lab["b"][:1], b1_alone)):
        picker = at.selectbox(key="group_picker")
        picker.set_value(next(o for o in picker.options if o.startswith(det))).run()
        at.button(key="rn_run").click().run()
        assert not at.exception
        assert not at.error, [e.value for e in at.error]
        amps = _frame_with(at, ["median", "output"])
        want = block_of(base, good)["readnoise"]["amps"]
        assert list(amps["median"]) == pytest.approx([a["median"] for a in want], rel=1e-6)
        assert any(m.label == "Files" and str(m.value) == str(len(good)) for m in at.metric)
        # the reference file that does not fit this group: a message naming it, the results stay
        at.radio(key="rn_cmp_mode").set_value("a reference readnoise file").run()
        at.selectbox(key="rn_ref_folder").set_value("epoch").run()
        assert not at.exception
        assert [e.value for e in at.error] == [REF_ERRORS[det]]
        assert list(_frame_with(at, ["median", "output"])["median"]) == list(amps["median"])
        at.radio(key="rn_cmp_mode").set_value("nothing").run()


def test_app_glob_matching_nothing_says_so(lab, monkeypatch):
    at = _app(lab["dir"] / "good", monkeypatch)
    at.text_input(key="data_glob").set_value("nothing_*.fits").run()
    assert not at.exception
    assert any("No file matches `nothing_*.fits`" in w.value for w in at.warning)
