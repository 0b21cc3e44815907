"""Reports: self-contained HTML (offline charts), PDF, ZIP bundle, run.yaml and `python -m core report`."""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from importlib.metadata import version
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from core import __version__
from core.errors import ParameterError
from core.io.inventory import group_by_detector, inventory
from core.io.simulate import NoiseSpec, simulate_set
from core.onef import OneFParams
from core.pipeline.run import AnalysisOptions, GroupResult, analyze_group
from core.readnoise import CrdsMeta, ReadnoiseParams
from core.refpix import RefPixParams
from core.report import build_report, load_run_config, run_config_yaml
from tests.conftest import ROOT

# Only the sections this file is about: a section added later must not change these tests.
OPTS = AnalysisOptions(sections=("onef", "refpix"))
# "Errors": the report is given a rejected file (junk_uncal.fits), so it has an errors section
SECTION_TITLES = ["Parameters", "Errors", "Provenance", "Overview", "Readnoise", "1/f noise", "Reference pixels"]
KEYS = ["NRCA1_SUBGRISM256", "NRCB1_SUBGRISM256"]


@pytest.fixture(scope="module")
def sim(tmp_path_factory):
    """SUBGRISM256, 6 groups, 2 files per detector, NRCA1 and NRCB1 (a few MB, seconds)."""
    root = tmp_path_factory.mktemp("report_root")
    spec = NoiseSpec(white_read=[4.6, 4.9, 4.4, 5.1], corr_1f=3.0, unc_1f=1.2, unstable_ref_pixels=2)
    simulate_set(root / "set", ("NRCA1", "NRCB1"), nfiles=2, ngroups=6, subarray="SUBGRISM256", spec=spec, seed=21)
    return root, sorted((root / "set").glob("*_uncal.fits"))


@pytest.fixture(scope="module")
def results(sim) -> list[GroupResult]:
    groups, rejected = group_by_detector(inventory(sim[1]))
    assert not rejected
    res = [analyze_group(g, OPTS) for g in groups]
    assert all(not r.errors for r in res), [r.errors for r in res]
    return res


@pytest.fixture(scope="module")
def report(results, sim):
    return build_report(results, OPTS, rejected=[{"file": "junk_uncal.fits", "reason": "not a FITS file"}],
                        data_root=sim[0])


@pytest.fixture(scope="module")
def report_file(report, tmp_path_factory):
    path = tmp_path_factory.mktemp("report_html") / "report.html"
    path.write_text(report.html, encoding="utf-8")
    return path


# -- HTML -----------------------------------------------------------------------------------------
def test_html_sections_provenance_and_offline(report, sim):
    html = report.html
    assert report.section_titles == SECTION_TITLES
    for title in SECTION_TITLES:
        assert f"<h2>{title}</h2>" in html, title
    for key in KEYS:
        assert html.count(f"<h3>{key}</h3>") == 3  # readnoise, 1/f and reference pixels of each detector
    assert html.count('<div class="how">') >= 5  # a "how computed" note in every science section
    # Provenance: every input's SHA-256 (computed here independently), size, and the versions.
    for p in sim[1]:
        digest = hashlib.sha256(p.read_bytes()).hexdigest()
        assert digest in html, p.name
        assert re.search(rf"<td[^>]*>{re.escape(p.name)}</td>", html)
        assert f'<td class="num">{p.stat().st_size}</td>' in html
    for pkg in ("jwst", "jwst_reffiles", "numpy", "astropy"):
        assert re.search(rf"<td>{re.escape(pkg)}</td><td>{re.escape(version(pkg))}</td>", html), pkg
    assert f"<td>NIRCam darks app (core)</td><td>{__version__}</td>" in html
    assert "junk_uncal.fits" in html and "not a FITS file" in html
    assert "2023-02-25T00:00:00" in html  # start time (DATE-OBS/TIME-OBS) of the first exposure
    # Units are spelled out.
    for unit in ("median (DN, CDS)", "median per read (DN)", "white (DN rms, CDS)", "instability (DN/read)",
                 "DN²/Hz"):
        assert unit in html, unit
    # Self-contained: no external script, style, image or frame, no CSS import.
    assert not re.search(r"<(script|link|img|iframe|source|embed|object)\b[^>]*\b(src|href|data)\s*=\s*[\"']?\s*"
                         r"(https?:)?//", html, re.I)
    assert not re.search(r"@import|url\(\s*[\"']?(https?:)?//", html, re.I)
    assert html.count("<script src") == 0 and html.count("<link") == 0
    # One shared vega bundle, one chart container and spec per chart, all images inline.
    assert html.count("window.vegaEmbed=") == 1
    n = len(report.charts)
    assert n == 2 * (1 + 4 + 4)  # per detector: histogram; 1/f x4 (with side correction); refpix x4
    assert html.count('class="vchart"') == n
    assert html.count('type="application/json"') == n
    markup = re.sub(r"<script\b.*?</script>", "", html, flags=re.S)  # the JS bundle's own templates aside
    # a readnoise map and a banding image per detector, all inline
    assert markup.count("<img ") == markup.count('src="data:image/png;base64,') == 2 * 2
    assert len(html) < 6e6


