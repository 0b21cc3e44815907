"""Reports of an analysis: self-contained HTML, PDF and a ZIP bundle, and ``run.yaml`` that reproduces
a run.

:mod:`.build` assembles a report (:func:`build_report`, :func:`write_report`) from the sections of
:mod:`.sections`, built on the content model of :mod:`.blocks` and rendered by :mod:`.html` and
:mod:`.pdf` (charts through :mod:`.vega`); :mod:`.provenance` holds file checksums and software
versions, :mod:`.config` writes and reads ``run.yaml``, and :mod:`.texts` the words shown beside the
numbers."""

from core.report.build import Report, build_report, write_report
from core.report.config import load_run_config, run_config_yaml
from core.report.provenance import file_provenance, sha256_file, software_versions
from core.report.texts import CHART_HELP, HOW_COMPUTED, SECTION_TITLES, UNITS_NOTE
from core.report.vega import chart_png

__all__ = [
    "CHART_HELP", "HOW_COMPUTED", "Report", "SECTION_TITLES", "UNITS_NOTE", "build_report", "chart_png",
    "file_provenance", "load_run_config", "run_config_yaml", "sha256_file", "software_versions", "write_report",
]
