"""Freshness and history: ``cwsync status`` and ``cwsync report --html``.

Everything is read from the warehouse and the pipeline state, so it works from any
machine that reaches the destination: the run log ``_cwsync_runs`` (one row per
successful run), the incremental cursors kept in dlt's state, and row counts. Per table:
the last successful run that synced it, its cursor (the ``lastUpdated`` the next run reads
from), rows (all and live) and lag: now minus that last run, i.e. how old the newest
change the table can be missing is. A cursor far in the past is no problem by itself: it
only means nothing in that table changed since.

The HTML report is one self-contained file: the table above and three charts (rows per
run, run duration, requests per run over time) as inline SVG; no scripts, fonts or styles
from elsewhere, so it opens offline and can be mailed.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import orjson

from sources.connectwise.settings import BY_TABLE

from .progress import cursor_of, live_counts
from .reconcile import loaded_tables

RUNS = "_cwsync_runs"


@dataclass
class Run:
    started_at: datetime
    seconds: float
    requests: int
    retries: int
    rows: int
    records: int
    tables: list[str]  # tables the run synced (changed or not)
    changed: dict[str, int]


@dataclass
class TableStatus:
    table: str
    last_run: datetime | None
    cursor: datetime | None
    rows: int
    live: int
    lag_seconds: float | None


def _utc(value: Any) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc)


def _json(text: Any, default: Any) -> Any:
    if not text:
        return default
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return default


def load_runs(pipeline: Any) -> list[Run]:
    """Every successful run, oldest first."""
    if RUNS not in loaded_tables(pipeline):
        return []
    columns = pipeline.schemas["connectwise"].get_table_columns(RUNS)
    tables_col = "tables" if "tables" in columns else "NULL"
    with pipeline.sql_client() as sql:
        rows = sql.execute_sql(
            "SELECT started_at, seconds, requests, retries, rows, records, changed, counts, "
            f"{tables_col} FROM {sql.make_qualified_table_name(RUNS)} ORDER BY started_at"
        )
    runs = []
    for started, seconds, requests, retries, n_rows, records, changed, counts, tables in rows:
        changed_map = _json(changed, {})
        synced = _json(tables, None)
        if synced is None:  # runs logged before the tables column: what they touched
            synced = sorted(set(changed_map) | set(_json(counts, {})))
        runs.append(
            Run(
                started_at=_utc(started),  # type: ignore[arg-type]
                seconds=float(seconds or 0),
                requests=int(requests or 0),
                retries=int(retries or 0),
                rows=int(n_rows or 0),
                records=int(records or 0),
                tables=[str(t) for t in synced],
                changed={str(k): int(v) for k, v in changed_map.items()},
            )
        )
    return runs


def table_status(
    pipeline: Any, runs: Sequence[Run], now: datetime | None = None
) -> list[TableStatus]:
    """Freshness of every loaded ConnectWise table."""
    now = now or datetime.now(timezone.utc)
    present = sorted(t for t in loaded_tables(pipeline) if t in BY_TABLE)
    counts = live_counts(pipeline, present)
    last: dict[str, datetime] = {}
    for run in runs:
        for table in run.tables:
            last[table] = run.started_at
    out = []
    for table in present:
        cursor = _utc(cursor_of(pipeline, table)) if BY_TABLE[table].incremental else None
        anchor = last.get(table)
        rows, live = counts.get(table, (0, 0))
        out.append(
            TableStatus(
                table=table,
                last_run=last.get(table),
                cursor=cursor,
                rows=rows,
                live=live,
                lag_seconds=(now - anchor).total_seconds() if anchor else None,
            )
        )
    return out


def age(seconds: float | None) -> str:
    """``3d4h``, ``5h12m``, ``7m``, ``40s``; ``-`` when unknown."""
    if seconds is None:
        return "-"
    seconds = max(0, int(seconds))
    if seconds >= 86400:
        return f"{seconds // 86400}d{seconds % 86400 // 3600}h"
    if seconds >= 3600:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    if seconds >= 60:
        return f"{seconds // 60}m"
    return f"{seconds}s"


def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S") if value else "-"


def status_lines(runs: Sequence[Run], tables: Sequence[TableStatus]) -> list[str]:
    """What ``cwsync status`` prints."""
    if runs:
        last = runs[-1]
        head = (
            f"last run {_when(last.started_at)} UTC: {last.rows:,} rows in {last.seconds:.1f}s, "
            f"{last.requests:,} requests, {last.retries:,} retries ({len(runs)} runs logged)"
        )
    else:
        head = "no run logged yet"
    width = max([5, *(len(t.table) for t in tables)])
    lines = [
        head,
        f"{'table':<{width}}  {'last run (UTC)':<19}  {'cursor (UTC)':<19}  {'rows':>9}  "
        f"{'live':>9}  {'lag':>7}",
    ]
    for t in tables:
        lines.append(
            f"{t.table:<{width}}  {_when(t.last_run):<19}  {_when(t.cursor):<19}  "
            f"{t.rows:>9,}  {t.live:>9,}  {age(t.lag_seconds):>7}"
        )
    return lines


# -- the HTML report -----------------------------------------------------------------------
def svg_chart(title: str, points: Sequence[tuple[datetime, float]], unit: str) -> str:
    """A bar chart over time as inline SVG (each bar has a tooltip)."""
    width, height, left, bottom, top = 640, 220, 56, 28, 28
    plot_w, plot_h = width - left - 12, height - top - bottom
    peak = max((v for _, v in points), default=0) or 1
    parts = [
        f'<svg class="chart" role="img" aria-label="{html.escape(title)}" '
        f'viewBox="0 0 {width} {height}" width="{width}" height="{height}">',
        f'<text x="{left}" y="18" class="title">{html.escape(title)}</text>',
        f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}" '
        'class="axis"/>',
        f'<line x1="{left}" y1="{top}" x2="{left}" y2="{top + plot_h}" class="axis"/>',
        f'<text x="{left - 6}" y="{top + 4}" class="tick" text-anchor="end">{_number(peak)}</text>',
        f'<text x="{left - 6}" y="{top + plot_h}" class="tick" text-anchor="end">0</text>',
    ]
    if not points:
        parts.append(f'<text x="{left + 10}" y="{top + plot_h / 2}" class="tick">no runs</text>')
    n = len(points)
    slot = plot_w / max(1, n)
    bar = max(1.0, min(40.0, slot * 0.7))
    for i, (when, value) in enumerate(points):
        h = plot_h * (value / peak)
        x = left + slot * i + (slot - bar) / 2
        y = top + plot_h - h
        tip = f"{when:%Y-%m-%d %H:%M} UTC: {_number(value)} {unit}"
        parts.append(
            f'<rect class="bar" x="{x:.1f}" y="{y:.1f}" width="{bar:.1f}" height="{h:.1f}">'
            f"<title>{html.escape(tip)}</title></rect>"
        )
    if points:
        parts.append(
            f'<text x="{left}" y="{height - 8}" class="tick">{points[0][0]:%Y-%m-%d %H:%M}</text>'
        )
        parts.append(
            f'<text x="{left + plot_w}" y="{height - 8}" class="tick" text-anchor="end">'
            f"{points[-1][0]:%Y-%m-%d %H:%M}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)


def _number(value: float) -> str:
    return f"{value:,.1f}" if value and value < 10 and value != int(value) else f"{value:,.0f}"


STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2rem;
       color: #1f2933; background: #fff; }
h1 { font-size: 1.4rem; } h2 { font-size: 1.1rem; margin-top: 2rem; }
table { border-collapse: collapse; font-size: 0.85rem; }
th, td { padding: 0.25rem 0.6rem; border-bottom: 1px solid #e4e7eb; text-align: left; }
td.n { text-align: right; font-variant-numeric: tabular-nums; }
tr.stale td { background: #fff4e5; }
.charts { display: flex; flex-wrap: wrap; gap: 1.5rem; }
svg.chart .bar { fill: #3b82f6; } svg.chart .axis { stroke: #9aa5b1; }
svg.chart .title { font-size: 13px; font-weight: 600; fill: #1f2933; }
svg.chart .tick { font-size: 10px; fill: #52606d; }
"""


