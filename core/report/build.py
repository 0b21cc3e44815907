"""Self-contained reports of an analysis: HTML (offline, interactive charts), PDF and a ZIP bundle.

:func:`build_report` collects the sections (:mod:`.sections`, on the content model of
:mod:`.blocks`) and renders them as HTML (:mod:`.html`); the :class:`Report` renders the PDF
(:mod:`.pdf`) and the ZIP on demand.  The **ZIP** holds ``report.html``, ``report.pdf``,
``run.yaml`` (:mod:`.config`), ``summary.json`` and, per detector group, exactly what
``python -m core analyze`` writes (CRDS READNOISE FITS, every table as CSV).
:func:`write_report` runs the analysis and writes all of it into a folder.
"""

from __future__ import annotations

import datetime as _dt
import io
import json
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from core.pipeline.run import AnalysisOptions, GroupResult, run_analysis, write_group_products
from core.report.blocks import Builder, Section
from core.report.config import load_run_config, run_config_yaml, run_configs
from core.report.html import render_html
from core.report.pdf import render_pdf
from core.report.provenance import file_provenance, sha256_file, software_versions
from core.report.sections import add_sections
from core.report.texts import HOW_COMPUTED
from core.report.vega import chart_png
from core.runtime import Progress
from core.stats import json_safe


@dataclass
class Report:
    """A built report: ``html`` now; ``pdf_bytes()`` and ``zip_bytes()`` on demand (cached)."""

    title: str
    html: str
    sections: list[Section]
    charts: list[dict]
    created: str
    group_results: list[GroupResult]
    opts: AnalysisOptions
    rejected: list[dict]
    provenance: dict
    run_yaml: str  # the first of run_yamls (the only one unless the results' parameters differ)
    run_yamls: dict = field(default_factory=dict)  # file name -> run.yaml text, one per parameter set
    _pdf: bytes | None = field(default=None, repr=False)

    @property
    def section_titles(self) -> list[str]:
        return [s.title for s in self.sections]

    def pdf_bytes(self) -> bytes:
        if self._pdf is None:
            self._pdf = render_pdf(self.title, self.created, self.sections)
        return self._pdf

    def zip_bytes(self) -> bytes:
        """report.html, report.pdf, run.yaml, summary.json and per group the FITS and every table (CSV)."""
        buf = io.BytesIO()
        with tempfile.TemporaryDirectory() as tmp, zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
            tmp = Path(tmp)
            summary = {"detectors": {}, "rejected": list(self.rejected)}
            for res in self.group_results:
                summary["detectors"][res.group.key] = write_group_products(res, tmp)
            summary["provenance"] = self.provenance
            z.writestr("report.html", self.html)
            z.writestr("report.pdf", self.pdf_bytes())
            for name, text in (self.run_yamls or {"run.yaml": self.run_yaml}).items():
                z.writestr(name, text)
            z.writestr("summary.json", json.dumps(json_safe(summary), indent=1, default=str))
            for p in sorted(tmp.rglob("*")):
                if p.is_file():
                    z.write(p, p.relative_to(tmp).as_posix())
        return buf.getvalue()


def build_report(group_results: list[GroupResult], opts: AnalysisOptions, rejected: list[dict] | None = None,
                 title: str = "NIRCam darks report", data_root=None, created: str | None = None) -> Report:
    """Build the report of analysed detector groups (:func:`core.pipeline.run.analyze_group` results).

    ``rejected``: ``[{"file", "reason"}]`` of files that were not analysed.  ``data_root``: paths
    are shown (and written to run.yaml) relative to it; default ``$DARKS_DATA_ROOT``.
    """
    results = list(group_results)
    rejected = [dict(r) for r in (rejected or [])]
    created = created or _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%dT%H:%M:%S")
    versions = software_versions()
    files = file_provenance(results, data_root)

    b = Builder()
    add_sections(b, results, opts, files, versions, created, rejected)

    provenance = {"created_utc": created, "versions": versions,
                  "files": json.loads(files.to_json(orient="records")), "title": title}
    run_yamls = run_configs(results, opts, data_root)
    html = render_html(title, created, b.sections, b.charts)
    return Report(title, html, b.sections, b.charts, created, results, opts, rejected, provenance,
                  next(iter(run_yamls.values())), run_yamls)


def write_report(paths, out_dir, opts: AnalysisOptions, progress: Progress | None = None, store=None,
                 title: str = "NIRCam darks report", data_root=None) -> dict:
    """Analyse ``paths`` like ``python -m core analyze`` (same products and summary.json) and write
    ``report.html``, ``report.pdf``, ``bundle.zip`` and ``run.yaml`` into ``out_dir``; return the summary."""
    progress = progress or (lambda f, m: None)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    results: list[GroupResult] = []
    summary = run_analysis(paths, out, opts, lambda f, m: progress(0.8 * f, m), store=store, results=results)
    progress(0.8, "report: HTML")
    report = build_report(results, opts, summary["rejected"], title, data_root=data_root)
    (out / "report.html").write_text(report.html, encoding="utf-8")
    progress(0.85, "report: PDF")
    (out / "report.pdf").write_bytes(report.pdf_bytes())
    progress(0.95, "report: ZIP bundle")
    (out / "bundle.zip").write_bytes(report.zip_bytes())
    (out / "run.yaml").write_text(run_config_yaml(paths, opts, data_root), encoding="utf-8")
    progress(1.0, "report: done")
    return summary


__all__ = [  # the names this module had before it was split; the package exports them too
    "HOW_COMPUTED", "Report", "build_report", "chart_png", "file_provenance", "load_run_config", "run_config_yaml",
    "sha256_file", "software_versions", "write_report",
]
