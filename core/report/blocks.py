"""The content model of a report, shared by the HTML and the PDF renderers: a report is a list of
:class:`Section` s of :class:`Block` s (headings, paragraphs, notes, metrics, tables, images,
charts), collected by a :class:`Builder` that also numbers the charts."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from core.report.texts import SECTION_TITLES


@dataclass
class Block:
    """One piece of a section: ``kind`` in h3, p, note, warn, metrics, table, image, chart, how."""

    kind: str
    text: str = ""
    table: pd.DataFrame | None = None
    items: list = field(default_factory=list)  # metrics: [(label, value)]
    png: bytes = b""
    png_dpi: float = 110.0
    spec: dict | None = None
    chart_id: str = ""
    formats: dict = field(default_factory=dict)  # table column -> format spec


@dataclass
class Section:
    """A titled part of a report; ``id`` is its HTML anchor."""

    id: str
    title: str
    blocks: list[Block] = field(default_factory=list)


def fmt_value(v, fmt: str | None = None) -> str:
    """A number or value as shown in the report (``fmt``: a format spec for floats; NaN, None -> n/a)."""
    if v is None or v is pd.NA:
        return "n/a"
    if isinstance(v, (bool, np.bool_)):
        return "yes" if v else "no"
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    if isinstance(v, (float, np.floating)):
        v = float(v)
        if not math.isfinite(v):
            return "n/a"
        if fmt:
            return format(v, fmt)
        if v == 0:
            return "0"
        a = abs(v)
        if a >= 1e4 and a < 1e8:
            return f"{v:.1f}"
        return f"{v:.4g}"
    return str(v)


def table_cells(block: Block) -> tuple[list[str], list[list[str]], set[int]]:
    """A table block as text: (headers, rows of cells, indices of numeric columns)."""
    df = block.table
    headers = [str(c) for c in df.columns]
    rows = [[fmt_value(v, block.formats.get(c)) for c, v in zip(df.columns, r)] for r in df.itertuples(index=False)]
    numeric = {i for i, c in enumerate(df.columns) if pd.api.types.is_numeric_dtype(df[c])
               and not pd.api.types.is_bool_dtype(df[c])}
    return headers, rows, numeric


def _compact(obj, digits: int = 10):
    """Round floats to ``digits`` significant digits (smaller specs; 10 keeps MJD to 1 s); NaN/inf -> None."""
    if isinstance(obj, float):
        if not math.isfinite(obj):
            return None
        return float(f"{obj:.{digits}g}")
    if isinstance(obj, dict):
        return {k: _compact(v, digits) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_compact(v, digits) for v in obj]
    return obj


class Builder:
    """Collects sections and numbers charts."""

    def __init__(self):
        self.sections: list[Section] = []
        self.charts: list[dict] = []

    def section(self, key: str, title: str | None = None) -> Section:
        s = Section(f"sec-{re.sub(r'[^a-z0-9]+', '-', key.lower()).strip('-')}", title or SECTION_TITLES.get(key, key))
        self.sections.append(s)
        return s

    def chart(self, sec: Section, chart, caption: str = "") -> None:
        if chart is None:
            return
        from core.render.style import styled

        spec = _compact(styled(chart).to_dict())
        cid = f"chart-{len(self.charts) + 1}"
        title = spec.get("title")
        title = title.get("text") if isinstance(title, dict) else title
        self.charts.append({"id": cid, "title": str(title or caption or cid), "spec": spec})
        sec.blocks.append(Block("chart", text=caption, spec=spec, chart_id=cid))


def table_block(df: pd.DataFrame, caption: str = "", formats: dict | None = None, max_rows: int | None = None) -> Block:
    """A table block of ``df``; past ``max_rows`` rows it is cut and the caption says so."""
    total = len(df)
    if max_rows is not None and total > max_rows:
        df = df.head(max_rows)
        caption = (caption + " " if caption else "") + f"(first {max_rows} of {total} rows; all in the CSV)"
    return Block("table", text=caption, table=df.reset_index(drop=True), formats=formats or {})


def amp_columns(x0, x1) -> str:
    """An amplifier's column range [x0, x1) as shown: ``"x0-(x1-1)"``."""
    return f"{int(x0)}-{int(x1) - 1}"
