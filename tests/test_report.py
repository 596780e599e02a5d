"""``cwsync status`` and ``cwsync report --html``: freshness per table and the run history.

Covers: the run log and state give, per table, the last successful run, the cursor, rows
(all and live) and lag, on DuckDB and Postgres; ``status`` prints them; the HTML report is
self-contained (no scripts, no links to other sites) with three charts of one bar per run,
and headless Chromium renders it (a real screenshot with the chart colour in it).
"""

from __future__ import annotations

import shutil
import struct
import subprocess
import sys
import zlib
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from cwsync.sandbox import Sandbox
from pipelines.progress import cursor_of
from pipelines.report import load_runs, render_html, table_status
from pipelines.sync import run_sync

from .conftest import WAREHOUSES, drop_postgres_dataset, source_args, warehouse_pipeline
from .test_cli_run import _env, _run_args

TABLES = ["service_tickets", "company_companies", "company_entity_types"]


@pytest.fixture(scope="module", params=WAREHOUSES)
def history(request, tmp_path_factory) -> Iterator[tuple[Sandbox, object, list]]:
    """Three runs of a small tenant, with changes and a delete between them."""
    tmp = tmp_path_factory.mktemp(f"report-{request.param}")
    with Sandbox(scale=120, seed=17) as sb:
        pipeline = warehouse_pipeline(request.param, tmp, "report")
        try:
            summaries = [run_sync(pipeline, tables=TABLES, **source_args(sb))]
            ids = sb.ids("service/tickets")
            sb.update("service/tickets", ids[0], {"summary": "changed for the report"})
            summaries.append(run_sync(pipeline, tables=TABLES, **source_args(sb)))
            sb.delete("service/tickets", ids[-1])
            summaries.append(
                run_sync(pipeline, tables=["service_tickets"], deletes="now", **source_args(sb))
            )
            yield sb, pipeline, summaries
        finally:
            if request.param == "postgres":
                drop_postgres_dataset(pipeline.dataset_name)


def test_runs_and_freshness_per_table(history) -> None:
    sb, pipeline, summaries = history
    runs = load_runs(pipeline)
    assert len(runs) == 3
    assert [r.requests for r in runs] == [s.requests for s in summaries]
    assert runs[0].rows > runs[1].rows > 0
    assert runs[2].tables == ["service_tickets"]
    status = {t.table: t for t in table_status(pipeline, runs)}
    assert set(TABLES) <= set(status)
    tickets = status["service_tickets"]
    assert tickets.last_run == runs[2].started_at
    assert status["company_companies"].last_run == runs[1].started_at  # not in the 3rd run
    assert tickets.cursor is not None
    assert tickets.cursor.strftime("%Y-%m-%dT%H:%M:%SZ") == cursor_of(pipeline, "service_tickets")
    assert (tickets.rows, tickets.live) == (
        sb.count("service/tickets") + 1,
        sb.count("service/tickets"),
    )
    assert status["company_entity_types"].cursor is None  # replaced in full: no cursor
    assert 0 <= tickets.lag_seconds < 600
    later = table_status(pipeline, runs, now=datetime.now(timezone.utc) + timedelta(days=3))
    assert {t.table: t.lag_seconds for t in later}["service_tickets"] > 3 * 86400 - 1


def test_status_and_report_commands(tmp_path: Path) -> None:
    with Sandbox(scale=100, seed=5) as sb:
        env = _env(tmp_path, sb)
        for _ in range(2):
            run = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "cwsync",
                    *_run_args(tmp_path, "--resources", "company_companies"),
                ],
                cwd=tmp_path,
                env=env,
                capture_output=True,
                text=True,
                timeout=120,
            )
            assert run.returncode == 0, run.stderr
        companies = sb.count("company/companies")
    where = ["--duckdb-file", "x.duckdb", "--pipelines-dir", str(tmp_path / "pipelines")]
    status = subprocess.run(
        [sys.executable, "-m", "cwsync", "status", *where],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert status.returncode == 0, status.stderr
    lines = status.stdout.splitlines()
    assert lines[0].startswith("last run ") and "(2 runs logged)" in lines[0]
    assert lines[1].split() == [
        "table",
        "last",
        "run",
        "(UTC)",
        "cursor",
        "(UTC)",
        "rows",
        "live",
        "lag",
    ]
    row = next(line.split() for line in lines if line.startswith("company_companies "))
    assert row[5] == row[6] == str(companies)

    report = subprocess.run(
        [sys.executable, "-m", "cwsync", "report", "--html", "r.html", *where],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert report.returncode == 0, report.stderr
    page = (tmp_path / "r.html").read_text()
    assert "company_companies" in page
    lowered = page.lower()
    assert "<script" not in lowered and "http://" not in lowered and "https://" not in lowered
    assert " src=" not in lowered and "<link" not in lowered
    assert page.count("<svg") == 3 and page.count('class="bar"') == 6  # 3 charts x 2 runs

    missing = subprocess.run(
        [
            sys.executable,
            "-m",
            "cwsync",
            "status",
            "--duckdb-file",
            "none.duckdb",
            "--pipelines-dir",
            str(tmp_path / "none"),
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert missing.returncode == 2 and "cwsync run first" in missing.stderr
    assert len(missing.stderr.splitlines()) == 1


# -- rendering in a real browser ----------------------------------------------------------
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def _png_pixels(data: bytes) -> tuple[int, int, list[bytes]]:
    """Width, height and the unfiltered rows of an 8-bit RGB/RGBA PNG."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, header = 8, b"", b""
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            header = body
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    width, height, depth, color = struct.unpack(">IIBB", header[:10])
    assert depth == 8 and color in (2, 6)
    bpp = 3 if color == 2 else 4
    raw, stride, rows, prev = zlib.decompress(idat), width * bpp, [], bytearray(width * bpp)
    for y in range(height):
        kind, line = (
            raw[y * (stride + 1)],
            bytearray(raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)]),
        )
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b, c = prev[i], prev[i - bpp] if i >= bpp else 0
            if kind == 1:
                line[i] = (line[i] + a) & 255
            elif kind == 2:
                line[i] = (line[i] + b) & 255
            elif kind == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif kind == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append(bytes(line))
        prev = line
    return width, height, [bytes([bpp]) + r for r in rows]


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install chromium)")
@pytest.mark.parametrize("history", ["duckdb"], indirect=True)  # the page is the same on both
def test_the_report_renders_in_headless_chromium(history, tmp_path: Path) -> None:
    sb, pipeline, _ = history
    runs = load_runs(pipeline)
    page = tmp_path / "report.html"
    page.write_text(render_html(runs, table_status(pipeline, runs), dataset="connectwise"))
    shot = tmp_path / "report.png"
    base = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--hide-scrollbars",
        f"--user-data-dir={tmp_path / 'profile'}",
    ]
    subprocess.run(
        [*base, "--window-size=1200,900", f"--screenshot={shot}", page.as_uri()],
        capture_output=True,
        timeout=120,
        check=True,
    )
    width, height, rows = _png_pixels(shot.read_bytes())
    assert (width, height) == (1200, 900)
    # the bars' blue (#3b82f6) is on screen: the inline SVG charts were drawn
    blue = 0
    for row in rows:
        bpp = row[0]
        for x in range(1, len(row) - 2, bpp):
            r, g, b = row[x], row[x + 1], row[x + 2]
            if abs(r - 0x3B) < 8 and abs(g - 0x82) < 8 and abs(b - 0xF6) < 8:
                blue += 1
    assert blue > 2000
    dom = subprocess.run(
        [*base, "--dump-dom", page.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    assert dom.count("<svg") == 3 and "service_tickets" in dom
