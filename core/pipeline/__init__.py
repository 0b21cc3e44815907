"""Orchestration: the section registry (:mod:`.registry`), running a detector group's sections
locally or on a Dask cluster (:mod:`.run`, :mod:`.cluster`), the on-disk result store
(:mod:`.store`), the all-detector overview table (:mod:`.overview`) and the one-time warm-up of a
process (:mod:`.warm`)."""

from core.pipeline.registry import ALL_SECTIONS, READNOISE, SECTIONS, SectionSpec, section
from core.pipeline.run import (
    AnalysisOptions,
    GroupResult,
    analyze_group,
    analyze_on_cluster,
    run_analysis,
    write_group_products,
)
from core.pipeline.store import ResultStore, file_ids
from core.pipeline.warm import preload, warm_up

__all__ = [
    "ALL_SECTIONS", "READNOISE", "SECTIONS", "AnalysisOptions", "GroupResult", "ResultStore", "SectionSpec",
    "analyze_group", "analyze_on_cluster", "file_ids", "preload", "run_analysis", "section", "warm_up",
    "write_group_products",
]
