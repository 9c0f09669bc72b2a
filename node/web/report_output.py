"""What every report page shares: tables, their CSV export and a server-rendered bar chart.

A report is a list of `Table`s (caption, column names, rows; the first column names the
row). `csv_response` sends one table as a CSV file (`text/csv; charset=utf-8`, a
Content-Disposition attachment, cells that a spreadsheet would read as a formula — those
starting with `=`, `+`, `-`, `@`, a tab or a carriage return — prefixed with `'`, OWASP
"CSV injection"). `bars` turns a table's column into the bars of the SVG chart the page
draws inline (`report_chart.html`); the table itself is the chart's text alternative.
Also registers a pass-through `_` in the templates when the i18n extension is not
there yet, so the report templates mark their strings for translation today.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from node.appkeys import WEB

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


@dataclass
class Table:
    id: str
    caption: str
    columns: list[str]
    rows: list[list[Any]] = field(default_factory=list)
    #: per row, an optional link for the first cell
    links: list[str] = field(default_factory=list)
    chart: int | None = 1  # the column drawn as bars (None: no chart)


def safe_cell(value: Any) -> Any:
    """A cell a spreadsheet shows as text, never runs as a formula."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def csv_text(table: Table) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([safe_cell(c) for c in table.columns])
    for row in table.rows:
        writer.writerow([safe_cell(c) for c in row])
    return out.getvalue()


def csv_response(table: Table, name: str) -> web.Response:
    filename = re.sub(r"[^A-Za-z0-9._-]+", "-", f"{name}-{table.id}.csv")
    return web.Response(
        body=csv_text(table).encode("utf-8"),
        headers={"Content-Type": "text/csv; charset=utf-8",
                 "Content-Disposition": f'attachment; filename="{filename}"'})


def pick_table(tables: Sequence[Table], wanted: str) -> Table:
    for t in tables:
        if t.id == wanted or not wanted:
            return t
    from node.errors import NotFound

    raise NotFound(f"table: no table {wanted!r} in this report "
                   f"(one of {', '.join(t.id for t in tables)})")


def bars(table: Table, *, width: int = 560, bar: int = 22, gap: int = 6,
         label_width: int = 140) -> dict[str, Any]:
    """The geometry of a horizontal bar chart of the table's `chart` column."""
    col = table.chart
    if col is None:
        return {}
    values = [(str(r[0]), float(r[col] or 0)) for r in table.rows]
    top = max((v for _l, v in values), default=0.0) or 1.0
    span = width - label_width - 60
    items = [{"label": label, "value": int(v) if v == int(v) else v,
              "y": i * (bar + gap), "w": max(1, round(span * v / top)) if v else 0}
             for i, (label, v) in enumerate(values)]
    return {"items": items, "width": width, "height": max(1, len(items)) * (bar + gap),
            "bar": bar, "x0": label_width, "series": table.columns[col]}


def passthrough_gettext(app: web.Application) -> None:
    """`_` in the templates: the i18n extension's once enabled, else a pass-through."""
    app[WEB].env.globals.setdefault(
        "_", lambda s, **kw: s % kw if kw else s)
