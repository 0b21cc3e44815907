"""Reports of an analysis: self-contained HTML, PDF and a ZIP bundle (:mod:`.build`), the words shown
beside the numbers (:mod:`.texts`), and ``run.yaml`` that reproduces a run."""

from core.report.build import (
    Report,
    build_report,
    chart_png,
    file_provenance,
    load_run_config,
    run_config_yaml,
    sha256_file,
    software_versions,
    write_report,
)
from core.report.texts import CHART_HELP, HOW_COMPUTED, SECTION_TITLES, UNITS_NOTE

__all__ = [
    "CHART_HELP", "HOW_COMPUTED", "Report", "SECTION_TITLES", "UNITS_NOTE", "build_report", "chart_png",
    "file_provenance", "load_run_config", "run_config_yaml", "sha256_file", "software_versions", "write_report",
]