def test_chart_data_keep_their_precision(report, results):
    """Specs are compacted (fewer digits), but exposure start times (MJD) must stay apart."""
    seen = set()
    for chart in report.charts:
        for rows in chart["spec"].get("datasets", {}).values():
            seen |= {r["expstart"] for r in rows if isinstance(r, dict) and r.get("expstart") is not None}
    expected = {f.expstart for res in results for f in res.group.files}
    assert len(expected) == 2  # the two exposures of each detector are an hour apart
    assert len(seen) >= 2 and all(min(abs(v - e) for e in expected) < 1e-5 for v in seen)  # < 1 s


# -- browser --------------------------------------------------------------------------------------
@pytest.mark.browser
def test_html_renders_every_chart_offline(report, report_file, tmp_path):
    if not Path("/usr/bin/chromium").exists():
        pytest.skip("/usr/bin/chromium is missing")
    from tests.browser import chromium

    blocked, console_errors, page_errors = [], [], []

    def route(r):
        if r.request.url.startswith("file://"):
            r.continue_()
        else:
            blocked.append(r.request.url)
            r.abort()

    with chromium(viewport=(1400, 1000)) as ctx:
        ctx.route("**/*", route)
        page = ctx.new_page()
        page.on("console", lambda m: console_errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: page_errors.append(str(e)))
        page.goto(report_file.as_uri())
        n = len(report.charts)
        page.wait_for_function(f"document.querySelectorAll('div.vchart[data-rendered]').length === {n}",
                               timeout=60_000)
        states = page.eval_on_selector_all("div.vchart", "els => els.map(e => e.getAttribute('data-rendered'))")
        drawn = page.locator("div.vchart svg.marks, div.vchart canvas.marks").count()
        page.screenshot(path=str(tmp_path / "report_top.png"))
    assert states == ["ok"] * n
    assert drawn == n
    assert not blocked, blocked
    assert not console_errors, console_errors
    assert not page_errors, page_errors


# -- PDF ------------------------------------------------------------------------------------------
def _page_count(pdf: bytes) -> int:
    try:
        from pypdf import PdfReader

        return len(PdfReader(io.BytesIO(pdf)).pages)
    except ImportError:
        return len(re.findall(rb"/Type\s*/Page\b(?!s)", pdf))


def test_pdf_pages_and_text(report, tmp_path):
    pdf = report.pdf_bytes()
    assert pdf.startswith(b"%PDF") and pdf.rstrip().endswith(b"%%EOF")
    assert report.pdf_bytes() is pdf  # built once
    n_h3 = sum(b.kind == "h3" for s in report.sections for b in s.blocks)
    n_sections = len(report.sections)
    pages = _page_count(pdf)
    # Every section starts a page and so does every detector after the first one in a section.
    assert pages >= n_sections + n_h3 - 3, pages
    path = tmp_path / "report.pdf"
    path.write_bytes(pdf)
    if shutil.which("pdftotext"):
        text = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True,
                              check=True).stdout
        for title in SECTION_TITLES:
            assert title in text, title
        assert "DN, CDS" in text and "SHA-256" in text
    if not shutil.which("pdftoppm"):
        pytest.skip("pdftoppm (poppler-utils) is missing: PDF pages not rasterised")
    subprocess.run(["pdftoppm", "-r", "40", "-png", "-f", "1", "-l", "3", str(path), str(tmp_path / "page")],
                   check=True, timeout=120)
    from PIL import Image

    pngs = sorted(tmp_path.glob("page-*.png"))
    assert len(pngs) == 3
    for p in pngs:
        img = np.asarray(Image.open(p).convert("L"), dtype=float)
        assert img.shape[1] > img.shape[0]  # A4 landscape
        assert img.std() > 5  # not blank


