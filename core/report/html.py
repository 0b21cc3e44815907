"""The HTML report: one file that needs no network.  Maps are PNG data URLs; charts are vega-lite
specs drawn by ONE inline vega / vega-lite / vega-embed bundle (from vl-convert), one ``vegaEmbed``
call per chart."""

from __future__ import annotations

import base64
import html as _html
import json
import re

from core import __version__
from core.report.blocks import Block, Section, table_cells
from core.report.vega import vega_bundle

_CSS = """
body{font-family:-apple-system,"Segoe UI",Roboto,"DejaVu Sans",Arial,sans-serif;margin:24px auto;max-width:1280px;
padding:0 16px;color:#1d2330;line-height:1.45}
h1{margin-bottom:4px}h2{border-bottom:2px solid #4c78a8;padding-bottom:4px;margin-top:40px}
h3{margin-top:28px;color:#33415c}.sub{color:#5a6475;margin-top:0}
table{border-collapse:collapse;font-size:13px;margin:6px 0 14px}caption{text-align:left;font-weight:600;
padding:4px 0;color:#33415c}th,td{border:1px solid #d5dae3;padding:3px 7px;vertical-align:top}
th{background:#eef2f8;text-align:left}td{white-space:nowrap}td.wrap{white-space:normal;min-width:260px}td.num{text-align:right;font-variant-numeric:tabular-nums}
tr:nth-child(even) td{background:#fafbfd}.tablewrap{overflow-x:auto}
td.mono{font-family:"DejaVu Sans Mono",Menlo,Consolas,monospace;font-size:12px;white-space:normal;
word-break:break-all;max-width:24em}
.metrics{display:flex;flex-wrap:wrap;gap:10px;margin:8px 0 12px}.metric{border:1px solid #d5dae3;border-radius:6px;
padding:6px 12px;background:#fbfcfe}.metric .l{display:block;font-size:12px;color:#5a6475}.metric .v{font-size:18px;
font-weight:600}
.how{background:#f3f6fa;border-left:4px solid #4c78a8;padding:8px 12px;margin:10px 0;font-size:14px}
.note{background:#eef6ff;border-left:4px solid #7aa6d8;padding:6px 10px}
.warn{background:#fff4e5;border-left:4px solid #e8a33d;padding:6px 10px}
figure{margin:12px 0 20px;overflow-x:auto}figcaption{font-size:13px;color:#4a5365;max-width:1000px}
figure img{max-width:100%;height:auto}nav ol{columns:2}
@media print{h2{page-break-before:always}figure,table{page-break-inside:avoid}}
"""

_EMBED_JS = """
(function(){
  var opts = {actions: false, renderer: "svg", mode: "vega-lite"};
  document.querySelectorAll("div.vchart").forEach(function(el){
    var spec = JSON.parse(document.getElementById(el.getAttribute("data-spec")).textContent);
    vegaEmbed(el, spec, opts).then(function(){ el.setAttribute("data-rendered", "ok"); })
      .catch(function(err){ el.setAttribute("data-rendered", "error");
        el.textContent = "This chart could not be drawn: " + err; console.error(err); });
  });
})();
"""


def _md(text: str) -> str:
    """Escape, then **bold** -> <b>, line breaks kept."""
    return re.sub(r"\*\*(.+?)\*\*", r"<b>\1</b>", _html.escape(text)).replace("\n", "<br>")


def _json_script(obj) -> str:
    return json.dumps(obj, separators=(",", ":"), allow_nan=False).replace("</", "<\\/")


def _html_table(block: Block) -> str:
    headers, rows, numeric = table_cells(block)
    mono = {i for i, h in enumerate(headers) if h == "SHA-256"}
    wrap = {i for i in range(len(headers)) if any(len(r[i]) > 60 for r in rows)}
    out = ['<div class="tablewrap"><table>']
    if block.text:
        out.append(f"<caption>{_html.escape(block.text)}</caption>")
    out.append("<thead><tr>" + "".join(f"<th>{_html.escape(h)}</th>" for h in headers) + "</tr></thead><tbody>")
    for r in rows:
        cells = []
        for i, v in enumerate(r):
            cls = "num" if i in numeric else ("mono" if i in mono else ("wrap" if i in wrap else ""))
            cells.append(f'<td class="{cls}">{_html.escape(v)}</td>' if cls else f"<td>{_html.escape(v)}</td>")
        out.append("<tr>" + "".join(cells) + "</tr>")
    out.append("</tbody></table></div>")
    return "".join(out)


def _html_block(block: Block) -> str:
    k = block.kind
    if k == "h3":
        return f"<h3>{_html.escape(block.text)}</h3>"
    if k == "p":
        return f"<p>{_md(block.text)}</p>"
    if k in ("note", "warn"):
        return f'<p class="{k}">{_md(block.text)}</p>'
    if k == "how":
        return f'<div class="how"><b>How computed.</b> {_md(block.text)}</div>'
    if k == "metrics":
        return '<div class="metrics">' + "".join(
            f'<div class="metric"><span class="l">{_html.escape(str(lab))}</span>'
            f'<span class="v">{_html.escape(str(val))}</span></div>' for lab, val in block.items) + "</div>"
    if k == "table":
        return _html_table(block)
    if k == "image":
        data = base64.b64encode(block.png).decode("ascii")
        cap = f"<figcaption>{_md(block.text)}</figcaption>" if block.text else ""
        return f'<figure><img alt="{_html.escape(block.text)}" src="data:image/png;base64,{data}">{cap}</figure>'
    if k == "chart":
        cap = f"<figcaption>{_md(block.text)}</figcaption>" if block.text else ""
        return (f'<figure><div class="vchart" id="{block.chart_id}" data-spec="{block.chart_id}-spec"></div>'
                f'<script type="application/json" id="{block.chart_id}-spec">{_json_script(block.spec)}</script>'
                f"{cap}</figure>")
    raise ValueError(f"unknown block kind {k!r}")


def render_html(title: str, created: str, sections: list[Section], charts: list[dict]) -> str:
    toc = "".join(f'<li><a href="#{s.id}">{_html.escape(s.title)}</a></li>' for s in sections)
    body = []
    for s in sections:
        body.append(f'<section id="{s.id}"><h2>{_html.escape(s.title)}</h2>')
        body.extend(_html_block(b) for b in s.blocks)
        body.append("</section>")
    bundle = vega_bundle().replace("</script", "<\\/script") if charts else ""
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<meta name=\"generator\" content=\"NIRCam darks app {__version__}\">"
        f"<title>{_html.escape(title)}</title><style>{_CSS}</style>"
        + (f"<script>{bundle}</script>" if charts else "")
        + f"</head><body><h1>{_html.escape(title)}</h1>"
        f'<p class="sub">Made {_html.escape(created)} UTC by the NIRCam darks app {__version__}. '
        f"{len(charts)} interactive chart(s); works offline.</p>"
        f"<nav><ol>{toc}</ol></nav>" + "".join(body)
        + (f"<script>{_EMBED_JS}</script>" if charts else "")
        + "</body></html>\n"
    )