def render_html(
    runs: Sequence[Run],
    tables: Sequence[TableStatus],
    *,
    dataset: str,
    generated: datetime | None = None,
    stale_after_seconds: float = 2 * 86400,
) -> str:
    """The self-contained report page."""
    generated = generated or datetime.now(timezone.utc)
    esc = html.escape
    rows = []
    for t in tables:
        stale = t.lag_seconds is not None and t.lag_seconds > stale_after_seconds
        rows.append(
            f"<tr{' class=stale' if stale else ''}><td>{esc(t.table)}</td>"
            f"<td>{_when(t.last_run)}</td><td>{_when(t.cursor)}</td>"
            f'<td class="n">{t.rows:,}</td><td class="n">{t.live:,}</td>'
            f'<td class="n">{age(t.lag_seconds)}</td></tr>'
        )
    charts = [
        svg_chart("Rows per run", [(r.started_at, r.rows) for r in runs], "rows"),
        svg_chart("Run duration", [(r.started_at, r.seconds) for r in runs], "seconds"),
        svg_chart("Requests per run", [(r.started_at, r.requests) for r in runs], "requests"),
    ]
    summary = "\n".join(status_lines(runs, tables)[:1])
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>cwsync report: {esc(dataset)}</title>
<style>{STYLE}</style>
</head>
<body>
<h1>cwsync: ConnectWise sync of dataset <code>{esc(dataset)}</code></h1>
<p>{esc(summary)}. Generated {generated:%Y-%m-%d %H:%M} UTC.</p>
<h2>Runs over time</h2>
<div class="charts">
{"".join(charts)}
</div>
<h2>Tables</h2>
<p>Lag: time since the last successful run that synced the table; highlighted past
{age(stale_after_seconds)}. The cursor is the <code>lastUpdated</code> the next run reads
from.</p>
<table>
<thead><tr><th>table</th><th>last run (UTC)</th><th>cursor (UTC)</th><th>rows</th>
<th>live</th><th>lag</th></tr></thead>
<tbody>
{"".join(rows)}
</tbody>
</table>
</body>
</html>
"""