# -- ZIP ------------------------------------------------------------------------------------------
def test_zip_bundle(report, results, tmp_path):
    from stdatamodels.jwst import datamodels

    z = zipfile.ZipFile(io.BytesIO(report.zip_bytes()))
    names = set(z.namelist())
    assert {"report.html", "report.pdf", "summary.json", "run.yaml"} <= names
    assert z.read("report.html").decode() == report.html
    assert z.read("report.pdf") == report.pdf_bytes()
    for res in results:
        key = res.group.key
        expected = {f"{key}/readnoise_{key}.fits"}
        expected |= {f"{key}/{t}_{key}.csv" for t in res.readnoise.tables()}
        for section in res.sections.values():
            expected |= {f"{key}/{t}_{key}.csv" for t in section.tables()}
        assert expected <= names, expected - names
        fits_path = tmp_path / f"readnoise_{key}.fits"
        fits_path.write_bytes(z.read(f"{key}/readnoise_{key}.fits"))
        with datamodels.ReadnoiseModel(str(fits_path)) as m:
            assert m.data.shape == (256, 2048)
            assert m.meta.instrument.detector == key.split("_")[0]
        amps = pd.read_csv(io.BytesIO(z.read(f"{key}/readnoise_amps_{key}.csv")))
        assert np.allclose(amps["median"], res.readnoise.amp_table["median"])
    summary = json.loads(z.read("summary.json"))
    assert sorted(summary["detectors"]) == KEYS
    assert summary["rejected"] == [{"file": "junk_uncal.fits", "reason": "not a FITS file"}]
    assert {f["SHA-256"] for f in summary["provenance"]["files"]} == {
        hashlib.sha256(p.read_bytes()).hexdigest() for res in results for p in res.group.paths}


# -- run.yaml ---------------------------------------------------------------------------------------
def test_run_yaml_round_trip(sim, tmp_path, monkeypatch):
    monkeypatch.delenv("DARKS_DATA_ROOT", raising=False)
    root, paths = sim
    outside = tmp_path / "elsewhere_uncal.fits"
    files = list(paths) + [outside]
    opts = AnalysisOptions(
        readnoise=ReadnoiseParams(method="ramp", group_diff_type="consecutive", clipping_sigma=2.5,
                                  max_clipping_iters=5, slice_width=64, engine="native", mode="unbiased"),
        crds=CrdsMeta(author="A. Tester", pedigree="INFLIGHT", description="round trip"),
        reference=root / "ref" / "readnoise.fits",
        sections=("onef", "refpix"),
        section_params={"onef": OneFParams(diff_type="independent", refpix_correct=True),
                        "refpix": RefPixParams(flag_sigma=4.0)})
    text = run_config_yaml(files, opts, data_root=root)
    assert "- set/" + paths[0].name in text  # inside the root: relative
    assert str(outside) in text  # outside: absolute
    (tmp_path / "run.yaml").write_text(text)
    got_files, got = load_run_config(tmp_path / "run.yaml", data_root=root)
    assert got_files == files
    assert got == opts
    # Without a data root given, the one recorded in the file is used.
    got_files, got = load_run_config(tmp_path / "run.yaml")
    assert got_files == files and got == opts
    # Defaults are written out in full, so a later change of a default does not change the run.
    text = run_config_yaml(paths, OPTS, data_root=root)
    (tmp_path / "defaults.yaml").write_text(text)
    _, got = load_run_config(tmp_path / "defaults.yaml", data_root=root)
    assert got.readnoise == OPTS.readnoise and got.sections == OPTS.sections
    assert got.section_params == {"onef": OneFParams(), "refpix": RefPixParams()}
    # Bad content is refused with a message.
    (tmp_path / "bad.yaml").write_text("files: []\nreadnoise: {clipping_sigma: 3, colour: red}\n")
    with pytest.raises(ParameterError, match="colour"):
        load_run_config(tmp_path / "bad.yaml")
    (tmp_path / "bad2.yaml").write_text("files: []\nreadnoise: {clipping_sigma: -1}\n")
    with pytest.raises(ParameterError, match="clipping sigma"):
        load_run_config(tmp_path / "bad2.yaml")


