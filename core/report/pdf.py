"""The PDF report: the same content as the HTML on A4 landscape pages (matplotlib ``PdfPages``);
charts as static PNGs (vl-convert ``vegalite_to_png``).  Every section starts on a new page, and so
does every detector within a section."""

from __future__ import annotations

import io
import re
import textwrap

import numpy as np

from core import __version__
from core.report.blocks import Section, table_cells
from core.report.vega import CHART_PNG_SCALE, PNG_CSS_DPI, chart_png


def _plain(text: str) -> str:
    return re.sub(r"\*\*(.+?)\*\*", r"\1", text)


class _PdfFlow:
    """A minimal top-to-bottom page layout on matplotlib figures (inches from the page top)."""

    W, H = 11.69, 8.27  # A4 landscape
    ML, MR, MT, MB = 0.55, 0.55, 0.5, 0.6
    CHAR = 0.53  # average glyph width of DejaVu Sans, in ems

    def __init__(self, pdf, title: str):
        self.pdf, self.title = pdf, title
        self.fig = None
        self.page = 0
        self.section = ""
        self.y = self.MT
        self.fresh = True

    @property
    def width(self) -> float:
        return self.W - self.ML - self.MR

    @property
    def room(self) -> float:
        return self.H - self.MB - self.y

    def new_page(self):
        from matplotlib.figure import Figure

        self.finish()
        self.fig = Figure(figsize=(self.W, self.H))
        self.page += 1
        self.y, self.fresh = self.MT, True

    def finish(self):
        if self.fig is None:
            return
        self.fig.text(self.ML / self.W, 0.3 / self.H, f"{self.title} — {self.section}", fontsize=7.5, color="0.45")
        self.fig.text(1 - self.MR / self.W, 0.3 / self.H, f"page {self.page}", fontsize=7.5, color="0.45",
                      ha="right")
        self.pdf.savefig(self.fig)
        self.fig = None

    def ensure(self, h: float):
        if self.fig is None or (h > self.room and not self.fresh):
            self.new_page()

    def _fy(self, y: float) -> float:
        return 1 - y / self.H

    def text(self, s: str, size: float = 9.0, weight: str = "normal", color="black", style="normal",
             indent: float = 0.0, gap: float = 0.08, box: bool = False, width: float | None = None):
        width = (width or self.width) - indent - (0.2 if box else 0)
        chars = max(20, int(width / (self.CHAR * size / 72)))
        lines = []
        for para in _plain(s).split("\n"):
            lines.extend(textwrap.wrap(para, chars) or [""])
        lh = 1.32 * size / 72
        while lines:
            self.ensure(min(len(lines), 3) * lh + (0.12 if box else 0))
            n = max(1, min(len(lines), int((self.room - (0.12 if box else 0)) / lh)))
            chunk, lines = lines[:n], lines[n:]
            pad = 0.06 if box else 0
            t = self.fig.text((self.ML + indent + pad + (0.04 if box else 0)) / self.W, self._fy(self.y + pad),
                              "\n".join(chunk), fontsize=size, fontweight=weight, color=color, style=style,
                              va="top", ha="left", linespacing=1.32)
            h = len(chunk) * lh + 2 * pad
            if box:
                from matplotlib.patches import Rectangle

                self.fig.add_artist(Rectangle(((self.ML + indent) / self.W, self._fy(self.y + h)),
                                              (width + 0.2) / self.W, h / self.H, transform=self.fig.transFigure,
                                              facecolor="#f0f4f9", edgecolor="#9fb6d3", lw=0.6, zorder=0))
                t.set_zorder(1)
            self.y += h + gap
            self.fresh = False
            if lines:
                self.new_page()

    def heading(self, s: str, level: int):
        size = {1: 20, 2: 16, 3: 12.5}[level]
        self.ensure(0.9)
        self.text(s, size=size, weight="bold", color="#1d2330" if level < 3 else "#33415c", gap=0.12)
        if level == 2:
            from matplotlib.lines import Line2D

            self.fig.add_artist(Line2D([self.ML / self.W, 1 - self.MR / self.W], [self._fy(self.y - 0.07)] * 2,
                                       transform=self.fig.transFigure, color="#4c78a8", lw=1.2))
            self.y += 0.05

    def table(self, headers: list[str], rows: list[list[str]], numeric: set[int], caption: str = ""):
        from matplotlib.lines import Line2D
        from matplotlib.patches import Rectangle

        rows = [[c if len(c) <= 72 else c[:34] + "…" + c[-34:] for c in r] for r in rows]

        shown = [h.replace("_", " ") for h in headers]  # lets long CSV-style names wrap

        def layout(size):
            head = []
            widths = []
            for i, h in enumerate(shown):
                cw = (0.62 if headers[i] == "SHA-256" else self.CHAR * 1.08) * size / 72
                longest = max([len(r[i]) for r in rows] + [4])
                lines = textwrap.wrap(h, max(longest, 10, max((len(w) for w in h.split()), default=1))) or [""]
                head.append(lines)
                widths.append(max(longest * cw, max(len(x) for x in lines) * self.CHAR * 1.1 * size / 72) + 0.14)
            return head, widths

        size = 7.5
        head, widths = layout(size)
        while sum(widths) > self.width and size > 6.0:
            size -= 0.5
            head, widths = layout(size)
        if sum(widths) > self.width and len(headers) > 2:  # still too wide: split the columns, key column kept
            cut, acc = 1, widths[0]
            while cut < len(headers) and acc + widths[cut] <= self.width:
                acc += widths[cut]
                cut += 1
            cut = max(cut, 2)
            self.table(headers[:cut], [r[:cut] for r in rows], {i for i in numeric if i < cut}, caption)
            rest = [0] + list(range(cut, len(headers)))
            self.table([headers[i] for i in rest], [[r[i] for i in rest] for r in rows],
                       {j for j, i in enumerate(rest) if i in numeric}, (caption + " (continued)").strip())
            return
        rh = 1.55 * size / 72
        hh = max(len(x) for x in head) * 1.25 * size / 72 + 0.08
        cap_h = 0.25 if caption else 0
        whole = cap_h + hh + len(rows) * rh + 0.1
        if self.fig is not None and not self.fresh and whole > self.room and whole <= self.H - self.MT - self.MB:
            self.new_page()  # a table that fits on one page is not split
        start = 0
        while True:
            self.ensure(cap_h + hh + min(len(rows), 3) * rh + 0.1)
            if caption:
                self.fig.text(self.ML / self.W, self._fy(self.y), _plain(caption), fontsize=8.5, fontweight="bold",
                              color="#33415c", va="top")
                self.y += cap_h
            n = max(1, min(len(rows) - start, int((self.room - hh - 0.05) / rh)))
            x = self.ML
            xs = []
            for w in widths:
                xs.append(x)
                x += w
            total_w = sum(widths)
            self.fig.add_artist(Rectangle((self.ML / self.W, self._fy(self.y + hh)), total_w / self.W, hh / self.H,
                                          transform=self.fig.transFigure, facecolor="#e6ecf5", lw=0))
            for i, lines in enumerate(head):
                xx = xs[i] + widths[i] - 0.07 if i in numeric else xs[i] + 0.07
                self.fig.text(xx / self.W, self._fy(self.y + 0.04), "\n".join(lines), fontsize=size, fontweight="bold",
                              va="top", ha="right" if i in numeric else "left", linespacing=1.15)
            self.y += hh
            for j, r in enumerate(rows[start:start + n]):
                if j % 2:
                    self.fig.add_artist(Rectangle((self.ML / self.W, self._fy(self.y + rh)), total_w / self.W,
                                                  rh / self.H, transform=self.fig.transFigure, facecolor="#f5f7fb",
                                                  lw=0))
                for i, v in enumerate(r):
                    xx = xs[i] + widths[i] - 0.07 if i in numeric else xs[i] + 0.07
                    self.fig.text(xx / self.W, self._fy(self.y + rh / 2), v, fontsize=size, va="center",
                                  ha="right" if i in numeric else "left",
                                  family="DejaVu Sans Mono" if headers[i] == "SHA-256" else None)
                self.y += rh
            self.fig.add_artist(Line2D([self.ML / self.W, (self.ML + total_w) / self.W], [self._fy(self.y)] * 2,
                                       transform=self.fig.transFigure, color="0.6", lw=0.6))
            self.y += 0.18
            self.fresh = False
            start += n
            if start >= len(rows):
                break
            caption = (_plain(caption) + " (continued)") if caption and "(continued)" not in caption else caption
            self.new_page()

    def image(self, png: bytes, dpi: float, caption: str = ""):
        from PIL import Image

        arr = np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))
        ph, pw = arr.shape[:2]
        cap_lines = len(textwrap.wrap(_plain(caption), int(self.width / (self.CHAR * 8 / 72)))) if caption else 0
        cap_h = cap_lines * 1.32 * 8 / 72 + (0.1 if caption else 0)
        w = min(self.width, pw / dpi)
        h = w * ph / pw
        full = self.H - self.MT - self.MB - cap_h - 0.1
        if h > full:
            h, w = full, full * pw / ph
        if self.fig is not None and not self.fresh and h + cap_h > self.room >= 0.65 * (h + cap_h):
            h = self.room - cap_h
            w = h * pw / ph
        self.ensure(h + cap_h)
        if h > self.room - cap_h:
            h = max(1.0, self.room - cap_h)
            w = h * pw / ph
        ax = self.fig.add_axes([self.ML / self.W, self._fy(self.y + h), w / self.W, h / self.H])
        ax.imshow(arr, interpolation="none", aspect="auto")
        ax.set_axis_off()
        self.y += h + 0.06
        self.fresh = False
        if caption:
            self.text(caption, size=8, color="0.3", gap=0.16)