# -- CLI --------------------------------------------------------------------------------------------
def test_cli_report_from_run_yaml(sim, tmp_path):
    """`python -m core report --config run.yaml` (one detector, to stay quick), an option overriding it."""
    root, paths = sim
    a1 = [p for p in paths if "nrca1" in p.name]
    cfg = tmp_path / "run.yaml"
    cfg.write_text(run_config_yaml(a1, OPTS, data_root=root))
    out = tmp_path / "out"
    r = subprocess.run([sys.executable, "-m", "core", "report", "--config", str(cfg), "--out", str(out),
                        "--clip-sigma", "2.5", "--quiet"], cwd=ROOT, capture_output=True, text=True, timeout=600,
                       env={**os.environ, "DARKS_DATA_ROOT": str(root)})
    assert r.returncode == 0, r.stderr
    for name in ("report.html", "report.pdf", "bundle.zip", "summary.json", "run.yaml"):
        assert (out / name).stat().st_size > 0, name
    assert (out / "NRCA1_SUBGRISM256" / "readnoise_NRCA1_SUBGRISM256.fits").exists()  # what analyze writes
    summary = json.loads((out / "summary.json").read_text())
    assert list(summary["detectors"]) == ["NRCA1_SUBGRISM256"]
    rn = summary["detectors"]["NRCA1_SUBGRISM256"]["readnoise"]
    assert rn["params"]["clipping_sigma"] == 2.5
    assert set(summary["detectors"]["NRCA1_SUBGRISM256"]) >= {"onef", "refpix"}
    assert "<h2>Reference pixels</h2>" in (out / "report.html").read_text()
    files, opts = load_run_config(out / "run.yaml", data_root=root)  # the run it wrote reproduces itself
    assert files == a1 and opts.readnoise.clipping_sigma == 2.5 and opts.sections == OPTS.sections
    assert set(zipfile.ZipFile(out / "bundle.zip").namelist()) >= {"report.html", "report.pdf", "summary.json"}


def test_parameters_per_result_and_no_row_for_unrequested_sections(results, sim):
    """Two detectors whose readnoise was made with different parameters: each row states its own; the
    Rest 2014 section, not requested, gets no row; without errors there is no Errors section."""
    from dataclasses import replace

    from core.readnoise import ReadnoiseParams

    mixed = [replace(results[0], readnoise=replace(results[0].readnoise, params=ReadnoiseParams(mode="unbiased"))),
             results[1]]
    rep = build_report(mixed, OPTS, data_root=sim[0])
    params = next(s for s in rep.sections if s.title == "Parameters")
    rn_table = next(bl for bl in params.blocks if bl.kind == "table" and "Readnoise parameters" in bl.text)
    modes = dict(zip(rn_table.table["detector"], rn_table.table["mode"]))
    assert modes == {KEYS[0]: "unbiased", KEYS[1]: "compatible"}
    assert any(bl.kind == "warn" and "different parameters" in bl.text for bl in params.blocks)
    assert "Readnoise (Rest et al. 2014)" not in rep.html and "not requested" not in rep.html
    assert "Errors" not in rep.section_titles


def test_mixed_parameters_get_one_run_yaml_each(sim, results, tmp_path, monkeypatch):
    """Two detector groups computed with different readnoise modes (and 1/f differences): the
    Parameters section shows each group's own, and run-1.yaml / run-2.yaml each reproduce one
    set with its own files."""
    from dataclasses import replace

    root, _ = sim
    a, b = results
    other_opts = replace(OPTS, readnoise=ReadnoiseParams(mode="unbiased"),
                         section_params={"onef": OneFParams(diff_type="independent")})
    b2 = analyze_group(b.group, other_opts)
    assert not b2.errors
    rep = build_report([a, b2], OPTS, data_root=root)
    assert sorted(rep.run_yamls) == ["run-1.yaml", "run-2.yaml"]
    monkeypatch.setenv("DARKS_DATA_ROOT", str(root))
    loaded = {}
    for name, text in rep.run_yamls.items():
        cfg = tmp_path / name
        cfg.write_text(text)
        files, opts = load_run_config(cfg)
        loaded[opts.readnoise.mode] = ({Path(f).name for f in files}, opts.section_params["onef"].diff_type)
    assert loaded["compatible"] == ({f.name for f in a.group.files}, "consecutive")
    assert loaded["unbiased"] == ({f.name for f in b.group.files}, "independent")
    params_html = rep.html.split("<h2>Parameters</h2>")[1].split("<h2>")[0]
    assert "unbiased" in params_html and "compatible" in params_html
    assert "diff_type=independent" in params_html and "diff_type=consecutive" in params_html
    with zipfile.ZipFile(io.BytesIO(rep.zip_bytes())) as z:
        assert {"run-1.yaml", "run-2.yaml"} <= set(z.namelist()) and "run.yaml" not in z.namelist()
    assert list(build_report(results, OPTS, data_root=root).run_yamls) == ["run.yaml"]  # one set: one file