def render_pdf(title: str, created: str, sections: list[Section]) -> bytes:
    """The PDF of a report: a title block, then every section from a new page."""
    from matplotlib.backends.backend_pdf import PdfPages

    buf = io.BytesIO()
    meta = {"Title": title, "Creator": f"NIRCam darks app {__version__}"}
    chart_pngs: dict[str, bytes] = {}
    with PdfPages(buf, metadata=meta) as pdf:
        flow = _PdfFlow(pdf, title)
        for k, s in enumerate(sections):
            flow.new_page()
            flow.section = s.title
            if k == 0:
                flow.heading(title, 1)
                flow.text(f"Made {created} UTC by the NIRCam darks app {__version__}. Sections: "
                          + ", ".join(x.title for x in sections) + ".", size=9.5, color="0.3", gap=0.2)
            flow.heading(s.title, 2)
            seen_h3 = False
            for b in s.blocks:
                if b.kind == "h3":
                    if seen_h3 and not flow.fresh:
                        flow.new_page()
                    seen_h3 = True
                    flow.heading(f"{s.title} — {b.text}", 3)
                elif b.kind == "p":
                    flow.text(b.text)
                elif b.kind == "note":
                    flow.text("Note: " + b.text, color="#23507d")
                elif b.kind == "warn":
                    flow.text("Warning: " + b.text, color="#9a5b00")
                elif b.kind == "how":
                    flow.text("How computed. " + b.text, size=8.5, box=True, gap=0.16)
                elif b.kind == "metrics":
                    flow.text("     ".join(f"{lab}: {val}" for lab, val in b.items), size=9.5, weight="bold",
                              gap=0.12)
                elif b.kind == "table":
                    headers, rows, numeric = table_cells(b)
                    flow.table(headers, rows, numeric, b.text)
                elif b.kind == "image":
                    flow.image(b.png, b.png_dpi, b.text)
                elif b.kind == "chart":
                    png = chart_pngs.get(b.chart_id) or chart_png(b.spec)
                    chart_pngs[b.chart_id] = png
                    flow.image(png, PNG_CSS_DPI * CHART_PNG_SCALE, b.text)
        flow.finish()
    return buf.getvalue()
